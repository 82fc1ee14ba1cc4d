"""Travel-time models behind one interface.

The pipeline asks a :class:`TravelModel` for a matrix of minutes between two point sets in
EPSG:27700 metres. The straight-line model is the default; a road-network model (osmnx)
plugs in behind the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.distance import cdist


class TravelModel(Protocol):
    @property
    def name(self) -> str:
        """Short identifier of the model, e.g. ``straight_line``."""
        ...

    def describe(self) -> str:
        """One sentence for reports: what the minutes mean and where the numbers come from."""
        ...

    def minutes(self, origins: NDArray[np.float64], destinations: NDArray[np.float64]) -> NDArray[np.float64]:
        """(a, b) minutes from each origin to each destination; points are (x, y) BNG metres."""
        ...


@dataclass(frozen=True)
class StraightLineTravel:
    """``minutes = intercept_min + min_per_km * straight-line km``.

    The default coefficients come from a least-squares fit of real road journey times
    against straight-line distance for Leicestershire LSOAs (see ``data/travel/README.md``).
    The intercept stands for the fixed part of any trip (parking, access, first and last
    stretch); it does not change which plan is best, only the reported minutes.
    """

    intercept_min: float = 9.84
    min_per_km: float = 0.873
    calibration: str = ""
    name: str = "straight_line"

    def __post_init__(self) -> None:
        if self.intercept_min < 0 or self.min_per_km <= 0:
            raise ValueError(
                f"straight-line travel needs intercept_min >= 0 and min_per_km > 0, got "
                f"{self.intercept_min} and {self.min_per_km}"
            )

    def describe(self) -> str:
        text = (
            f"straight-line model: {self.intercept_min:g} min + {self.min_per_km:g} min per km "
            "of straight-line distance (no road network)"
        )
        return f"{text}; {self.calibration}" if self.calibration else text

    def km(self, origins: NDArray[np.float64], destinations: NDArray[np.float64]) -> NDArray[np.float64]:
        return cdist(np.atleast_2d(origins), np.atleast_2d(destinations)) / 1000.0

    def minutes(self, origins: NDArray[np.float64], destinations: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.intercept_min + self.min_per_km * self.km(origins, destinations)
