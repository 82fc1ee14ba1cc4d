"""A stronger certified bound: branch and bound over the centres, on the cells the Lagrangian leaves.

The Lagrangian bound of :mod:`optimiser.bounds` converges to the LP relaxation of its model, in
which a centre may be opened by fractions. Where zones are few and large (Westmorland and
Furness: 5 zones over lakes, fells and estuaries) that LP sits several per cent below every plan,
and the bracket (plan ÷ bound) then measures the bound, not the plan. This module closes part of
that gap and stays certified:

1. **Reduced costs.** At the best multipliers ``(lambda, mu)`` the Lagrangian value is ``LR``.
   Opening a candidate centre ``j`` that is not among the ``K`` chosen costs at least
   ``delta_j = v_j - v_(K)`` more (it replaces the dearest chosen one); forcing unit ``i`` into
   ``j``'s zone costs at least ``rc_ij = max(0, d_i (key_ij - pi_j))`` more, where ``key_ij`` is
   the item's ratio in ``j``'s fractional knapsack and ``pi_j`` the ratio at which that knapsack
   stops filling (0 when the load window does not bind). Both are lower estimates (LP duality of
   the knapsack), so ``LR + delta_j + rc_ij`` bounds every plan that puts ``i`` in a zone centred
   at ``j``.
2. **Fixing.** With ``UB`` the objective of any plan (so ``UB >= OPT``), a cell ``(i, j)`` whose
   estimate exceeds ``UB`` is in no optimal plan (``x_ij = 0``), and a centre whose ``LR +
   delta_j`` exceeds it is never opened. What is left is usually a small fraction of the n x n cells.
3. **Branch and bound.** The model of :mod:`optimiser.seeding` (binary centres, fractional
   assignment, load window, ``K`` zones and the capacity flow) over the cells left, solved by HiGHS
   until it is asked to stop; HiGHS's own dual bound ``B`` on that model is the answer.

Why it holds: an optimal plan ``P*`` (contiguous or not) uses no fixed cell, so it is feasible for
the reduced model and ``B <= cost(P*) = OPT``. The result is ``max(LR, min(B, UB))``: never below
the Lagrangian bound, never above a plan.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from optimiser.bounds import BoundResult, SupportsIsSet, flow_of
from optimiser.isolated import Background
from optimiser.knapsack import knapsack_duals
from optimiser.problem import DistrictingProblem
from optimiser.solve import stdout_to_stderr

log = logging.getLogger(__name__)

#: the reduced model is built only up to this many (unit, centre) cells (HiGHS's root LP on
#: ~60,000 cells takes a few seconds on one core)
MAX_CELLS = 60_000

#: the branch and bound is tried only when the plan is more than this far above the Lagrangian
#: bound (relative): below it the LP's integrality gap leaves too little to win for up to
#: :data:`MIP_S` of solving (measured in 60 s: Cumberland, 1.95% above, +0.03%; Cornwall, 1.07%
#: above, +0.03%; Westmorland and Furness, 4.7% above, 1.74% above when solved in 26 s)
MIN_GAP = 0.02

#: seconds the branch and bound may take at most (measured: Westmorland and Furness, 144 units and
#: 5 zones, is solved to optimality in about 26 s on one core)
MIP_S = 30.0

#: HiGHS's dual bound is shaved by this (relative) before it is reported: its MIP gap and
#: feasibility tolerances are 1e-6 and below
TOLERANCE = 1e-6

#: a cell or centre is kept unless its estimate exceeds the plan by more than this (relative):
#: rounding in the knapsack values must never fix a cell that an optimal plan uses
SLACK = 1e-7


@dataclass(frozen=True)
class Fixing:
    """The cells and centres the Lagrangian's reduced costs leave, against a plan's objective."""

    lagrangian: float  # LR at the multipliers used
    upper: float  # the plan objective fixed against
    centres: NDArray[np.int64]  # (m',) candidate centres kept
    cell_unit: NDArray[np.int64]  # (c,) the unit of each kept cell
    cell_centre: NDArray[np.int64]  # (c,) its centre, as a position in ``centres``

    @property
    def cells(self) -> int:
        return int(self.cell_unit.size)


def reduced_costs(problem: DistrictingProblem, bound: BoundResult
                  ) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """``(LR, delta, rc)`` at the multipliers of ``bound`` (step 1 of the module docstring);
    ``delta`` (n,) per candidate centre (inf where no zone can be centred), ``rc`` (n_centres, n_units).

    Each centre's value is its knapsack's Lagrangian dual ``phi_j(rho_j)`` at the load window's
    multiplier ``rho_j`` (:mod:`optimiser.knapsack`; equal to ``v_j`` up to rounding, and never above
    it), and a cell's reduced cost is what that dual rises by when the unit is forced into the zone:
    ``d_i (a_ij / d_i - rho_j)^+``. So forcing any set of cells raises the dual, hence ``v_j``, by at
    least the sum of theirs."""
    d = np.asarray(problem.demand, dtype=np.float64)
    n, k = problem.n_units, problem.n_zones
    lo, hi = problem.zone_bounds()
    lower, upper = float(lo.min()), float(hi.max())
    lam = np.asarray(bound.multipliers, dtype=np.float64)
    cost_t = np.ascontiguousarray(np.asarray(problem.cost, dtype=np.float64).T)  # (centre, unit)
    col_upper = np.full(n, upper)
    offset = 0.0
    prices = None
    flow = flow_of(problem)
    if flow is not None:
        mu = np.zeros(flow.capacity.size) if bound.capacity_multipliers is None else bound.capacity_multipliers
        prices = flow.prices(mu)
        col_upper = flow.column_upper(upper)
        offset = float(mu @ flow.capacity)
    centre = np.arange(n)
    exact, values, rho = knapsack_duals(d, cost_t, lam, centre, lower=lower, upper=col_upper, prices=prices)
    infeasible = ~np.isfinite(exact)
    if problem.centre_candidates is not None:  # no zone is centred elsewhere (the bound's candidates)
        infeasible |= ~np.asarray(problem.centre_candidates, dtype=bool)
    values = np.where(infeasible, np.inf, np.minimum(values, exact))
    coef = cost_t * d[None, :] - lam[None, :]
    pos = d > 0
    with np.errstate(invalid="ignore"):
        rc = np.where(pos[None, :], np.maximum(0.0, coef - rho[:, None] * d[None, :]), np.maximum(coef, 0.0))
    rc[centre, centre] = 0.0
    rc = np.where(np.isnan(rc), np.inf, rc)
    pick = np.argpartition(values, k - 1)[:k]
    lr = float(lam.sum() + values[pick].sum() - offset)
    delta = np.maximum(values - values[pick].max(), 0.0)
    delta[pick] = 0.0
    delta[infeasible] = np.inf
    return lr, delta, rc


def fix_cells(problem: DistrictingProblem, bound: BoundResult, *, upper: float,
              costs: tuple[float, NDArray[np.float64], NDArray[np.float64]] | None = None) -> Fixing:
    """Step 2 of the module docstring: the cells and centres that a plan costing at most
    ``upper`` may use (every other is in no optimal plan). ``costs``: :func:`reduced_costs` of
    ``bound`` when the caller has them already (the target ladder fixes against many targets)."""
    lr, delta, rc = reduced_costs(problem, bound) if costs is None else costs
    room = upper * (1 + SLACK) + SLACK - lr
    centres = np.flatnonzero(delta <= room)
    cells = (delta[centres][:, None] + rc[centres]) <= room  # (m', n)
    jj, ii = np.nonzero(cells)
    return Fixing(lagrangian=lr, upper=upper, centres=centres.astype(np.int64), cell_unit=ii.astype(np.int64),
                  cell_centre=jj.astype(np.int64))


def solve_reduced(problem: DistrictingProblem, fixing: Fixing, *, objective_bound: float, time_limit_s: float,
                  stop_event: SupportsIsSet | None = None, options: dict[str, bool | float | str] | None = None
                  ) -> tuple[str, float, bool]:
    """HiGHS's branch and bound on the model of :mod:`optimiser.seeding` over the cells of
    ``fixing`` (step 3 of the module docstring), pruning every node whose bound exceeds
    ``objective_bound``: ``(status, dual bound less TOLERANCE, proved infeasible below the
    bound)``. Stops after ``time_limit_s`` or once ``stop_event`` is set (HiGHS's interrupt
    callbacks), keeping its dual bound so far. ``options``: further HiGHS options."""
    import highspy

    from optimiser.seeding import centre_model

    lp = centre_model(problem, fixing.centres, cells=(fixing.cell_unit, fixing.cell_centre))
    with stdout_to_stderr():  # HiGHS prints its banner on file descriptor 1
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("mip_rel_gap", 1e-6)
    h.setOptionValue("time_limit", max(float(time_limit_s), 0.1))
    h.setOptionValue("objective_bound", float(objective_bound))  # nothing above it is of use
    for name, value in (options or {}).items():
        h.setOptionValue(name, value)

    def interrupt(event: highspy.HighsCallbackEvent) -> None:
        if stop_event is not None and stop_event.is_set():
            event.interrupt()

    if stop_event is not None:
        h.cbMipInterrupt.subscribe(interrupt)
        h.cbSimplexInterrupt.subscribe(interrupt)
        h.cbIpmInterrupt.subscribe(interrupt)
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    # less HiGHS's tolerances, so rounding never lifts it above the optimum
    dual = float(h.getInfo().mip_dual_bound) * (1 - TOLERANCE)
    return status, dual, h.getModelStatus() == highspy.HighsModelStatus.kInfeasible


def reduced_bound(problem: DistrictingProblem, bound: BoundResult, *, upper: float, time_limit_s: float,
                  stop_event: SupportsIsSet | None = None, max_cells: int = MAX_CELLS,
                  fixing: Fixing | None = None) -> BoundResult:
    """Steps 2-3 of the module docstring: ``bound`` made stronger by HiGHS's branch and bound over
    the centres on the cells the reduced costs leave against a plan of objective ``upper``.

    Returns ``bound`` itself when the reduced model has more than ``max_cells`` cells (or when
    HiGHS ends without a dual bound above it); stops after ``time_limit_s`` or once
    ``stop_event`` is set, keeping HiGHS's best dual bound so far. ``fixing``: the
    :func:`fix_cells` of ``bound`` against ``upper`` when the caller has it already."""
    t0 = time.perf_counter()
    fixing = fix_cells(problem, bound, upper=upper) if fixing is None else fixing
    units_left = np.unique(fixing.cell_unit).size
    log.info("reduced-cost fixing against %.6g: %d of %d centres and %d of %d cells left", upper,
             fixing.centres.size, problem.n_units, fixing.cells, problem.n_units ** 2)
    if fixing.centres.size < problem.n_zones or units_left < problem.n_units:
        # no plan within ``upper`` uses the cells left: the plan itself is optimal (up to rounding)
        log.info("reduced-cost fixing leaves no plan below %.6g: the bound is the plan", upper)
        return replace(bound, value=max(bound.value, upper), seconds=bound.seconds + time.perf_counter() - t0,
                       method=bound.method + "; reduced-cost fixing leaves no cheaper plan")
    if fixing.cells > max_cells:
        return bound
    status, dual, infeasible = solve_reduced(problem, fixing, objective_bound=float(upper) * (1 + SLACK),
                                             time_limit_s=time_limit_s, stop_event=stop_event)
    seconds = time.perf_counter() - t0
    if infeasible:
        dual = upper  # no plan cheaper than the plan: HiGHS proved it on the reduced model
    if not np.isfinite(dual) or dual <= bound.value:
        log.info("branch and bound over %d centres (%d cells): %s, dual bound %.6g, not above %.6g (%.1f s)",
                 fixing.centres.size, fixing.cells, status, dual, bound.value, seconds)
        return replace(bound, seconds=bound.seconds + seconds)
    value = min(dual, upper)
    log.info("branch and bound over %d centres (%d cells): %s, bound %.6g -> %.6g in %.1f s",
             fixing.centres.size, fixing.cells, status, bound.value, value, seconds)
    return replace(
        bound, value=value, seconds=bound.seconds + seconds,
        time_limited=bound.time_limited or status == "Time limit reached",
        method=(bound.method + f"; then HiGHS branch and bound over the centres ({status.lower()}) on the "
                f"{fixing.cells:,} of {problem.n_units ** 2:,} cells left by reduced-cost fixing against a plan "
                f"of {upper:,.1f}"),
    )


def worth_fixing(problem: DistrictingProblem, bound: BoundResult, *, upper: float,
                 max_cells: int = MAX_CELLS) -> Fixing | None:
    """The fixing :func:`reduced_bound` would solve on, when that is worth a solve: the plan is
    more than :data:`MIN_GAP` above the Lagrangian bound (``bound.lagrangian`` when the target
    ladder raised ``bound``: its fixing is from the same multipliers) and at most ``max_cells``
    cells are left (else None)."""
    lagrangian = bound.value if bound.lagrangian is None else bound.lagrangian
    if not upper > lagrangian * (1 + MIN_GAP) or lagrangian <= 0:
        return None
    fixing = fix_cells(problem, bound, upper=upper)
    return fixing if fixing.cells <= max_cells else None


def strengthen_bound(problem: DistrictingProblem, bound: BoundResult, *, upper: float,
                     time_limit_s: float = MIP_S, fixing: Fixing | None = None) -> BoundResult:
    """``bound``, raised by :func:`reduced_bound` when that is worth trying (:func:`worth_fixing`,
    or the caller's ``fixing`` from it), solved in a child process carezones stops after
    ``time_limit_s`` (it then hands over HiGHS's best dual bound so far); ``bound`` itself when
    not worth it, or when the child fails or does not answer (logged)."""
    fixing = worth_fixing(problem, bound, upper=upper) if fixing is None else fixing
    if time_limit_s < 1.0 or fixing is None:
        return bound
    job = Background(reduced_bound, stoppable=True, problem=problem, bound=bound, upper=upper,
                     time_limit_s=time_limit_s, fixing=fixing)
    try:
        better = job.result(wait_s=time_limit_s + 1.0, ask_s=2.0)
    except Exception as exc:  # noqa: BLE001 - only a stronger bound is lost: the Lagrangian's stands
        log.warning("branch and bound over the centres failed (%s: %s): the Lagrangian bound is reported",
                    type(exc).__name__, exc)
        return bound
    return bound if better is None else better
