"""Run a PuLP model with a named solver and read the solver's own verdict.

PuLP's status alone is not trusted: under a time limit it can call a plan "Optimal" when
the solver only found a feasible one (see ``shared/reference/pitfalls.md``). For HiGHS we
read the model status, objective, dual bound and gap from ``highspy``; for CBC we parse
the solver's log ("Result - ...", "Objective value", "Lower bound", "Gap").
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import pulp

log = logging.getLogger(__name__)

#: Solver names accepted by :func:`run_solver` (case-insensitive) -> PuLP solver names, first
#: available wins: PuLP 3 bundles CBC as ``PULP_CBC_CMD``; PuLP 4 runs it as ``COIN_CMD`` from
#: the ``cbcbox`` package (``pulp[cbc]``).
SOLVERS: dict[str, tuple[str, ...]] = {"highs": ("HiGHS",), "cbc": ("PULP_CBC_CMD", "COIN_CMD")}


class SolveStatus(StrEnum):
    """What the solver proved, in the solver's own terms."""

    OPTIMAL = "optimal"  # optimality proved within the relative gap tolerance
    FEASIBLE = "feasible"  # stopped (time or node limit) holding a feasible plan
    INFEASIBLE = "infeasible"  # infeasibility proved
    NO_SOLUTION = "no_solution"  # stopped before finding any feasible plan
    ERROR = "error"  # the solver failed or reported something we cannot interpret

    @property
    def has_solution(self) -> bool:
        return self in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)


@dataclass(frozen=True)
class SolverReport:
    """The solver's verdict on one model, as read from the solver itself."""

    solver: str
    status: SolveStatus
    solver_status: str  # the solver's own words, e.g. "Time limit reached"
    objective: float | None
    best_bound: float | None
    gap: float | None  # (objective - bound) / |objective|, None when unknown
    seconds: float  # wall time of the whole call, model hand-over included
    time_limit_s: float
    n_variables: int
    n_constraints: int


def solver_names() -> list[str]:
    """The solver names this installation can run."""
    available = set(pulp.listSolvers(onlyAvailable=True))
    return [name for name, pulp_names in SOLVERS.items() if available.intersection(pulp_names)]


def _pulp_name(solver: str) -> str:
    """The PuLP solver name that runs ``solver`` here (see :data:`SOLVERS`)."""
    available = set(pulp.listSolvers(onlyAvailable=True))
    return next(name for name in SOLVERS[solver] if name in available)


def _relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return abs(objective - bound) / max(abs(objective), 1e-9)  # min or max: the distance


def _start_values(lp: pulp.LpProblem) -> list[float | None]:
    """The variables' start values in HiGHS column order (None where no value was given): PuLP 4
    numbers columns by position in ``lp.exported_variables()``; PuLP 3 stores each column number
    on the variable (``index``)."""
    if hasattr(lp, "exported_variables"):  # PuLP >= 4
        return [None if var.varValue is None else float(var.varValue) for var in lp.exported_variables()]
    variables = lp.variables()
    values: list[float | None] = [None] * len(variables)
    for var in variables:
        values[var.index] = None if var.varValue is None else float(var.varValue)
    return values


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what native code writes on file descriptor 1 to 2 for the duration (Python's own
    ``sys.stdout`` is flushed first and untouched)."""
    sys.stdout.flush()
    try:
        out = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        saved = os.dup(out)
    except (OSError, ValueError):  # no real stdout (e.g. an embedded interpreter): nothing to divert
        yield
        return
    try:
        os.dup2(sys.__stderr__.fileno() if sys.__stderr__ is not None else 2, out)
        yield
    finally:
        os.dup2(saved, out)
        os.close(saved)


class _HiGHSWithStart(pulp.HiGHS):  # type: ignore[misc,name-defined]
    """PuLP's HiGHS API plus a MIP start taken from the variables' initial values, and silent.
    Variables with no initial value make the start partial: HiGHS fixes those given and solves
    for the rest (a start the model would reject whole is then still of use).

    HiGHS writes its banner ("Running HiGHS ...") from the constructor, before any option can
    be set, straight to file descriptor 1, so it would land above the CLI's results table.
    The constructor runs with fd 1 pointed at stderr, then ``output_flag`` and
    ``log_to_console`` are set false before anything else.
    """

    def __init__(self, *, use_start: bool, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._use_start = use_start

    def createAndConfigureSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP's name)
        import highspy

        with stdout_to_stderr():
            lp.solverModel = highspy.Highs()
        highs = lp.solverModel
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("log_to_console", False)
        # the options PuLP would set (pulp.HiGHS.createAndConfigureSolver), on this model
        for key, value in (("mip_rel_gap", self.gapRel), ("mip_abs_gap", self.gapAbs), ("threads", self.threads),
                           ("time_limit", None if self.timeLimit is None else float(self.timeLimit))):
            if value is not None:
                highs.setOptionValue(key, value)
        for key, value in self.optionsDict.items():
            highs.setOptionValue(key, value)

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 (PuLP's name)
        if self._use_start:
            import highspy

            values = _start_values(lp)
            given = [j for j, v in enumerate(values) if v is not None]
            if len(given) == len(values):  # a whole start: HiGHS checks it (and completes nothing)
                start = highspy.HighsSolution()
                start.col_value = [float(v) for v in values if v is not None]
                start.value_valid = True
                lp.solverModel.setSolution(start)
            elif given:  # a partial start: HiGHS fixes the values given and solves for the rest
                lp.solverModel.setSolution(len(given), np.asarray(given, dtype=np.int32),
                                           np.asarray([values[j] for j in given], dtype=np.float64))
        lp.solverModel.run()


def run_solver(
    model: pulp.LpProblem,
    *,
    solver: str,
    time_limit_s: float,
    threads: int = 1,
    seed: int = 0,
    mip_rel_gap: float = 1e-4,
    use_start: bool = False,
) -> SolverReport:
    """Solve ``model`` with the named solver and return the solver's own verdict.

    ``use_start`` passes the variables' current values (``var.setInitialValue``) as a MIP
    start. Threads and seed are fixed so the same model gives the same plan.
    """
    key = solver.lower()
    if key not in SOLVERS:
        raise ValueError(
            f"unknown solver {solver!r}: expected one of {sorted(SOLVERS)}; "
            f"available here: {solver_names()}"
        )
    if key not in solver_names():
        raise ValueError(
            f"solver {solver!r} is not available in this installation "
            f"(available: {solver_names()}); install highspy for 'highs'"
        )
    n_vars = len(model.variables())
    n_cons = model.numConstraints()
    start = time.perf_counter()
    if key == "highs":
        report = _run_highs(
            model,
            time_limit_s=time_limit_s,
            threads=threads,
            seed=seed,
            mip_rel_gap=mip_rel_gap,
            use_start=use_start,
        )
    else:
        report = _run_cbc(
            model,
            time_limit_s=time_limit_s,
            threads=threads,
            seed=seed,
            mip_rel_gap=mip_rel_gap,
            use_start=use_start,
        )
    seconds = time.perf_counter() - start
    status, solver_status, objective, bound = report
    result = SolverReport(
        solver=key,
        status=status,
        solver_status=solver_status,
        objective=objective,
        best_bound=bound,
        gap=_relative_gap(objective, bound) if status.has_solution else None,
        seconds=seconds,
        time_limit_s=time_limit_s,
        n_variables=n_vars,
        n_constraints=n_cons,
    )
    log.info(
        "%s on %s: %s (%s), objective %s, bound %s, gap %s, %.1f s for %d variables, %d constraints",
        key,
        model.name,
        result.status.value,
        solver_status,
        _fmt(objective),
        _fmt(bound),
        "n/a" if result.gap is None else f"{100 * result.gap:.3f}%",
        seconds,
        n_vars,
        n_cons,
    )
    return result


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"


def _run_highs(
    model: pulp.LpProblem,
    *,
    time_limit_s: float,
    threads: int,
    seed: int,
    mip_rel_gap: float,
    use_start: bool,
) -> tuple[SolveStatus, str, float | None, float | None]:
    import highspy

    engine = _HiGHSWithStart(
        use_start=use_start,
        msg=False,
        timeLimit=float(time_limit_s),
        threads=threads,
        gapRel=mip_rel_gap,
        random_seed=int(seed),
    )
    model.solve(engine)
    highs = model.solverModel
    model_status = highs.getModelStatus()
    words = highs.modelStatusToString(model_status)
    info = highs.getInfo()
    has_primal = info.primal_solution_status == 2  # kSolutionStatusFeasible
    objective = float(info.objective_function_value) if has_primal else None
    is_mip = any(v.cat == pulp.LpInteger for v in model.variables())
    bound: float | None
    # PuLP 3 hands HiGHS min(-objective) for a maximisation; PuLP 4 sets HiGHS's own sense
    highs_maximises = highs.getObjectiveSense()[1] == highspy.ObjSense.kMaximize
    sign = -1.0 if model.sense == pulp.LpMaximize and not highs_maximises else 1.0
    if objective is not None:
        objective *= sign
    if is_mip:
        raw_bound = sign * float(info.mip_dual_bound)
        bound = None if abs(raw_bound) == float("inf") else raw_bound
    else:
        bound = objective if model_status == highspy.HighsModelStatus.kOptimal else None
    ms = highspy.HighsModelStatus
    if model_status == ms.kOptimal:
        status = SolveStatus.OPTIMAL
    elif model_status in (ms.kInfeasible,):
        status = SolveStatus.INFEASIBLE
    elif model_status in (ms.kTimeLimit, ms.kIterationLimit, ms.kInterrupt, ms.kSolutionLimit):
        status = SolveStatus.FEASIBLE if has_primal else SolveStatus.NO_SOLUTION
    else:
        status = SolveStatus.ERROR
    return status, words, objective, bound


_CBC_RESULT = re.compile(r"^Result - (.+)$", re.MULTILINE)
_CBC_OBJ = re.compile(r"^Objective value:\s+(\S+)", re.MULTILINE)
_CBC_BOUND = re.compile(r"^Lower bound:\s+(\S+)", re.MULTILINE)  # internal (minimising) sense
_CBC_ROOT = re.compile(r"^Continuous objective value is (\S+)", re.MULTILINE)  # model's sense


def _run_cbc(
    model: pulp.LpProblem,
    *,
    time_limit_s: float,
    threads: int,
    seed: int,
    mip_rel_gap: float,
    use_start: bool,
) -> tuple[SolveStatus, str, float | None, float | None]:
    with tempfile.TemporaryDirectory(prefix="carezones-cbc-") as tmp:
        log_path = Path(tmp) / "cbc.log"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            engine = pulp.getSolver(
                _pulp_name("cbc"),
                msg=False,
                timeLimit=float(time_limit_s),
                threads=threads,
                gapRel=mip_rel_gap,
                warmStart=use_start,
                logPath=str(log_path),
                options=[f"randomCbcSeed {int(seed) + 1}"],
            )
            model.solve(engine)
        text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
    match = _CBC_RESULT.search(text)
    words = match.group(1).strip() if match else "no result line in CBC log"
    obj_match = _CBC_OBJ.search(text)
    objective = _to_float(obj_match.group(1)) if obj_match else None
    lower = words.lower()
    sign = -1.0 if model.sense == pulp.LpMaximize else 1.0
    # CBC's "Objective value" is in the model's sense with PuLP 3 (OBJSENSE MAX in the MPS file)
    # and in its internal minimising sense with PuLP 4 (the objective negated): tell them apart
    # by the plan's own objective, which PuLP computes from the variables' values.
    root_sign = 1.0
    if objective is not None and sign < 0:
        own = model.objective.value()
        if own is not None and abs(own + objective) < abs(own - objective):
            objective, root_sign = -objective, -1.0
    if lower.startswith("optimal solution found"):
        status = SolveStatus.OPTIMAL
        bound_match = _CBC_BOUND.search(text)
        root_match = _CBC_ROOT.search(text)
        if bound_match:  # stopped "within gap tolerance" after search: CBC's own bound
            bound = _signed(bound_match.group(1), sign)
        elif "tolerance" in lower and root_match:  # closed at the root: the root LP bound
            bound = _signed(root_match.group(1), root_sign)
        else:
            bound = objective
    elif "infeasible" in lower:
        status, bound, objective = SolveStatus.INFEASIBLE, None, None
    elif lower.startswith("stopped"):
        bound_match = _CBC_BOUND.search(text)
        bound = _signed(bound_match.group(1), sign) if bound_match else None
        has_solution = objective is not None and model.status == pulp.LpStatusOptimal
        status = SolveStatus.FEASIBLE if has_solution else SolveStatus.NO_SOLUTION
        if not has_solution:
            objective = None
    else:
        status, bound = SolveStatus.ERROR, None
    return status, words, objective, bound


def _signed(text: str, sign: float) -> float | None:
    value = _to_float(text)
    return None if value is None else sign * value


def _to_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return None if abs(value) >= 1e30 else value
