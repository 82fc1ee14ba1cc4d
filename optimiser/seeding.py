"""Centres from the relaxation: where the certified bound would put the zones, made to fit capacity.

Where branch capacity is tight and scattered (a large rural area, capacity 115% of demand and
a reach of 35 minutes), k-medoids seeds and the constructive start often place centres that no
balanced plan can serve from the capacity in reach; every fixed-centre model then says
"infeasible". The relaxation knows better where centres can go:

1. **Price.** :func:`optimiser.bounds.problem_bound` for a fixed number of iterations (a work
   limit, so the result depends on the problem, not on the machine's speed) gives multipliers
   ``lambda`` (and ``mu`` for the capacity). Each unit ``j``'s knapsack value ``v_j`` (what a
   zone centred at ``j`` costs at those prices) ranks the units as centres.
2. **Choose.** The ``per_zone * K`` best-ranked units are candidates. A small MILP picks K of
   them (``y_j`` binary) and assigns demand fractionally (``x_ij`` continuous), with the load
   window and, when the problem has it, the capacity flow of :mod:`optimiser.capacity_flow`
   (each branch counted once, only to centres it reaches). Contiguity is left out.

Model of step 2 (named rows; ``C`` the candidates, ``R(b)`` those branch ``b`` reaches):

  ``assign_i``:  ``sum_{j in C} x_ij = 1``           ``link_ij``: ``x_ij <= y_j``
  ``load_lo_j``, ``load_hi_j``: ``L y_j <= sum_i d_i x_ij <= U y_j``
  ``count``: ``sum_j y_j = K``                       ``own_j``: ``x_jj = y_j``
  ``flow_out_b``: ``sum_{j in R(b)} f_bj <= cap_b``   ``flow_cover_j``: ``sum_b f_bj >= m sum_i d_i x_ij``
  ``flow_open_bj``: ``f_bj <= cap_b y_j`` (implied by whole ``y``, but it tightens the LP: the
  certified bound's proofs, :mod:`optimiser.ladder`, solve this model too)

solved by HiGHS (through ``highspy``) to ``gap``; its chosen centres seed the design. Only a
seeding: the design's own models decide feasibility and the plan.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimiser.bounds import flow_of, knapsack_values, problem_bound
from optimiser.problem import DistrictingProblem
from optimiser.solve import stdout_to_stderr

log = logging.getLogger(__name__)

#: the seeding MILP is built only up to this many (unit, candidate) pairs (about 3 s to build and
#: solve on the default's 396 units x 56 candidates); beyond, the design seeds without it
MAX_CELLS = 25_000


@dataclass(frozen=True)
class Seeding:
    """Centres chosen by the relaxation, and how."""

    centres: tuple[int, ...]
    candidates: int
    status: str  # HiGHS's model status of the seeding MILP
    objective: float | None  # of the relaxed plan (a lower estimate for the centres)
    seconds: float
    time_limited: bool = False  # the clock, not the iteration count or the MILP's gap, ended a step


#: up to this many (unit, candidate) pairs the seeding is cheap (a few seconds) and the design
#: also runs round 1 from its centres beside the constructive start's, keeping the better plan
COMPETE_CELLS = 6_000


#: mid-size problems (the default's 396 units x 14 zones: 11,088 cells) rival the constructive
#: start with :data:`MID_PER_ZONE` candidates per zone up to this many cells: on the default the
#: seeding then takes ~5 s (1,000 iterations of the bound and a 0.7 s MILP) and every seed 1-10
#: ends in the same basin (410,371-410,423), where the constructive starts and their screening
#: end anywhere between 410,259 and 411,919 (measured side by side, ``bench/bench_scale.py``)
MID_CELLS = 12_000
MID_PER_ZONE = 2


def _cells(problem: DistrictingProblem, per_zone: int) -> int:
    """(unit, candidate) cells of the seeding MILP with ``per_zone`` candidates per zone."""
    return problem.n_units * min(problem.n_units, per_zone * problem.n_zones)


def competes(problem: DistrictingProblem, *, per_zone: int = 4) -> bool:
    """Whether the seeding is cheap enough to rival a feasible constructive start."""
    return _cells(problem, per_zone) <= COMPETE_CELLS


def competing_per_zone(problem: DistrictingProblem, *, mid: bool) -> int | None:
    """Candidates per zone with which the seeding rivals a feasible constructive start: 4 on
    small problems (:data:`COMPETE_CELLS`), with ``mid`` :data:`MID_PER_ZONE` up to
    :data:`MID_CELLS`; None when it does not compete."""
    if competes(problem):
        return 4
    if mid and _cells(problem, MID_PER_ZONE) <= MID_CELLS:
        return MID_PER_ZONE
    return None


def applicable(problem: DistrictingProblem, *, per_zone: int = 4) -> bool:
    """Whether the seeding MILP is small enough to build (see :data:`MAX_CELLS`)."""
    return _cells(problem, per_zone) <= MAX_CELLS


def ranked_centres(problem: DistrictingProblem, *, iterations: int, time_limit_s: float
                   ) -> tuple[NDArray[np.int64], bool]:
    """Units ordered by their knapsack value at the relaxation's multipliers, best first, and
    whether the clock stopped the iterations."""
    # the flat capacity pricing: several times cheaper per iteration, and only a ranking is asked for
    bound = problem_bound(problem, time_limit_s=time_limit_s, max_iter=iterations, per_branch=False)
    lo, hi = problem.zone_bounds()
    cost, upper = problem.cost, float(hi.max())
    col_upper: float | NDArray[np.float64] = upper
    flow = flow_of(problem, per_branch=False)
    prices = None
    if flow is not None and bound.capacity_multipliers is not None:
        prices = flow.prices(bound.capacity_multipliers)
        col_upper = flow.column_upper(upper)
    values, _ = knapsack_values(problem.demand, cost, bound.multipliers, np.arange(problem.n_units),
                                lower=float(lo.min()), upper=col_upper, prices=prices)
    return np.argsort(values, kind="stable").astype(np.int64), bound.time_limited


def relaxation_centres(problem: DistrictingProblem, *, iterations: int = 1000, per_zone: int = 4,
                       gap: float = 0.01, time_limit_s: float = 20.0) -> Seeding | None:
    """Steps 1-2 of the module docstring; None when the MILP is too large or finds no centres.
    Step 1 may take half of ``time_limit_s`` (four fifths with 2 candidates per zone or fewer,
    whose MILP takes under a second on the default)."""
    if not applicable(problem, per_zone=per_zone):
        return None
    t0 = time.perf_counter()
    rank_share = 0.8 if per_zone <= MID_PER_ZONE else 0.5
    order, clocked = ranked_centres(problem, iterations=iterations, time_limit_s=rank_share * time_limit_s)
    allowed = np.ones(problem.n_units, bool)
    if problem.centre_candidates is not None:
        allowed &= np.asarray(problem.centre_candidates, dtype=bool)
    cand = order[allowed[order]][: per_zone * problem.n_zones]
    if cand.size < problem.n_zones:
        return None
    chosen, status, objective = _choose(problem, cand, gap=gap,
                                        time_limit_s=max(1.0, time_limit_s - (time.perf_counter() - t0)))
    seconds = time.perf_counter() - t0
    log.info("relaxation seeding: %s over %d candidate centres, %s, in %.1f s", status, cand.size,
             "no centres" if chosen is None else f"relaxed objective {objective:,.0f}", seconds)
    if chosen is None:
        return None
    return Seeding(chosen, int(cand.size), status, objective, seconds,
                   time_limited=clocked or status == "Time limit reached")


def centre_model(problem: DistrictingProblem, cand: NDArray[np.int64], *, binary: str = "centres",
                 cells: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None, flow_open: bool = True) -> Any:
    """The step-2 model (module docstring) as a ``highspy.HighsLp`` over candidates ``cand``:
    columns ``x`` (one per cell: every (unit, candidate) pair row-major, or only ``cells`` = (units,
    positions in ``cand``)), then ``y`` (m), then the flows. ``binary``: "centres" (``y``), "all"
    (``y`` and ``x``) or "none" (the LP relaxation; with every unit a candidate, the LP the
    certified bound converges towards, see ``bench/bench_bound.py``). A candidate whose own cell
    is missing is never opened. ``flow_open``: with the rows ``flow_open_bj`` (the seeding's own
    MILP leaves them out, as it always has; the bound's proofs keep them)."""
    import highspy

    n, k, d = problem.n_units, problem.n_zones, problem.demand
    m = cand.size
    lo, hi = problem.zone_bounds()
    low, up = float(lo.min()), float(hi.max())
    if cells is None:
        ii, jj = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    else:
        ii, jj = np.asarray(cells[0], dtype=np.int64), np.asarray(cells[1], dtype=np.int64)
    nx = ii.size
    x, y = np.arange(nx), nx + np.arange(m)
    own = np.full(m, -1)
    is_own = cand[jj] == ii
    own[jj[is_own]] = x[is_own]
    has_own = np.flatnonzero(own >= 0)
    rows, cols, vals, rlo, rhi = [ii], [x], [np.ones(nx)], [np.ones(n)], [np.ones(n)]  # assign_i
    r = n
    rows += [r + np.arange(nx), r + np.arange(nx)]  # link_ij
    cols += [x, y[jj]]
    vals += [np.ones(nx), -np.ones(nx)]
    rlo.append(np.full(nx, -np.inf))
    rhi.append(np.zeros(nx))
    r += nx
    for bound, (bl, bh) in ((low, (0.0, np.inf)), (up, (-np.inf, 0.0))):  # load_lo_j, load_hi_j
        rows += [r + jj, r + np.arange(m)]
        cols += [x, y]
        vals += [d[ii], -bound * np.ones(m)]
        rlo.append(np.full(m, bl))
        rhi.append(np.full(m, bh))
        r += m
    h = has_own.size
    rows += [np.full(m, r), r + 1 + np.arange(h), r + 1 + np.arange(h)]  # count, own_j
    cols += [y, own[has_own], y[has_own]]
    vals += [np.ones(m), np.ones(h), -np.ones(h)]
    rlo += [np.array([float(k)]), np.zeros(h)]
    rhi += [np.array([float(k)]), np.zeros(h)]
    r += 1 + h
    nf = 0
    br = problem.branches
    if br is not None:
        bj = np.argwhere(br.in_reach()[:, cand] & (np.asarray(br.capacity)[:, None] > 0))
        nf = len(bj)
        f = nx + m + np.arange(nf)
        rows.append(r + bj[:, 0])  # flow_out_b
        cols.append(f)
        vals.append(np.ones(nf))
        rlo.append(np.full(br.capacity.size, -np.inf))
        rhi.append(np.asarray(br.capacity, dtype=float))
        r += br.capacity.size
        rows += [r + bj[:, 1], r + jj]  # flow_cover_j
        cols += [f, x]
        vals += [np.ones(nf), -br.margin * d[ii]]
        rlo.append(np.zeros(m))
        rhi.append(np.full(m, np.inf))
        r += m
        if flow_open:
            # flow_open_bj: only an open centre draws capacity, each branch at most its own. Implied
            # when y is whole (a closed centre serves nothing, so needs no flow), but it cuts the LP:
            # without it a half-open centre may draw a branch's whole capacity for half a zone.
            rows += [r + np.arange(nf), r + np.arange(nf)]
            cols += [f, y[bj[:, 1]]]
            vals += [np.ones(nf), -np.asarray(br.capacity, dtype=float)[bj[:, 0]]]
            rlo.append(np.full(nf, -np.inf))
            rhi.append(np.zeros(nf))
            r += nf
    nv = nx + m + nf
    a = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, nv))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = nv, r
    lp.col_cost_ = np.concatenate([d[ii] * problem.cost[ii, cand[jj]], np.zeros(m + nf)])
    lp.col_lower_ = np.zeros(nv)
    y_upper = (own >= 0).astype(float)
    lp.col_upper_ = np.concatenate([np.ones(nx), y_upper, np.full(nf, np.inf)])
    lp.row_lower_, lp.row_upper_ = np.concatenate(rlo), np.concatenate(rhi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    if binary != "none":
        first = 0 if binary == "all" else nx
        lp.integrality_ = [highspy.HighsVarType.kInteger if first <= c < nx + m else highspy.HighsVarType.kContinuous
                           for c in range(nv)]
    return lp


def _choose(problem: DistrictingProblem, cand: NDArray[np.int64], *, gap: float,
            time_limit_s: float) -> tuple[tuple[int, ...] | None, str, float | None]:
    import highspy

    n, m, k = problem.n_units, cand.size, problem.n_zones
    nx = n * m
    lp = centre_model(problem, cand, flow_open=False)
    nv = lp.num_col_
    with stdout_to_stderr():  # HiGHS prints its banner on file descriptor 1
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("mip_rel_gap", gap)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.passModel(lp)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    sol = np.asarray(h.getSolution().col_value)
    if sol.size != nv or h.getInfo().primal_solution_status != 2:  # 2: a feasible solution is held
        return None, status, None
    picked = np.flatnonzero(sol[nx:nx + m] > 0.5)
    if picked.size != k:
        return None, status, None
    return tuple(int(c) for c in cand[picked]), status, float(h.getInfo().objective_function_value)
