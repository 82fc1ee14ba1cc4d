"""A certified lower bound for balanced districting with free centres (Lagrangian relaxation).

Model bounded (a relaxation of what :mod:`optimiser.districting` solves)
-------------------------------------------------------------------------
Units ``i`` with demand ``d_i``; candidate centres ``j`` in ``C`` (default: every unit);
``c_ij`` minutes from unit ``i`` to a centre at ``j``; ``K`` zones; loads in ``[L, U]``.

Minimise ``sum_ij d_i c_ij x_ij`` subject to

  (1) ``sum_j x_ij = 1``                       every unit in one zone
  (2) ``x_ij <= y_j``,  ``x_jj = y_j``          only open centres serve; a centre is in its zone
  (3) ``L y_j <= sum_i d_i x_ij <= U y_j``      balance
  (4) ``sum_j y_j = K``                         K zones
  (5) ``x, y`` in {0, 1}

Contiguity is dropped, so the optimum of this model is at most the optimum of the
contiguous problem, whatever the centres. Every plan whose zones are each evaluated at
one of their own units (a medoid) is feasible here, hence ``bound <= objective`` of any
balanced plan, contiguous or not.

Lagrangian relaxation of (1) with multipliers ``lambda_i`` (free sign):

  ``LR(lambda) = sum_i lambda_i + min_{|S| = K} sum_{j in S} v_j(lambda)``
  ``v_j(lambda) = min { sum_i (d_i c_ij - lambda_i) x_i : x_j = 1, 0 <= x_i <= 1,
  L <= sum_i d_i x_i <= U }``

Each ``v_j`` is a fractional knapsack with a load window, solved exactly by sorting the
items by ``(d_i c_ij - lambda_i) / d_i`` and filling to ``clip(load of the negative items,
L, U)`` (zero-demand items are taken iff their coefficient is negative). Choosing ``S`` is
picking the ``K`` smallest ``v_j``. By weak duality *every* ``lambda`` gives a valid bound
``LR(lambda) <= OPT``; the best is the LP-relaxation bound of (1)-(4). ``lambda`` is
improved with Polyak subgradient steps (Held, Wolfe & Crowder 1974) towards a target
(a known plan's objective) with step halving on stalls.

Only the ``K`` smallest ``v_j`` matter, and each iteration solves exactly only the candidates
that could be among them. Every candidate has a proved lower estimate of ``v_j``: its last one
lowered by how far ``v_j`` can fall with the multipliers' change (``X_j`` does not move), and near
the ``K``-th value the knapsack's own Lagrangian dual at the window multiplier of its last exact
solve (one elementwise pass, no sort). Candidates are solved while an estimate lies below the
``K``-th smallest exact value: the ``K`` chosen are then provably the ``K`` smallest, so ``LR``,
``x`` and the subgradient are those of a full evaluation and the iterates are the same
(:mod:`optimiser.knapsack` gives the argument; ``lazy=False`` solves every candidate every
iteration, the reference). At Kent (902 candidates, ``K = 12``) about 13 of 902 are solved.

With ``candidates`` restricted to a subset ``C`` the bound covers only plans whose centres
lie in ``C``; the result says so in ``scope``.

Capacity balance (the ``capacity_flow`` family, :mod:`optimiser.capacity_flow`)
-----------------------------------------------------------------------------
With branches ``b`` (capacity ``cap_b``, margin ``m``, ``R(j)`` the branches that reach a
centre at ``j``) the model gains flows ``f_bj >= 0`` and

  (6) ``sum_j f_bj <= cap_b``                     each branch's capacity counted once
  (7) ``sum_{b in R(j)} f_bj >= m sum_i d_i x_ij`` every zone covered
  (8) ``f_bj <= cap_b y_j``                       only an open centre draws, each branch at most its own

Every plan that meets the family is feasible here, so the bound still covers it ((8) holds for
any plan: a zone draws nothing from a branch beyond its capacity). (6) is relaxed with
``mu_b >= 0``: ``LR(lambda, mu) = sum_i lambda_i - sum_b mu_b cap_b + min_{|S|=K} sum_{j in S}
v_j`` where ``v_j`` is the knapsack above plus the zone's capacity cost ``pen_j(s)`` at its load
``s``: ``m s`` hours drawn from the branches that reach ``j``, cheapest ``mu_b`` first, each up to
its ``cap_b`` (convex and piecewise linear in ``s``, :class:`optimiser.capacity_prices.CapacityPrices`),
with the load window narrowed to ``U_j = min(U, sum_{b in R(j)} cap_b / m)`` (a centre no branch
reaches cannot hold a zone). The knapsack stays exact: fill by ratio while the item's ratio plus
the next capacity hour's price is negative. ``mu`` follows projected subgradient steps (``g_b`` =
capacity the chosen zones draw from ``b`` minus ``cap_b``). At ``mu = 0`` this is the bound
without capacity, narrowed by ``U_j``: it is never weaker.

Before, every hour of a zone's load was priced at its *cheapest* reachable branch, however
small that branch: the LP of (1)-(7) without (8), where a half-open centre may draw a branch's
whole capacity for half a zone. With (8) the Lagrangian converges to the stronger LP (tested on
small instances against HiGHS).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from optimiser.capacity_prices import CapacityPrices
from optimiser.knapsack import LazyKnapsacks
from optimiser.knapsack import knapsack_values as knapsack_values  # re-exported
from optimiser.problem import DistrictingProblem

log = logging.getLogger(__name__)

STALL = 50  # iterations without a better bound before the step is halved
THETA_MIN = 1e-6  # the step factor at which the search stops


@dataclass(frozen=True)
class BoundResult:
    """A certified lower bound and how it was obtained."""

    value: float  # the best LR(lambda) found: a valid lower bound
    iterations: int
    seconds: float
    method: str
    scope: str  # which plans the bound covers
    multipliers: NDArray[np.float64]  # the lambda achieving ``value``
    centres: tuple[int, ...]  # the K candidate centres chosen at the best lambda (a hint)
    time_limited: bool = False  # the clock, not the iteration limit or convergence, stopped it
    capacity_multipliers: NDArray[np.float64] | None = None  # the mu achieving ``value`` (with a flow)
    lagrangian: float | None = None  # the Lagrangian's own value, when a later step raised ``value``
    ladder_s: float = 0.0  # seconds of the target ladder (optimiser.ladder) after the Lagrangian


class SupportsIsSet(Protocol):
    """An event the caller sets to stop the iterations (``threading`` or ``multiprocessing``)."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class FlowRelaxation:
    """The capacity balance as the bound sees it (module docstring, rows (6)-(7)).

    capacity : (B,) hours/week per branch; reaches : (B, m) whether branch ``b`` reaches a
    centre at candidate ``j``; margin : needed capacity per hour of demand.
    """

    capacity: NDArray[np.float64]
    reaches: NDArray[np.bool_]
    margin: float
    per_branch: bool = True  # False: the weaker, cheaper pricing of before (CapacityPrices)

    def column_upper(self, upper: float) -> NDArray[np.float64]:
        """(m,) ``U_j``: the most demand a zone centred at candidate ``j`` can be covered for."""
        return np.minimum(upper, (self.capacity @ self.reaches) / self.margin)

    def prices(self, mu: NDArray[np.float64]) -> CapacityPrices:
        """What each zone pays for its capacity at branch prices ``mu`` (:class:`CapacityPrices`)."""
        return CapacityPrices(mu=np.asarray(mu, dtype=np.float64), capacity=self.capacity, reaches=self.reaches,
                              margin=self.margin, per_branch=self.per_branch)

    def subgradient(self, mu: NDArray[np.float64], drawn: NDArray[np.float64], scale: float) -> NDArray[np.float64]:
        """Capacity each branch is asked for by the chosen zones (``drawn``) minus what it has,
        divided by ``scale``; projected (0 where ``mu`` is 0 and the branch has spare)."""
        g = (np.asarray(drawn, dtype=np.float64) - self.capacity) / scale
        g[(mu <= 0) & (g < 0)] = 0.0
        return g


def _candidate_block(
    cost: NDArray[np.float64], n: int, candidates: NDArray[np.int64] | None, *, n_zones: int, lower: float,
    upper: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The candidate centres and the (n, m) cost block to them, checked."""
    if candidates is None:
        candidates = np.arange(n)
        if cost.shape != (n, n):
            raise ValueError(f"cost must be ({n}, {n}) without candidates, got {cost.shape}")
    candidates = np.asarray(candidates, dtype=np.int64)
    block = cost if cost.shape[1] == candidates.size else cost[:, candidates]
    if block.shape != (n, candidates.size):
        raise ValueError(f"cost block must be ({n}, {candidates.size}), got {block.shape}")
    if candidates.size < n_zones:
        raise ValueError(f"need at least {n_zones} candidate centres, got {candidates.size}")
    if not lower <= upper:
        raise ValueError(f"lower {lower} exceeds upper {upper}")
    return candidates, block


def lagrangian_bound(
    demand: NDArray[np.float64],
    cost: NDArray[np.float64],
    *,
    n_zones: int,
    lower: float,
    upper: float,
    candidates: NDArray[np.int64] | None = None,
    target: float | None = None,
    max_iter: int = 3000,
    time_limit_s: float = 30.0,
    rel_tol: float = 1e-5,
    initial_multipliers: NDArray[np.float64] | None = None,
    initial_step: float = 2.0,
    flow: FlowRelaxation | None = None,
    stop_event: SupportsIsSet | None = None,
    initial_capacity_multipliers: NDArray[np.float64] | None = None,
    lazy: bool = True,
) -> BoundResult:
    """Best Lagrangian bound found for the model of the module docstring.

    ``cost`` is (n, n), or (n, m) with ``candidates`` naming the m candidate centre units.
    ``target`` is the objective of a known feasible plan (the Polyak step aims at it);
    without it the step aims 5% above the current bound. Stops after ``max_iter``
    iterations, ``time_limit_s`` seconds, or when the step size collapses. ``initial_step`` is
    the Polyak step factor (smaller keeps a good warm start from ``initial_multipliers``).
    ``flow`` adds the capacity balance (module docstring, rows (6)-(7); ``reaches`` over the
    candidates), so the bound covers exactly the plans that meet it (``initial_capacity_multipliers``,
    one per branch, warm-start its ``mu``, e.g. from a coarser problem's bound). ``stop_event`` (optional,
    e.g. a ``multiprocessing.Event``) ends the iterations early, keeping the best bound so far.
    ``lazy=False`` solves every candidate's knapsack at every iterate (same values, several times slower
    at county scale; the reference for tests and benchmarks).
    """
    start = time.perf_counter()
    demand = np.asarray(demand, dtype=float)
    n = demand.shape[0]
    candidates, block = _candidate_block(cost, n, candidates, n_zones=n_zones, lower=lower, upper=upper)
    if initial_multipliers is None:
        # each unit's cost to its ceil(m/K)-th nearest candidate: a fair price for being served
        rank = min(candidates.size - 1, max(1, candidates.size // (2 * n_zones)))
        lam = demand * np.partition(block, rank, axis=1)[:, rank]
    else:
        lam = np.asarray(initial_multipliers, dtype=float).copy()
    scale = float(np.sum(demand * np.median(block, axis=1)))  # a plan's order of magnitude (aim without a target)
    col_upper: float | NDArray[np.float64] = upper
    mu = np.zeros(0)
    if flow is not None:
        if flow.reaches.shape != (flow.capacity.size, candidates.size) or not flow.margin > 0:
            raise ValueError(f"flow: reaches must be (B, {candidates.size}) and margin > 0, got "
                             f"{flow.reaches.shape} and {flow.margin}")
        col_upper = flow.column_upper(upper)
        mu = np.zeros(flow.capacity.size)
        if initial_capacity_multipliers is not None and np.shape(initial_capacity_multipliers) == mu.shape:
            mu = np.maximum(np.asarray(initial_capacity_multipliers, dtype=float), 0.0)
    block_t = np.ascontiguousarray(block.T)  # (m, n): each candidate's costs in one contiguous row
    zone_load = max(float(demand.sum()) / n_zones, 1e-9)  # scales the capacity subgradient (hours) to lambda's
    # mu moves by step * g_mu / zone_load / sqrt(zone_load). Dividing by zone_load twice (before,
    # and still with the flat pricing of the seeding's ranking) moved mu so slowly that it stayed
    # near 0 and the bound all but ignored capacity (Kent at 12 zones: mu at most 0.005 minutes per
    # hour; the Lagrangian 1,069,485 against 1,070,228 now)
    mu_div = float(np.sqrt(zone_load)) if flow is not None and flow.per_branch else zone_load

    best = -np.inf
    best_lam, best_mu = lam.copy(), mu.copy()
    best_centres: tuple[int, ...] = ()
    theta, stall, it, clock = initial_step, 0, 0, False
    g_prev = np.zeros(n)
    # items sorted per candidate: enough to fill a zone several times over (partial sort), else all
    rows = min(n, max(64, int(4 * n / n_zones)))
    pricing = LazyKnapsacks(demand, block_t, candidates, n_zones=n_zones, lower=lower, rows=rows, lazy=lazy, upper=np.broadcast_to(np.asarray(col_upper, dtype=np.float64), candidates.shape).copy())
    for _ in range(max_iter):
        it += 1
        # with a flow, each zone pays for the capacity that reaches its centre, cheapest first
        prices = None if flow is None else flow.prices(mu)
        pick, chosen, x = pricing.evaluate(lam, prices)  # the K smallest v_j (optimiser.knapsack)
        if not np.all(np.isfinite(chosen)):
            raise ValueError("fewer than K candidate centres can hold a zone within the load window"
                             + (" and the provider capacity that reaches them" if flow is not None else ""))
        value = float(lam.sum() + chosen.sum() - (0.0 if flow is None else mu @ flow.capacity))
        if value > best:
            best, best_lam, best_mu = value, lam.copy(), mu.copy()
            best_centres = tuple(sorted(int(candidates[j]) for j in pick))
            stall = 0
        else:
            stall += 1
            if stall >= STALL:  # halve the step and go back to the best multipliers: the bound never collapses
                theta, stall = theta / 2, 0
                lam, mu, g_prev = best_lam.copy(), best_mu.copy(), np.zeros(n)
                continue
        g = 1.0 - x.sum(axis=1)
        direction = g + 0.3 * g_prev  # deflected subgradient (Camerini, Fratta & Maffioli)
        g_prev = direction
        g_mu = np.zeros(0) if flow is None or prices is None else flow.subgradient(
            mu, prices.drawn(pick, demand @ x), zone_load)
        norm = float(direction @ direction + g_mu @ g_mu)
        if norm < 1e-12:
            break  # the relaxed solution is feasible for (1) and (6): the bound is optimal
        aim = target if target is not None and target > best else best + 0.05 * max(abs(best), scale)
        step = theta * (aim - value) / norm
        lam = lam + step * direction
        mu = np.maximum(mu + step * g_mu / mu_div, 0.0)
        if theta < THETA_MIN:
            break
        if time.perf_counter() - start > time_limit_s or (stop_event is not None and stop_event.is_set()):
            clock = it < max_iter
            break
        if target is not None and best >= target * (1 - rel_tol):
            break
    seconds = time.perf_counter() - start
    meets = " meeting the capacity balance" if flow is not None else ""
    scope = (
        f"every balanced plan{meets} (contiguous or not), centres anywhere"
        if candidates.size == n
        else f"balanced plans{meets} with centres among {candidates.size} candidate units"
    )
    method = "Lagrangian relaxation of assignment (fractional knapsack per centre), subgradient"
    if flow is not None:
        method += "; branch capacity (counted once) relaxed too, each zone drawing on each branch at most its capacity"
    if best < 0 and demand.min() >= 0 and block.min() >= 0:
        # cut short on a tiny or loose instance the multipliers can still price below 0; with
        # non-negative demand and costs every plan costs at least 0, so 0 is the valid bound
        log.info("Lagrangian bound %.6g is below 0 (stopped early): the valid bound 0 is reported", best)
        best, method = 0.0, method + " (below 0 when stopped, so clamped to 0: costs are never negative)"
    log.info("Lagrangian bound %.6g after %d iterations in %.1f s (%s); %.1f knapsacks solved per iteration "
             "of %d candidates", best, it, seconds, scope, pricing.solved / it, candidates.size)
    return BoundResult(
        value=best, iterations=it, seconds=seconds,
        method=method,
        scope=scope, multipliers=best_lam, centres=best_centres, time_limited=clock,
        capacity_multipliers=best_mu if flow is not None else None,
    )


def flow_of(problem: DistrictingProblem, *, per_branch: bool = True) -> FlowRelaxation | None:
    """The problem's capacity balance as the bound relaxes it (None without branches);
    ``per_branch=False``: the flat pricing (:class:`optimiser.capacity_prices.CapacityPrices`)."""
    br = problem.branches
    return None if br is None else FlowRelaxation(capacity=np.asarray(br.capacity, dtype=np.float64),
                                                  reaches=br.in_reach(), margin=float(br.margin),
                                                  per_branch=per_branch)


def problem_bound(problem: DistrictingProblem, *, time_limit_s: float, max_iter: int = 3000,
                  target: float | None = None, stop_event: SupportsIsSet | None = None,
                  lazy: bool = True, per_branch: bool = True) -> BoundResult:
    """:func:`lagrangian_bound` over every plan of ``problem``: its load window, its centre
    candidates when it restricts them (:func:`centre_candidates_of`) and, when it has one, its
    capacity balance (the other families only narrow the plans, so the bound holds)."""
    lo, hi = problem.zone_bounds()
    flow, candidates = flow_of(problem, per_branch=per_branch), centre_candidates_of(problem)
    if candidates is not None and flow is not None:
        flow = replace(flow, reaches=flow.reaches[:, candidates])
    bound = lagrangian_bound(problem.demand, problem.cost, n_zones=problem.n_zones, lower=float(lo.min()),
                             upper=float(hi.max()), candidates=candidates, time_limit_s=time_limit_s,
                             max_iter=max_iter, target=target, flow=flow, stop_event=stop_event, lazy=lazy)
    if candidates is None:
        return bound
    meets = " meeting the capacity balance" if flow is not None else ""
    return replace(bound, scope=f"every balanced plan{meets} (contiguous or not) with its centres at the "
                                f"{candidates.size} units where a centre may stand (the problem's centre candidates)")


def centre_candidates_of(problem: DistrictingProblem) -> NDArray[np.int64] | None:
    """The units where a zone centre may stand when the problem restricts them
    (``centre_candidates``, e.g. ``[capacity] centres = "hubs"``), else None (anywhere). Every plan
    of the problem has its centres there, so a bound over those centres still covers it."""
    mask = problem.centre_candidates
    if mask is None or bool(np.all(mask)):
        return None
    return np.flatnonzero(np.asarray(mask, dtype=bool)).astype(np.int64)
