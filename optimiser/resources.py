"""What the local search reads: costs by blocks and per-zone resource bounds."""

from __future__ import annotations

from dataclasses import dataclass
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
