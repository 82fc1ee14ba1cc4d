"""Shared fixtures: hand-made grids whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from optimiser.problem import DistrictingProblem


def grid_problem(
    rows: int, cols: int, *, n_zones: int, tolerance: float, demand: np.ndarray | None = None
) -> DistrictingProblem:
    """A rows x cols rook grid with unit spacing; cost = straight-line distance."""
    xy = np.array([(r, c) for r in range(rows) for c in range(cols)], dtype=float)
    cost = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    edges = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    edges += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    d = np.ones(rows * cols) if demand is None else np.asarray(demand, dtype=float)
    return DistrictingProblem(
        demand=d, cost=cost, edges=np.array(edges), n_zones=n_zones, tolerance=tolerance
    )


@pytest.fixture
def path4() -> DistrictingProblem:
    """Four units in a row, unit demand, two zones, exact balance: {0,1} and {2,3}."""
    return grid_problem(1, 4, n_zones=2, tolerance=0.0)
