"""Step 4c of :mod:`optimiser.search`: move the centres jointly, priced by the assignment's LP.

The exact rounds re-centre each zone on its own members (its medoid) and the pairs re-split
two zones at a time; neither moves a centre to where the zone *would* be cheaper once the other
zones give and take units around it. At county scale that is where most of the plan's distance
from the bound lies (measured on Kent at 12 zones: at the plan's centres, the best plan without
contiguity is only 0.05% below the plan, while the plan is 2.4% above the bound).

Vertex substitution (Teitz & Bart 1968) priced by the LP relaxation of the fixed-centre
assignment without contiguity: zone by zone, the centre is moved to one of the ``near`` units
closest to it where a centre may stand; the move is kept when the LP's optimum falls. Contiguity
is left to the fixed-centre MILP the caller solves at the centres found, so a move is only a
proposal; the search keeps the MILP's plan only when it is better.

Model (highspy, one model modified in place, each move a warm-started dual simplex)
----------------------------------------------------------------------------------
Zones ``z`` centred at ``c_z``; units ``i`` with demand ``d_i``; ``t_ij`` minutes; ``a_iz`` whether
unit ``i`` may join zone ``z`` (:meth:`DistrictingProblem.allowed`: pins and the travel limit).

Minimise ``sum_iz (d_i t_{i c_z} - p s_iz) x_iz + p S``   (travel, and the continuity charge ``p``
per hour that changes zone, ``s_iz`` hours of ``i`` in today's zone ``z``, ``S`` their total)

  (1) ``assign_i``:     ``sum_z x_iz = 1``
  (2) ``load_z``:       ``L_z <= sum_i d_i x_iz <= min(U_z, cap(c_z))``   (``cap``: ``centre_capacity``)
  (3) ``<row>_z``:      the problem's per-zone rows (cohorts, capacity inside a zone): ``sum_i a_i x_iz`` in range
  (4) ``kept``:         ``sum_iz s_iz x_iz >= S - max_moved``             (continuity limit)
  (5) ``flow_out_b``:   ``sum_z f_bz <= cap_b``;  ``flow_cover_z``: ``sum_b f_bz >= m sum_i d_i x_iz``,
                        ``f_bz <= 0`` unless branch ``b`` reaches ``c_z``
  (6) bounds:          ``0 <= x_iz <= a_iz``; ``x_{c_z z} = 1``

Every plan of the problem at these centres meets (1)-(6), so the LP is a lower estimate of the
best plan at them. Units kept together (``together``) are left to the MILP.

The search is a fixed amount of work (at most ``max_evaluations`` LPs, moves tried in a fixed
order): the centres it returns depend on the problem and the start, not on the machine, unless
``time_limit_s`` ends it first (the result says so).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimiser.budget import Strategy
from optimiser.construct import construct_start
from optimiser.districting import _eligible
from optimiser.problem import DistrictingProblem
from optimiser.solve import stdout_to_stderr

if TYPE_CHECKING:
    from optimiser.search import Search

log = logging.getLogger(__name__)

#: candidate new centres per zone: the units nearest its centre where a centre may stand
#: (measured on Kent at 12 zones: 10 took the LP from 1,095,072 to 1,091,601 in 409 LPs)
NEAR = 10


@dataclass(frozen=True)
class SwapResult:
    """The centres the swaps reached and what it took."""

    centres: tuple[int, ...]
    start_value: float  # the LP at the starting centres
    value: float  # the LP at the centres returned
    evaluations: int  # LPs solved
    moves: int  # centre moves kept
    seconds: float
    time_limited: bool  # the clock, not the work limit or a pass without a move, ended it


class _FixedCentreLP:
    """The module docstring's model at centres ``centres``, kept in one HiGHS instance."""

    def __init__(self, problem: DistrictingProblem, centres: tuple[int, ...]) -> None:
        import highspy

        self.hs = highspy
        self.p = problem
        self.centres = list(centres)
        n, k = problem.n_units, problem.n_zones
        d = np.asarray(problem.demand, dtype=np.float64)
        self.lo, self.hi = problem.zone_bounds()
        self.x = np.arange(n * k).reshape(n, k)  # column of x_iz
        br = problem.branches
        nb = 0 if br is None else int(np.shape(br.capacity)[0])
        self.f = n * k + np.arange(nb * k).reshape(nb, k) if nb else np.zeros((0, k), dtype=np.int64)
        self.reach = None if br is None else br.in_reach()
        nv = n * k + nb * k
        rows: list[NDArray[np.int64]] = []
        cols: list[NDArray[np.int64]] = []
        vals: list[NDArray[np.float64]] = []
        rlo: list[NDArray[np.float64]] = []
        rhi: list[NDArray[np.float64]] = []
        names: list[str] = []
        r = 0
        xi, xz = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
        rows.append(xi)
        cols.append(self.x.ravel())
        vals.append(np.ones(n * k))
        rlo.append(np.ones(n))
        rhi.append(np.ones(n))
        names += [f"assign_{problem.label(i)}" for i in range(n)]
        r += n
        self.load_row = r
        rows.append(r + xz)
        cols.append(self.x.ravel())
        vals.append(d[xi])
        rlo.append(np.asarray(self.lo, dtype=np.float64))
        rhi.append(np.array([self._load_upper(z, c) for z, c in enumerate(self.centres)]))
        names += [f"load_{z}" for z in range(k)]
        r += k
        for row in problem.rows:
            rows.append(r + xz)
            cols.append(self.x.ravel())
            vals.append(np.asarray(row.amount, dtype=np.float64)[xi])
            rlo.append(np.asarray(row.lower, dtype=np.float64))
            rhi.append(np.asarray(row.upper, dtype=np.float64))
            names += [f"{row.name}_{z}" for z in range(k)]
            r += k
        self.offset = 0.0
        stay = None if problem.stay is None else np.asarray(problem.stay, dtype=np.float64)
        if stay is not None and problem.max_moved is not None:
            rows.append(np.full(n * k, r))
            cols.append(self.x.ravel())
            vals.append(stay.ravel())
            rlo.append(np.array([float(stay.sum()) - float(problem.max_moved)]))
            rhi.append(np.array([np.inf]))
            names.append("kept")
            r += 1
        if stay is not None and problem.moved_penalty > 0:
            self.offset = float(problem.moved_penalty) * float(stay.sum())
        self.charge = (np.zeros((n, k)) if stay is None or problem.moved_penalty <= 0
                       else float(problem.moved_penalty) * stay)
        if nb:
            assert br is not None
            rows.append(r + np.repeat(np.arange(nb), k))  # flow_out_b
            cols.append(self.f.ravel())
            vals.append(np.ones(nb * k))
            rlo.append(np.full(nb, -np.inf))
            rhi.append(np.asarray(br.capacity, dtype=np.float64))
            names += [f"flow_out_{br.label(b)}" for b in range(nb)]
            r += nb
            rows += [r + np.tile(np.arange(k), nb), r + xz]  # flow_cover_z
            cols += [self.f.ravel(), self.x.ravel()]
            vals += [np.ones(nb * k), -float(br.margin) * d[xi]]
            rlo.append(np.zeros(k))
            rhi.append(np.full(k, np.inf))
            names += [f"flow_cover_{z}" for z in range(k)]
            r += k
        a = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, nv))
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = nv, r
        cost = np.zeros(nv)
        lower, upper = np.zeros(nv), np.zeros(nv)
        lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
        lp.row_lower_, lp.row_upper_ = np.concatenate(rlo), np.concatenate(rhi)
        lp.row_names_ = names
        lp.offset_ = self.offset
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
        with stdout_to_stderr():  # HiGHS prints its banner on file descriptor 1
            self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.setOptionValue("threads", 1)
        self.h.setOptionValue("random_seed", 0)
        self.h.passModel(lp)
        for z, c in enumerate(self.centres):
            self.move(z, c)

    def _load_upper(self, z: int, c: int) -> float:
        cap = self.p.centre_capacity
        return float(self.hi[z]) if cap is None else float(min(self.hi[z], cap[c]))

    def move(self, z: int, c: int) -> None:
        """Columns and the load row of zone ``z`` as for a centre at unit ``c``."""
        p = self.p
        self.centres[z] = c
        cols = self.x[:, z]
        self.h.changeColsCost(cols.size, cols, p.demand * p.cost[:, c] - self.charge[:, z])
        centres = tuple(self.centres)
        upper = p.allowed(centres)[:, z].astype(np.float64)
        lower = np.zeros(cols.size)
        lower[c] = upper[c] = 1.0
        self.h.changeColsBounds(cols.size, cols, lower, upper)
        if self.reach is not None and self.f.size:
            fz = self.f[:, z]
            self.h.changeColsBounds(fz.size, fz, np.zeros(fz.size), np.where(self.reach[:, c], np.inf, 0.0))
        self.h.changeRowBounds(self.load_row + z, float(self.lo[z]), self._load_upper(z, c))

    def value(self) -> float:
        """The LP's optimum at the current centres (inf when it has none)."""
        self.h.run()
        if self.h.getModelStatus() != self.hs.HighsModelStatus.kOptimal:
            return float(np.inf)
        return float(self.h.getInfo().objective_function_value)


def swap_centres(problem: DistrictingProblem, centres: tuple[int, ...], *, max_evaluations: int,
                 time_limit_s: float, near: int = NEAR, fixed: frozenset[int] = frozenset()) -> SwapResult:
    """The module docstring's search from ``centres``: zones in order, each centre tried at its
    ``near`` nearest eligible units (not pinned to another zone, not another zone's centre), the
    first move that lowers the LP kept, then the next zone; passes repeat until one keeps no move,
    ``max_evaluations`` LPs have been solved or ``time_limit_s`` has passed. Zones in ``fixed``
    keep their centre."""
    t0 = time.perf_counter()
    model = _FixedCentreLP(problem, tuple(int(c) for c in centres))
    best = start = model.value()
    everyone = np.arange(problem.n_units)
    evaluations, moves, clock = 1, 0, False
    k = problem.n_zones
    eligible = np.zeros((k, problem.n_units), dtype=bool)  # candidates, capacity in reach, pins: once per zone
    for z in range(k):
        eligible[z, _eligible(problem, everyone, z)] = True
    while np.isfinite(best):
        moved_this_pass = False
        for z in range(k):
            if z in fixed:
                continue
            here = model.centres[z]
            order = np.argsort(problem.cost[here], kind="stable")
            may = eligible[z].copy()
            may[model.centres] = False
            for u in order[may[order]][:near]:
                if evaluations >= max_evaluations or time.perf_counter() - t0 > time_limit_s:
                    clock = evaluations < max_evaluations
                    break
                model.move(z, int(u))
                value = model.value()
                evaluations += 1
                if value < best - 1e-9 * abs(best):
                    best, moves, moved_this_pass = value, moves + 1, True
                    break
                model.move(z, here)
            else:
                continue
            if evaluations >= max_evaluations or clock:
                break
        if not moved_this_pass or evaluations >= max_evaluations or clock:
            break
    seconds = time.perf_counter() - t0
    log.info("centre swaps: LP %.6g -> %.6g (%d moves, %d LPs, %.1f s%s)", start, best, moves, evaluations,
             seconds, ", cut by the clock" if clock else "")
    return SwapResult(tuple(model.centres), start, best, evaluations, moves, seconds, clock)


def lp_value(problem: DistrictingProblem, centres: tuple[int, ...]) -> float:
    """The module docstring's LP at ``centres`` (tests compare it with plans at them)."""
    return _FixedCentreLP(problem, tuple(int(c) for c in centres)).value()


#: cycles of swaps, each followed by the fixed-centre MILP at the centres found and the pairs,
#: while a cycle improves the plan
CYCLES = 3

#: seconds the kicks leave on the clock for the swaps that follow them (on Kent at 12 zones a
#: cycle takes ~12 s: 3 s of LPs, a 7 s MILP, the pairs near the change)
RESERVE_S = 15.0

#: the swaps run on problems of at least this many units (county scale, as the kicks): on the
#: default (396 units) they found no move from the plans of seeds 1, 2 and the shipped seed
MIN_UNITS = 600


def swaps_for(problem: DistrictingProblem, strategy: Strategy) -> bool:
    """Whether step 4c runs: ``strategy.centre_swaps`` > 0, at county scale (:data:`MIN_UNITS`)."""
    return strategy.centre_swaps > 0 and problem.n_units >= MIN_UNITS and problem.n_zones >= 2


def swap_search(s: Search) -> None:
    """Step 4c of :mod:`optimiser.search` (after the kicks): :func:`swap_centres` from the best
    plan's centres (``Strategy.centre_swaps`` LPs at most), the whole-area MILP at the centres it
    reaches (at the caller's gap, from the plan grown from those centres as a MIP start), then the
    pairs near the change; repeated (at most :data:`CYCLES`) while the plan improves. The MILP's
    plan is kept only when it beats the best (``Search.offer``). No exact round follows: its
    re-centring on the medoids undoes what the LP chose (measured on Kent at 12 zones: no gain
    for 6 s). Every centre may move, today's and the anchors' too (they are starts, not rules, as
    in the exact rounds): the LP keeps the locks (pins), the continuity cap and its charge."""
    from optimiser.search import _pairs

    if not swaps_for(s.problem, s.strategy) or s.best is None:
        return
    cap = s.strategy.round_cap_s if s.strategy.round_cap_s is not None else max(5.0, s.budget.remaining() / 2)
    for _ in range(CYCLES):
        assert s.best is not None
        left = s.budget.remaining()
        if left < 5.0:
            s.budget.bind("centre swaps")
            return
        s.say(f"moving the centres jointly, priced by the LP (at most {s.strategy.centre_swaps} LPs; best so far "
              f"{s.best.objective:,.0f})")
        swapped = swap_centres(s.problem, s.best.centres, max_evaluations=s.strategy.centre_swaps,
                               time_limit_s=min(60.0, left / 3))
        if swapped.time_limited:
            s.budget.bind("centre swaps")
        if swapped.moves == 0 or s.budget.remaining() < 3.0:
            return
        before = s.best.objective
        # a MIP start at the new centres: the constructive plan grown from them (unpolished, so
        # its centres are the swapped ones), when it meets every constraint
        grown = construct_start(s.problem, swapped.centres, seed=s.seed, polish=False)
        hint = grown.labels if grown.feasible else None
        out = s.solve(swapped.centres, gap=s.mip_rel_gap, cap_s=cap, stage="centre swaps", start=hint)
        if out.labels is None or not s.offer(out.labels, out.centres, out.report, "milp"):
            return
        _pairs(s)
        if s.best.objective >= before - 1e-9 * abs(before):
            return


__all__ = ["CYCLES", "MIN_UNITS", "NEAR", "RESERVE_S", "SwapResult", "lp_value", "swap_centres", "swap_search",
           "swaps_for"]
