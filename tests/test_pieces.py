"""Separate pieces of the adjacency graph (islands, estuaries) joined before solving.

Hand-drawn geography (EPSG:27700, 1 km squares):

    [A][B][C]      gap 0.5 km     [D]        gap 3 km     [E]
                                   (D is 0.5 km east of C; E is 3 km east of D)

A-B-C touch; D and E are islands. The nearest links are C-D (0.5 km) and D-E (3 km): E joins
through D, not straight to the mainland (C-E is 4.5 km).
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import box

from zoning.errors import ScenarioError, SolveError
from zoning.pieces import join_pieces
from zoning.travel import StraightLineTravel
from zoning.units import Units, rook_edges

X0, Y0 = 450_000.0, 300_000.0
LEFT = {"A": 0.0, "B": 1000.0, "C": 2000.0, "D": 3500.0, "E": 7500.0}


def _units() -> Units:
    ids = tuple(f"E0100000{k}" for k in range(1, 6))
    geoms = [box(X0 + x, Y0, X0 + x + 1000, Y0 + 1000) for x in LEFT.values()]
    polys = gpd.GeoDataFrame({"lsoa11cd": ids, "lsoa11nm": list(LEFT), "district_name": "T", "in_area": 1},
                             geometry=geoms, crs=27700)
    points = np.array([[g.centroid.x, g.centroid.y] for g in geoms])
    return Units(ids=ids, polygons=polys, points=points, edges=rook_edges(polys.geometry))


TRAVEL = StraightLineTravel(intercept_min=5.0, min_per_km=1.0)


def test_islands_join_by_the_nearest_gaps_and_chain() -> None:
    units = _units()
    assert nx.number_connected_components(units.graph()) == 3
    joined, join = join_pieces(units, unit_hours=np.array([10, 10, 10, 4, 2.5]), travel=TRAVEL)
    assert nx.is_connected(joined.graph())
    assert join.n_pieces == 3 and join.main_units == 3
    assert {(k.a, k.b) for k in join.links} == {("E01000004", "E01000003"), ("E01000005", "E01000004")}
    gaps = sorted(round(k.gap_m) for k in join.links)
    assert gaps == [500, 3000]
    # minutes are the travel model's between the units' points: 1.5 km and 4 km apart
    assert sorted(round(k.minutes, 6) for k in join.links) == [6.5, 9.0]
    assert sorted(p.hours_per_week for p in join.pieces) == [2.5, 4.0]  # reported, never dropped
    assert all(p.road_reached is None for p in join.pieces)  # no road network: cannot tell
    assert len(join.notes()) == 1 + 2 + 2


def test_declared_link_is_used_first_and_nearest_fills_the_rest() -> None:
    units = _units()
    _, join = join_pieces(units, unit_hours=np.ones(5), travel=TRAVEL,
                          declared=[("E01000005", "E01000001", "ferry")])
    hows = {(k.a, k.b): k.how for k in join.links}
    assert hows[("E01000005", "E01000001")] == "declared"
    assert hows[("E01000004", "E01000003")] == "nearest"
    assert len(join.links) == 2


def test_declared_only_stops_when_a_piece_stays_apart() -> None:
    with pytest.raises(SolveError, match="separate pieces"):
        join_pieces(_units(), unit_hours=np.ones(5), travel=TRAVEL, declared_only=True)


def test_own_zone_must_name_a_separate_piece() -> None:
    _, join = join_pieces(_units(), unit_hours=np.ones(5), travel=TRAVEL, own_zone_units=[4])
    assert [p.own_zone for p in sorted(join.pieces, key=lambda p: p.units)] == [False, True]
    with pytest.raises(ScenarioError, match="main piece"):
        join_pieces(_units(), unit_hours=np.ones(5), travel=TRAVEL, own_zone_units=[0])


def test_one_piece_needs_nothing() -> None:
    units = _units()
    sub = Units(ids=units.ids[:3], polygons=units.polygons.iloc[:3], points=units.points[:3],
                edges=units.edges)
    joined, join = join_pieces(sub, unit_hours=np.ones(3), travel=TRAVEL)
    assert join.links == () and join.notes() == [] and joined is sub


def test_with_a_road_network_a_piece_no_road_reaches_is_flagged_with_its_hours() -> None:
    from zoning.roads.synthetic_grid import grid_network
    from zoning.travel import RoadTravel

    # roads cover A..D only: E (centre 3.5 km beyond the last node) is reached by no road
    net = grid_network(bounds=(X0 - 500, Y0 - 500, X0 + 4500, Y0 + 1500), spacing_m=250.0, seed=1,
                       missing_share=0.0, one_way_share=0.0)
    travel = RoadTravel(net, far_from_road_m=1000.0)
    _, join = join_pieces(_units(), unit_hours=np.array([10, 10, 10, 4, 2.5]), travel=travel)
    reached = {p.units: (p.road_reached, p.hours_per_week) for p in join.pieces}
    assert reached == {("E01000004",): (True, 4.0), ("E01000005",): (False, 2.5)}
    assert len(join.links) == 2 and nx.is_connected(join_pieces(_units(), unit_hours=np.ones(5), travel=travel)[0].graph())
    assert any("NO ROAD" in line for line in join.notes())
