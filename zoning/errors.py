"""The carezones exception tree.

Every message says what was expected, what was received and how to fix it. The CLI maps
each class to an exit code and prints the message without a traceback (``-v`` shows it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class CarezonesError(Exception):
    """Base class: a problem the user can fix."""

    exit_code = 1


class ScenarioError(CarezonesError):
    """A scenario file is missing, malformed or has unknown or invalid keys."""

    exit_code = 2


class InputError(CarezonesError):
    """An input file (demand, providers, current zones) has problems.

    ``problems`` holds one line per bad row/value so a planner sees all of them at once.
    """

    exit_code = 3

    #: problems shown in the message; the full list goes to a file (see :meth:`write_problems`)
    SHOWN = 50

    def __init__(self, path: object, problems: Sequence[str], *, hint: str = "") -> None:
        self.path = str(path)
        self.problems = list(problems)
        self.hint = hint
        self.problems_file: Path | None = None
        super().__init__(self._message())

    def _message(self) -> str:
        shown = self.problems[: self.SHOWN]
        more = len(self.problems) - len(shown)
        lines = [f"{self.path}: {len(self.problems)} problem(s):"]
        lines += [f"  - {p}" for p in shown]
        if more > 0:
            where = f"all {len(self.problems)} are listed in {self.problems_file}" if self.problems_file else (
                "the full list is in the error's .problems")
            lines.append(f"  ... and {more} more: {where}")
        if self.hint:
            lines.append(f"How to fix: {self.hint}")
        return "\n".join(lines)

    def write_problems(self, path: Path) -> Path:
        """Write every problem, one per line, to ``path`` and name it in the message."""
        text = f"{self.path}: {len(self.problems)} problem(s)\n" + "".join(f"{p}\n" for p in self.problems)
        if self.hint:
            text += f"How to fix: {self.hint}\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.problems_file = path
        self.args = (self._message(),)
        return path

    def __str__(self) -> str:
        return self._message()


class DataError(CarezonesError):
    """Reference data (postcodes, boundaries) is missing or inconsistent."""

    exit_code = 4


class SolveError(CarezonesError):
    """The solver found no feasible plan, or stopped without one."""

    exit_code = 5


class CheckError(CarezonesError):
    """A plan failed a named invariant check (assignment, contiguity, bounds)."""

    exit_code = 6


class OutputError(CarezonesError):
    """The output folder cannot take a run: not writable, too little room, or another run holds it."""

    exit_code = 7


#: Exit codes by class, for the README and ``carezones --help``. 1 is an unexpected internal
#: error (a bug): the CLI prints its message and asks for a rerun with ``-v`` (full traceback).
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected internal error (a bug): rerun with -v for the traceback and report it",
    2: "scenario or command-line option problem",
    3: "input file problem (demand, providers, current zones, bands)",
    4: "reference data missing or inconsistent",
    5: "no feasible plan",
    6: "a plan failed a named check",
    7: "output folder not writable, too full, or in use by another run",
    130: "interrupted (Ctrl-C)",
}
