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

With ``candidates`` restricted to a subset ``C`` the bound covers only plans whose centres
lie in ``C``; the result says so in ``scope``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)


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


def knapsack_values(
    demand: NDArray[np.float64],
    cost: NDArray[np.float64],
    multipliers: NDArray[np.float64],
    candidates: NDArray[np.int64],
    *,
    lower: float,
    upper: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``v_j(lambda)`` for each candidate ``j`` and the optimal fractional ``x`` (n, m).

    ``cost`` is the (n, m) block of minutes from every unit to the candidates. Candidates
    whose own demand exceeds ``upper`` get ``v = +inf``.
    """
    n, m = cost.shape
    coef = demand[:, None] * cost - multipliers[:, None]  # (n, m)
    own = (candidates, np.arange(m))
    pos = demand > 0
    x = np.zeros((n, m))
    values = np.zeros(m)
    # zero-demand items: free, taken iff the coefficient is negative (the centre always)
    zero = np.flatnonzero(~pos)
    if zero.size:
        take = coef[zero] < 0
        x[zero] = take
        values += np.where(take, coef[zero], 0.0).sum(axis=0)
    rows = np.flatnonzero(pos)
    d = demand[rows]
    key = coef[rows] / d[:, None]
    forced = np.zeros((n, m), dtype=bool)
    forced[own] = True
    forced_pos = forced[rows]
    key = np.where(forced_pos, -np.inf, key)  # the centre itself is always in
    order = np.argsort(key, axis=0, kind="stable")
    d_sorted = d[order]  # (p, m)
    c_sorted = np.take_along_axis(coef[rows], order, axis=0)
    k_sorted = np.take_along_axis(key, order, axis=0)
    neg_load = np.where(k_sorted < 0, d_sorted, 0.0).sum(axis=0)
    target = np.clip(neg_load, lower, upper)
    cum = np.cumsum(d_sorted, axis=0)
    before = cum - d_sorted
    frac = np.clip((target[None, :] - before) / d_sorted, 0.0, 1.0)
    values += (frac * c_sorted).sum(axis=0)
    x_rows = np.empty_like(frac)
    np.put_along_axis(x_rows, order, frac, axis=0)
    x[rows] = x_rows
    # a zero-demand centre is forced in even if its coefficient is positive
    zero_centre = ~pos[candidates]
    if zero_centre.any():
        cols = np.flatnonzero(zero_centre)
        c_own = coef[candidates[cols], cols]
        values[cols] += np.where(c_own >= 0, c_own, 0.0)
        x[candidates[cols], cols] = 1.0
    too_big = demand[candidates] > upper
    values[too_big] = np.inf
    total_pos = d.sum()
    values[total_pos < lower] = np.inf  # cannot reach the lower bound at all
    return values, x


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
) -> BoundResult:
    """Best Lagrangian bound found for the model of the module docstring.

    ``cost`` is (n, n), or (n, m) with ``candidates`` naming the m candidate centre units.
    ``target`` is the objective of a known feasible plan (the Polyak step aims at it);
    without it the step aims 5% above the current bound. Stops after ``max_iter``
    iterations, ``time_limit_s`` seconds, or when the step size collapses. ``initial_step`` is
    the Polyak step factor (smaller keeps a good warm start from ``initial_multipliers``).
    """
    start = time.perf_counter()
    demand = np.asarray(demand, dtype=float)
    n = demand.shape[0]
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
    if initial_multipliers is None:
        # each unit's cost to its ceil(m/K)-th nearest candidate: a fair price for being served
        rank = min(candidates.size - 1, max(1, candidates.size // (2 * n_zones)))
        lam = demand * np.partition(block, rank, axis=1)[:, rank]
    else:
        lam = np.asarray(initial_multipliers, dtype=float).copy()

    best = -np.inf
    best_lam = lam.copy()
    best_centres: tuple[int, ...] = ()
    theta, stall, it = initial_step, 0, 0
    g_prev = np.zeros(n)
    for _ in range(max_iter):
        it += 1
        values, x = knapsack_values(demand, block, lam, candidates, lower=lower, upper=upper)
        pick = np.argpartition(values, n_zones - 1)[:n_zones]
        chosen = values[pick]
        if not np.all(np.isfinite(chosen)):
            raise ValueError("fewer than K candidate centres can hold a zone within the load window")
        value = float(lam.sum() + chosen.sum())
        if value > best:
            best, best_lam = value, lam.copy()
            best_centres = tuple(sorted(int(candidates[j]) for j in pick))
            stall = 0
        else:
            stall += 1
            if stall >= 25:
                theta, stall = theta / 2, 0
        g = 1.0 - x[:, pick].sum(axis=1)
        direction = g + 0.3 * g_prev  # deflected subgradient (Camerini, Fratta & Maffioli)
        g_prev = direction
        norm = float(direction @ direction)
        if norm < 1e-12:
            break  # the relaxed solution is feasible for (1): the bound is optimal
        aim = target if target is not None and target > best else best + 0.05 * abs(best)
        lam = lam + theta * (aim - value) / norm * direction
        if theta < 1e-4 or time.perf_counter() - start > time_limit_s:
            break
        if target is not None and best >= target * (1 - rel_tol):
            break
    seconds = time.perf_counter() - start
    scope = (
        "every balanced plan (contiguous or not), centres anywhere"
        if candidates.size == n
        else f"balanced plans with centres among {candidates.size} candidate units"
    )
    method = "Lagrangian relaxation of assignment (fractional knapsack per centre), subgradient"
    if best < 0 and demand.min() >= 0 and block.min() >= 0:
        # cut short on a tiny or loose instance the multipliers can still price below 0; with
        # non-negative demand and costs every plan costs at least 0, so 0 is the valid bound
        log.info("Lagrangian bound %.6g is below 0 (stopped early): the valid bound 0 is reported", best)
        best, method = 0.0, method + " (below 0 when stopped, so clamped to 0: costs are never negative)"
    log.info("Lagrangian bound %.6g after %d iterations in %.1f s (%s)", best, it, seconds, scope)
    return BoundResult(
        value=best, iterations=it, seconds=seconds,
        method=method,
        scope=scope, multipliers=best_lam, centres=best_centres,
    )
