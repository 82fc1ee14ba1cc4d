"""The numeric districting problem: demand, travel costs and adjacency as arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class DistrictingProblem:
    """Units with demand, a unit-to-unit travel cost matrix and a rook adjacency edge list.

    Attributes
    ----------
    demand : (n,) hours per week of each unit (>= 0).
    cost : (n, n) minutes from unit ``i`` to a zone centre placed at unit ``j``.
    edges : (e, 2) undirected adjacency between unit indices (each pair once).
    n_zones : number of zones ``K``.
    tolerance : each zone's demand must lie within ``(1 +/- tolerance) * total / K``.
    edge_length : (e,) positive lengths used to order units along shortest paths for the
        contiguity constraints (default: ``cost`` between the two units).
    unit_ids : optional labels used in constraint names and messages.
    """

    demand: NDArray[np.float64]
    cost: NDArray[np.float64]
    edges: NDArray[np.int64]
    n_zones: int
    tolerance: float
    edge_length: NDArray[np.float64] | None = None
    unit_ids: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = self.demand.shape[0]
        problems: list[str] = []
        if self.demand.ndim != 1:
            problems.append(f"demand must be 1-D, got shape {self.demand.shape}")
        if self.cost.shape != (n, n):
            problems.append(f"cost must be ({n}, {n}), got {self.cost.shape}")
        if np.any(~np.isfinite(self.demand)) or np.any(self.demand < 0):
            problems.append("demand must be finite and >= 0")
        if np.any(~np.isfinite(self.cost)) or np.any(self.cost < 0):
            problems.append("cost must be finite and >= 0")
        if self.edges.ndim != 2 or (self.edges.size and self.edges.shape[1] != 2):
            problems.append(f"edges must be (e, 2), got {self.edges.shape}")
        elif self.edges.size and (self.edges.min() < 0 or self.edges.max() >= n):
            problems.append("edges refer to units outside 0..n-1")
        if not 1 <= self.n_zones <= n:
            problems.append(f"n_zones must be between 1 and {n}, got {self.n_zones}")
        if not 0 <= self.tolerance < 1:
            problems.append(f"tolerance must be in [0, 1), got {self.tolerance}")
        if self.edge_length is not None and self.edge_length.shape != (self.edges.shape[0],):
            problems.append("edge_length must have one entry per edge")
        if self.unit_ids and len(self.unit_ids) != n:
            problems.append(f"unit_ids has {len(self.unit_ids)} labels for {n} units")
        if problems:
            raise ValueError("invalid DistrictingProblem: " + "; ".join(problems))

    @property
    def n_units(self) -> int:
        return int(self.demand.shape[0])

    @property
    def total_demand(self) -> float:
        return float(self.demand.sum())

    @property
    def load_bounds(self) -> tuple[float, float]:
        """Lower and upper bound on each zone's demand."""
        mean = self.total_demand / self.n_zones
        return (1 - self.tolerance) * mean, (1 + self.tolerance) * mean

    def label(self, i: int) -> str:
        return self.unit_ids[i] if self.unit_ids else str(i)

    def lengths(self) -> NDArray[np.float64]:
        """Positive edge lengths for shortest-path ordering."""
        if self.edge_length is not None:
            lengths = np.asarray(self.edge_length, dtype=float)
        else:
            a, b = self.edges[:, 0], self.edges[:, 1]
            lengths = 0.5 * (self.cost[a, b] + self.cost[b, a])
        return np.maximum(lengths, 1e-6)

    def adjacency_matrix(self) -> coo_matrix:
        """Symmetric sparse adjacency weighted by :meth:`lengths`."""
        n = self.n_units
        a, b = self.edges[:, 0], self.edges[:, 1]
        w = self.lengths()
        return coo_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n))

    def n_components(self) -> int:
        """Number of connected components of the adjacency graph."""
        count, _ = connected_components(self.adjacency_matrix(), directed=False)
        return int(count)
