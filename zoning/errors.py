"""The carezones exception tree.

Every message says what was expected, what was received and how to fix it. The CLI maps
each class to an exit code and prints the message without a traceback (``-v`` shows it).
"""

from __future__ import annotations

from collections.abc import Sequence


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

    def __init__(self, path: object, problems: Sequence[str], *, hint: str = "") -> None:
        self.path = str(path)
        self.problems = list(problems)
        self.hint = hint
        shown = self.problems[:50]
        more = len(self.problems) - len(shown)
        lines = [f"{self.path}: {len(self.problems)} problem(s):"]
        lines += [f"  - {p}" for p in shown]
        if more > 0:
            lines.append(f"  ... and {more} more")
        if hint:
            lines.append(f"How to fix: {hint}")
        super().__init__("\n".join(lines))


class DataError(CarezonesError):
    """Reference data (postcodes, boundaries) is missing or inconsistent."""

    exit_code = 4


class SolveError(CarezonesError):
    """The solver found no feasible plan, or stopped without one."""

    exit_code = 5


class CheckError(CarezonesError):
    """A plan failed a named invariant check (assignment, contiguity, bounds)."""

    exit_code = 6
