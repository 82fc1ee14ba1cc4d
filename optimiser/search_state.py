"""The local search's state: adjacency lists, zone loads and the (n, K) costs to the centres.

Shared by :mod:`optimiser.local_search`, :mod:`optimiser.repair` and :mod:`optimiser.refine`.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from optimiser.resources import Continuity, CostBlocks, ResourceBounds


class _Graph:
    """Adjacency lists as Python lists (fast scalar access in the BFS)."""

    def __init__(self, n: int, edges: NDArray[np.int64]) -> None:
        src = np.r_[edges[:, 0], edges[:, 1]]
        dst = np.r_[edges[:, 1], edges[:, 0]]
        order = np.lexsort((dst, src))
        self.src, self.dst = src[order], dst[order]
        indptr = np.searchsorted(self.src, np.arange(n + 1))
        dst_list = self.dst.tolist()
        self.adj: list[list[int]] = [dst_list[indptr[i]:indptr[i + 1]] for i in range(n)]


def zones_connected(labels: NDArray[np.int64], edges: NDArray[np.int64], n_zones: int) -> bool:
    """Vectorised check that each of the ``n_zones`` zones is one connected piece."""
    n = labels.shape[0]
    same = labels[edges[:, 0]] == labels[edges[:, 1]]
    e = edges[same]
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    count, _ = connected_components(graph, directed=False)
    return int(count) == n_zones and np.unique(labels).size == n_zones


class _State:
    def __init__(
        self,
        labels: NDArray[np.int64],
        centres: NDArray[np.int64],
        weights: NDArray[np.float64],
        cost: CostBlocks,
        bounds: ResourceBounds,
        graph: _Graph,
        slack: float,
        continuity: Continuity | None = None,
    ) -> None:
        self.labels = labels
        self.lab = labels.tolist()  # python mirror for the BFS
        self.centres = centres
        self.w = weights
        self.cost = cost
        self.b = bounds
        self.g = graph
        self.k = centres.size
        self.n = labels.size
        self.loads: NDArray[np.float64] = np.stack(
            [np.bincount(labels, weights=row, minlength=self.k) for row in bounds.amounts]
        ).astype(np.float64)
        self.slack = slack
        # continuity: hours of each unit in today's zones, the cap on those that move, the charge
        self.stay = None if continuity is None else continuity.stay
        self.extra = None if continuity is None or not continuity.penalty else continuity.charge()
        self.cap = np.inf if continuity is None else continuity.cap
        self.moved = 0.0 if continuity is None else continuity.moved(labels)
        self.refresh_columns()

    def refresh_columns(self) -> None:
        self.cc = self.cost.block(np.arange(self.n), self.centres)  # (n, K)
        self.is_centre = np.zeros(self.n, dtype=bool)
        self.is_centre[self.centres] = True

    def objective(self) -> float:
        travel = float(np.sum(self.w * self.cc[np.arange(self.n), self.labels]))
        return travel if self.extra is None else travel + float(self.extra[np.arange(self.n), self.labels].sum())

    def extra_gain(self, i: NDArray[np.int64], a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.float64] | float:
        """The continuity charge saved by moving units ``i`` from zones ``a`` to ``b`` (0 without one)."""
        return 0.0 if self.extra is None else self.extra[i, a] - self.extra[i, b]

    def within_cap(self, i: int, a: int, b: int, j: int = -1) -> bool:
        """``i: a -> b`` (and ``j: b -> a``) keeps the hours that change zone within the cap."""
        if self.stay is None or not np.isfinite(self.cap):
            return True
        delta = self.stay[i, a] - self.stay[i, b] + (0.0 if j < 0 else self.stay[j, b] - self.stay[j, a])
        return bool(self.moved + delta <= self.cap + self.slack)

    def fits(self, i: int, a: int, b: int) -> bool:
        """``i: a -> b`` keeps both zones within every bound (amounts may be negative, e.g.
        capacity minus demand, so both sides of both zones are checked)."""
        r = self.b.amounts[:, i]
        new_a, new_b = self.loads[:, a] - r, self.loads[:, b] + r
        lo, hi, s = self.b.lower, self.b.upper, self.slack
        return bool(
            np.all(new_a >= lo[:, a] - s) and np.all(new_a <= hi[:, a] + s)
            and np.all(new_b >= lo[:, b] - s) and np.all(new_b <= hi[:, b] + s)
        ) and self.within_cap(i, a, b)

    def fits_pair(self, i: int, j: int, a: int, b: int) -> bool:
        """``i: a -> b`` together with ``j: b -> a``."""
        diff = self.b.amounts[:, j] - self.b.amounts[:, i]
        new_a, new_b = self.loads[:, a] + diff, self.loads[:, b] - diff
        lo, hi, s = self.b.lower, self.b.upper, self.slack
        return bool(
            np.all(new_a >= lo[:, a] - s) and np.all(new_a <= hi[:, a] + s)
            and np.all(new_b >= lo[:, b] - s) and np.all(new_b <= hi[:, b] + s)
        ) and self.within_cap(i, a, b, j)

    def stays_connected(self, i: int) -> bool:
        """Zone of ``i`` remains connected once ``i`` leaves it."""
        zone, lab, adj = self.lab[i], self.lab, self.g.adj
        nbrs = [k for k in adj[i] if lab[k] == zone]
        if len(nbrs) <= 1:
            return True
        targets = set(nbrs[1:])
        seen = {i, nbrs[0]}
        queue = deque([nbrs[0]])
        while queue:
            u = queue.popleft()
            for v in adj[u]:
                if v not in seen and lab[v] == zone:
                    if v in targets:
                        targets.discard(v)
                        if not targets:
                            return True
                    seen.add(v)
                    queue.append(v)
        return False

    def touches(self, i: int, zone: int, *, exclude: int = -1) -> bool:
        return any(self.lab[k] == zone and k != exclude for k in self.g.adj[i])

    def move(self, i: int, b: int) -> None:
        a = self.lab[i]
        r = self.b.amounts[:, i]
        self.loads[:, a] -= r
        self.loads[:, b] += r
        if self.stay is not None:
            self.moved += float(self.stay[i, a] - self.stay[i, b])
        self.labels[i] = b
        self.lab[i] = b

    def gain(self, i: int, b: int) -> float:
        a = self.lab[i]
        extra = 0.0 if self.extra is None else self.extra[i, a] - self.extra[i, b]
        return float(self.w[i] * (self.cc[i, a] - self.cc[i, b]) + extra)
