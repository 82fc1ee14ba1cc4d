"""Planning units (ONS LSOA 2011), their rook adjacency and representative points."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from zoning.errors import DataError

log = logging.getLogger(__name__)

#: Two LSOAs are rook neighbours when they share more than this much boundary (metres).
MIN_SHARED_BOUNDARY_M = 1.0


@dataclass(frozen=True)
class Units:
    """The area's LSOAs in a fixed order (index ``i`` everywhere)."""

    ids: tuple[str, ...]
    polygons: gpd.GeoDataFrame  # EPSG:27700, row i = unit i; lsoa11cd, lsoa11nm, district_name
    points: NDArray[np.float64]  # (n, 2) residential centroid of each unit's postcodes, BNG metres
    edges: NDArray[np.int64]  # (e, 2) rook adjacency, i < j

    @property
    def n(self) -> int:
        return len(self.ids)

    def index(self) -> dict[str, int]:
        return {u: i for i, u in enumerate(self.ids)}

    def graph(self) -> nx.Graph:
        """The adjacency as a networkx graph whose nodes are LSOA codes."""
        g = nx.Graph()
        g.add_nodes_from(self.ids)
        g.add_edges_from((self.ids[a], self.ids[b]) for a, b in self.edges)
        return g


def read_boundaries(path: Path) -> gpd.GeoDataFrame:
    """LSOA polygons written by `carezones data build`, in EPSG:27700."""
    if not path.is_file():
        raise DataError(f"boundary file not found: {path}; build it with `carezones data build`")
    frame = gpd.read_file(path)
    if frame.crs is None:
        raise DataError(f"{path} has no CRS: expected EPSG:4326 (GeoJSON) or EPSG:27700; rebuild it")
    needed = {"lsoa11cd", "lsoa11nm", "district_name", "in_area"}
    if not needed <= set(frame.columns):
        raise DataError(f"{path}: expected columns {sorted(needed)}, found {list(frame.columns)}")
    return frame.to_crs(27700)


def rook_edges(polygons: gpd.GeoSeries, *, min_shared_m: float = MIN_SHARED_BOUNDARY_M) -> NDArray[np.int64]:
    """Pairs ``(i, j), i < j`` of polygons sharing a boundary longer than ``min_shared_m``."""
    geoms = polygons.to_numpy()
    left, right = polygons.sindex.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[left]), shapely.boundary(geoms[right])))
    mask = shared > min_shared_m
    return np.column_stack([left[mask], right[mask]]).astype(np.int64)


def build_units(postcodes: pd.DataFrame, boundaries: gpd.GeoDataFrame) -> Units:
    """Units from the in-area LSOAs; each unit's point is the mean of its residential postcodes."""
    area = boundaries[boundaries["in_area"].astype(int).astype(bool)].sort_values("lsoa11cd").reset_index(drop=True)
    if area.empty:
        raise DataError("no in-area LSOA polygons in the boundary file")
    invalid = int((~area.geometry.is_valid).sum())
    if invalid:
        raise DataError(f"{invalid} LSOA polygons are invalid; rebuild the boundary data")
    ids = tuple(area["lsoa11cd"])
    index = {u: i for i, u in enumerate(ids)}
    in_area = postcodes[postcodes["in_area"]]
    unknown = sorted(set(in_area["lsoa11cd"]) - set(index))
    if unknown:
        raise DataError(
            f"{len(unknown)} LSOA code(s) on in-area postcodes have no polygon, e.g. {unknown[:5]}: "
            "postcode and boundary data are out of step; rebuild both with `carezones data build`"
        )
    points = np.zeros((len(ids), 2))
    home = in_area[~in_area["large_user"]]
    for source in (home, in_area):
        means = source.groupby("lsoa11cd")[["easting", "northing"]].mean()
        for code, row in means.iterrows():
            i = index[code]
            if not points[i].any():
                points[i] = (row["easting"], row["northing"])
    empty = np.flatnonzero(~points.any(axis=1))
    for i in empty.tolist():  # LSOAs without postcodes: a point inside the polygon
        rp = area.geometry.iloc[i].representative_point()
        points[i] = (rp.x, rp.y)
    edges = rook_edges(area.geometry)
    units = Units(ids=ids, polygons=area, points=points, edges=edges)
    components = nx.number_connected_components(units.graph())
    log.info(
        "built %d units with %d rook adjacencies (%.1f neighbours each, %d component(s); %d without postcodes)",
        units.n, len(edges), 2 * len(edges) / units.n, components, len(empty),
    )
    return units
