"""The numeric districting problem: demand, travel costs and adjacency as arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from optimiser.resources import CostBlocks, DenseCost, TravelLimit


@dataclass(frozen=True)
class ZoneRow:
    """A linear side constraint on every zone: ``lower[z] <= sum_{i in z} amount[i] <= upper[z]``.

    One row family covers cohort bounds (``amount`` = a cohort's hours), provider-capacity
    coverage (``amount`` = capacity - margin * demand, ``lower`` = 0) and anything else that
    adds up over a zone's units. Infinite bounds are simply not imposed.
    """

    name: str  # short family name used in constraint names and diagnoses, e.g. "cohort_children"
    amount: NDArray[np.float64]  # (n,)
    lower: NDArray[np.float64]  # (K,), -inf for none
    upper: NDArray[np.float64]  # (K,), +inf for none
    description: str = ""  # one phrase for messages, e.g. "children's hours per zone"

    def totals(self, labels: NDArray[np.int64], n_zones: int) -> NDArray[np.float64]:
        """The row's value in each zone of a plan."""
        return np.bincount(np.asarray(labels), weights=self.amount, minlength=n_zones).astype(np.float64)


@dataclass(frozen=True)
class BranchCapacity:
    """Provider branches whose capacity flows to the zones whose centre they can reach
    (the ``capacity_flow`` family, :mod:`optimiser.capacity_flow`).

    capacity : (B,) hours per week each branch can deliver (>= 0).
    minutes : (B, n) travel minutes from branch ``b`` to a zone centre placed at unit ``j``.
    reach_min : branch ``b`` may serve zone ``z`` only if ``minutes[b, c_z] <= reach_min``.
    margin : each zone needs allocated capacity ``>= margin * its demand``.
    ids : branch labels for messages; groups : (n,) an area name per unit (e.g. its district),
        used to give diagnoses per area.
    """

    capacity: NDArray[np.float64]
    minutes: NDArray[np.float64]
    reach_min: float
    margin: float
    ids: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def in_reach(self, reach_min: float | None = None) -> NDArray[np.bool_]:
        """(B, n) whether branch ``b`` reaches a centre at unit ``j``."""
        return np.asarray(self.minutes <= (self.reach_min if reach_min is None else reach_min) + 1e-9)

    def capacity_in_reach(self, reach_min: float | None = None) -> NDArray[np.float64]:
        """(n,) capacity of the branches that reach a centre at each unit (every branch counted
        in full: an upper bound on what one zone centred there can be allocated)."""
        return np.asarray(self.capacity @ self.in_reach(reach_min), dtype=np.float64)

    def label(self, b: int) -> str:
        return self.ids[b] if self.ids else f"branch {b}"

    def problems(self, n: int) -> list[str]:
        out = []
        b = np.shape(self.capacity)[0] if np.ndim(self.capacity) == 1 else -1
        if b < 0 or np.shape(self.minutes) != (b, n):
            out.append(f"branches: capacity must be (B,) and minutes (B, {n}), got "
                       f"{np.shape(self.capacity)} and {np.shape(self.minutes)}")
        elif np.any(~np.isfinite(self.capacity)) or np.any(self.capacity < 0):
            out.append("branches: capacity must be finite and >= 0")
        if not self.reach_min > 0 or not self.margin > 0:
            out.append(f"branches: reach_min and margin must be > 0, got {self.reach_min}, {self.margin}")
        if self.ids and len(self.ids) != b:
            out.append(f"branches: {len(self.ids)} ids for {b} branches")
        if self.groups and len(self.groups) != n:
            out.append(f"branches: {len(self.groups)} area names for {n} units")
        return out


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

    Optional commissioning constraints (zones then have an identity: index ``z``):

    zone_lower, zone_upper : (K,) per-zone demand bounds replacing the ``tolerance`` band
        (unequal targets, a minimum viable size).
    rows : extra per-zone linear rows (:class:`ZoneRow`): cohorts, capacity coverage.
    pinned : (n,) zone index a unit is locked to, or -1 when free.
    together : groups of units that must share a zone (towns or wards kept whole).
    reach, reach_limit, reach_exempt : ``reach[i, j]`` is the longest travel (minutes) from any
        demand point of unit ``i`` to a centre at unit ``j``; a unit may join a zone only if its
        reach to the zone's centre is at most ``reach_limit``, unless it is exempt (isolated:
        no centre anywhere is within the limit).
    reach_blocks : ``reach`` read by blocks instead (:class:`~optimiser.resources.CostBlocks`)
        where an (n, n) matrix would not fit (postcode units); only the checks and the
        refinement read it (:meth:`travel_limit`).
    stay, max_moved, moved_penalty : ``stay[i, z]`` is the demand of unit ``i`` that is in
        today's zone ``z``; the demand that changes zone is capped at ``max_moved`` and/or
        charged ``moved_penalty`` per unit of demand in the objective.
    centre_candidates : (n,) units allowed to be a zone centre (e.g. provider hubs).
    centre_capacity : (n,) the most demand a zone centred at unit ``j`` may hold (capacity
        reachable from ``j`` divided by the margin).
    branches : provider branches whose capacity is shared between the zones whose centre they
        reach, each branch's capacity counted once (:class:`BranchCapacity`).
    """

    demand: NDArray[np.float64]
    cost: NDArray[np.float64]
    edges: NDArray[np.int64]
    n_zones: int
    tolerance: float
    edge_length: NDArray[np.float64] | None = None
    unit_ids: tuple[str, ...] = field(default=())
    zone_lower: NDArray[np.float64] | None = None
    zone_upper: NDArray[np.float64] | None = None
    rows: tuple[ZoneRow, ...] = ()
    pinned: NDArray[np.int64] | None = None
    together: tuple[NDArray[np.int64], ...] = ()
    reach: NDArray[np.float64] | None = None
    reach_limit: float | None = None
    reach_exempt: NDArray[np.bool_] | None = None
    reach_blocks: CostBlocks | None = None
    stay: NDArray[np.float64] | None = None
    max_moved: float | None = None
    moved_penalty: float = 0.0
    centre_candidates: NDArray[np.bool_] | None = None
    centre_capacity: NDArray[np.float64] | None = None
    branches: BranchCapacity | None = None

    def __post_init__(self) -> None:
        n = self.demand.shape[0]
        problems: list[str] = []
        if self.demand.ndim != 1:
            problems.append(f"demand must be 1-D, got shape {self.demand.shape}")
        if self.cost.shape != (n, n):
            problems.append(f"cost must be ({n}, {n}), got {self.cost.shape}")
        if np.any(~np.isfinite(self.demand)) or np.any(self.demand < 0):
            problems.append("demand must be finite and >= 0")
        cost = self.cost[:1, :1] if self.cost.ndim == 2 and self.cost.strides == (0, 0) else self.cost  # broadcast: one value
        if np.any(~np.isfinite(cost)) or np.any(cost < 0):
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
        problems += self._check_options(n)
        if problems:
            raise ValueError("invalid DistrictingProblem: " + "; ".join(problems))

    def _check_options(self, n: int) -> list[str]:
        k = self.n_zones
        problems: list[str] = []
        for label, arr in (("zone_lower", self.zone_lower), ("zone_upper", self.zone_upper)):
            if arr is not None and np.shape(arr) != (k,):
                problems.append(f"{label} must have one entry per zone ({k}), got shape {np.shape(arr)}")
        for row in self.rows:
            if np.shape(row.amount) != (n,) or np.shape(row.lower) != (k,) or np.shape(row.upper) != (k,):
                problems.append(f"row {row.name!r}: amount must be ({n},) and bounds ({k},)")
            elif np.any(~np.isfinite(row.amount)):
                problems.append(f"row {row.name!r}: amounts must be finite")
        if self.pinned is not None:
            pinned = np.asarray(self.pinned)
            if pinned.shape != (n,) or np.any((pinned < -1) | (pinned >= k)):
                problems.append(f"pinned must be ({n},) with values -1..{k - 1}")
        for g in self.together:
            if np.size(g) and (np.min(g) < 0 or np.max(g) >= n):
                problems.append("together groups refer to units outside 0..n-1")
        return problems + self._check_travel_and_continuity(n)

    def _check_travel_and_continuity(self, n: int) -> list[str]:
        k = self.n_zones
        problems: list[str] = []
        if self.reach is not None and (np.shape(self.reach) != (n, n) or self.reach_limit is None):
            problems.append(f"reach must be ({n}, {n}) and come with reach_limit")
        if self.reach_blocks is not None and (self.reach is not None or self.reach_limit is None):
            problems.append("reach_blocks replaces reach and must come with reach_limit")
        if self.reach_exempt is not None and np.shape(self.reach_exempt) != (n,):
            problems.append(f"reach_exempt must be ({n},)")
        if self.stay is not None and np.shape(self.stay) != (n, k):
            problems.append(f"stay must be ({n}, {k}), got {np.shape(self.stay)}")
        if (self.max_moved is not None or self.moved_penalty) and self.stay is None:
            problems.append("max_moved / moved_penalty need stay (today's zone of each unit's demand)")
        if self.moved_penalty < 0 or (self.max_moved is not None and self.max_moved < 0):
            problems.append("max_moved and moved_penalty must be >= 0")
        if self.centre_candidates is not None:
            cand = np.asarray(self.centre_candidates, dtype=bool)
            if cand.shape != (n,) or cand.sum() < k:
                problems.append(f"centre_candidates must be ({n},) with at least {k} candidates")
        if self.centre_capacity is not None and np.shape(self.centre_capacity) != (n,):
            problems.append(f"centre_capacity must be ({n},)")
        if self.branches is not None:
            problems += self.branches.problems(n)
        return problems

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

    def zone_bounds(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(K,) lower and upper demand bounds per zone: the tolerance band unless overridden."""
        lower, upper = self.load_bounds
        lo = np.full(self.n_zones, lower) if self.zone_lower is None else np.asarray(self.zone_lower, float)
        hi = np.full(self.n_zones, upper) if self.zone_upper is None else np.asarray(self.zone_upper, float)
        return lo, hi

    def allowed(self, centres: tuple[int, ...] | list[int]) -> NDArray[np.bool_]:
        """(n, K) which unit may join which zone given the centres: pins and the travel limit."""
        n, k = self.n_units, self.n_zones
        ok = np.ones((n, k), dtype=bool)
        limit = self.travel_limit()
        if limit is not None:
            ok &= limit.allowed(centres)
        if self.pinned is not None:
            pinned = np.asarray(self.pinned)
            fixed = np.flatnonzero(pinned >= 0)
            ok[fixed] = False
            ok[fixed, pinned[fixed]] = True
        ok[list(centres), np.arange(k)] = True
        return ok

    def travel_limit(self) -> TravelLimit | None:
        """The travel limit (``reach`` or ``reach_blocks`` with ``reach_limit``), or None."""
        if self.reach_limit is None or (self.reach is None and self.reach_blocks is None):
            return None
        reach = self.reach_blocks if self.reach_blocks is not None else DenseCost(np.asarray(self.reach))
        exempt = (np.zeros(self.n_units, dtype=bool) if self.reach_exempt is None
                  else np.asarray(self.reach_exempt, dtype=bool))
        return TravelLimit(reach, float(self.reach_limit), exempt)

    def moved(self, labels: NDArray[np.int64]) -> float:
        """Demand whose zone differs from today's (0 without ``stay``)."""
        if self.stay is None:
            return 0.0
        kept = float(self.stay[np.arange(self.n_units), np.asarray(labels)].sum())
        return float(self.stay.sum()) - kept

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

    def neighbours(self) -> list[list[int]]:
        """Each unit's rook neighbours, in the order of ``edges``."""
        out: list[list[int]] = [[] for _ in range(self.n_units)]
        for a, b in np.asarray(self.edges).tolist():
            out[a].append(b)
            out[b].append(a)
        return out

    def adjacency_matrix(self) -> coo_matrix:
        """Symmetric sparse adjacency weighted by :meth:`lengths`."""
        n = self.n_units
        a, b = self.edges[:, 0], self.edges[:, 1]
        w = self.lengths()
        return coo_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n, n))

    def adjacency_within(self, keep: NDArray[np.bool_]) -> csr_matrix:
        """:meth:`adjacency_matrix` with every edge touching a unit outside ``keep`` removed
        (stored zeros dropped: csgraph would treat them as free edges)."""
        mask = np.asarray(keep, dtype=float)
        sub = self.adjacency_matrix().tocsr().multiply(mask[:, None]).multiply(mask[None, :]).tocsr()
        sub.eliminate_zeros()
        return sub

    def n_components(self) -> int:
        """Number of connected components of the adjacency graph."""
        count, _ = connected_components(self.adjacency_matrix(), directed=False)
        return int(count)
