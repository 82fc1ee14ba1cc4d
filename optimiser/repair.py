"""Bring a contiguous plan within its resource bounds by greedy boundary moves.

:func:`mend_pieces` first gives detached pieces of zones to a zone they border. Used to turn a contiguous but unbalanced start (e.g. a postcode-scale plan projected from
units) into a feasible one for :func:`optimiser.local_search.local_search`. Each step makes
the boundary move that lowers the total scaled bound violation most, cheapest in travel among
equals, whose donor zone stays connected.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from optimiser.local_search import _Graph, _medoids, _State, zones_connected
from optimiser.resources import Continuity, CostBlocks, DenseCost, ResourceBounds


def repair_bounds(
    labels: NDArray[np.int64],
    *,
    weights: NDArray[np.float64],
    cost: CostBlocks | NDArray[np.float64],
    edges: NDArray[np.int64],
    bounds: ResourceBounds,
    centres: tuple[int, ...] | None = None,
    movable: NDArray[np.bool_] | None = None,
    allowed: NDArray[np.bool_] | None = None,
    max_moves: int = 100_000,
    continuity: Continuity | None = None,
) -> NDArray[np.int64]:
    """Move boundary units until every zone is within its resource bounds, keeping zones contiguous.

    Greedy: each step makes the boundary move that lowers the total (scaled) bound violation,
    choosing the cheapest in travel among those, whose donor zone stays connected. The start
    must be contiguous; with ``continuity`` no move takes the hours that change zone over its
    cap. Raises ``ValueError`` if the violation cannot be removed this way.
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = labels.size
    k = bounds.lower.shape[1]
    costs: CostBlocks = DenseCost(np.asarray(cost)) if isinstance(cost, np.ndarray) else cost
    movable = np.ones(n, dtype=bool) if movable is None else np.asarray(movable, dtype=bool)
    allowed = np.ones((n, k), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    if not zones_connected(labels, edges, k):
        raise ValueError("repair_bounds needs contiguous zones to start from")
    weights = np.asarray(weights, dtype=float)
    if centres is None:
        centres = _medoids(labels, np.zeros(k, dtype=np.int64) - 1, weights, costs, k, None, None)
    finite = np.where(np.isfinite(bounds.upper), np.abs(bounds.upper), 0.0)  # rows may have no upper bound
    scale = np.maximum(np.maximum(finite.max(axis=1), np.abs(bounds.amounts).max(axis=1)), 1e-12)[:, None]  # (r, 1)
    st = _State(labels, np.asarray(centres, dtype=np.int64), weights, costs, bounds, _Graph(n, edges),
                1e-9 * float(scale.max()), continuity)
    amounts = bounds.amounts / scale  # (r, n)
    lo, hi = bounds.lower / scale, bounds.upper / scale

    def excess(loads: NDArray[np.float64], z: NDArray[np.int64]) -> NDArray[np.float64]:
        return (np.maximum(lo[:, z] - loads, 0) + np.maximum(loads - hi[:, z], 0)).sum(axis=0)

    src, dst = st.g.src, st.g.dst
    for _ in range(max_moves):
        loads = st.loads / scale
        if excess(loads, np.arange(k)).sum() <= 1e-9:
            return st.labels
        la, lb = st.labels[src], st.labels[dst]
        ok = (la != lb) & movable[src] & ~st.is_centre[src] & allowed[src, lb]
        i, a, b = src[ok], la[ok], lb[ok]
        r = amounts[:, i]
        before = excess(loads[:, a], a) + excess(loads[:, b], b)
        after = excess(loads[:, a] - r, a) + excess(loads[:, b] + r, b)
        better = after < before - 1e-12
        i, a, b = i[better], a[better], b[better]
        gain = weights[i] * (st.cc[i, a] - st.cc[i, b])
        reduction = (before - after)[better]
        for idx in np.lexsort((b, i, -gain, -np.round(reduction, 9))).tolist():
            if st.within_cap(int(i[idx]), int(a[idx]), int(b[idx])) and st.stays_connected(int(i[idx])):
                st.move(int(i[idx]), int(b[idx]))
                break
        else:
            raise ValueError("cannot bring every zone within its bounds by contiguous boundary moves")
    raise ValueError(f"bounds not met after {max_moves} moves")


def mend_pieces(labels: NDArray[np.int64], edges: NDArray[np.int64], weights: NDArray[np.float64],
                n_zones: int, *, movable: NDArray[np.bool_] | None = None) -> tuple[NDArray[np.int64], int]:
    """Give each zone's detached pieces (all but its heaviest) to a zone they border. A piece
    holding a unit that may not move (``movable`` False) is kept instead (so a zone can then keep
    two pieces: the caller's contiguity check says so)."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = labels.size
    fixed = np.zeros(n, dtype=bool) if movable is None else ~np.asarray(movable, dtype=bool)
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
        keep[np.unique(comp[fixed])] = True
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


def reduce_moved(
    labels: NDArray[np.int64],
    *,
    weights: NDArray[np.float64],
    cost: CostBlocks,
    edges: NDArray[np.int64],
    bounds: ResourceBounds,
    centres: tuple[int, ...],
    continuity: Continuity,
    movable: NDArray[np.bool_] | None = None,
    allowed: NDArray[np.bool_] | None = None,
    max_moves: int = 100_000,
) -> NDArray[np.int64]:
    """Bring the hours that change zone within ``continuity``'s cap by boundary moves back
    towards today's zones: each step makes the move that returns the most hours to their zone
    of today (cheapest in travel among equals) keeping every bound, ``allowed`` and the donor
    zone connected. Returns the labels (still over the cap when no such move is left)."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    n, k = labels.size, bounds.lower.shape[1]
    movable = np.ones(n, dtype=bool) if movable is None else np.asarray(movable, dtype=bool)
    allowed = np.ones((n, k), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    scale = float(np.abs(bounds.amounts).max(initial=1.0))
    st = _State(labels, np.asarray(centres, dtype=np.int64), weights, cost, bounds, _Graph(n, edges),
                1e-9 * scale, replace(continuity, max_moved=None))
    stay, src, dst = continuity.stay, st.g.src, st.g.dst
    for _ in range(max_moves):
        if st.moved <= continuity.cap + 1e-9 * scale:
            break
        la, lb = st.labels[src], st.labels[dst]
        ok = (la != lb) & movable[src] & ~st.is_centre[src] & allowed[src, lb]
        i, a, b = src[ok], la[ok], lb[ok]
        back = stay[i, b] - stay[i, a]  # hours returned to today's zone
        better = back > 1e-12
        i, a, b, back = i[better], a[better], b[better], back[better]
        gain = weights[i] * (st.cc[i, a] - st.cc[i, b])
        for idx in np.lexsort((b, i, -gain, -np.round(back, 9))).tolist():
            u, za, zb = int(i[idx]), int(a[idx]), int(b[idx])
            if st.fits(u, za, zb) and st.stays_connected(u):
                st.move(u, zb)
                break
        else:
            break
    return st.labels
