"""Commissioning options over postcode cells (``[units] level = "postcode"``), where an
(n, n) array would not fit: travel read by blocks between the cells' points.

Every postcode of a cell lies on the cell's point (postcodes sharing a coordinate are one
cell, :mod:`zoning.postcode_units`), so a cell's farthest postcode from a centre at cell ``j``
is its own point's travel to ``j``: the travel limit's reach is :class:`PointCost` itself,
with the cells of isolated postcodes exempt, as at LSOA level.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from zoning.travel import TravelModel

log = logging.getLogger(__name__)

#: a postcode's nearest possible centre is looked for among this many nearest cell points
NEAREST_CELLS = 8


@dataclass(frozen=True)
class PointCost:
    """Travel minutes between unit points, block by block (never n x n)."""

    xy: NDArray[np.float64]
    travel: TravelModel

    def block(self, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.float64]:
        return np.asarray(self.travel.minutes(self.xy[rows], self.xy[cols]), dtype=np.float64)


@dataclass(frozen=True)
class CellTravelLimit:
    """The travel limit over the cells: reach by blocks, the exempt cells, the isolated postcodes."""

    reach: PointCost
    exempt: NDArray[np.bool_]  # (n,) cells whose postcodes are all isolated
    isolated: pd.DataFrame  # postcode, hours_per_week, nearest_centre_min


def cell_travel_limit(area: pd.DataFrame, points: NDArray[np.float64], travel: TravelModel, *,
                      limit: float, chunk: int = 512) -> CellTravelLimit:
    """Isolated postcodes (beyond ``limit`` from every possible centre, i.e. every cell point)
    and the cells they make exempt. The nearest centre of a postcode is sought among its
    :data:`NEAREST_CELLS` nearest cell points (its own cell's point first): exact for the
    straight-line model, whose minutes grow with distance; for road minutes a farther point
    could be nearer by road, so a postcode could be listed isolated that a far centre reaches."""
    xy = area[["easting", "northing"]].to_numpy(float)
    n = points.shape[0]
    _, nearest = cKDTree(points).query(xy, k=min(NEAREST_CELLS, n))
    nearest = np.asarray(nearest, dtype=np.int64).reshape(len(xy), -1)
    best = np.empty(len(xy))
    for s in range(0, len(xy), chunk):
        rows = slice(s, s + chunk)
        cols = np.unique(nearest[rows])
        minutes = np.asarray(travel.minutes(xy[rows], points[cols]), dtype=float)
        best[rows] = np.take_along_axis(minutes, np.searchsorted(cols, nearest[rows]), axis=1).min(axis=1)
    far = best > limit
    isolated = pd.DataFrame({"postcode": area.index[far], "hours_per_week": area["hours_per_week"].to_numpy()[far],
                             "nearest_centre_min": best[far]})
    exempt = np.bincount(area["unit"].to_numpy(int)[~far], minlength=n) == 0
    log.info("travel limit over %d cells: %d postcode(s) isolated, %d cell(s) exempt", n, int(far.sum()),
             int(exempt.sum()))
    return CellTravelLimit(PointCost(points, travel), exempt, isolated)


def declared_only_edges(points: NDArray[np.float64], edges: NDArray[np.int64],
                        piece: NDArray[np.int64]) -> tuple[NDArray[np.int64], int]:
    """The cell adjacency under ``[pieces] join = "declared"``: cells of different pieces of the
    LSOA adjacency (``piece``: each cell's piece, its LSOA's) are never adjacent, whether their
    Voronoi cells touch or a cut-off cell was linked across the gap (the declared links are
    carried afterwards); a cell so left apart from the rest of its own piece is linked to the
    nearest cell of that piece. Returns the edges and how many such links were added."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = piece.size
    kept = edges[piece[edges[:, 0]] == piece[edges[:, 1]]]
    added = 0
    for _ in range(n):
        graph = coo_matrix((np.ones(len(kept)), (kept[:, 0], kept[:, 1])), shape=(n, n))
        _, comp = connected_components(graph, directed=False)
        extra = []
        for p in np.unique(piece).tolist():
            cells = np.flatnonzero(piece == p)
            comps, sizes = np.unique(comp[cells], return_counts=True)
            if comps.size <= 1:
                continue
            stray = cells[comp[cells] == comps[np.argmin(sizes)]]  # the smallest part joins the nearest rest
            rest = cells[comp[cells] != comp[stray[0]]]
            gap, nearest = cKDTree(points[rest]).query(points[stray])
            i = int(np.argmin(gap))
            extra.append(sorted((int(stray[i]), int(rest[int(nearest[i])]))))
        if not extra:
            break
        added += len(extra)
        kept = np.unique(np.vstack([kept, np.asarray(extra, dtype=np.int64)]), axis=0)
    return kept, added
