"""What every pass of :func:`optimiser.refine.refine_plan` reads (:class:`RefineContext`), its
bounds for one pass (step 3 of :mod:`optimiser.refine`) and the rules on the zones' centres.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from optimiser.local_search import _medoids
from optimiser.problem import BranchCapacity
from optimiser.refine_flow import CentreFits, flow_headroom
from optimiser.resources import Continuity, CostBlocks, ResourceBounds, TravelLimit


@dataclass(frozen=True)
class RefineContext:
    """What every pass of the search reads (see :func:`refine_plan`)."""

    weights: NDArray[np.float64]
    cost: CostBlocks
    edges: NDArray[np.int64]
    bounds: ResourceBounds
    branches: BranchCapacity | None
    medoid_candidates: int | None
    movable: NDArray[np.bool_]  # False for units locked to their zone or kept whole with others
    limit: TravelLimit | None = None
    centre_ok: NDArray[np.bool_] | None = None  # (n, K) units that may centre each zone (hubs)
    centre_capacity: NDArray[np.float64] | None = None  # (n,) most demand a zone centred at j may hold
    continuity: Continuity | None = None  # cap on / charge for the hours that change zone

    def fits(self, labels: NDArray[np.int64], need: NDArray[np.float64] | None = None) -> CentreFits | None:
        """Which of zone ``z``'s members may centre it (hubs, the travel limit, capacity in reach
        of its ``need``: its load by default), or None: any."""
        limit, ok, cap = self.limit, self.centre_ok, self.centre_capacity
        if limit is None and ok is None and cap is None:
            return None
        k = self.bounds.lower.shape[1]
        wanted: NDArray[np.float64] = (np.bincount(labels, weights=self.bounds.amounts[0], minlength=k).astype(float)
                                       if need is None else need)

        def fits(z: int, cand: NDArray[np.int64]) -> NDArray[np.bool_]:
            mask = np.ones(cand.size, dtype=bool) if ok is None else ok[cand, z].copy()
            if limit is not None:
                mask &= limit.centre_fits(np.flatnonzero(labels == z), cand)
            if cap is not None:
                mask &= cap[cand] >= wanted[z] * (1 - 1e-9)
            return mask
        return fits

    def capped(self, centres: tuple[int, ...]) -> ResourceBounds:
        """The bounds with each zone's demand capped at its centre's capacity in reach (radius rule)."""
        if self.centre_capacity is None:
            return self.bounds
        upper = self.bounds.upper.copy()
        upper[0] = np.minimum(upper[0], self.centre_capacity[list(centres)])
        return replace(self.bounds, upper=upper)

    def centres_allowed(self, flow_allowed: NDArray[np.bool_] | None) -> NDArray[np.bool_] | None:
        """(n, K) where re-centring may put each zone's centre: the capacity balance's and the hubs'."""
        if flow_allowed is None or self.centre_ok is None:
            return self.centre_ok if flow_allowed is None else flow_allowed
        return flow_allowed & self.centre_ok


@dataclass(frozen=True)
class RefinedPlan:
    labels: NDArray[np.int64]
    centres: tuple[int, ...]
    objective: float
    moves: int
    swaps: int
    passes: int
    flow: NDArray[np.float64] | None
    share: float | None


def cells_objective(ctx: RefineContext, labels: NDArray[np.int64], centres: tuple[int, ...]) -> float:
    """Travel, plus the continuity charge on the hours that change zone."""
    cc = ctx.cost.block(np.arange(labels.size), np.asarray(centres))
    travel = float(np.sum(ctx.weights * cc[np.arange(labels.size), labels]))
    cont = ctx.continuity
    return travel if cont is None or not cont.penalty else travel + cont.penalty * cont.moved(labels)


def pass_bounds(ctx: RefineContext, labels: NDArray[np.int64], centres: tuple[int, ...]) -> tuple[
        ResourceBounds, NDArray[np.bool_] | None, NDArray[np.float64] | None, float | None]:
    """Step 3: the bounds and allowed centres of one pass, the flow they keep and its share.
    Under the radius rule each zone's demand is capped at its centre's capacity in reach and
    its centre may only move to units whose capacity in reach covers that cap."""
    bounds = ctx.capped(centres)
    cover = None if ctx.centre_capacity is None else (
        ctx.centre_capacity[:, None] >= bounds.upper[0][None, :] * (1 - 1e-9))
    if ctx.branches is None:
        return bounds, cover, None, None
    k = ctx.bounds.lower.shape[1]
    upper = bounds.upper[0]
    loads = np.bincount(labels, weights=ctx.bounds.amounts[0], minlength=k).astype(np.float64)
    got = flow_headroom(ctx.branches, centres, loads, upper)
    if got is None:
        raise ValueError("branch capacity within reach of the zone centres cannot cover every zone")
    share, room, flow = got
    cap = loads + room
    cap = np.maximum(loads, cap - 1e-7 * np.maximum(cap, 1.0))  # kept strictly inside what F covers
    new_upper = bounds.upper.copy()
    new_upper[0] = np.minimum(upper, cap)
    support = (flow > 1e-9).astype(np.int64)  # (B, K) branches giving to each zone
    misses = (~ctx.branches.in_reach()).astype(np.int64).T @ support  # (n, K) givers a unit does not reach
    return replace(bounds, upper=new_upper), misses == 0 if cover is None else (misses == 0) & cover, flow, share


def member_centres(ctx: RefineContext, labels: NDArray[np.int64], centres: tuple[int, ...] | None) -> tuple[int, ...]:
    """``centres`` where each is still a member of its zone, else the zone's medoid."""
    k = ctx.bounds.lower.shape[1]
    given = list(centres) if centres is not None else [-1] * k
    if all(c >= 0 and labels[c] == z for z, c in enumerate(given)):
        return tuple(int(c) for c in given)
    medoids = _medoids(labels, np.full(k, -1, dtype=np.int64), ctx.weights, ctx.cost, k, None, None)
    return tuple(int(c) if c >= 0 and labels[c] == z else int(medoids[z]) for z, c in enumerate(given))


def fit_centres(ctx: RefineContext, labels: NDArray[np.int64], centres: tuple[int, ...]) -> tuple[int, ...]:
    """``centres`` where each may centre its zone (at an allowed unit, a hub, keeping every
    member within the travel limit), else the member that may, cheapest in travel; raises
    ``ValueError`` when a zone has none."""
    fits = ctx.fits(labels)
    if fits is None:
        return centres
    at_least = ctx.fits(labels, need=ctx.bounds.lower[0])  # the radius rule: rebalancing may then shrink it
    out = list(centres)
    for z, c in enumerate(centres):
        if fits(z, np.array([c]))[0]:
            continue
        members = np.flatnonzero(labels == z)
        ok = fits(z, members)
        if not ok.any() and at_least is not None:
            ok = at_least(z, members)
        if not ok.any():
            rules = [r for r, on in (("may centre it (hubs)", ctx.centre_ok is not None),
                                     (f"keeps every other within the travel limit ({ctx.limit.limit:g} min)"
                                      if ctx.limit is not None else "", ctx.limit is not None),
                                     ("has capacity in reach for the zone's minimum", ctx.centre_capacity is not None))
                     if on]
            raise ValueError(f"zone {z}: no unit of it {' and '.join(rules)}")
        cand = members[ok]
        totals = ctx.weights[members] @ ctx.cost.block(members, cand)
        out[z] = int(cand[int(np.argmin(totals))])
    return tuple(out)
