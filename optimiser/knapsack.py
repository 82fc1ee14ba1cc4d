"""The per-centre knapsacks of the Lagrangian bound (:mod:`optimiser.bounds`), full and lazy.

``v_j(lambda, mu) = min { sum_i a_ij x_i + pen_j(s) : x in X_j, s = sum_i d_i x_i }`` with item
costs ``a_ij = d_i c_ij - lambda_i``, the zone's capacity cost ``pen_j`` (:class:`optimiser.capacity_prices.CapacityPrices`:
convex, piecewise linear, 0 without a capacity balance) and the feasible set ``X_j = { x : x_j =
1, 0 <= x_i <= 1, L <= sum_i d_i x_i <= U_j }`` (module docstring of :mod:`optimiser.bounds`).
It is solved exactly by filling items in ratio order ``a_ij / d_i`` while the ratio plus the price
of the next hour of capacity is negative, then clipping the load to the window (both rise with
the load). :func:`knapsack_values` solves every candidate; :class:`LazyKnapsacks` gives the same
``K`` smallest values while solving only the candidates that could be among them.

Why the lazy evaluation is exact
--------------------------------
Relaxing ``s = sum_i d_i x_i`` with one multiplier ``rho`` gives, for *every* ``rho`` and every
multiplier (weak duality),

  ``phi_j(rho) = sum_{i != j} min(0, a_ij - rho d_i) + (a_ij - rho d_j)|_{i=j} + G_j(rho) <= v_j``,
  ``G_j(rho) = min_{L <= s <= U_j} rho s + pen_j(s)`` (``rho L`` or ``rho U_j`` without capacity)

(the centre ``j`` is forced in whatever its sign; zero-demand items enter as ``min(0, a_ij)``;
``G_j`` is a minimum over the window's ends and the segments' first hours). The knapsack is an
LP, so equality holds at its optimal ``rho_j`` (a key of the last or next item, or minus the
price just below or above the load: the solve keeps the best of the four), and ``rho_j`` moves
little between iterates. So each
iteration computes ``e_j = phi_j(rho_j)`` at the *current* multipliers, with each candidate's
last ``rho_j``, less ``1e-9`` of the terms' size against rounding: ``e_j <= v_j`` always, whatever
``rho_j`` is. It is one elementwise pass over a candidate's costs, no sort.

Most candidates are far above the ``K`` smallest; for them even that pass is spared by carrying
the last estimate forward. ``X_j`` does not depend on the multipliers, and moving from
``(lambda, mu)`` to ``(lambda', mu')`` changes the objective of any ``x`` in ``X_j`` by
``sum_i (lambda_i - lambda'_i) x_i + pen'_j(s) - pen_j(s) >= -D_j - m U_j max_{b in R(j)} (mu_b -
mu'_b)^+`` (the flow that is cheapest at ``mu'`` costs at most that much more at ``mu``), with ``D_j = max { sum_i delta_i x_i : 0 <= x_i <= 1, sum_i d_i x_i <= U_j }``, ``delta_i =
max(0, lambda'_i - lambda_i)`` (a fractional knapsack: zero-demand items, the forced centre
included, in full; the others by ``delta_i / d_i`` until ``U_j``; it uses ``d_i >= 0``). So
``v_j(lambda', mu') >= v_j(lambda, mu) - D_j - ... >= e_j - D_j - ...``: the carried estimate is a
lower estimate too. Only candidates whose carried estimate falls below the last ``K``-th value
are priced again by ``phi_j``, and any other that later turns out to matter is priced before
it is solved.

Then the candidates with the ``K`` smallest estimates are solved exactly, and, with ``t`` the
``K``-th smallest exact value so far, every candidate whose estimate is below ``t``, until none
is. The ``K`` smallest exact values ``S`` are the ``K`` smallest of all: any other ``j`` has
``v_j >= e_j >= t``, so ``min_{|S'|=K} sum_{S'} v`` (the term of ``LR``) is ``sum_S v`` — the
same value, the same ``x`` and the same subgradient as solving every candidate (up to the order
of ties), hence the same iterates. Which candidates are solved depends only on the multipliers,
never on the clock.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from optimiser.capacity_prices import (
    CapacityPrices,
    Segments,
    count_at_or_below,
    crossing,
    penalty,
    window,
)


def _fill_order(key: NDArray[np.float64], d: NDArray[np.float64], need: NDArray[np.float64],
                rows: int | None) -> NDArray[np.int64]:
    """Per candidate (a row of ``key``, (m, p)), the item order by ascending ``key``: only the
    ``rows`` smallest when their demand covers ``need`` (a partial sort), the full order for
    the candidates where it does not (padded with -1). Rows are contiguous: sorting along
    them is several times faster than along columns."""
    p = key.shape[1]
    if rows is None or rows >= p:
        return np.argsort(key, axis=1, kind="stable")
    part = np.argpartition(key, rows - 1, axis=1)[:, :rows]
    order = np.take_along_axis(part, np.argsort(np.take_along_axis(key, part, axis=1), axis=1, kind="stable"), axis=1)
    short = np.flatnonzero(d[order].sum(axis=1) < need * (1 + 1e-12))
    if short.size:  # a candidate whose cheapest items do not fill it: sort it all (items beyond are never used)
        full = np.argsort(key[short], axis=1, kind="stable")
        order_full = np.full((key.shape[0], p), -1, dtype=np.int64)
        order_full[:, :rows] = order
        order_full[short] = full
        return order_full
    return order


def knapsack_values(
    demand: NDArray[np.float64],
    cost: NDArray[np.float64],
    multipliers: NDArray[np.float64],
    candidates: NDArray[np.int64],
    *,
    lower: float,
    upper: float | NDArray[np.float64],
    rows: int | None = None,
    prices: CapacityPrices | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``v_j(lambda)`` for each candidate ``j`` and the optimal fractional ``x`` (n, m).

    ``cost`` is the (n, m) block of minutes from every unit to the candidates. Candidates
    whose own demand exceeds ``upper`` (a number, or one per candidate) get ``v = +inf``, as do
    candidates whose ``upper`` is below ``lower``. ``rows`` (optional) sorts only the
    ``rows`` cheapest items of each candidate when they suffice (same values, less work).
    ``prices``: each zone also pays for its capacity (:class:`CapacityPrices`).
    """
    m = np.shape(cost)[1]
    cost_t, segments = _priced(np.asarray(cost, dtype=np.float64).T, prices, slice(None))
    values, _, x_of, _ = _knapsack(demand, np.ascontiguousarray(cost_t), multipliers, candidates, lower=lower,
                                   upper=np.broadcast_to(np.asarray(upper, dtype=np.float64), (m,)), rows=rows,
                                   segments=segments)
    return values, x_of(np.arange(m))


def _priced(cost_t: NDArray[np.float64], prices: CapacityPrices | None, rows: NDArray[np.int64] | slice
            ) -> tuple[NDArray[np.float64], Segments | None]:
    """The knapsack's (r, n) costs and capacity segments for ``rows`` of the candidates: a flat
    price (``per_branch=False``) raises every cost by it; per-branch prices come as segments."""
    if prices is None:
        return cost_t, None
    if not prices.per_branch:
        return cost_t + prices.flat()[rows][:, None], None
    return cost_t, prices.segments(rows)


def knapsack_duals(demand: NDArray[np.float64], cost_t: NDArray[np.float64], multipliers: NDArray[np.float64],
                   candidates: NDArray[np.int64], *, lower: float, upper: NDArray[np.float64],
                   prices: CapacityPrices | None = None
                   ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per candidate (``cost_t``: (m, n), one row each): ``v_j``, the dual value ``phi_j(rho_j)``
    (never above ``v_j``) and ``rho_j`` (module docstring), for reduced costs."""
    cost_t, segments = _priced(cost_t, prices, slice(None))
    values, rho, _, duals = _knapsack(demand, cost_t, multipliers, candidates, lower=lower, upper=upper, rows=None,
                                         segments=segments)
    return values, duals, rho


def _knapsack(
    demand: NDArray[np.float64], cost_t: NDArray[np.float64], multipliers: NDArray[np.float64],
    candidates: NDArray[np.int64], *, lower: float, upper: NDArray[np.float64], rows: int | None,
    segments: Segments | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], Callable[[NDArray[np.int64]], NDArray[np.float64]],
           NDArray[np.float64]]:
    """The values, the multipliers ``rho_j`` of the load window (the knapsack's Lagrangian dual
    is exact there, module docstring), a function giving ``x`` for chosen candidates only (the
    subgradient needs K), and the dual's value ``phi_j(rho_j)`` (equal to the value up
    to rounding; ``+inf`` where the value is). ``cost_t`` is the (m, n) transposed cost block (one row
    per candidate); ``segments``: each row's capacity prices (:meth:`CapacityPrices.segments`)."""
    m, n = cost_t.shape
    coef = cost_t * demand[None, :] - multipliers[None, :]  # (m, n)
    pos = demand > 0
    values = np.zeros(m)
    zero = np.flatnonzero(~pos)
    idx = np.flatnonzero(pos)
    free = np.zeros(m)
    if zero.size:  # zero-demand items: free, taken iff the coefficient is negative
        free = np.minimum(coef[:, zero], 0.0).sum(axis=1)
        values += free
        coef_pos = coef[:, idx]
    else:
        coef_pos = coef
    d = demand[idx]
    key = coef_pos / d[None, :]
    local = np.full(n, -1)
    local[idx] = np.arange(idx.size)
    own_pos = pos[candidates]
    own_rows = np.flatnonzero(own_pos)
    own_cols = local[candidates[own_pos]]
    own_coef = coef_pos[own_rows, own_cols]
    key[own_rows, own_cols] = -np.inf  # the centre itself is always in
    negative = np.where(key < 0, d[None, :], 0.0).sum(axis=1)
    upper_row = np.maximum(upper, lower)
    target = np.clip(negative, lower, upper_row)
    order = _fill_order(key, d, target, rows)
    valid = order >= 0
    safe = np.where(valid, order, 0)
    d_sorted = np.where(valid, d[safe], 0.0)
    before = np.cumsum(d_sorted, axis=1) - d_sorted
    key_sorted = np.take_along_axis(key, safe, axis=1)
    if segments is None:
        load = target
    else:  # the capacity's price rises with the load: stop where the marginal cost turns >= 0
        load = np.minimum(np.clip(crossing(key_sorted, d_sorted, before, valid, segments), lower, upper_row), target)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(valid, np.clip((load[:, None] - before) / d_sorted, 0.0, 1.0), 0.0)
    values += (frac * np.take_along_axis(coef_pos, safe, axis=1)).sum(axis=1)
    if segments is not None:
        values += penalty(segments, load)
    zero_centre = np.flatnonzero(~own_pos)  # a zero-demand centre is forced in even if its coefficient is positive
    if zero_centre.size:
        free[zero_centre] += np.maximum(coef[zero_centre, candidates[zero_centre]], 0.0)
        values[zero_centre] += np.maximum(coef[zero_centre, candidates[zero_centre]], 0.0)
    never = (demand[candidates] > upper) | (np.asarray(upper) < lower)
    values[never] = np.inf
    if d.sum() < lower:
        values[:] = np.inf  # cannot reach the lower bound at all
    # rho_j: the dual is exact at a key of the last or next item or at minus the price of the
    # capacity just below or above the load; the best of these four (the dual's maximum)
    ratio = np.zeros(m)
    if not idx.size:  # no item with demand: the dual at rho = 0
        best = free + window(segments, ratio, lower, upper_row)
    else:
        r_idx = np.arange(m)
        last_i = np.maximum((frac > 0).sum(axis=1) - 1, 0)
        next_i = np.minimum((frac >= 1.0).sum(axis=1), frac.shape[1] - 1)
        options = [key_sorted[r_idx, last_i], np.where(valid[r_idx, next_i], key_sorted[r_idx, next_i], np.inf)]
        if segments is None:
            options.append(np.zeros(m))
        else:
            price, length, _, seg_first, _ = segments
            seg_end = seg_first + length
            at = count_at_or_below(seg_end, np.stack([load - 1e-9 * (1.0 + load), load], axis=1))
            at = np.minimum(at, price.shape[1] - 1)
            options += [-price[r_idx, at[:, 0]], -price[r_idx, at[:, 1]]]
        rhos = np.stack(options, axis=1)
        rhos = np.where(np.isfinite(rhos), rhos, 0.0)
        phi = _dual(coef_pos, d, own_rows, own_cols, own_coef, rhos, lower, upper_row, segments) + free[:, None]
        pick = np.argmax(phi, axis=1)
        best, ratio = phi[r_idx, pick], rhos[r_idx, pick]

    def x_of(cols: NDArray[np.int64]) -> NDArray[np.float64]:
        x = np.zeros((n, cols.size))
        if zero.size:
            x[zero] = (coef[np.ix_(cols, zero)] < 0).T
        sub_valid = valid[cols]
        rows_i = idx[safe[cols][sub_valid]]
        cols_i = np.broadcast_to(np.arange(cols.size)[:, None], sub_valid.shape)[sub_valid]
        np.add.at(x, (rows_i, cols_i), frac[cols][sub_valid])
        zc = np.flatnonzero(~pos[candidates[cols]])
        x[candidates[cols[zc]], zc] = 1.0
        return x

    return values, ratio, x_of, np.where(np.isfinite(values), best, np.inf)


def _dual(coef_pos: NDArray[np.float64], d: NDArray[np.float64], own_rows: NDArray[np.int64],
          own_cols: NDArray[np.int64], own_coef: NDArray[np.float64], rho: NDArray[np.float64], lower: float,
          upper: NDArray[np.float64], segments: Segments | None) -> NDArray[np.float64]:
    """``phi_j(rho)`` (r, q) for ``rho`` (r, q) over the items with demand (module docstring; the
    zero-demand items are the caller's): every item at ``min(0, a_ij - rho d_i)``, the centre in
    whatever its sign."""
    shifted = coef_pos[:, None, :] - rho[:, :, None] * d[None, None, :]
    phi = np.minimum(shifted, 0.0).sum(axis=2)
    own = own_coef[:, None] - rho[own_rows] * d[own_cols][:, None]
    phi[own_rows] += np.maximum(own, 0.0)
    return phi + window(segments, rho, lower, upper)


def increase_cap(delta: NDArray[np.float64], demand: NDArray[np.float64],
                 upper: NDArray[np.float64]) -> NDArray[np.float64]:
    """(m,) ``D_j = max { sum_i delta_i x_i : 0 <= x <= 1, sum_i d_i x_i <= U_j }`` for ``delta >= 0``
    (module docstring): zero-demand items in full, the others by ``delta_i / d_i`` until ``U_j``."""
    pos = demand > 0
    free = float(delta[~pos].sum())
    take = np.flatnonzero(pos & (delta > 0))
    if take.size == 0:
        return np.full(upper.shape, free)
    order = take[np.argsort(-delta[take] / demand[take], kind="stable")]
    loads = np.concatenate(([0.0], np.cumsum(demand[order])))
    gains = np.concatenate(([0.0], np.cumsum(delta[order])))
    return free + np.interp(np.maximum(upper, 0.0), loads, gains)


class LazyKnapsacks:
    """The ``K`` smallest ``v_j`` at each iterate, solving only the candidates that could be
    among them (module docstring). One instance follows one sequence of multipliers.

    cost_t : (m, n) minutes from every unit to each candidate (one row per candidate);
    upper : (m,) ``U_j``.
    """

    def __init__(self, demand: NDArray[np.float64], cost_t: NDArray[np.float64], candidates: NDArray[np.int64],
                 *, n_zones: int, lower: float, upper: NDArray[np.float64], rows: int | None,
                 lazy: bool = True) -> None:
        self.demand, self.cost_t, self.candidates = demand, cost_t, candidates
        self.k, self.lower, self.upper, self.rows = n_zones, lower, upper, rows
        # False: every candidate solved at every iterate (the reference; also for negative demand, see above)
        self.lazy = lazy and bool(demand.min(initial=0.0) >= 0)
        m = candidates.size
        self.values = np.full(m, np.inf)  # exact at the iterate where each was last solved
        self.ratio = np.zeros(m)  # rho_j from the last exact solve of each candidate
        self.never = np.zeros(m, dtype=bool)  # v_j = +inf at every multiplier (set by the first solve)
        self.started = False
        self.rounding = float(demand.sum()) * float(np.abs(cost_t).max(initial=0.0))  # sizes the rounding margin
        self.solved = 0  # knapsacks solved so far (for the log)
        self._buffer = np.empty_like(cost_t) if self.lazy else np.empty((0, 0))  # the estimates' work array
        self.estimate = np.full(m, -np.inf)  # lower estimates of every v_j at the last multipliers
        self.lam: NDArray[np.float64] = np.zeros(0)  # those multipliers
        self.prices: CapacityPrices | None = None
        self.kth = np.inf  # and the K-th smallest v_j there

    def _solve(self, sub: NDArray[np.int64] | None, lam: NDArray[np.float64], prices: CapacityPrices | None
               ) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
        """Solves the candidates ``sub`` (None: all) exactly at ``lam`` and ``prices``: their values
        and ratios are kept; returns the function giving ``x`` (positions in ``sub``)."""
        rows = slice(None) if sub is None else sub
        cost, segments = _priced(self.cost_t[rows], prices, rows)
        values, ratio, x_of, _ = _knapsack(self.demand, cost, lam, self.candidates[rows], lower=self.lower,
                                           upper=self.upper[rows], rows=self.rows, segments=segments)
        self.values[rows], self.ratio[rows] = values, ratio
        self.solved += values.size
        return x_of

    def estimates(self, lam: NDArray[np.float64], prices: CapacityPrices | None,
                  sub: NDArray[np.int64] | None = None) -> NDArray[np.float64]:
        """``phi_j(rho_j)`` less a rounding margin for the candidates ``sub`` (None: all): lower
        estimates of their ``v_j`` at ``lam`` and ``prices`` (module docstring), from each one's last
        ``rho_j``. Written per hour of demand, ``min(0, a_ij - rho_j d_i) = d_i min(0, c_ij - rho_j -
        lambda_i / d_i)`` (zero-demand items apart): three passes over the costs, one product; then
        the load window's term ``G_j(rho_j)`` at the capacity's prices."""
        d, c = self.demand, self.candidates
        rows = slice(None) if sub is None else sub
        pos = d > 0
        per_hour = np.where(pos, lam / np.where(pos, d, 1.0), 0.0)  # lambda_i / d_i (0: weight 0 below)
        ratio, own_c = self.ratio[rows], c[rows]
        flat = prices is not None and not prices.per_branch
        # with a flat price, rho_j includes it
        shift = (prices.flat()[rows] if prices is not None and flat else 0.0) - ratio
        gap = np.add(self.cost_t, shift[:, None], out=self._buffer) if sub is None else self.cost_t[sub] + shift[:, None]
        gap -= per_hour[None, :]
        np.minimum(gap, 0.0, out=gap)
        # einsum, not BLAS: its threads would wait for a busy core; then the free items
        phi = np.einsum("ij,j->i", gap, d) + float(np.minimum(-lam[~pos], 0.0).sum())
        own = self.cost_t[rows][np.arange(own_c.size), own_c] + shift - per_hour[own_c]  # the centre is in
        phi += np.where(pos[own_c], d[own_c] * np.maximum(own, 0.0), np.maximum(-lam[own_c], 0.0))
        segments = None if prices is None or flat else prices.segments(rows)
        phi += window(segments, ratio, self.lower, self.upper[rows])
        top = 0.0 if segments is None else float(np.abs(segments[0]).max(initial=0.0))
        margin = 1e-9 * (np.abs(lam).sum() + self.rounding + float(d.sum()) * (np.abs(shift) + top) + 1.0)
        return np.where(self.never[rows], np.inf, phi - margin)

    def carried(self, lam: NDArray[np.float64], prices: CapacityPrices | None) -> NDArray[np.float64]:
        """(m,) the last estimates less how far each ``v_j`` can have fallen since (module docstring)."""
        fall = increase_cap(np.maximum(lam - self.lam, 0.0), self.demand, self.upper)
        if prices is not None and self.prices is not None:
            fall = fall + np.maximum(self.upper, 0.0) * prices.fall(self.prices)
        return self.estimate - fall * (1 + 1e-9) - 1e-9 * (np.abs(lam).sum() + self.rounding)

    def evaluate(self, lam: NDArray[np.float64], prices: CapacityPrices | None
                 ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """At ``lam`` and the capacity's ``prices`` (None without a capacity balance): the ``K``
        candidates with the smallest ``v_j`` (positions), their values and ``x`` (n, K)."""
        m = self.candidates.size
        if not self.lazy or not self.started:
            x_all = self._solve(None, lam, prices)
            self.never, self.started = ~np.isfinite(self.values), True
            pick = np.argpartition(self.values, self.k - 1)[:self.k]
            self.remember(lam, prices, self.values.copy())
            return pick, self.values[pick], x_all(pick)
        estimate = self.carried(lam, prices)
        refined, fresh = np.zeros(m, dtype=bool), np.zeros(m, dtype=bool)
        near = np.flatnonzero(estimate < self.kth)  # the others stay above the last K-th value
        estimate[near] = np.maximum(estimate[near], self.estimates(lam, prices, near))
        refined[near] = True
        batches, todo = [], self._undecided(estimate, fresh)
        while todo.size:
            raw = todo[~refined[todo]]
            if raw.size:  # a carried estimate: price it first (cheap), then choose again
                estimate[raw] = np.maximum(estimate[raw], self.estimates(lam, prices, raw))
                refined[raw] = True
            else:  # solve those that could be among the K smallest
                batches.append((todo, self._solve(todo, lam, prices)))
                fresh[todo] = True
            todo = self._undecided(estimate, fresh)
        pick = np.argpartition(np.where(fresh, self.values, np.inf), self.k - 1)[:self.k]
        self.remember(lam, prices, np.where(fresh, self.values, estimate))
        x = np.zeros((self.demand.size, self.k))
        position = np.full(m, -1)
        for sub, x_of in batches:  # each candidate was solved in one batch
            position[sub] = np.arange(sub.size)
            cols = np.flatnonzero(np.isin(pick, sub))
            if cols.size:
                x[:, cols] = x_of(position[pick[cols]])
        return pick, self.values[pick], x

    def remember(self, lam: NDArray[np.float64], prices: CapacityPrices | None,
                 estimate: NDArray[np.float64]) -> None:
        """Keeps the lower estimates at these multipliers (exact where solved) and the K-th value."""
        self.lam, self.prices, self.estimate = lam.copy(), prices, estimate
        self.kth = float(np.partition(estimate, self.k - 1)[self.k - 1])

    def _undecided(self, estimate: NDArray[np.float64], fresh: NDArray[np.bool_]) -> NDArray[np.int64]:
        """The candidates not yet solved that could still be among the K smallest: while fewer than
        K are solved, the smallest estimates; then every estimate below the K-th exact value."""
        short = self.k - int(fresh.sum())
        if short > 0:  # among the unsolved only (ties at +inf must not pick a solved one again)
            unsolved = np.flatnonzero(~fresh)
            return unsolved[np.argpartition(estimate[unsolved], short - 1)[:short]]
        kth = np.partition(np.where(fresh, self.values, np.inf), self.k - 1)[self.k - 1]
        return np.flatnonzero(~fresh & (estimate < kth))
