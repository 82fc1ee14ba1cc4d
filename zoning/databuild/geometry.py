"""Geometry stages of the data build: LSOA selection, repair, dissolves, postcode -> LSOA.

Measurements are made in EPSG:27700 (metres); published GeoJSON is EPSG:4326.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from zoning.errors import DataError

log = logging.getLogger("zoning.databuild")

BNG = "EPSG:27700"
WGS84 = "EPSG:4326"
COORD_GRID_DEG = 1e-6  # six decimals


@dataclass(frozen=True)
class District:
    """A district (or unitary) of a requested area, with the name its LSOAs carry."""

    code: str
    name: str  # as in LSOA 2011 names ("Shepway")
    area_code: str
    in_area: bool
    label: str = ""  # the current name when renamed since 2011 ("Folkestone and Hythe")

    @property
    def display(self) -> str:
        """The name written to the data files: the current one."""
        return self.label or self.name


def lsoa_prefix(names: pd.Series) -> pd.Series:
    """``"Charnwood 001A"`` -> ``"Charnwood"``: the district part of an LSOA 2011 name."""
    return names.astype(str).str.replace(r"\s+\d{3}[A-Z]$", "", regex=True)


def name_candidates(raw_name: str, *, extra: Sequence[str] = ()) -> list[str]:
    """Names an LSOA prefix might use for a district whose code-list name is ``raw_name``."""
    from zoning.databuild.sources import clean_name

    base = clean_name(raw_name)
    out = [base]
    if base.startswith("City of ") and base != "City of London":
        out.append(base.removeprefix("City of "))
    if base.startswith("County of "):
        rest = base.removeprefix("County of ")
        out += [f"{rest}, County of", rest]
    out += [clean_name(e) for e in extra if e]
    return list(dict.fromkeys(out))


#: Districts renamed since 2011 whose LSOA 2011 names still carry the old name.
RENAMED_SINCE_2011: Mapping[str, tuple[str, ...]] = {
    "E07000112": ("Shepway",),  # Folkestone and Hythe (renamed 2018)
}


def resolve_district_names(
    district_codes: Mapping[str, tuple[str, bool]],
    *,
    codelist: Mapping[str, str],
    age_names: Mapping[str, str],
    lsoa_prefixes: set[str],
    unmatched: list[District] | None = None,
) -> list[District]:
    """Match every district code to the district name used in LSOA names; report all misses.

    Names are tried as in the code list, cleaned, and from :data:`RENAMED_SINCE_2011`. With
    ``unmatched`` (a list) the districts no LSOA name matches are appended there instead of
    raising (councils created since 2011 -- Cumberland, North Yorkshire, Buckinghamshire... --
    whose LSOAs carry their predecessors' names): the caller finds their LSOAs from postcodes."""
    districts: list[District] = []
    problems: list[str] = []
    for code, (area_code, in_area) in district_codes.items():
        raw = codelist.get(code, "")
        extra = [age_names.get(code, ""), *RENAMED_SINCE_2011.get(code, ())]
        candidates = name_candidates(raw, extra=extra) if raw else []
        if not raw and age_names.get(code):
            candidates = name_candidates(age_names[code])
        match = next((c for c in candidates if c in lsoa_prefixes), None)
        if match is None and unmatched is not None:
            name = candidates[0] if candidates else code
            unmatched.append(District(code=code, name=name, area_code=area_code, in_area=in_area))
            continue
        if match is None:
            problems.append(
                f"district {code} (code list name {raw!r}; tried {candidates}) matches no "
                "LSOA name prefix"
            )
            continue
        if raw and match != candidates[0]:
            log.info("district %s: code-list name %r matched LSOA names as %r", code, raw, match)
        renamed = candidates[0] if match in RENAMED_SINCE_2011.get(code, ()) else ""
        districts.append(District(code=code, name=match, area_code=area_code, in_area=in_area, label=renamed))
    if problems:
        raise DataError(
            "Cannot find the LSOAs of some districts:\n  - "
            + "\n  - ".join(problems)
            + "\nExpected LSOA 2011 names of the form '<district name> 001A'. How to fix: "
            "check the area codes are English districts/counties that existed in 2011."
        )
    return districts


@dataclass(frozen=True)
class RepairReport:
    """How many polygons were invalid before and after rounding, and were repaired."""

    invalid_source: int
    invalid_after_rounding: int


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygon parts of a repaired geometry."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else geom


def clean_geometries(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, RepairReport]:
    """Repair invalid polygons, round to six decimals (keeping validity) and check again."""
    out = gdf.copy()
    invalid = ~out.is_valid
    n_source = int(invalid.sum())
    if n_source:
        out.loc[invalid, "geometry"] = [
            _polygonal(shapely.make_valid(g)) for g in out.loc[invalid, "geometry"]
        ]
    out["geometry"] = shapely.set_precision(out.geometry.values, COORD_GRID_DEG)
    invalid = ~out.is_valid
    n_round = int(invalid.sum())
    if n_round:
        out.loc[invalid, "geometry"] = [
            _polygonal(shapely.make_valid(g)) for g in out.loc[invalid, "geometry"]
        ]
    still = int((~out.is_valid).sum())
    if still:
        raise DataError(
            f"{still} polygon(s) remain invalid after shapely.make_valid; expected all valid. "
            "How to fix: report this with the area code; the boundary source may be damaged."
        )
    return out, RepairReport(invalid_source=n_source, invalid_after_rounding=n_round)


def dissolve(gdf: gpd.GeoDataFrame, *, by: Sequence[str]) -> gpd.GeoDataFrame:
    """Dissolve polygons by ``by`` columns, then round and repair like the LSOAs."""
    out = gdf[[*by, "geometry"]].dissolve(by=list(by), as_index=False)
    out, _ = clean_geometries(out)
    return out


def rook_components(gdf: gpd.GeoDataFrame) -> int:
    """Number of connected components when polygons sharing an edge (length > 0) are linked."""
    projected = gdf.to_crs(BNG).reset_index(drop=True)
    pairs = gpd.sjoin(projected, projected, predicate="intersects")
    pairs = pairs[pairs.index < pairs["index_right"]]
    graph = nx.Graph()
    graph.add_nodes_from(range(len(projected)))
    geoms = projected.geometry.values
    left = geoms[pairs.index.to_numpy()]
    right = geoms[pairs["index_right"].to_numpy()]
    shared = shapely.length(shapely.intersection(left, right))
    graph.add_edges_from(
        zip(
            pairs.index.to_numpy()[shared > 0],
            pairs["index_right"].to_numpy()[shared > 0],
            strict=True,
        )
    )
    return nx.number_connected_components(graph)


def assign_by_polygon(points: pd.DataFrame, lsoas_bng: gpd.GeoDataFrame) -> pd.DataFrame:
    """LSOA for each postcode point: the polygon of its own district containing it, else nearest.

    ``points`` has postcode, easting, northing, district_code; ``lsoas_bng`` has lsoa11cd,
    district_code in EPSG:27700. Returns postcode, lsoa11cd, lsoa_source
    (``point_in_polygon`` or ``nearest_polygon``). Restricting to the postcode's own district
    keeps every postcode inside its own area.
    """
    if points.empty:
        return pd.DataFrame(columns=["postcode", "lsoa11cd", "lsoa_source"])
    pts = gpd.GeoDataFrame(
        points[["postcode", "district_code"]].reset_index(drop=True),
        geometry=gpd.points_from_xy(points["easting"], points["northing"]),
        crs=BNG,
    )
    polys = lsoas_bng[["lsoa11cd", "district_code", "geometry"]].rename(
        columns={"district_code": "lsoa_district"}
    )
    hits = gpd.sjoin(pts, polys, predicate="within", how="inner")
    hits = hits[hits["district_code"] == hits["lsoa_district"]]
    hits = hits.sort_values(["postcode", "lsoa11cd"]).drop_duplicates("postcode")
    inside = pd.DataFrame(
        {
            "postcode": hits["postcode"],
            "lsoa11cd": hits["lsoa11cd"],
            "lsoa_source": "point_in_polygon",
        }
    )
    rest = pts[~pts["postcode"].isin(inside["postcode"])]
    nearest_parts = []
    for district, group in rest.groupby("district_code"):
        candidates = polys[polys["lsoa_district"] == district]
        if candidates.empty:
            raise DataError(
                f"No LSOA polygons for district {district}; cannot place {len(group)} postcodes. "
                "How to fix: include the district's area code in the build."
            )
        near = gpd.sjoin_nearest(group, candidates, how="left")
        near = near.sort_values(["postcode", "lsoa11cd"]).drop_duplicates("postcode")
        nearest_parts.append(
            pd.DataFrame(
                {
                    "postcode": near["postcode"],
                    "lsoa11cd": near["lsoa11cd"],
                    "lsoa_source": "nearest_polygon",
                }
            )
        )
    return pd.concat([inside, *nearest_parts], ignore_index=True)


def straight_line_km(origins: gpd.GeoDataFrame, hospitals: pd.DataFrame) -> pd.DataFrame:
    """Long table lsoa11cd x hospital with the straight-line km from LSOA centroid (EPSG:27700)."""
    cent = origins.to_crs(BNG).geometry.centroid
    ox = cent.x.to_numpy()[:, None]
    oy = cent.y.to_numpy()[:, None]
    hx = hospitals["easting"].to_numpy(dtype=float)[None, :]
    hy = hospitals["northing"].to_numpy(dtype=float)[None, :]
    km = np.hypot(ox - hx, oy - hy) / 1000.0
    return pd.DataFrame(
        {
            "lsoa11cd": np.repeat(origins["lsoa11cd"].to_numpy(), len(hospitals)),
            "lsoa11nm": np.repeat(origins["lsoa11nm"].to_numpy(), len(hospitals)),
            "hospital": np.tile(hospitals["hospital"].to_numpy(), len(origins)),
            "km_straight": km.ravel(),
        }
    )
