"""Contiguity-preserving local search that improves a feasible zone plan.

Method
------
Given a labelling (unit -> zone) whose zones are contiguous and within their resource
bounds, and one centre unit per zone:

1. **Moves.** Every boundary unit ``i`` of zone ``a`` next to zone ``b`` is a candidate move
   ``a -> b`` with gain ``w_i (c[i, centre_a] - c[i, centre_b])``. Candidates are generated
   from the edge list in one vectorised pass and tried best first (ties by unit, then zone
   index: deterministic). A move is made when it still applies, ``i`` is movable, allowed in
   ``b``, not a centre, every resource of ``a`` stays ``>= lower`` and of ``b`` ``<= upper``,
   and ``a`` stays connected without ``i`` (a breadth-first search from one of ``i``'s
   neighbours in ``a`` that stops as soon as all of them are reached).
2. **Swaps.** An improving move blocked only by resource bounds is paired with the best
   unit ``j`` of ``b`` on the border with ``a`` going the other way, when the pair improves,
   keeps every bound and keeps both zones connected.
3. **Re-centring.** Each zone's centre moves to the member minimising the zone's weighted
   travel (optionally among the ``medoid_candidates`` members nearest the current centre).

With a travel limit (:class:`~optimiser.resources.TravelLimit`) a unit may only join a zone
whose centre is within the limit, and a zone may only re-centre on a member that keeps every
member within it; the units allowed in each zone are recomputed after each re-centring.

Steps 1-3 repeat until a round changes nothing. Each accepted step strictly lowers the
objective ``sum_i w_i c[i, centre(zone(i))]``, so the search terminates. Costs are read
through :class:`CostBlocks`, so a caller at postcode scale never needs the full (n, n)
matrix: only (n, K) columns and per-zone blocks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from optimiser.resources import Continuity, CostBlocks, DenseCost, ResourceBounds, TravelLimit
from optimiser.search_state import _Graph, _State, zones_connected

__all__ = ["CostBlocks", "DenseCost", "LocalSearchResult", "ResourceBounds", "local_search", "zones_connected"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalSearchResult:
    labels: NDArray[np.int64]
    centres: tuple[int, ...]
    objective: float
    initial_objective: float
    moves: int
    swaps: int
    recentres: int  # rounds in which at least one centre moved
    rounds: int
    seconds: float


def local_search(
    labels: NDArray[np.int64],
    *,
    weights: NDArray[np.float64],
    cost: CostBlocks | NDArray[np.float64],
    edges: NDArray[np.int64],
    bounds: ResourceBounds,
    centres: tuple[int, ...] | None = None,
    movable: NDArray[np.bool_] | None = None,
    allowed: NDArray[np.bool_] | None = None,
    swaps: bool = True,
    max_swap_tries: int = 200,
    medoid_candidates: int | None = None,
    max_rounds: int = 100,
    time_limit_s: float | None = None,
    centre_allowed: NDArray[np.bool_] | None = None,
    limit: TravelLimit | None = None,
    continuity: Continuity | None = None,
) -> LocalSearchResult:
    """Improve a feasible plan (see the module docstring).

    ``labels`` (n,) zone index per unit, all zones contiguous and within ``bounds``;
    ``weights`` (n,) the objective's weight per unit (demand hours); ``cost`` a (n, n) matrix
    or :class:`CostBlocks`; ``centres`` one member unit per zone (default: each zone's
    medoid); ``movable`` False for locked units; ``allowed`` (n, K) False where a unit may not
    join a zone; ``centre_allowed`` (n, K) False where a unit may not become the zone's centre
    when re-centring (the given centres stay allowed); ``limit`` a travel limit kept by every
    move and re-centring (see the module docstring). Raises ``ValueError`` if the starting plan
    is not feasible; ``continuity`` a cap on the hours that change zone (kept by every move and
    swap) and a charge on them (added to the objective).
    """
    start = time.perf_counter()
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = labels.size
    k = bounds.lower.shape[1]
    costs: CostBlocks = DenseCost(np.asarray(cost)) if isinstance(cost, np.ndarray) else cost
    movable = np.ones(n, dtype=bool) if movable is None else np.asarray(movable, dtype=bool)
    allowed = np.ones((n, k), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    weights = np.asarray(weights, dtype=float)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if centres is None:
        centres = _medoids(labels, np.zeros(k, dtype=np.int64) - 1, weights, costs, k, medoid_candidates, None,
                           limit=limit)
    base = allowed
    if limit is not None:
        allowed = base & limit.allowed(centres)
    _check_start(labels, edges, bounds, allowed, n, k)
    graph = _Graph(n, edges)
    scale = float(np.abs(bounds.amounts).max(initial=1.0))
    if any(labels[c] != z for z, c in enumerate(centres)):
        raise ValueError("each zone's centre must be one of its own units")
    st = _State(labels, np.asarray(centres, dtype=np.int64), weights, costs, bounds, graph, 1e-9 * scale, continuity)
    if st.moved > st.cap + st.slack:
        raise ValueError(f"local search needs a feasible starting plan: {st.moved:,.1f} hours change zone, "
                         f"more than the cap {st.cap:,.1f}")
    initial = st.objective()
    moves = swaps_done = recentres = rounds = 0
    while rounds < max_rounds:
        rounds += 1
        changed = True
        while changed:
            if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
                break
            made, blocked = _move_pass(st, movable, allowed)
            moves += made
            changed = made > 0
            if not changed and swaps and blocked:
                done = _swap_pass(st, movable, allowed, blocked[:max_swap_tries])
                swaps_done += done
                changed = done > 0
        if time_limit_s is not None and time.perf_counter() - start > time_limit_s:
            log.info("local search stopped by its time limit after %d rounds", rounds)
            break
        new = np.asarray(_medoids(st.labels, st.centres, weights, costs, k, medoid_candidates, st.cc,
                                  centre_allowed=centre_allowed, limit=limit), dtype=np.int64)
        if np.array_equal(new, st.centres):
            break
        recentres += 1
        st.centres = new
        st.refresh_columns()
        if limit is not None:
            allowed = base & limit.allowed(new)
    objective = st.objective()
    seconds = time.perf_counter() - start
    log.info(
        "local search: objective %.6g -> %.6g (%.3f%%) in %.1f s: %d moves, %d swaps, %d re-centrings",
        initial, objective, 100 * (initial - objective) / max(initial, 1e-12), seconds, moves, swaps_done, recentres,
    )
    return LocalSearchResult(
        labels=st.labels, centres=tuple(int(c) for c in st.centres), objective=objective,
        initial_objective=initial, moves=moves, swaps=swaps_done, recentres=recentres, rounds=rounds,
        seconds=seconds,
    )


def _check_start(
    labels: NDArray[np.int64], edges: NDArray[np.int64], bounds: ResourceBounds,
    allowed: NDArray[np.bool_], n: int, k: int,
) -> None:
    problems = []
    if bounds.amounts.shape[1] != n:
        problems.append(f"resource amounts cover {bounds.amounts.shape[1]} units, labels {n}")
    if labels.min(initial=0) < 0 or labels.max(initial=0) >= k or np.unique(labels).size != k:
        problems.append(f"labels must use every zone 0..{k - 1}")
    elif bounds.amounts.shape[1] == n:
        loads = np.stack([np.bincount(labels, weights=row, minlength=k) for row in bounds.amounts])
        slack = 1e-9 * float(np.abs(bounds.amounts).max(initial=1.0))
        bad = np.argwhere((loads < bounds.lower - slack) | (loads > bounds.upper + slack))
        if bad.size:
            problems.append(f"{len(bad)} (resource, zone) totals outside their bounds, e.g. {bad[:3].tolist()}")
        if not zones_connected(labels, edges, k):
            problems.append("some zone is not contiguous")
        if not allowed[np.arange(n), labels].all():
            problems.append("some unit sits in a zone it is not allowed in")
    if problems:
        raise ValueError("local search needs a feasible starting plan: " + "; ".join(problems))


def _move_pass(st: _State, movable: NDArray[np.bool_], allowed: NDArray[np.bool_]) -> tuple[int, list[tuple[float, int, int]]]:
    """One best-first pass over improving single moves; returns (moves made, blocked moves)."""
    src, dst = st.g.src, st.g.dst
    la, lb = st.labels[src], st.labels[dst]
    ok = (la != lb) & movable[src] & ~st.is_centre[src] & allowed[src, lb]
    i, b, a = src[ok], lb[ok], la[ok]
    gain = st.w[i] * (st.cc[i, a] - st.cc[i, b]) + st.extra_gain(i, a, b)
    good = gain > 1e-12 * max(1.0, float(gain.max(initial=0.0)))
    i, b, gain = i[good], b[good], gain[good]
    if i.size == 0:
        return 0, []
    key = i * st.k + b
    _, first = np.unique(key, return_index=True)  # each (unit, zone) once
    i, b, gain = i[first], b[first], gain[first]
    order = np.lexsort((b, i, -gain))
    made = 0
    blocked: list[tuple[float, int, int]] = []
    done: set[int] = set()
    for unit, zone in zip(i[order].tolist(), b[order].tolist(), strict=True):
        if unit in done or st.lab[unit] == zone or not st.touches(unit, zone):
            continue
        g = st.gain(unit, zone)
        if g <= 0:
            continue
        a_zone = st.lab[unit]
        if not st.fits(unit, a_zone, zone):
            blocked.append((g, unit, zone))
            continue
        if not st.stays_connected(unit):
            continue
        st.move(unit, zone)
        done.add(unit)
        made += 1
    blocked.sort(key=lambda t: (-t[0], t[1], t[2]))
    return made, blocked


def _swap_pass(
    st: _State, movable: NDArray[np.bool_], allowed: NDArray[np.bool_], blocked: list[tuple[float, int, int]]
) -> int:
    """Try the best swap partner for each blocked improving move; returns swaps made."""
    made = 0
    src, dst = st.g.src, st.g.dst
    for _, i, b in blocked:
        a = st.lab[i]
        if a == b or not st.touches(i, b):
            continue
        gi = st.gain(i, b)
        if gi <= 0:
            continue
        # units of b bordering a (other than through i)
        on_border = (st.labels[src] == b) & (st.labels[dst] == a) & (dst != i)
        cand = np.unique(src[on_border])
        cand = cand[movable[cand] & ~st.is_centre[cand] & allowed[cand, a]]
        if cand.size == 0:
            continue
        gj = st.w[cand] * (st.cc[cand, b] - st.cc[cand, a]) + st.extra_gain(cand, np.full(cand.size, b), np.full(cand.size, a))
        good = gi + gj > 1e-12 * max(1.0, gi)
        for idx in np.lexsort((cand, -(gi + gj)))[: int(good.sum())]:
            if not good[idx]:
                continue
            j = int(cand[idx])
            if not st.fits_pair(i, j, a, b) or not st.stays_connected(i):
                continue
            st.move(i, b)
            if st.stays_connected(j) and st.touches(j, a):
                st.move(j, a)
                made += 1
                break
            st.move(i, a)  # undo
    return made


def _medoids(
    labels: NDArray[np.int64],
    current: NDArray[np.int64],
    weights: NDArray[np.float64],
    cost: CostBlocks,
    k: int,
    max_candidates: int | None,
    cc: NDArray[np.float64] | None,
    *,
    centre_allowed: NDArray[np.bool_] | None = None,
    limit: TravelLimit | None = None,
) -> tuple[int, ...]:
    """Each zone's member minimising its weighted travel (among the members ``centre_allowed``
    for the zone, the current centre always allowed; with ``limit``, among the members that keep
    every member within it); the current centre wins ties."""
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(k + 1))
    out = []
    for z in range(k):
        members = order[bounds[z]:bounds[z + 1]]
        cand = members
        c = int(current[z])
        if centre_allowed is not None:
            cand = members[centre_allowed[members, z] | (members == c)]
            if cand.size == 0:  # no current centre to keep (never with given centres)
                cand = members
        if max_candidates is not None and cc is not None and cand.size > max_candidates:
            near = np.argsort(cc[cand, z], kind="stable")[:max_candidates]
            cand = np.sort(cand[near])
        totals = weights[members] @ cost.block(members, cand)
        if limit is not None:
            fits = limit.centre_fits(members, cand) | (cand == c)
            totals = np.where(fits, totals, np.inf)
        best = int(np.argmin(totals))
        if c >= 0 and labels[c] == z:
            pos = np.searchsorted(cand, c)
            if pos < cand.size and cand[pos] == c and totals[pos] <= totals[best] * (1 + 1e-12):
                best = int(pos)
        out.append(int(cand[best]))
    return tuple(out)
