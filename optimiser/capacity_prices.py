"""What a zone pays for the capacity that reaches its centre, as the certified bound prices it.

The capacity balance's rows (6)-(8) of :mod:`optimiser.bounds`, with each branch's capacity
(row (6)) relaxed at a price ``mu_b``, leave each zone a convex, piecewise-linear cost of its load
(:class:`CapacityPrices`); the helpers here evaluate it row by row for the knapsacks of
:mod:`optimiser.knapsack` (one row per candidate centre).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

#: per row: price per hour of load, hours of load, branch, first hour, ``pen`` at the first hour
Segments = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.float64],
                 NDArray[np.float64]]


@dataclass(frozen=True)
class CapacityPrices:
    """The capacity balance as each zone pays for it at branch prices ``mu`` (rows (6)-(7) of
    :mod:`optimiser.bounds`, (6) relaxed). A zone centred at candidate ``j`` with load ``s`` draws
    ``margin * s`` hours from the branches that reach ``j``, *each at most its capacity*, cheapest
    first: it pays ``pen_j(s)``, convex and piecewise linear in ``s``: ``margin * mu_b`` per hour of
    load over the next ``cap_b / margin`` hours of load (a segment per branch, in price order).

    mu : (B,) >= 0; capacity : (B,); reaches : (B, m) whether branch ``b`` reaches candidate ``j``.
    per_branch=False is the weaker pricing the bound used before (and the seeding's ranking still
    uses: it is several times cheaper): every hour of a zone's load at the cheapest branch that
    reaches it, however small (:meth:`flat`; no segments).
    """

    mu: NDArray[np.float64]
    capacity: NDArray[np.float64]
    reaches: NDArray[np.bool_]
    margin: float
    per_branch: bool = True

    @cached_property
    def _cheapest(self) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        priced = np.where(self.reaches, self.mu[:, None], np.inf)
        arg = np.argmin(priced, axis=0)
        low = priced[arg, np.arange(priced.shape[1])]
        return np.where(np.isfinite(low), low, 0.0), np.where(np.isfinite(low), arg, -1)

    def flat(self) -> NDArray[np.float64]:
        """(m,) with ``per_branch=False``: each zone's price per hour of load, ``margin`` times the
        cheapest ``mu_b`` that reaches it (0 where none does)."""
        return self.margin * self._cheapest[0]

    def segments(self, rows: NDArray[np.int64] | slice) -> Segments:
        """For the candidates ``rows``: (r, S) price per hour of load (ascending), hours of load,
        branch, first hour and ``pen`` at that hour of each segment. Rows with fewer segments are
        padded with zero-length segments at their highest price (branch -1). Every row is sorted
        once, at the first call (the lazy evaluation asks for a few rows several times per step)."""
        table = self._table
        return (table[0][rows], table[1][rows], table[2][rows], table[3][rows], table[4][rows])

    @cached_property
    def _table(self) -> Segments:
        reach = np.ascontiguousarray(self.reaches.T)  # (m, B)
        key = np.where(reach, self.mu[None, :], np.inf)
        width = max(int(reach.sum(axis=1).max(initial=0)), 1)
        order = np.argsort(key, axis=1, kind="stable")[:, :width]
        ok = np.take_along_axis(reach, order, axis=1)
        price = np.where(ok, self.margin * self.mu[order], -np.inf)
        top = np.maximum(price.max(axis=1), 0.0)
        price = np.where(ok, price, top[:, None])
        length = np.where(ok, self.capacity[order] / self.margin, 0.0)
        start = np.cumsum(length, axis=1) - length
        cost = price * length
        base = np.cumsum(cost, axis=1) - cost  # pen at each segment's first hour
        return price, length, np.where(ok, order, -1), start, base

    def fall(self, since: CapacityPrices) -> NDArray[np.float64]:
        """(m,) how far each zone's price per hour of load can have fallen from ``since`` to these
        prices: ``margin * max_{b in R(j)} (mu_b - mu'_b)^+`` (any flow costs at most that much less;
        with ``per_branch=False``, how far the cheapest price fell)."""
        if not self.per_branch:
            return np.maximum(since.flat() - self.flat(), 0.0)
        drop = self.margin * np.maximum(since.mu - self.mu, 0.0)
        if not np.any(drop > 0):
            return np.zeros(self.reaches.shape[1])
        return np.where(self.reaches, drop[:, None], 0.0).max(axis=0)

    def drawn(self, rows: NDArray[np.int64], loads: NDArray[np.float64]) -> NDArray[np.float64]:
        """(B,) the capacity the zones at candidates ``rows`` with ``loads`` draw from each branch."""
        out = np.zeros(self.mu.size)
        if not self.per_branch:  # all from the cheapest branch
            via = self._cheapest[1][rows]
            np.add.at(out, via[via >= 0], self.margin * np.asarray(loads, dtype=np.float64)[via >= 0])
            return out
        _, length, branch, start, _ = self.segments(rows)
        take = np.clip(np.asarray(loads, dtype=np.float64)[:, None] - start, 0.0, length)
        ok = branch >= 0
        np.add.at(out, branch[ok], self.margin * take[ok])
        return out


def count_at_or_below(sorted_rows: NDArray[np.float64], values: NDArray[np.float64]) -> NDArray[np.int64]:
    """Per row ``r``: how many of ``sorted_rows[r]`` are ``<= values[r, t]`` (``np.searchsorted``
    with side right, row by row), in blocks of rows to bound the memory."""
    r = sorted_rows.shape[0]
    out = np.empty(values.shape, dtype=np.int64)
    block = max(1, 4_000_000 // max(1, values.shape[1] * sorted_rows.shape[1]))
    for a in range(0, r, block):
        b = min(r, a + block)
        out[a:b] = (sorted_rows[a:b, None, :] <= values[a:b, :, None]).sum(axis=2)
    return out


def penalty(segments: Segments, load: NDArray[np.float64]) -> NDArray[np.float64]:
    """(r,) ``pen_j(load)`` for loads within each row's capacity: ``pen`` is convex, so it is the
    highest of the lines through its segments (a zero-length one included: its price lies at or
    above the slope before it)."""
    price, _, _, start, base = segments
    return (base + price * (load[:, None] - start)).max(axis=1)


def window(segments: Segments | None, rho: NDArray[np.float64], lower: float,
            upper: NDArray[np.float64]) -> NDArray[np.float64]:
    """``G_j(rho) = min_{L <= s <= U_j} rho s + pen_j(s)`` (``pen = 0`` without segments) for ``rho``
    (r,) or (r, q): the load window's term of the knapsack's Lagrangian dual (module docstring).
    The minimum of a concave piecewise-linear function lies at an end or at a segment's first hour."""
    upper = np.maximum(upper, lower)
    many = rho.ndim == 2
    r2 = rho if many else rho[:, None]
    if segments is None:
        out = np.where(r2 >= 0, r2 * lower, r2 * upper[:, None])
    else:
        _, _, _, start, base = segments
        inside = (start > lower) & (start < upper[:, None])
        points = np.where(inside[:, None, :], r2[:, :, None] * start[:, None, :] + base[:, None, :], np.inf)
        low = r2 * lower + penalty(segments, np.full(upper.shape, lower))[:, None]
        high = r2 * upper[:, None] + penalty(segments, upper)[:, None]
        out = np.minimum(np.minimum(low, high), points.min(axis=2, initial=np.inf))
    return out if many else out[:, 0]


def crossing(key_s: NDArray[np.float64], d_s: NDArray[np.float64], before: NDArray[np.float64],
              valid: NDArray[np.bool_], segments: Segments) -> NDArray[np.float64]:
    """(r,) the least load at which the marginal cost of more load (the next item's key plus the
    price of the next hour of capacity) is no longer negative: both rise with the load, so it is
    the first breakpoint (an item's or a segment's first hour) where their sum is >= 0."""
    price, length, _, seg_start, _ = segments
    r = key_s.shape[0]
    seg_end = seg_start + length
    key_v = np.where(valid, key_s, np.inf)
    # the segment holding each item's first hour (none past the last: no capacity beyond it)
    k_item = count_at_or_below(seg_end, before)
    price_ext = np.concatenate([price, np.full((r, 1), np.inf)], axis=1)
    with np.errstate(invalid="ignore"):  # the centre (key -inf) where no capacity is left: no load at all
        h_item = key_v + np.take_along_axis(price_ext, k_item, axis=1)
    h_item = np.where(np.isnan(h_item), np.inf, h_item)
    # the item holding each segment's first hour
    item_end = np.where(valid, before + d_s, np.inf)
    t_seg = count_at_or_below(item_end, seg_start)
    key_ext = np.concatenate([key_v, np.full((r, 1), np.inf)], axis=1)
    h_seg = np.take_along_axis(key_ext, np.minimum(t_seg, key_ext.shape[1] - 1), axis=1) + price
    at_item = np.where(valid & (h_item >= 0), before, np.inf).min(axis=1, initial=np.inf)
    at_seg = np.where((length > 0) & (h_seg >= 0), seg_start, np.inf).min(axis=1, initial=np.inf)
    total = np.minimum(np.where(valid, d_s, 0.0).sum(axis=1), seg_end[:, -1])
    return np.minimum(np.minimum(at_item, at_seg), total)
