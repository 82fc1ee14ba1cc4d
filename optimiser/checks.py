"""Named predicates on a plan: the pipeline runs them after every solve, tests reuse them.

Each returns a :class:`Check` saying whether it passed and, if not, where it failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from optimiser.resources import CostBlocks, DenseCost, TravelLimit


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


def all_assigned(labels: NDArray[np.int64], *, n_units: int, n_zones: int) -> Check:
    """Every unit carries exactly one zone label in ``0..n_zones-1`` and every zone is used."""
    labels = np.asarray(labels)
    problems = []
    if labels.shape != (n_units,):
        problems.append(f"expected {n_units} labels, got {labels.shape}")
    else:
        bad = np.flatnonzero((labels < 0) | (labels >= n_zones))
        if bad.size:
            problems.append(f"{bad.size} unit(s) without a valid zone, e.g. index {bad[:5].tolist()}")
        empty = sorted(set(range(n_zones)) - set(labels.tolist()))
        if empty:
            problems.append(f"zone(s) {empty} have no units")
    return Check("all_assigned", not problems, "; ".join(problems) or f"{n_units} units in {n_zones} zones")


def zone_pieces(labels: NDArray[np.int64], edges: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The zones present in ``labels`` (sorted) and each one's number of connected pieces: one
    connected-components pass over the edges inside zones."""
    lab = np.asarray(labels, dtype=np.int64)
    n = lab.size
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    inside = e[lab[e[:, 0]] == lab[e[:, 1]]] if e.size else e
    graph = coo_matrix((np.ones(len(inside)), (inside[:, 0], inside[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    pieces = np.unique(np.stack([lab, comp.astype(np.int64)], axis=1), axis=0)
    zones, counts = np.unique(pieces[:, 0], return_counts=True)
    return zones.astype(np.int64), counts.astype(np.int64)


def is_contiguous(
    labels: NDArray[np.int64], edges: NDArray[np.int64], *, zone_names: Sequence[str] = ()
) -> Check:
    """Every zone is one connected piece of the adjacency graph."""
    zones, counts = zone_pieces(labels, edges)
    broken = []
    for z, pieces in zip(zones.tolist(), counts.tolist(), strict=True):
        if pieces > 1:
            name = zone_names[z] if zone_names else str(z)
            broken.append(f"{name} ({pieces} pieces)")
    return Check(
        "is_contiguous",
        not broken,
        ("not contiguous: " + ", ".join(broken)) if broken else f"{len(zones)} zones contiguous",
    )


def zone_loads(labels: NDArray[np.int64], demand: NDArray[np.float64], n_zones: int) -> NDArray[np.float64]:
    """Demand per zone."""
    return np.bincount(np.asarray(labels), weights=demand, minlength=n_zones).astype(np.float64)


def within_bounds(
    loads: NDArray[np.float64],
    *,
    lower: float,
    upper: float,
    rel_tol: float = 1e-6,
    zone_names: Sequence[str] = (),
) -> Check:
    """Every zone's demand lies in ``[lower, upper]`` (the same bounds for every zone)."""
    k = len(loads)
    return zones_within_bounds(loads, lower=np.full(k, lower), upper=np.full(k, upper), rel_tol=rel_tol,
                               zone_names=zone_names)


def zones_within_bounds(
    loads: NDArray[np.float64],
    *,
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
    name: str = "within_bounds",
    what: str = "load",
    rel_tol: float = 1e-6,
    zone_names: Sequence[str] = (),
) -> Check:
    """Each zone's value lies in its own ``[lower[z], upper[z]]`` (infinite bounds are none)."""
    bad = []
    for z, value in enumerate(loads):
        lo, hi = float(lower[z]), float(upper[z])
        slack = rel_tol * max(abs(lo) if np.isfinite(lo) else 0.0, abs(hi) if np.isfinite(hi) else 0.0, 1.0)
        if value < lo - slack or value > hi + slack:
            label = zone_names[z] if zone_names else str(z)
            bad.append(f"{label}: {what} {value:.1f} outside [{lo:.1f}, {hi:.1f}]")
    return Check(name, not bad, "; ".join(bad) if bad else f"every zone's {what} within its bounds")


def pins_respected(labels: NDArray[np.int64], pinned: NDArray[np.int64]) -> Check:
    """Every locked unit (``pinned >= 0``) is in its zone."""
    pinned = np.asarray(pinned)
    locked = np.flatnonzero(pinned >= 0)
    wrong = locked[np.asarray(labels)[locked] != pinned[locked]]
    return Check(
        "locks_respected", wrong.size == 0,
        f"{wrong.size} locked unit(s) outside their zone, e.g. index {wrong[:5].tolist()}" if wrong.size
        else f"{locked.size} locked unit(s) in their zones",
    )


def kept_whole(labels: NDArray[np.int64], groups: Sequence[NDArray[np.int64]]) -> Check:
    """Every group of units lies in one zone."""
    labels = np.asarray(labels)
    split = [g for g, members in enumerate(groups) if np.unique(labels[np.asarray(members)]).size > 1]
    return Check(
        "kept_whole", not split,
        f"group(s) {split} split across zones" if split else f"{len(groups)} group(s) each in one zone",
    )


def within_travel_limit(
    labels: NDArray[np.int64], centres: Sequence[int], reach: NDArray[np.float64] | CostBlocks, limit: float,
    exempt: NDArray[np.bool_] | None = None,
) -> Check:
    """No unit's farthest (non-exempt) demand point is beyond ``limit`` from its zone centre
    (``reach`` an (n, n) matrix, or read by blocks at postcode scale)."""
    labels = np.asarray(labels)
    blocks: CostBlocks = DenseCost(np.asarray(reach)) if isinstance(reach, np.ndarray) else reach
    free = np.zeros(labels.size, dtype=bool) if exempt is None else np.asarray(exempt, dtype=bool)
    far = TravelLimit(blocks, limit, free).beyond(labels, list(centres))
    return Check(
        "within_travel_limit", not far.any(),
        f"{int(far.sum())} unit(s) beyond {limit:g} min of their centre" if far.any()
        else f"every postcode within {limit:g} min of its centre (isolated ones exempt)",
    )


def allocations_within_capacity(hours: NDArray[np.float64], capacity: NDArray[np.float64]) -> Check:
    """No branch is allocated more than its capacity (``hours`` is (branches, zones), all >= 0)."""
    given = np.asarray(hours).sum(axis=1)
    over = np.flatnonzero((given > np.asarray(capacity) * (1 + 1e-6) + 1e-6) | np.any(np.asarray(hours) < -1e-9, axis=1))
    return Check(
        "allocations_within_capacity", over.size == 0,
        f"{over.size} branch(es) allocated beyond their capacity (or negative), e.g. index {over[:5].tolist()}"
        if over.size else f"{len(given)} branches each allocated at most their capacity",
    )


def zones_covered(hours: NDArray[np.float64], need: NDArray[np.float64], *, zone_names: Sequence[str] = ()) -> Check:
    """Every zone is allocated at least its need (margin x demand)."""
    got = np.asarray(hours).sum(axis=0)
    short = np.flatnonzero(got < np.asarray(need) * (1 - 1e-6) - 1e-6)
    detail = "; ".join(
        f"{zone_names[z] if zone_names else z}: {got[z]:,.1f} allocated for a need of {need[z]:,.1f}" for z in short.tolist()
    )
    return Check("zones_covered_at_margin", short.size == 0,
                 detail or f"{len(got)} zones each allocated at least margin x demand")
