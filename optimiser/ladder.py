"""The target ladder: a stronger certified bound from the Lagrangian alone, on the second core.

The branch and bound of :mod:`optimiser.centre_bound` fixes cells against a plan's objective, so
it can only start once the design has ended. Nothing in its proof needs the target to be a plan:

**Proving a target.** Take any number ``T``. Reduced-cost fixing against ``T`` (step 2 of
:mod:`optimiser.centre_bound`) drops only cells and centres that every plan costing at most
``T`` leaves unused. HiGHS's branch and bound over the centres on the cells left, told to prune
every node above ``T`` (``objective_bound``), ends with a dual bound ``B`` (``+inf`` when it
proves that no solution of the reduced model costs below ``T``: status *infeasible*, or
*optimal* on a solution above ``T``). Then
``min(B, T) <= OPT``: either ``OPT > T``, or an optimal plan costs at most ``T``, uses no fixed
cell, is feasible for the reduced model, and so costs at least ``B``. This holds for a proof cut
short by the clock (``B`` is then HiGHS's dual bound so far) and for ``T`` above the optimum
(HiGHS then finds the reduced model's optimum ``B`` below ``T``; a higher target keeps more
cells, so its reduced optimum is at most ``B``: no target can prove more). Each value is shaved by
:data:`optimiser.centre_bound.TOLERANCE` (HiGHS prunes against ``T`` up to its own tolerances).

**The ladder.** Targets rise from the Lagrangian value ``LR``: each is the highest whose proof
the time left should allow (the cells each target leaves are counted in advance; proof time
grows about as cells^1.6, measured below), every proof gets all the time left, and the ladder
stops when the clock or ``stop_event`` runs out, when a target is not proved, or when no target
:data:`MIN_STEP` above the best can be tried (the root's ceiling below). Where the cells the time
allows leave no target that far up, the lowest target two steps above the best is tried. Each rung aims at twice the last one's time
(:data:`GROWTH`), since a stop may come at any moment. The result is the maximum of ``LR`` and every
rung's ``min(B, T)``: a maximum of valid lower bounds, so never below the Lagrangian and never
above the optimum.

:func:`certified_bound` is what the run's second process computes (the Lagrangian, then the
ladder for the time left); :func:`start_certified_bound` starts it beside the design.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

import numpy as np

from optimiser.bounds import BoundResult, SupportsIsSet, problem_bound
from optimiser.centre_bound import SLACK, TOLERANCE, fix_cells, reduced_costs, solve_reduced
from optimiser.isolated import Background, can_isolate
from optimiser.problem import DistrictingProblem

log = logging.getLogger(__name__)

#: HiGHS options for a proof. Measured on the default (396 units, 14 zones; one core; seconds to
#: prove the target, all at HiGHS's root node): T = LR x 1.0009 (18,892 cells): defaults 6.8,
#: heuristics off 6.7, presolve off 9.9, symmetry detection off 6.8, root LP by interior point
#: 5.1; T = LR x 1.0016 (39,000 cells): defaults 20.7, heuristics off 22.6, presolve off 31.7,
#: interior point 16.7 (the pure LP: dual simplex 19.2, interior point 18.5, without crossover
#: 14.6, HiPO 20.5; warm-starting the second LP from the first's basis: 135 s). No incumbent is of
#: use below ``objective_bound``, so the primal heuristics are off.
PROOF_OPTIONS: dict[str, bool | float | str] = {
    "mip_lp_solver": "ipm", "mip_heuristic_effort": 0.0, "mip_heuristic_run_feasibility_jump": False,
    "mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False, "mip_heuristic_run_root_reduced_cost": False,
}

#: proof seconds grow about as cells ** this (measured above: 1.54 with the defaults, 1.63 by
#: interior point)
EXPONENT = 1.6

#: the first rung's guess of the proof speed (cells, seconds), before any proof is timed on the
#: instance: the default's measured 18,892 cells in 5.1 s on one core
PRIOR = (18_892.0, 5.1)

#: the first rung aims to take this long. The design may end (and stop the ladder) long before
#: the ladder's own time is up (the default's design ends by its work limits after about 22 s of
#: the 134 s it may take; the run then waits for the bound ``[model] certify_s`` at least), so each later rung aims at :data:`GROWTH` times the last one's measured
#: time (a proof cut short by the stop is lost, the last proved one stands), and only a rung after
#: which no longer one would fit aims at :data:`SHARE` of all the time left. A proof starts
#: afresh (a warm start is slower, above), so it is the last rung that decides the bound.
FIRST_S = 4.0
GROWTH = 2.0
SHARE = 0.85

#: no rung solves more cells than this (and where the first target, :data:`FIRST_STEP`, leaves
#: more, the problem is too big for the ladder and it is skipped at once)
MAX_CELLS = 150_000

#: the ladder is skipped beyond this many units (its reduced costs are a few n x n arrays)
MAX_UNITS = 2_500

#: a new target must lie this far (relative) above the best bound so far
MIN_STEP = 1e-4

#: the first target, relative to LR: beyond :data:`MAX_CELLS` cells here, the ladder is skipped
FIRST_STEP = 5e-4

#: the k-th target is at most LR x (1 + STEP x 2^k): where the plan is far above the Lagrangian
#: (Westmorland and Furness: 4.9%) a target chosen by cells alone lies above the plan, where the
#: reduced model needs a long branch and bound (measured: a first target at LR x 1.055 on 16,230
#: of 20,736 cells was cut short after 30 s at LR x 1.0015)
STEP = 1e-3

#: seconds below which no rung is started
MIN_RUNG_S = 1.0

#: rungs at most (each target at most doubles its step above LR, so this is never reached in practice)
MAX_RUNGS = 40


@dataclass(frozen=True)
class Rung:
    """One target tried: ``value`` is the valid bound it gives (``-inf`` when none)."""

    target: float
    cells: int
    centres: int
    seconds: float
    status: str  # "proved", "optimum" (a solution below the target), "cut short", "not run"
    value: float
    root: float  # HiGHS's dual bound on the reduced model (may exceed the target; inf when none)


@dataclass(frozen=True)
class Ladder:
    """What :func:`ladder_bound` did: the bound it reached and every target it tried."""

    bound: BoundResult  # the highest valid bound (the Lagrangian's when no rung beat it)
    rungs: tuple[Rung, ...]
    seconds: float


def prove_target(problem: DistrictingProblem, bound: BoundResult, *, target: float, time_limit_s: float,
                 stop_event: SupportsIsSet | None = None, max_cells: int = MAX_CELLS,
                 costs: tuple[float, np.ndarray, np.ndarray] | None = None) -> Rung:
    """The module docstring's proof of ``target`` from the multipliers of ``bound`` (``costs``:
    their :func:`optimiser.centre_bound.reduced_costs`, when the caller has them already)."""
    t0 = time.perf_counter()
    fixing = fix_cells(problem, bound, upper=target, costs=costs)
    cells, centres = fixing.cells, int(fixing.centres.size)
    if centres < problem.n_zones or np.unique(fixing.cell_unit).size < problem.n_units:
        # no plan costing at most the target can be made of the cells left
        return Rung(target, cells, centres, time.perf_counter() - t0, "proved", target * (1 - TOLERANCE), math.inf)
    if cells > max_cells or time_limit_s < MIN_RUNG_S:
        return Rung(target, cells, centres, time.perf_counter() - t0, "not run", -math.inf, math.inf)
    status, dual, infeasible = solve_reduced(problem, fixing, objective_bound=target, time_limit_s=time_limit_s,
                                             stop_event=stop_event, options=PROOF_OPTIONS)
    seconds = time.perf_counter() - t0
    root = dual if np.isfinite(dual) else math.inf
    if infeasible or dual >= target * (1 - TOLERANCE):  # HiGHS may also end "optimal" on a solution above it
        return Rung(target, cells, centres, seconds, "proved", target * (1 - TOLERANCE), root)
    value = min(dual, target * (1 - TOLERANCE)) if np.isfinite(dual) else -math.inf
    kind = "optimum" if status == "Optimal" else "cut short"
    return Rung(target, cells, centres, seconds, kind, value, root)


def _unless_stopped(prove: Callable[[], Rung], stop_event: SupportsIsSet | None) -> Rung | None:
    """``prove()``, or None as soon as ``stop_event`` is set. HiGHS does not heed its interrupt
    callbacks inside the interior-point root LP (measured: a stop asked for mid-proof went
    unanswered for over 2 s), so with an event the proof runs in a daemon thread (highspy releases
    the GIL while it solves) that is left behind, to end with its process, when the event comes."""
    if stop_event is None:
        return prove()
    box: list[Rung | BaseException] = []

    def work() -> None:
        try:
            box.append(prove())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box.append(exc)

    worker = threading.Thread(target=work, name="target-proof", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.05)
        if stop_event.is_set() and worker.is_alive():
            return None
    if not box:
        raise RuntimeError("the target proof ended without an answer")
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def _words(rung: Rung, lr: float, n_cells: int) -> str:
    if rung.status == "proved":
        how = f"proved no plan costs below {rung.value:,.1f}"
    elif rung.status == "optimum":
        how = f"solved it to its optimum {rung.value:,.1f} (below the target {rung.target:,.1f})"
    else:
        how = f"raised the bound to {rung.value:,.1f} before it was cut short (target {rung.target:,.1f})"
    return (f"HiGHS branch and bound over the centres {how} = Lagrangian x {rung.value / lr:.4f}, on the "
            f"{rung.cells:,} of {n_cells:,} cells reduced-cost fixing leaves against the target")


def target_bound(problem: DistrictingProblem, bound: BoundResult, *, target: float, time_limit_s: float,
                 stop_event: SupportsIsSet | None = None, max_cells: int = MAX_CELLS) -> BoundResult:
    """``bound`` raised to ``max(bound, min(B, target))`` by :func:`prove_target` (module docstring)."""
    rung = prove_target(problem, bound, target=target, time_limit_s=time_limit_s, stop_event=stop_event,
                        max_cells=max_cells)
    if not rung.value > bound.value:
        return replace(bound, seconds=bound.seconds + rung.seconds)
    return replace(bound, value=rung.value, seconds=bound.seconds + rung.seconds,
                   method=bound.method + "; then a target: " + _words(rung, bound.value, problem.n_units ** 2))


def _target_for(estimates: np.ndarray, cells: float) -> float:
    """The target that leaves about ``cells`` cells (``estimates``: every cell's, sorted)."""
    c = int(min(max(cells, 1), estimates.size))
    return float(estimates[c - 1]) / (1 + SLACK)


def ladder_bound(problem: DistrictingProblem, bound: BoundResult, *, time_limit_s: float,
                 stop_event: SupportsIsSet | None = None, max_cells: int = MAX_CELLS,
                 prior: tuple[float, float] = PRIOR) -> Ladder:
    """The module docstring's ladder from the Lagrangian ``bound``, for at most ``time_limit_s``
    (``prior``: the first rung's guess of the proof speed, cells per seconds: :data:`PRIOR`)."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    rungs: list[Rung] = []
    best, words = bound, ""
    if problem.n_units > MAX_UNITS or bound.value <= 0 or time_limit_s < MIN_RUNG_S:
        return Ladder(bound, (), 0.0)
    costs = reduced_costs(problem, bound)
    lr, delta, rc = costs
    estimates = np.sort((lr + delta[:, None] + rc).ravel())
    estimates = estimates[np.isfinite(estimates)]
    first = lr * (1 + FIRST_STEP)
    if np.searchsorted(estimates, first * (1 + SLACK) + SLACK, side="right") > max_cells:
        log.info("target ladder skipped: more than %d cells left at %.6g", max_cells, first)
        return Ladder(bound, (), time.perf_counter() - t0)
    speed, ceiling = prior, math.inf  # (cells, seconds) of the last timed proof; where B may cross T
    while len(rungs) < MAX_RUNGS:
        left = deadline - time.perf_counter()
        if left < MIN_RUNG_S or (stop_event is not None and stop_event.is_set()):
            break
        aim = GROWTH * speed[1] if rungs else FIRST_S
        if left - aim < GROWTH * aim:  # no longer rung would fit after this one: it takes what is left
            aim = SHARE * left
        cells = min(speed[0] * (aim / speed[1]) ** (1 / EXPONENT), max_cells)
        by_cells = math.inf if cells >= estimates.size else _target_for(estimates, cells)
        # where the cells crowd just above the Lagrangian (Kent at 25 zones: 13,153 cells at LR x
        # 1.0001, 22,834 at x 1.0002), the cells the time allows may leave no target a step above the
        # best: the lowest target two steps above it is tried instead (its proof gets all the time left)
        if by_cells <= best.value * (1 + MIN_STEP):
            by_cells = best.value * (1 + 2 * MIN_STEP)
        target = min(by_cells, ceiling, lr * (1 + STEP * 2 ** len(rungs)))
        if target <= best.value * (1 + MIN_STEP):
            break
        rung = _unless_stopped(partial(prove_target, problem, bound, target=target, time_limit_s=left,
                                       stop_event=stop_event, max_cells=max_cells, costs=costs), stop_event)
        if rung is None:
            log.info("target ladder stopped during a proof of %.6g: the bound so far stands", target)
            break
        rungs.append(rung)
        log.info("target ladder: %.6g (LR x %.4f), %d cells: %s, bound %.6g (%.1f s)", target, target / lr,
                 rung.cells, rung.status, rung.value, rung.seconds)
        if rung.value > best.value:
            best = replace(best, value=rung.value)
            words = _words(rung, lr, problem.n_units ** 2)
        if rung.status != "proved":
            break  # cut short, or the reduced model's optimum found below the target: no higher target helps
        speed = (float(max(rung.cells, 1)), max(rung.seconds, 0.1))
        if rung.root > rung.target * (1 + 2 * MIN_STEP):  # B falls as T rises: a root proof stops below B
            ceiling = rung.root * (1 - TOLERANCE)
    seconds = time.perf_counter() - t0
    if best.value > bound.value:
        best = replace(best, seconds=bound.seconds + seconds, method=(
            bound.method + f"; then a target ladder ({len(rungs)} targets in {seconds:.1f} s): {words}"))
    else:
        best = replace(bound, seconds=bound.seconds + seconds)
    return Ladder(best, tuple(rungs), seconds)


def certified_bound(problem: DistrictingProblem, *, time_limit_s: float, ladder_s: float | None = None,
                    max_iter: int = 10_000, stop_event: SupportsIsSet | None = None) -> BoundResult:
    """What the run's second process computes: :func:`optimiser.bounds.problem_bound` for at most
    ``time_limit_s``, then :func:`ladder_bound` for ``ladder_s`` (default: what is left of
    ``time_limit_s``; 0 for none). ``stop_event`` ends either early with the best bound so far."""
    t0 = time.perf_counter()
    bound = problem_bound(problem, time_limit_s=time_limit_s, max_iter=max_iter, stop_event=stop_event)
    bound = replace(bound, lagrangian=bound.value)
    left = time_limit_s - (time.perf_counter() - t0) if ladder_s is None else ladder_s
    if left < MIN_RUNG_S or (stop_event is not None and stop_event.is_set()):
        return bound
    try:
        ladder = ladder_bound(problem, bound, time_limit_s=left, stop_event=stop_event)
    except Exception as exc:  # noqa: BLE001 - only a stronger bound is lost: the Lagrangian's stands
        log.warning("the target ladder failed (%s: %s): the Lagrangian bound is reported", type(exc).__name__, exc)
        return bound
    return replace(ladder.bound, ladder_s=ladder.seconds)


def start_certified_bound(problem: DistrictingProblem, *, time_limit_s: float, ladder: bool = True) -> Background:
    """:func:`certified_bound` started in a second process beside the design (for at most
    ``time_limit_s``); ``.result(wait_s=..., ask_s=...)`` stops it and takes its best bound so
    far. In a process that may not start children (it then runs at ``result()`` time, in-process,
    with nothing to stop it) the ladder is left out."""
    return Background(certified_bound, stoppable=True, problem=problem, time_limit_s=time_limit_s,
                      ladder_s=None if ladder and can_isolate() else 0.0)
