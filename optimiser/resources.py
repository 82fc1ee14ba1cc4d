"""What the local search reads: costs by blocks and per-zone resource bounds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


class CostBlocks(Protocol):
    """Minutes from units (rows) to centres placed at units (cols)."""

    def block(self, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.float64]: ...


@dataclass(frozen=True)
class DenseCost:
    """A full (n, n) cost matrix as :class:`CostBlocks`."""

    matrix: NDArray[np.float64]

    def block(self, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.float64]:
        return np.asarray(self.matrix[np.ix_(rows, cols)], dtype=float)


@dataclass(frozen=True)
class ResourceBounds:
    """Per-unit amounts of ``r`` resources and per-zone bounds on their zone totals.

    Row 0 is usually demand hours; further rows can be cohort hours, clients, etc.
    """

    amounts: NDArray[np.float64]  # (r, n)
    lower: NDArray[np.float64]  # (r, K)
    upper: NDArray[np.float64]  # (r, K)

    def __post_init__(self) -> None:
        r = self.amounts.shape[0]
        if self.amounts.ndim != 2 or self.lower.shape != self.upper.shape or self.lower.shape[0] != r:
            raise ValueError(
                f"resource bounds need amounts (r, n) and lower/upper (r, K): got "
                f"{self.amounts.shape}, {self.lower.shape}, {self.upper.shape}"
            )

    @classmethod
    def balance(cls, demand: NDArray[np.float64], *, n_zones: int, tolerance: float) -> ResourceBounds:
        """The classic constraint: each zone's demand within ``(1 +/- tolerance)`` of the mean."""
        mean = float(np.sum(demand)) / n_zones
        return cls(
            amounts=np.asarray(demand, dtype=float)[None, :],
            lower=np.full((1, n_zones), (1 - tolerance) * mean),
            upper=np.full((1, n_zones), (1 + tolerance) * mean),
        )


@dataclass(frozen=True)
class TravelLimit:
    """A travel limit on every zone: a unit may join a zone only if ``reach[i, centre] <= limit``,
    unless it is ``exempt`` (isolated: no centre anywhere is within the limit).

    ``reach`` is read by blocks (:class:`CostBlocks`): ``reach[i, j]`` is the longest travel
    (minutes) from any demand point of unit ``i`` to a centre at unit ``j``, so that a caller
    at postcode scale never needs the (n, n) matrix.
    """

    reach: CostBlocks
    limit: float
    exempt: NDArray[np.bool_]  # (n,)

    def allowed(self, centres: tuple[int, ...] | list[int] | NDArray[np.int64]) -> NDArray[np.bool_]:
        """(n, K) whether unit ``i`` may join zone ``z`` given the zones' ``centres``."""
        n = self.exempt.size
        ok = self.reach.block(np.arange(n), np.asarray(centres, dtype=np.int64)) <= self.limit + 1e-9
        ok[self.exempt] = True
        return np.asarray(ok)

    def beyond(self, labels: NDArray[np.int64], centres: tuple[int, ...] | list[int]) -> NDArray[np.bool_]:
        """(n,) the units (not exempt) beyond the limit of their own zone's centre."""
        labels = np.asarray(labels, dtype=np.int64)
        return ~self.allowed(centres)[np.arange(labels.size), labels]

    def centre_fits(self, members: NDArray[np.int64], candidates: NDArray[np.int64]) -> NDArray[np.bool_]:
        """(len(candidates),) whether a centre at each candidate keeps every (non-exempt) member
        of a zone within the limit."""
        members = np.asarray(members, dtype=np.int64)
        members = members[~self.exempt[members]]
        if members.size == 0:
            return np.ones(len(candidates), dtype=bool)
        return np.asarray(self.reach.block(members, np.asarray(candidates, dtype=np.int64)).max(axis=0)
                          <= self.limit + 1e-9)

    def subset(self, units: NDArray[np.int64]) -> TravelLimit:
        """The limit over ``units`` only, re-indexed 0..len(units)-1."""
        return TravelLimit(SubBlocks(self.reach, np.asarray(units, dtype=np.int64)), self.limit, self.exempt[units])


@dataclass(frozen=True)
class SubBlocks:
    """Blocks of a subset ``units`` of the units, re-indexed 0..len(units)-1."""

    inner: CostBlocks
    units: NDArray[np.int64]

    def block(self, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.float64]:
        return self.inner.block(self.units[rows], self.units[cols])


@dataclass(frozen=True)
class Continuity:
    """Care that changes zone against today's zones: ``stay[i, z]`` the hours of unit ``i`` in
    today's zone ``z``; at most ``max_moved`` hours may change zone (None: no cap) and each hour
    that does is charged ``penalty`` in the objective's units."""

    stay: NDArray[np.float64]  # (n, K)
    max_moved: float | None = None
    penalty: float = 0.0

    @property
    def cap(self) -> float:
        return np.inf if self.max_moved is None else float(self.max_moved)

    def moved(self, labels: NDArray[np.int64]) -> float:
        """Hours whose zone differs from today's."""
        labels = np.asarray(labels, dtype=np.int64)
        return float(self.stay.sum() - self.stay[np.arange(labels.size), labels].sum())

    def charge(self) -> NDArray[np.float64]:
        """(n, K) the objective's charge for unit ``i`` in zone ``z``: ``penalty`` x its hours not in ``z`` today."""
        return self.penalty * (self.stay.sum(axis=1)[:, None] - self.stay)

    def subset(self, units: NDArray[np.int64], zones: list[int], labels: NDArray[np.int64]) -> Continuity:
        """Over ``units`` and ``zones`` only (the others keep their ``labels``): the cap less what
        the other units move already."""
        rest = np.ones(labels.size, dtype=bool)
        rest[units] = False
        outside = float(self.stay[rest].sum() - self.stay[np.flatnonzero(rest), labels[rest]].sum())
        left = None if self.max_moved is None else self.max_moved - outside
        # hours of a unit today in neither zone always move: kept in the charge and the cap
        sub = self.stay[np.ix_(units, np.asarray(zones, dtype=np.int64))]
        gone = self.stay[units].sum(axis=1) - sub.sum(axis=1)
        return _Shifted(sub, left, self.penalty, gone)


@dataclass(frozen=True)
class _Shifted(Continuity):
    """:class:`Continuity` over a subset of the zones: ``gone[i]`` hours of unit ``i`` are today
    in none of them (they change zone whichever of them the unit joins)."""

    gone: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def moved(self, labels: NDArray[np.int64]) -> float:
        return super().moved(labels) + float(self.gone.sum())

    def charge(self) -> NDArray[np.float64]:
        return super().charge() + self.penalty * self.gone[:, None]
