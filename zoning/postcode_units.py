"""Postcode-level planning units (``[units] level = "postcode"``): one unit per postcode point.

- **Units.** In-area postcodes sharing a coordinate (blocks of flats, a large user and its
  neighbours) are one unit; its id is its first postcode in sort order, with ``+N`` when N
  more share the point (``"LE11 3TU+2"``). Its point is the coordinate.
- **Cells.** Each unit's Voronoi cell, clipped to the area: the district outline
  (``[data] outline``) or, without one, the union of the in-area LSOA polygons, widened by
  :data:`CELL_REACH_M` around any point that falls outside it (generalised boundaries cut a
  few postcodes off), so every unit has a cell.
- **Adjacency.** Rook adjacency of the cells (:func:`zoning.units.rook_edges`, shared boundary
  over 1 m). Cells the clipping cut off from the rest (a strip of the outline, a point
  outside it) are linked to the nearest unit of the largest piece, and the links are counted.
- **Attributes.** Each cell carries ``unit_id``, the LSOA (``lsoa11cd``, ``lsoa11nm``) and
  district (``district_name``, ``district_code``) most of its postcodes lie in, so the
  publishers can draw and label cells like LSOAs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from zoning.errors import DataError
from zoning.units import Units, rook_edges

log = logging.getLogger(__name__)

#: Points outside the clipping outline get a disc of this radius (metres) added to it.
CELL_REACH_M = 100.0


@dataclass(frozen=True)
class PostcodeUnits:
    """Postcode units and how they were built."""

    units: Units
    unit_of_postcode: pd.Series  # in-area postcode -> unit index
    links_added: int  # cells cut off by the clipping, linked to their nearest unit
    outside_outline: int  # unit points outside the outline (given a small disc of their own)


def voronoi_edges(xy: NDArray[np.float64], outline: shapely.Geometry) -> tuple[gpd.GeoSeries, NDArray[np.int64], int]:
    """Voronoi cells of ``xy`` clipped to ``outline``, their rook adjacency and the number of
    links added to join cut-off cells (each joined to its nearest unit in the largest piece)."""
    n = xy.shape[0]
    if n == 1:
        return gpd.GeoSeries([outline], crs=27700), np.zeros((0, 2), dtype=np.int64), 0
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=outline, ordered=True))
    if cells.size != n:
        raise DataError(f"Voronoi cells: {cells.size} cells for {n} distinct postcode points; rebuild the postcode data")
    cells = shapely.make_valid(shapely.intersection(cells, outline))
    series = gpd.GeoSeries(cells, crs=27700)
    edges = rook_edges(series)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    count, comp = connected_components(graph, directed=False)
    added = 0
    if count > 1:
        main = int(np.bincount(comp).argmax())
        main_ids = np.flatnonzero(comp == main)
        tree = cKDTree(xy[main_ids])
        extra = []
        for c in range(count):
            if c == main:
                continue
            members = np.flatnonzero(comp == c)
            dist, near = tree.query(xy[members])
            k = int(np.argmin(dist))
            extra.append(sorted((int(members[k]), int(main_ids[near[k]]))))
        edges = np.unique(np.vstack([edges, np.array(extra, dtype=np.int64)]), axis=0)
        added = len(extra)
    return series, edges.astype(np.int64), added


def clip_outline(xy: NDArray[np.float64], *, outline_path: Path | None,
                 boundaries: gpd.GeoDataFrame) -> tuple[shapely.Geometry, int]:
    """The area the cells are clipped to (see the module docstring) and how many points lie outside."""
    if outline_path is not None:
        if not outline_path.is_file():
            raise DataError(f"outline file not found: {outline_path}; fix [data] outline or build it with `carezones init`")
        shape = gpd.read_file(outline_path).to_crs(27700).union_all()
    else:
        shape = boundaries[boundaries["in_area"].astype(int).astype(bool)].to_crs(27700).union_all()
    shape = shapely.make_valid(shape)
    inside = shapely.contains_xy(shape, xy[:, 0], xy[:, 1])
    outside = int((~inside).sum())
    if outside:
        discs = shapely.buffer(shapely.points(xy[~inside]), CELL_REACH_M)
        shape = shapely.union(shape, shapely.union_all(discs))
    return shape, outside


def build_postcode_units(area: pd.DataFrame, boundaries: gpd.GeoDataFrame, *,
                         outline_path: Path | None) -> PostcodeUnits:
    """Postcode units for the in-area postcodes ``area`` (index postcode; easting, northing,
    lsoa11cd, district_name, district_code), cells clipped as in the module docstring."""
    if area.empty:
        raise DataError("no in-area postcodes to build postcode units from")
    frame = area[["easting", "northing", "lsoa11cd", "district_name", "district_code"]].copy()
    frame["postcode"] = area.index.to_numpy()
    frame = frame.reset_index(drop=True).sort_values(["easting", "northing", "postcode"])
    key = frame.groupby(["easting", "northing"], sort=True).ngroup().to_numpy()
    frame["group"] = key
    first = frame.groupby("group")["postcode"].min()
    size = frame.groupby("group").size()
    ids_by_group = [pc if s == 1 else f"{pc}+{s - 1}" for pc, s in zip(first, size, strict=True)]
    # unit order: by id, so that the order does not depend on coordinates
    order = np.argsort(np.asarray(ids_by_group, dtype=object), kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    frame["unit"] = rank[frame["group"].to_numpy()]
    ids = tuple(ids_by_group[g] for g in order)
    xy = frame.groupby("unit")[["easting", "northing"]].first().to_numpy(float)
    majority = (frame.groupby(["unit", "lsoa11cd"]).size().rename("n").reset_index()
                .sort_values(["unit", "n", "lsoa11cd"], ascending=[True, False, True]).groupby("unit").first())
    lsoa_code = majority["lsoa11cd"].reindex(range(len(ids))).to_numpy()
    shape, outside = clip_outline(xy, outline_path=outline_path, boundaries=boundaries)
    cells, edges, links = voronoi_edges(xy, shape)
    names = boundaries.drop_duplicates("lsoa11cd").set_index("lsoa11cd")
    district_of = frame.groupby("unit")[["district_name", "district_code"]].first()
    polygons = gpd.GeoDataFrame({
        "unit_id": list(ids),
        "lsoa11cd": lsoa_code,
        "lsoa11nm": pd.Series(lsoa_code).map(names["lsoa11nm"]).fillna("").to_numpy(),
        "district_name": district_of["district_name"].to_numpy(),
        "district_code": district_of["district_code"].to_numpy(),
    }, geometry=cells.to_numpy(), crs=27700)
    units = Units(ids=ids, polygons=polygons, points=xy, edges=edges)
    unit_of = frame.set_index("postcode")["unit"].reindex(area.index).astype(np.int64)
    log.info("built %d postcode units for %d postcodes: %d Voronoi adjacencies (%.1f neighbours each), %d link(s) "
             "for cut-off cells, %d point(s) outside the outline", units.n, len(area), len(edges),
             2 * len(edges) / max(units.n, 1), links, outside)
    return PostcodeUnits(units=units, unit_of_postcode=unit_of, links_added=links, outside_outline=outside)
