"""Refine a plan projected onto finer units (postcodes) while keeping every constraint family.

Arrays in, arrays out: labels (a coarse plan projected onto the fine units), the fine units'
weights and resource rows (:class:`ResourceBounds`, row 0 = demand hours), their adjacency,
costs read by blocks (:class:`CostBlocks`, never an (n, n) matrix), for the capacity
balance the branches (:class:`BranchCapacity` with minutes to every fine unit) and for a
travel limit its reach by blocks (:class:`TravelLimit`).

Method
------
1. **Mend** (:func:`optimiser.repair.mend_pieces`). A zone's cells that do not touch the rest of it (a projected LSOA boundary cuts
   postcode cells) join the neighbouring zone they border; each zone keeps its heaviest piece.
2. **Rebalance.** :func:`optimiser.repair.repair_bounds` brings every zone within every
   resource bound by contiguous boundary moves.
3. **Capacity balance kept by construction** (with branches). At the current centres and
   loads ``d_z``, an LP (:func:`flow_headroom`) finds a flow ``F`` of branch capacity (each
   branch at most its capacity, only to zones whose centre it reaches) that covers every zone
   with room ``t_z`` to grow (at most its balance headroom ``U_z - d_z``; every zone the same
   share of it at least, zones with spare capacity in reach more). Zone ``z``'s demand is then
   capped at ``d_z + t_z`` and its centre may only move to units that every branch giving to
   ``z`` under ``F`` still reaches. Any plan of the search meets both, so ``F`` remains a
   feasible allocation: the family's checks pass for every plan it visits.
4. **Search.** :func:`optimiser.local_search.local_search` (contiguity kept by each move,
   resource bounds kept, re-centring within the allowed centres), costs on demand.
5. Steps 3-4 repeat (a new ``F`` at the new centres and loads) while a pass improves.
Travel limit (with ``limit``), kept at every step: after mending, a zone whose centre leaves
a member beyond the limit moves its centre to the member that keeps every member within it
(cheapest in travel; no such member: the refinement cannot start); rebalancing, the search and
the kicks only move a unit into a zone whose centre is within its limit, and re-centring only
picks a member that keeps every member within it (:mod:`optimiser.local_search`).
Centres restricted to some units (``centre_ok``: hub branches) and the radius rule (a zone's
demand at most ``centre_capacity`` of its centre: capped in every bound, and a centre moves only
where the capacity in reach covers the cap) are kept the same way: the start
moves a centre that is not allowed to the cheapest allowed member, and every re-centring
chooses among the allowed units only (kicks never move centres).
Continuity (``continuity``: today's zone of each unit's hours): should mending and rebalancing
take the hours that change zone over the cap, boundary moves back towards today's zones bring
them within it (:func:`optimiser.repair.reduce_moved`); from then on no step takes them over the cap (moves, swaps and rebalancing are refused that would; a kick that
does is dropped), and the charge on them is part of every gain and of the objective.

6. **Kicks** (iterated local search), while time is left: a ball of units on the border of
   zones ``a`` and ``b`` moves from ``a`` to ``b``; the pair is mended, rebalanced, bounded
   (step 3 over every zone) and searched again on its own; the result replaces the best plan
   when it is better. Seeded: the same inputs give the
   same plan when the time limit does not cut the kicks short.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from optimiser.local_search import _Graph, local_search, zones_connected
from optimiser.problem import BranchCapacity
from optimiser.refine_flow import covering_start
from optimiser.refine_state import (
    RefineContext,
    RefinedPlan,
    cells_objective,
    fit_centres,
    member_centres,
    pass_bounds,
)
from optimiser.repair import mend_pieces, reduce_moved, repair_bounds
from optimiser.resources import Continuity, CostBlocks, ResourceBounds, SubBlocks, TravelLimit

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
    flow_share: float | None = None  # the last pass's share s of the balance headroom every zone keeps
    kicks: int = 0  # perturbations tried (step 6)
    kicks_kept: int = 0  # ... that led to a better plan


def _passes(ctx: RefineContext, labels: NDArray[np.int64], centres: tuple[int, ...], *, deadline: float,
            max_passes: int) -> RefinedPlan:
    """Steps 3-5 from a plan meeting every bound; raises ``ValueError`` when the capacity
    balance cannot be covered at its centres."""
    objective = cells_objective(ctx, labels, centres)
    moves = swaps = passes = 0
    flow: NDArray[np.float64] | None = None
    share: float | None = None
    while passes < max_passes:
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        bounds, allowed, flow, share = pass_bounds(ctx, labels, centres)
        res = local_search(labels, weights=ctx.weights, cost=ctx.cost, edges=ctx.edges, bounds=bounds, continuity=ctx.continuity,
                           centres=centres, movable=ctx.movable, centre_allowed=ctx.centres_allowed(allowed), medoid_candidates=ctx.medoid_candidates,
                           time_limit_s=left, limit=ctx.limit)
        passes += 1
        moves, swaps = moves + res.moves, swaps + res.swaps
        improved = res.objective < objective * (1 - 1e-9)
        labels, centres, objective = res.labels, res.centres, res.objective
        if ctx.branches is None or not improved:
            break
    return RefinedPlan(labels, centres, objective, moves, swaps, passes, flow, share)


def _kick(found: RefinedPlan, adj: list[list[int]], rng: np.random.Generator, *,
          size: int) -> tuple[NDArray[np.int64], int, int] | None:
    """Step 6's perturbation: a ball of up to ``size`` units of zone ``a``, grown from a unit on
    its border with zone ``b``, moves to ``b`` (centres never move). Returns the labels, ``a``
    and ``b``; None if no zone has a border."""
    labels = found.labels.copy()
    lab = labels.tolist()
    centres = set(found.centres)
    border = [i for i in range(len(lab)) if i not in centres and any(lab[j] != lab[i] for j in adj[i])]
    if not border:
        return None
    seed = border[int(rng.integers(len(border)))]
    into = [lab[j] for j in adj[seed] if lab[j] != lab[seed]]
    b, a = into[int(rng.integers(len(into)))], lab[seed]
    ball: list[int] = []
    queue, seen = [seed], {seed}
    while queue and len(ball) < size:
        i = queue.pop(0)
        ball.append(i)
        for j in adj[i]:
            if j not in seen and lab[j] == a and j not in centres:
                seen.add(j)
                queue.append(j)
    labels[ball] = b
    return labels, a, b


def _movable_ball(got: tuple[NDArray[np.int64], int, int] | None, before: NDArray[np.int64],
                  movable: NDArray[np.bool_], limit: TravelLimit | None = None,
                  centres: tuple[int, ...] = ()) -> tuple[NDArray[np.int64], int, int] | None:
    """A kick with the units that may not move (or not into ``b`` within the travel limit) put
    back (None when nothing is left to move)."""
    if got is None:
        return None
    labels, a, b = got
    if limit is not None:
        movable = movable & limit.allowed([centres[b]])[:, 0]
    labels = np.where(movable, labels, before)
    return None if np.array_equal(labels, before) else (labels, a, b)


def _pair_search(ctx: RefineContext, best: RefinedPlan, kicked: NDArray[np.int64], a: int, b: int,
                 *, deadline: float) -> RefinedPlan | None:
    """Steps 1-4 of a kick over zones ``a`` and ``b`` only (the others stay as they are): mend
    and rebalance the pair, bound it (step 3 over every zone, as branches are shared), search
    it. None when the kicked pair cannot be mended, rebalanced or covered."""
    members = np.flatnonzero((best.labels == a) | (best.labels == b))
    pos = np.full(best.labels.size, -1, dtype=np.int64)
    pos[members] = np.arange(members.size)
    inside = (pos[ctx.edges[:, 0]] >= 0) & (pos[ctx.edges[:, 1]] >= 0)
    edges = pos[ctx.edges[inside]]
    amounts = ctx.bounds.amounts[:, members]
    lab, _ = mend_pieces((kicked[members] == b).astype(np.int64), edges, amounts[0], 2,
                         movable=ctx.movable[members])
    ca, cb = int(pos[best.centres[a]]), int(pos[best.centres[b]])
    if lab[ca] != 0 or lab[cb] != 1:
        return None
    pair = [a, b]
    cost, weights = SubBlocks(ctx.cost, members), ctx.weights[members]
    limit = None if ctx.limit is None else ctx.limit.subset(members)
    within = None if limit is None else limit.allowed((ca, cb))
    if within is not None and not within[np.arange(lab.size), lab].all():  # mending left a unit beyond the limit
        return None
    cont = None if ctx.continuity is None else ctx.continuity.subset(members, pair, best.labels)
    if cont is not None and cont.moved(lab) > cont.cap * (1 + 1e-9) + 1e-9:  # the kick moved too many hours
        return None
    try:
        if not zones_connected(lab, edges, 2):  # a piece that may not move was kept apart
            return None
        capped = ctx.capped(best.centres)
        lab = repair_bounds(lab, weights=weights, cost=cost, edges=edges, centres=(ca, cb), bounds=ResourceBounds(
            amounts, capped.lower[:, pair], capped.upper[:, pair]), movable=ctx.movable[members],
            allowed=within, continuity=cont)
        full = best.labels.copy()
        full[members] = np.where(lab == 0, a, b)
        bounds, allowed, flow, share = pass_bounds(ctx, full, best.centres)
    except ValueError:
        return None
    old = ctx.cost.block(members, np.asarray([best.centres[a], best.centres[b]]))
    was = (best.labels[members] == b).astype(np.int64)
    before = float(np.sum(weights * old[np.arange(members.size), was]))
    if cont is not None and cont.penalty:
        before += float(cont.charge()[np.arange(members.size), was].sum())
    where = ctx.centres_allowed(allowed)
    res = local_search(lab, weights=weights, cost=cost, edges=edges, centres=(ca, cb), movable=ctx.movable[members],
                       bounds=ResourceBounds(amounts, bounds.lower[:, pair], bounds.upper[:, pair]),
                       centre_allowed=None if where is None else where[members][:, pair],
                       medoid_candidates=ctx.medoid_candidates, time_limit_s=max(deadline - time.perf_counter(), 0.1),
                       limit=limit, continuity=cont)
    full[members] = np.where(res.labels == 0, a, b)
    centres = list(best.centres)
    centres[a], centres[b] = int(members[res.centres[0]]), int(members[res.centres[1]])
    return RefinedPlan(full, tuple(centres), best.objective - before + res.objective, res.moves, res.swaps, 1, flow, share)


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
    kicks: int = 100,
    seed: int = 0,
    movable: NDArray[np.bool_] | None = None,
    limit: TravelLimit | None = None,
    centre_ok: NDArray[np.bool_] | None = None,
    centre_capacity: NDArray[np.float64] | None = None,
    continuity: Continuity | None = None,
) -> RefineResult:
    """Refine ``labels`` (n,) by the method of the module docstring. ``centres``: a start
    centre per zone (replaced by the zone's medoid where it is not a member after mending);
    ``bounds`` row 0 is demand (the capacity balance covers it); at most ``kicks``
    perturbations (step 6, seeded by ``seed``) within ``time_limit_s``. ``movable`` False for
    units that keep their zone of ``labels`` (locked, or kept whole with others: every step leaves
    them where they are); ``limit`` a travel limit every step keeps (see the module docstring);
    ``centre_ok`` (n, K) the units that may centre each zone (hub branches; one per zone when
    the hubs are fixed), kept at the start and by every re-centring; ``centre_capacity`` (n,)
    the most demand a zone centred at each unit may hold (the radius rule), kept the same way;
    ``continuity`` a cap on the hours that change zone against today's (zone ``z`` is today's
    ``z``), kept by every step, and a charge on them, added to the objective.
    Raises ``ValueError`` when no plan keeping every constraint could be
    started (then the coarse plan's figures stand)."""
    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    k = bounds.lower.shape[1]
    weights = np.asarray(weights, dtype=float)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    may_move = np.ones(labels.size, dtype=bool) if movable is None else np.asarray(movable, dtype=bool)
    ctx = RefineContext(weights, cost, edges, bounds, branches, medoid_candidates, may_move, limit,
                  None if centre_ok is None else np.asarray(centre_ok, dtype=bool),
                  None if centre_capacity is None else np.asarray(centre_capacity, dtype=float), continuity)
    labels, mended = mend_pieces(labels, edges, bounds.amounts[0], k, movable=may_move)
    if np.unique(labels).size != k:
        raise ValueError("a zone vanished when its detached pieces were mended")
    if not zones_connected(labels, edges, k):
        raise ValueError("a locked or kept-whole unit is cut off from the rest of its zone by the finer units")
    start = fit_centres(ctx, labels, member_centres(ctx, labels, centres))
    before = labels
    labels = repair_bounds(labels, weights=weights, cost=cost, edges=edges, bounds=ctx.capped(start), centres=start,
                           movable=may_move, allowed=None if limit is None else limit.allowed(start),
                           continuity=continuity)
    if continuity is not None and continuity.moved(labels) > continuity.cap * (1 + 1e-9) + 1e-9:
        labels = reduce_moved(labels, weights=weights, cost=cost, edges=edges, bounds=ctx.capped(start), centres=start,
                              continuity=continuity, movable=may_move,
                              allowed=None if limit is None else limit.allowed(start))
    if continuity is not None and continuity.moved(labels) > continuity.cap * (1 + 1e-9) + 1e-9:
        raise ValueError(f"{continuity.moved(labels):,.1f} hours change zone once the plan is mended and rebalanced "
                         f"over the finer units, more than the cap {continuity.cap:,.1f}")
    rebalanced = int((before != labels).sum())
    if branches is not None:
        loads = np.bincount(labels, weights=bounds.amounts[0], minlength=k).astype(np.float64)
        start = tuple(covering_start(branches, labels, list(start), loads, ctx.capped(start).upper[0],
                                     fits=ctx.fits(labels)))
    start_objective = cells_objective(ctx, labels, start)
    try:
        best = _passes(ctx, labels, start, deadline=deadline, max_passes=max_passes)
    except ValueError as exc:
        raise ValueError(f"{exc} at the start of the postcode refinement") from exc
    moves, swaps, passes = best.moves, best.swaps, best.passes
    adj = [list(a) for a in _Graph(labels.size, edges).adj]
    rng = np.random.default_rng(seed)
    tried = kept = 0
    while tried < kicks and time.perf_counter() < deadline:
        tried += 1
        got = _kick(best, adj, rng, size=int(rng.integers(5, 60)))
        if got is None:
            break
        got = _movable_ball(got, best.labels, may_move, ctx.limit, best.centres)
        if got is None:  # the ball held only units that may not move
            continue
        found = _pair_search(ctx, best, *got, deadline=deadline)
        if found is None:  # this kick cannot be mended, rebalanced or covered: try another
            continue
        moves, swaps, passes = moves + found.moves, swaps + found.swaps, passes + found.passes
        if found.objective < best.objective * (1 - 1e-9):
            best, kept = found, kept + 1
    if kept:  # the sums of kept kicks, recomputed from the plan
        best = replace(best, objective=cells_objective(ctx, best.labels, best.centres))
    seconds = time.perf_counter() - t0
    log.info("refined at %d units: %d mended, %d rebalanced, objective %.6g -> %.6g in %d pass(es), "
             "%d of %d kick(s) kept, %.1f s", labels.size, mended, rebalanced, start_objective, best.objective,
             passes, kept, tried, seconds)
    return RefineResult(labels=best.labels, centres=best.centres, objective=best.objective,
                        start_objective=start_objective, mended_units=mended, rebalanced_units=rebalanced,
                        moves=moves, swaps=swaps, passes=passes, seconds=seconds, flow=best.flow,
                        flow_share=best.share, kicks=tried, kicks_kept=kept)
