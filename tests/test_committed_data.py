"""Invariants of the committed Leicestershire data (built by `carezones data build --area E10000018`)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import pandas as pd
import pytest
import shapely

from zoning.databuild.calibration import fit_straight_line

DATA = Path(__file__).resolve().parents[1] / "data"
AREA = "E10000018"
LEICESTERSHIRE_DISTRICTS = {f"E07000{n}" for n in range(129, 136)}


@pytest.fixture(scope="module")
def postcodes() -> pd.DataFrame:
    return pd.read_csv(DATA / "postcodes" / f"{AREA}_postcodes.csv", dtype={"ward_code": str})


@pytest.fixture(scope="module")
def lsoas() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "boundaries" / f"{AREA}_lsoa2011.geojson")


def rook_component_count(gdf: gpd.GeoDataFrame) -> int:
    """Independent oracle: link polygons whose shared boundary has positive length."""
    g = gdf.to_crs(27700).reset_index(drop=True)
    graph = nx.Graph()
    graph.add_nodes_from(g.index)
    tree = shapely.STRtree(g.geometry.values)
    for i, geom in enumerate(g.geometry.values):
        for j in tree.query(geom, predicate="intersects"):
            if j > i and geom.intersection(g.geometry.values[j]).length > 0:
                graph.add_edge(i, int(j))
    return nx.number_connected_components(graph)


def test_postcode_counts(postcodes: pd.DataFrame) -> None:
    assert postcodes["postcode"].is_unique
    assert postcodes["postcode"].str.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}").all()
    by_area = postcodes.groupby("area_code").size().to_dict()
    assert by_area == {AREA: 16_909, "E06000016": 6_090, "E06000017": 1_273}
    inside = postcodes[postcodes["in_area"] == 1]
    assert (inside["area_code"] == AREA).all()
    assert set(inside["district_code"]) == LEICESTERSHIRE_DISTRICTS
    assert inside["ward_code"].nunique() == 140
    assert postcodes["ward_name"].notna().all()
    assert set(postcodes["lsoa_source"]) <= {"ons_lookup", "point_in_polygon", "nearest_polygon"}
    assert (postcodes["lsoa_source"] == "ons_lookup").mean() > 0.95
    assert set(postcodes["large_user"]) <= {0, 1}
    assert (postcodes[["easting", "northing"]] > 0).all().all()


def test_lsoas_valid_and_contiguous(lsoas: gpd.GeoDataFrame, postcodes: pd.DataFrame) -> None:
    assert lsoas.crs.to_epsg() == 4326
    assert lsoas["lsoa11cd"].is_unique
    assert lsoas.is_valid.all()
    inside = lsoas[lsoas["in_area"] == 1]
    assert len(inside) == 396
    assert rook_component_count(inside) == 1
    in_area_pc = postcodes[postcodes["in_area"] == 1]
    assert set(in_area_pc["lsoa11cd"]) <= set(inside["lsoa11cd"])
    assert set(postcodes["lsoa11cd"]) <= set(lsoas["lsoa11cd"])


def test_districts_and_outline() -> None:
    districts = gpd.read_file(DATA / "boundaries" / f"{AREA}_districts.geojson")
    assert (
        set(districts.loc[districts["in_area"] == 1, "district_code"]) == LEICESTERSHIRE_DISTRICTS
    )
    assert districts.is_valid.all()
    outline = gpd.read_file(DATA / "boundaries" / f"{AREA}_outline.geojson")
    assert len(outline) == 1 and outline.is_valid.all()
    area_km2 = outline.to_crs(27700).area.iloc[0] / 1e6
    assert 2_000 < area_km2 < 2_200  # Leicestershire county is about 2,083 km2


def test_population() -> None:
    pop = pd.read_csv(DATA / "population" / f"{AREA}_population.csv")
    county = pop[pop["in_area"] == 1]
    assert set(county["district_code"]) == LEICESTERSHIRE_DISTRICTS
    assert 140_000 < county["pop_65_plus"].sum() < 170_000
    bands = county[["pop_65_74", "pop_75_84", "pop_85_plus"]].sum(axis=1)
    assert (bands == county["pop_65_plus"]).all()


def test_current_zones(postcodes: pd.DataFrame) -> None:
    zones = pd.read_csv(DATA / "zones" / f"{AREA}_current_zones_approx.csv", dtype=str)
    assert list(zones.columns) == ["ward_code", "ward_name", "district_name", "zone", "basis"]
    wards = set(postcodes.loc[postcodes["in_area"] == 1, "ward_code"])
    assert zones["ward_code"].is_unique
    assert set(zones["ward_code"]) == wards
    assert zones["zone"].nunique() == 14
    assert zones["basis"].str.len().gt(0).all()
    assert "approximation" in (DATA / "zones" / "README.md").read_text().lower()


def test_travel_calibration() -> None:
    path = DATA / "travel" / f"{AREA}_lsoa_hospital_times.csv"
    travel = pd.read_csv(path)
    assert (travel["km_straight"] < 40).all()
    a, b, r2, rmse = fit_straight_line(path)
    assert 5 < a < 15
    assert 0.6 < b < 1.2
    assert r2 > 0.8
    assert 0 < rmse < 6
