"""Refine a plan projected onto finer units (postcodes) while keeping every constraint family.

Arrays in, arrays out: labels (a coarse plan projected onto the fine units), the fine units'
weights and resource rows (:class:`ResourceBounds`, row 0 = demand hours), their adjacency,
costs read by blocks (:class:`CostBlocks`, never an (n, n) matrix) and, for the capacity
balance, the branches (:class:`BranchCapacity` with minutes to every fine unit).

Method
------
1. **Mend.** A zone's cells that do not touch the rest of it (a projected LSOA boundary cuts
   postcode cells) join the neighbouring zone they border; each zone keeps its heaviest piece.
2. **Rebalance.** :func:`optimiser.repair.repair_bounds` brings every zone within every
   resource bound by contiguous boundary moves.
3. **Capacity balance kept by construction** (with branches). At the current centres and
   loads ``d_z``, find the largest share ``s`` in [0, 1] for which a flow ``F`` of branch
   capacity (each branch at most its capacity, only to zones whose centre it reaches) covers
   ``margin x (d_z + s (U_z - d_z))`` for every zone (``U_z`` the balance maximum), by
   bisection over :func:`optimiser.capacity_flow.max_cover`; then an LP spreads what capacity is
   left (:func:`spread_headroom`: each zone keeps at least that share of its headroom, zones
   with spare capacity in reach get more). Zone ``z``'s demand is capped at ``d_z`` plus its
   room ``t_z``, and its centre may only move to units that every branch giving
   to ``z`` under ``F`` still reaches. Any plan of the search meets both, so ``F`` remains a
   feasible allocation: the family's checks pass for every plan it visits.
4. **Search.** :func:`optimiser.local_search.local_search` (contiguity kept by each move,
   resource bounds kept, re-centring within the allowed centres), costs on demand.
5. Steps 3-4 repeat (a new ``F`` at the new centres and loads) while a pass improves, within
   the time limit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from optimiser.capacity_flow import max_cover
from optimiser.local_search import _medoids, local_search
from optimiser.problem import BranchCapacity
from optimiser.repair import repair_bounds
from optimiser.resources import CostBlocks, ResourceBounds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefineResult:
    """The refined plan and what each step did."""

    labels: NDArray[np.int64]
    centres: tuple[int, ...]
    objective: float  # sum_i w_i cost[i, centre(zone(i))]
    start_objective: float  # after mending and rebalancing, before the search
    mended_units: int  # units moved to mend detached pieces
    rebalanced_units: int  # units moved to bring zones within their bounds
    moves: int
    swaps: int
    passes: int
    seconds: float
    flow: NDArray[np.float64] | None = None  # (B, K) a branch-capacity allocation the plan keeps
    flow_share: float | None = None  # the last pass's share s of the balance headroom covered


def mend_pieces(labels: NDArray[np.int64], edges: NDArray[np.int64], weights: NDArray[np.float64],
                n_zones: int) -> tuple[NDArray[np.int64], int]:
    """Give each zone's detached pieces (all but its heaviest) to a zone they border."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = labels.size
    moved = 0
    for _ in range(100):
        same = labels[edges[:, 0]] == labels[edges[:, 1]]
        e = edges[same]
        _, comp = connected_components(coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)), directed=False)
        heft = np.bincount(comp, weights=weights + 1e-9)
        keep = np.zeros(int(comp.max()) + 1, dtype=bool)
        for z in range(n_zones):
            pieces = np.unique(comp[labels == z])
            if pieces.size:
                keep[pieces[np.argmax(heft[pieces])]] = True
        stray = ~keep[comp]
        if not stray.any():
            return labels, moved
        cross = edges[labels[edges[:, 0]] != labels[edges[:, 1]]]
        for a, b in np.vstack([cross, cross[:, ::-1]]).tolist():
            if stray[a] and not stray[b]:
                piece = comp == comp[a]
                labels[piece] = labels[b]
                moved += int(piece.sum())
                stray[piece] = False
    raise ValueError("detached pieces could not be mended: the adjacency leaves some zone's units cut off")


def flow_headroom(branches: BranchCapacity, centres: tuple[int, ...], loads: NDArray[np.float64],
                  upper: NDArray[np.float64], *, steps: int = 14) -> tuple[float, NDArray[np.float64]] | None:
    """The largest share ``s`` (bisection, ``steps`` halvings) and a flow covering
    ``margin x (loads + s (upper - loads))`` (step 3 of the module docstring); None when
    even ``s = 0`` (today's loads) cannot be covered."""
    reach = branches.in_reach()[:, list(centres)] & (branches.capacity[:, None] > 0)
    head = np.maximum(upper - loads, 0.0)

    def cover(share: float) -> NDArray[np.float64] | None:
        need = branches.margin * (loads + share * head)
        flow = max_cover(branches.capacity, reach, need)
        ok = np.all(flow.sum(axis=0) >= need - 1e-7 * np.maximum(need, 1.0))
        return flow if ok else None

    best = cover(1.0)
    if best is not None:
        return 1.0, best
    low_flow = cover(0.0)
    if low_flow is None:
        return None
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        got = cover(mid)
        if got is None:
            hi = mid
        else:
            lo, low_flow = mid, got
    return lo, low_flow


def spread_headroom(branches: BranchCapacity, centres: tuple[int, ...], loads: NDArray[np.float64],
                    upper: NDArray[np.float64], share: float) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Room ``t_z`` (hours) each zone may grow by and a flow covering ``margin x (loads + t)``:
    the LP ``max sum_z t_z`` over flows ``f_bz`` (pairs in reach) with ``sum_z f_bz <= cap_b``,
    ``sum_b f_bz >= margin (d_z + t_z)`` and ``share x head_z <= t_z <= head_z`` (``head = upper -
    loads``), so every zone keeps the uniform share found by :func:`flow_headroom` and zones with
    spare capacity in reach get more. None if the LP fails."""
    reach = branches.in_reach()[:, list(centres)] & (branches.capacity[:, None] > 0)
    head = np.maximum(upper - loads, 0.0)
    b_n, k = reach.shape
    pairs = np.argwhere(reach)
    p = len(pairs)
    cols = np.arange(p)
    a_ub = np.zeros((b_n + k, p + k))
    a_ub[pairs[:, 0], cols] = 1.0  # sum_z f_bz <= cap_b
    a_ub[b_n + pairs[:, 1], cols] = -1.0  # margin t_z - sum_b f_bz <= -margin d_z
    a_ub[b_n + np.arange(k), p + np.arange(k)] = branches.margin
    b_ub = np.r_[branches.capacity, -branches.margin * loads]
    bounds = [(0.0, None)] * p + [(float(share * h), float(h)) for h in head]
    res = linprog(np.r_[np.zeros(p), -np.ones(k)], A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:
        return None
    flow = np.zeros((b_n, k))
    flow[pairs[:, 0], pairs[:, 1]] = np.maximum(res.x[:p], 0.0)
    return np.clip(res.x[p:], share * head, head), flow


def _covering_start(branches: BranchCapacity, labels: NDArray[np.int64], centres: list[int],
                    loads: NDArray[np.float64], upper: NDArray[np.float64]) -> list[int]:
    """Move the centre of each zone the branches cannot cover to its member with the most
    capacity in reach (a start for step 3; the given centres when they already cover)."""
    if flow_headroom(branches, tuple(centres), loads, upper, steps=0) is not None:
        return centres
    in_reach = branches.capacity_in_reach()
    out = list(centres)
    flow = max_cover(branches.capacity, branches.in_reach()[:, out] & (branches.capacity[:, None] > 0),
                     branches.margin * loads)
    short = np.flatnonzero(flow.sum(axis=0) < branches.margin * loads - 1e-7 * np.maximum(loads, 1.0))
    for z in short.tolist():
        members = np.flatnonzero(labels == z)
        out[z] = int(members[np.argmax(in_reach[members])])
    return out


def refine_plan(
    labels: NDArray[np.int64],
    *,
    weights: NDArray[np.float64],
    cost: CostBlocks,
    edges: NDArray[np.int64],
    bounds: ResourceBounds,
    centres: tuple[int, ...] | None = None,
    branches: BranchCapacity | None = None,
    time_limit_s: float = 60.0,
    medoid_candidates: int | None = 600,
    max_passes: int = 4,
) -> RefineResult:
    """Refine ``labels`` (n,) by the method of the module docstring. ``centres``: a start
    centre per zone (replaced by the zone's medoid where it is not a member after mending);
    ``bounds`` row 0 is demand (the capacity balance covers it). Raises ``ValueError`` when no
    plan keeping every constraint could be started (then the coarse plan's figures stand)."""
    t0 = time.perf_counter()
    k = bounds.lower.shape[1]
    weights = np.asarray(weights, dtype=float)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    labels, mended = mend_pieces(labels, edges, bounds.amounts[0], k)
    if np.unique(labels).size != k:
        raise ValueError("a zone vanished when its detached pieces were mended")
    medoids = _medoids(labels, np.full(k, -1, dtype=np.int64), weights, cost, k, None, None)
    start = [int(c) if c is not None and labels[int(c)] == z else int(medoids[z])
             for z, c in enumerate(centres if centres is not None else [None] * k)]
    before = labels
    labels = repair_bounds(labels, weights=weights, cost=cost, edges=edges, bounds=bounds, centres=tuple(start))
    rebalanced = int((before != labels).sum())
    upper = bounds.upper[0]
    demand = bounds.amounts[0]
    if branches is not None:
        loads = np.bincount(labels, weights=demand, minlength=k).astype(np.float64)
        start = _covering_start(branches, labels, start, loads, upper)
    cur = tuple(start)
    cc = cost.block(np.arange(labels.size), np.asarray(cur))
    start_objective = float(np.sum(weights * cc[np.arange(labels.size), labels]))
    del cc
    objective, moves, swaps, passes = start_objective, 0, 0, 0
    flow: NDArray[np.float64] | None = None
    share: float | None = None
    while passes < max_passes:
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0:
            break
        pass_bounds, allowed = bounds, None
        if branches is not None:
            loads = np.bincount(labels, weights=demand, minlength=k).astype(np.float64)
            got = flow_headroom(branches, cur, loads, upper)
            if got is None:
                raise ValueError("branch capacity within reach of the zone centres cannot cover every zone at "
                                 "the start of the postcode refinement")
            share, flow = got
            room = share * np.maximum(upper - loads, 0.0)
            spread = spread_headroom(branches, cur, loads, upper, share)
            if spread is not None:
                room, flow = spread
            cap = loads + room
            cap = np.maximum(loads, cap - 1e-7 * np.maximum(cap, 1.0))  # kept strictly inside what F covers
            new_upper = bounds.upper.copy()
            new_upper[0] = np.minimum(upper, cap)
            pass_bounds = replace(bounds, upper=new_upper)
            support = (flow > 1e-9).astype(np.int64)  # (B, K) branches giving to each zone
            misses = (~branches.in_reach()).astype(np.int64).T @ support  # (n, K) givers a unit does not reach
            allowed = misses == 0
        res = local_search(labels, weights=weights, cost=cost, edges=edges, bounds=pass_bounds, centres=cur,
                           centre_allowed=allowed, medoid_candidates=medoid_candidates, time_limit_s=left)
        passes += 1
        moves, swaps = moves + res.moves, swaps + res.swaps
        improved = res.objective < objective * (1 - 1e-9)
        labels, cur, objective = res.labels, res.centres, res.objective
        if branches is None or not improved:
            break
    seconds = time.perf_counter() - t0
    log.info("refined at %d units: %d mended, %d rebalanced, objective %.6g -> %.6g in %d pass(es), %.1f s",
             labels.size, mended, rebalanced, start_objective, objective, passes, seconds)
    return RefineResult(labels=labels, centres=cur, objective=objective, start_objective=start_objective,
                        mended_units=mended, rebalanced_units=rebalanced, moves=moves, swaps=swaps, passes=passes,
                        seconds=seconds, flow=flow, flow_share=share)
