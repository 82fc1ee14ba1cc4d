"""The per-centre knapsacks of the Lagrangian bound (:mod:`optimiser.bounds`), full and lazy.

``v_j(lambda, mu) = min { sum_i a_ij x_i : x in X_j }`` with item costs ``a_ij = d_i (c_ij + m mu*_j)
- lambda_i`` and the feasible set ``X_j = { x : x_j = 1, 0 <= x_i <= 1, L <= sum_i d_i x_i <= U_j }``
(module docstring of :mod:`optimiser.bounds`). :func:`knapsack_values` solves every candidate;
:class:`LazyKnapsacks` gives the same ``K`` smallest values while solving only the candidates
that could be among them.

Why the lazy evaluation is exact
--------------------------------
Relaxing the load window of ``v_j`` with one multiplier ``rho`` (``rho >= 0`` prices the lower
end, ``rho < 0`` the upper) gives, for *every* ``rho`` and every multiplier (weak duality),

  ``phi_j(rho) = sum_{i != j} min(0, a_ij - rho d_i) + (a_ij - rho d_j)|_{i=j} + (rho L if rho >= 0
  else rho U_j)  <=  v_j``

(the centre ``j`` is forced in whatever its sign; zero-demand items enter as ``min(0, a_ij)``).
At the ``rho_j`` of an exact solve (the ratio ``a_ij / d_i`` of the last item filled when the
window binds, else 0) equality holds, and ``rho_j`` moves little between iterates. So each
iteration computes ``e_j = phi_j(rho_j)`` at the *current* multipliers, with each candidate's
last ``rho_j``, less ``1e-9`` of the terms' size against rounding: ``e_j <= v_j`` always, whatever
``rho_j`` is. It is one elementwise pass over a candidate's costs, no sort.

Most candidates are far above the ``K`` smallest; for them even that pass is spared by carrying
the last estimate forward. ``X_j`` does not depend on the multipliers, and moving from
``(lambda, mu)`` to ``(lambda', mu')`` changes the objective of any ``x`` in ``X_j`` by
``sum_i (lambda_i - lambda'_i) x_i + m (mu'*_j - mu*_j) sum_i d_i x_i >= -D_j - m U_j max(0, mu*_j -
mu'*_j)``, with ``D_j = max { sum_i delta_i x_i : 0 <= x_i <= 1, sum_i d_i x_i <= U_j }``, ``delta_i =
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
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``v_j(lambda)`` for each candidate ``j`` and the optimal fractional ``x`` (n, m).

    ``cost`` is the (n, m) block of minutes from every unit to the candidates. Candidates
    whose own demand exceeds ``upper`` (a number, or one per candidate) get ``v = +inf``, as do
    candidates whose ``upper`` is below ``lower``. ``rows`` (optional) sorts only the
    ``rows`` cheapest items of each candidate when they suffice (same values, less work).
    """
    values, _, x_of = _knapsack(demand, np.ascontiguousarray(np.asarray(cost, dtype=np.float64).T), multipliers,
                                candidates, lower=lower, upper=upper, rows=rows)
    return values, x_of(np.arange(np.shape(cost)[1]))


def _knapsack(
    demand: NDArray[np.float64], cost_t: NDArray[np.float64], multipliers: NDArray[np.float64],
    candidates: NDArray[np.int64], *, lower: float, upper: float | NDArray[np.float64], rows: int | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], Callable[[NDArray[np.int64]], NDArray[np.float64]]]:
    """The values, the critical ratios ``rho_j`` (the optimal multiplier of the load window:
    the key of the last item filled when the window binds, else 0) and a function giving ``x``
    for chosen candidates only (the subgradient needs K). ``cost_t`` is the (m, n) transposed
    cost block (one row per candidate)."""
    m, n = cost_t.shape
    coef = cost_t * demand[None, :] - multipliers[None, :]  # (m, n)
    pos = demand > 0
    values = np.zeros(m)
    zero = np.flatnonzero(~pos)
    idx = np.flatnonzero(pos)
    if zero.size:  # zero-demand items: free, taken iff the coefficient is negative
        values += np.minimum(coef[:, zero], 0.0).sum(axis=1)
        coef_pos = coef[:, idx]
    else:
        coef_pos = coef
    d = demand[idx]
    key = coef_pos / d[None, :]
    local = np.full(n, -1)
    local[idx] = np.arange(idx.size)
    own_pos = pos[candidates]
    key[np.flatnonzero(own_pos), local[candidates[own_pos]]] = -np.inf  # the centre itself is always in
    negative = np.where(key < 0, d[None, :], 0.0).sum(axis=1)
    target = np.clip(negative, lower, np.maximum(upper, lower))
    order = _fill_order(key, d, target, rows)
    valid = order >= 0
    safe = np.where(valid, order, 0)
    d_sorted = np.where(valid, d[safe], 0.0)
    before = np.cumsum(d_sorted, axis=1) - d_sorted
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(valid, np.clip((target[:, None] - before) / d_sorted, 0.0, 1.0), 0.0)
    values += (frac * np.take_along_axis(coef_pos, safe, axis=1)).sum(axis=1)
    ratio = np.zeros(m)
    if idx.size:
        last = np.maximum((frac > 0).sum(axis=1) - 1, 0)
        crit = key[np.arange(m), safe[np.arange(m), last]]
        ratio = np.where((target != negative) & np.isfinite(crit), crit, 0.0)
    zero_centre = np.flatnonzero(~own_pos)  # a zero-demand centre is forced in even if its coefficient is positive
    if zero_centre.size:
        values[zero_centre] += np.maximum(coef[zero_centre, candidates[zero_centre]], 0.0)
    values[(demand[candidates] > upper) | (np.asarray(upper) < lower)] = np.inf
    if d.sum() < lower:
        values[:] = np.inf  # cannot reach the lower bound at all

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

    return values, ratio, x_of


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
    upper : (m,) ``U_j``; margin : ``m`` of the capacity balance (0 without one).
    """

    def __init__(self, demand: NDArray[np.float64], cost_t: NDArray[np.float64], candidates: NDArray[np.int64],
                 *, n_zones: int, lower: float, upper: NDArray[np.float64], margin: float,
                 rows: int | None, lazy: bool = True) -> None:
        self.demand, self.cost_t, self.candidates = demand, cost_t, candidates
        self.k, self.lower, self.upper, self.margin, self.rows = n_zones, lower, upper, margin, rows
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
        self.lam, self.price = np.zeros(0), np.zeros(m)  # those multipliers
        self.kth = np.inf  # and the K-th smallest v_j there

    def _solve(self, sub: NDArray[np.int64] | None, lam: NDArray[np.float64], price: NDArray[np.float64]
               ) -> Callable[[NDArray[np.int64]], NDArray[np.float64]]:
        """Solves the candidates ``sub`` (None: all) exactly at ``lam`` and zone prices ``price``:
        their values and ratios are kept; returns the function giving ``x`` (positions in ``sub``)."""
        rows = slice(None) if sub is None else sub
        cost = self.cost_t[rows]
        if self.margin > 0:
            cost = cost + self.margin * price[rows][:, None]
        values, ratio, x_of = _knapsack(self.demand, cost, lam, self.candidates[rows], lower=self.lower,
                                        upper=self.upper[rows], rows=self.rows)
        self.values[rows], self.ratio[rows] = values, ratio
        self.solved += values.size
        return x_of

    def estimates(self, lam: NDArray[np.float64], price: NDArray[np.float64],
                  sub: NDArray[np.int64] | None = None) -> NDArray[np.float64]:
        """``phi_j(rho_j)`` less a rounding margin for the candidates ``sub`` (None: all): lower
        estimates of their ``v_j`` at ``lam`` and ``price`` (module docstring), from each one's last
        ``rho_j``. Written per hour of demand, ``min(0, a_ij - rho_j d_i) = d_i min(0, c_ij + m mu*_j -
        rho_j - lambda_i / d_i)`` (zero-demand items apart): three passes over the costs, one product."""
        d, c = self.demand, self.candidates
        rows = slice(None) if sub is None else sub
        pos = d > 0
        per_hour = np.where(pos, lam / np.where(pos, d, 1.0), 0.0)  # lambda_i / d_i (0: weight 0 below)
        shift = (self.margin * price - self.ratio)[rows]  # m mu*_j - rho_j
        ratio, own_c = self.ratio[rows], c[rows]
        gap = np.add(self.cost_t, shift[:, None], out=self._buffer) if sub is None else self.cost_t[sub] + shift[:, None]
        gap -= per_hour[None, :]
        np.minimum(gap, 0.0, out=gap)
        # einsum, not BLAS: its threads would wait for a busy core; then the free items
        phi = np.einsum("ij,j->i", gap, d) + float(np.minimum(-lam[~pos], 0.0).sum())
        own = self.cost_t[rows][np.arange(own_c.size), own_c] + shift - per_hour[own_c]  # the centre is in
        phi += np.where(pos[own_c], d[own_c] * np.maximum(own, 0.0), np.maximum(-lam[own_c], 0.0))
        phi += np.where(ratio >= 0, ratio * self.lower, ratio * self.upper[rows])
        margin = 1e-9 * (np.abs(lam).sum() + self.rounding + float(d.sum()) * np.abs(shift) + 1.0)
        return np.where(self.never[rows], np.inf, phi - margin)

    def carried(self, lam: NDArray[np.float64], price: NDArray[np.float64]) -> NDArray[np.float64]:
        """(m,) the last estimates less how far each ``v_j`` can have fallen since (module docstring)."""
        fall = (increase_cap(np.maximum(lam - self.lam, 0.0), self.demand, self.upper)
                + self.margin * np.maximum(self.upper, 0.0) * np.maximum(self.price - price, 0.0))
        return self.estimate - fall * (1 + 1e-9) - 1e-9 * (np.abs(lam).sum() + self.rounding)

    def evaluate(self, lam: NDArray[np.float64], price: NDArray[np.float64]
                 ) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """At ``lam`` and zone prices ``price`` (``m mu*_j`` per hour is ``margin * price``; 0 where no
        branch reaches ``j``): the ``K`` candidates with the smallest ``v_j`` (positions), their
        values and ``x`` (n, K)."""
        m = self.candidates.size
        if not self.lazy or not self.started:
            x_all = self._solve(None, lam, price)
            self.never, self.started = ~np.isfinite(self.values), True
            pick = np.argpartition(self.values, self.k - 1)[:self.k]
            self.remember(lam, price, self.values.copy())
            return pick, self.values[pick], x_all(pick)
        estimate = self.carried(lam, price)
        refined, fresh = np.zeros(m, dtype=bool), np.zeros(m, dtype=bool)
        near = np.flatnonzero(estimate < self.kth)  # the others stay above the last K-th value
        estimate[near] = np.maximum(estimate[near], self.estimates(lam, price, near))
        refined[near] = True
        batches, todo = [], self._undecided(estimate, fresh)
        while todo.size:
            raw = todo[~refined[todo]]
            if raw.size:  # a carried estimate: price it first (cheap), then choose again
                estimate[raw] = np.maximum(estimate[raw], self.estimates(lam, price, raw))
                refined[raw] = True
            else:  # solve those that could be among the K smallest
                batches.append((todo, self._solve(todo, lam, price)))
                fresh[todo] = True
            todo = self._undecided(estimate, fresh)
        pick = np.argpartition(np.where(fresh, self.values, np.inf), self.k - 1)[:self.k]
        self.remember(lam, price, np.where(fresh, self.values, estimate))
        x = np.zeros((self.demand.size, self.k))
        position = np.full(m, -1)
        for sub, x_of in batches:  # each candidate was solved in one batch
            position[sub] = np.arange(sub.size)
            cols = np.flatnonzero(np.isin(pick, sub))
            if cols.size:
                x[:, cols] = x_of(position[pick[cols]])
        return pick, self.values[pick], x

    def remember(self, lam: NDArray[np.float64], price: NDArray[np.float64], estimate: NDArray[np.float64]) -> None:
        """Keeps the lower estimates at these multipliers (exact where solved) and the K-th value."""
        self.lam, self.price, self.estimate = lam.copy(), price.copy(), estimate
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
