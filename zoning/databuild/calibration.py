"""Straight-line travel calibration: fit road minutes = a + b * straight-line km.

The data build writes ``data/travel/<area>_lsoa_hospital_times.csv`` (columns lsoa11cd,
hospital, km_straight, road_minutes); :func:`fit_straight_line` fits it by ordinary least
squares. These are calibrated journeys to hospitals, not care-worker trips: use the fit to
check the shape of a fallback travel model, not to set its speeds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zoning.errors import DataError

FIT_COLUMNS = ("km_straight", "road_minutes")


@dataclass(frozen=True)
class LineFit:
    """Least-squares line minutes = intercept_min + slope_min_per_km * km."""

    intercept_min: float
    slope_min_per_km: float
    r2: float
    rmse_min: float
    n: int

    def as_tuple(self) -> tuple[float, float, float, float]:
        """Return ``(a, b, r2, rmse)``."""
        return (self.intercept_min, self.slope_min_per_km, self.r2, self.rmse_min)


def fit_line(km: Sequence[float] | np.ndarray, minutes: Sequence[float] | np.ndarray) -> LineFit:
    """Fit ``minutes = a + b * km`` by least squares; needs at least three pairs with spread."""
    x = np.asarray(km, dtype=float)
    y = np.asarray(minutes, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        raise DataError(
            f"Need at least 3 (km, minutes) pairs with different distances to fit a line; "
            f"received {len(x)}. How to fix: rebuild the travel table with `carezones data build`."
        )
    b, a = np.polyfit(x, y, 1)
    resid = y - (a + b * x)
    ss_res = float(np.sum(resid**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return LineFit(
        intercept_min=float(a),
        slope_min_per_km=float(b),
        r2=r2,
        rmse_min=float(np.sqrt(ss_res / len(x))),
        n=len(x),
    )


def fit_straight_line(path: str | os.PathLike[str]) -> tuple[float, float, float, float]:
    """Fit the travel table at ``path``; return ``(a, b, r2, rmse)`` (minutes, min/km, -, minutes)."""
    try:
        frame = pd.read_csv(path, usecols=list(FIT_COLUMNS))
    except FileNotFoundError:
        raise DataError(
            f"{path} does not exist. How to fix: run `carezones data build --area <CODE>`."
        ) from None
    except ValueError as exc:
        raise DataError(f"{path}: expected columns {FIT_COLUMNS}; {exc}") from exc
    return fit_line(frame["km_straight"], frame["road_minutes"]).as_tuple()
