"""The shareable outputs of a real Melton run: GeoPackage round trip, XLSX lookup, report.html,
price bands in the lookup, and the small-count rule in everything a person could be given."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from zoning.pipeline import ZonePlan, plan_zones
from zoning.publish.writers import write_outputs
from zoning.scenario import load_scenario

Run = tuple[ZonePlan, dict[str, Path], dict[str, object]]


@pytest.fixture(scope="module")
def run(melton_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    plan = plan_zones(load_scenario(melton_dir / "melton.toml"))
    paths = write_outputs(plan, tmp_path_factory.mktemp("exports"))
    return plan, paths, json.loads(paths["summary"].read_text(encoding="utf-8"))


def test_geopackage_round_trip_crs_layers_and_totals(run: Run) -> None:
    plan, paths, summary = run
    layers = {name for name, _ in pyogrio.list_layers(paths["gpkg"])}
    assert layers == {"zones", "current_zones", "units", "providers", "run", "layer_styles"}  # run, styles: tables
    zones = gpd.read_file(paths["gpkg"], layer="zones")
    units = gpd.read_file(paths["gpkg"], layer="units")
    providers = gpd.read_file(paths["gpkg"], layer="providers")
    for frame in (zones, units, providers, gpd.read_file(paths["gpkg"], layer="current_zones")):
        assert frame.crs.to_epsg() == 27700
    # same totals as the summary and the report
    assert zones["hours_per_week"].sum() == pytest.approx(summary["plan"]["total_hours"])
    assert sorted(zones["zone_id"]) == sorted(z["zone"] for z in summary["zones"])
    by_zone = {z["zone"]: z for z in summary["zones"]}
    for row in zones.itertuples():
        assert row.hours_per_week == pytest.approx(by_zone[row.zone_id]["hours_per_week"])
        assert row.mean_travel_min == pytest.approx(by_zone[row.zone_id]["mean_travel_min"], abs=0.005)  # 2 decimals
    assert providers["capacity_hours_per_week"].sum() == pytest.approx(summary["providers"]["capacity_hours_per_week"])
    # units: GSS codes, both zones, geometry in metres that tiles the zones
    assert units["lsoa11cd"].str.fullmatch(r"E01\d{6}").all() and units["lsoa11cd"].is_unique
    assert {"lsoa11nm", "proposed_zone", "current_zone", "changes_zone", "price_band_majority"} <= set(units.columns)
    assert units.area.sum() == pytest.approx(zones.area.sum(), rel=1e-6)
    lookup = pd.read_csv(paths["postcodes"], dtype=str)
    first = lookup.groupby("lsoa11cd")["proposed_zone"].first()
    assert (units.set_index("lsoa11cd")["proposed_zone"].reindex(first.index) == first).all()


def test_xlsx_lookup_matches_csv_and_holds_no_formulas(run: Run) -> None:
    _, paths, _ = run
    csv = pd.read_csv(paths["postcodes"], dtype=str, keep_default_na=False)
    assert {"postcode", "proposed_zone", "current_zone", "band"} <= set(csv.columns)
    wb = load_workbook(paths["postcodes_xlsx"])
    ws = wb["postcode_zones"]
    rows = list(ws.iter_rows(values_only=False))
    header = [c.value for c in rows[0]]
    assert header == ["postcode", "proposed_zone", "proposed_zone_name", "current_zone", "changes_zone", "band",
                      "ward_name", "district_name", "lsoa11cd", "latitude", "longitude"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:K{len(csv) + 1}"
    assert ws.column_dimensions["C"].width >= 20 and ws.column_dimensions["A"].width >= 9
    assert len(rows) - 1 == len(csv)
    assert all(c.data_type != "f" for row in rows for c in row)
    current = [r[header.index("current_zone")].value for r in rows[1:]]
    assert "'=Melton rural" in current and "=Melton rural" not in current  # the fixture's formula-like zone
    assert set(csv["band"]) <= {"urban", "fringe", "rural", "isolated"}
    xlsx = pd.read_excel(paths["postcodes_xlsx"], sheet_name="postcode_zones", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(xlsx[["postcode", "proposed_zone", "band"]], csv[["postcode", "proposed_zone", "band"]])


def test_geopackage_layers_open_styled_coded_and_rounded(run: Run) -> None:
    """What a GIS officer opens: QGIS styles in ``layer_styles`` (zones coloured as on the map and
    labelled, today's zones dashed), GSS codes at every level, integers, provenance once."""
    import sqlite3
    import xml.etree.ElementTree as ET

    from zoning.publish.gis_styles import read_layer_styles
    from zoning.publish.report_files import zone_colours_for

    plan, paths, summary = run
    styles = read_layer_styles(paths["gpkg"])
    assert set(styles) == {"zones", "current_zones", "units", "providers"}
    zones_qml = ET.fromstring(styles["zones"].split("\n", 1)[1])
    assert zones_qml.get("labelsEnabled") == "1"
    assert zones_qml.find("renderer-v2").get("attr") == "zone_id"
    assert zones_qml.find(".//labeling/settings/text-style").get("fieldName") == "zone_id"
    cats = {c.get("value"): c.get("symbol") for c in zones_qml.iter("category")}
    fills = {s.get("name"): o.get("value") for s in zones_qml.iter("symbol") for o in s.iter("Option")
             if o.get("name") == "color"}
    zones = gpd.read_file(paths["gpkg"], layer="zones")
    expected = zone_colours_for(zones.rename(columns={"zone_id": "zone"}), id_column="zone")
    for zone, colour in expected.items():  # the map's adjacency colours, at the map's fill opacity
        rgb = ",".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
        assert fills[cats[zone]] == f"{rgb},153"
    current_qml = ET.fromstring(styles["current_zones"].split("\n", 1)[1])
    outline = {o.get("name"): o.get("value") for o in current_qml.iter("Option")}
    assert outline["outline_style"] == "dash" and outline["style"] == "no"
    assert current_qml.find(".//text-style").get("fieldName") == "zone_name"
    assert (paths["zones"].with_suffix(".qml")).read_text(encoding="utf-8") == styles["zones"]
    # codes at every level the data holds; today's zones with an id
    units = gpd.read_file(paths["gpkg"], layer="units")
    assert units["ward_code"].str.fullmatch(r"E05\d{6}").all()
    assert units["district_code"].str.fullmatch(r"E0[67]\d{6}").all()
    assert units["msoa11nm"].str.fullmatch(r"Melton \d{3}").all()
    current = gpd.read_file(paths["gpkg"], layer="current_zones")
    assert current["zone_id"].str.fullmatch(r"C\d{2}").all() and current["zone_id"].is_unique
    # counts are INTEGER columns, floats are rounded, no per-feature provenance
    with sqlite3.connect(paths["gpkg"]) as con:
        sql = dict(con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
        described = dict(con.execute("SELECT table_name, description FROM gpkg_contents").fetchall())
    for layer, column in (("zones", "n_postcodes"), ("zones", "demand_rows"), ("units", "clients"),
                          ("units", "postcodes"), ("current_zones", "n_units_majority")):
        assert f'"{column}" INTEGER' in sql[layer], (layer, column)
    assert all("provenance" not in sql[layer] for layer in ("zones", "current_zones", "units"))
    assert all("SYNTHETIC" in described[layer] for layer in ("zones", "current_zones", "units", "providers"))
    assert (zones["mean_travel_min"] == zones["mean_travel_min"].round(2)).all()
    assert (zones["demand_capacity_ratio"].dropna() == zones["demand_capacity_ratio"].dropna().round(3)).all()
    geo = json.loads(paths["zones"].read_text(encoding="utf-8"))
    assert "SYNTHETIC" in geo["description"] and "provenance" not in geo["features"][0]["properties"]
    assert isinstance(geo["features"][0]["properties"]["n_postcodes"], int)


def test_postcode_lookup_has_coordinates_and_the_change_flag(run: Run) -> None:
    from pyproj import Transformer

    plan, paths, summary = run
    csv = pd.read_csv(paths["postcodes"], dtype={"postcode": str})
    assert {"easting", "northing", "latitude", "longitude", "changes_zone", "district_code"} <= set(csv.columns)
    assert int(csv["changes_zone"].sum()) == summary["change"]["postcodes_moved"]
    lon, lat = Transformer.from_crs(27700, 4326, always_xy=True).transform(csv["easting"].iloc[0], csv["northing"].iloc[0])
    assert csv["latitude"].iloc[0] == pytest.approx(lat, abs=1e-5) and csv["longitude"].iloc[0] == pytest.approx(lon, abs=1e-5)
    assert csv["latitude"].between(52.3, 53.0).all() and csv["longitude"].between(-1.7, -0.6).all()


def test_report_html_is_self_contained_escaped_and_agrees_with_the_summary(run: Run) -> None:
    _, paths, summary = run
    html = paths["report_html"].read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', html)
    assert html.count('<img src="data:image/png;base64,') == 3  # zone maps, load before/after, travel
    assert "Melton test &lt;b&gt;&amp; co&lt;/b&gt;" in html and "<b>& co</b>" not in html
    assert "SYNTHETIC" in html and "APPROXIMATE" in html
    saved = summary["current"]["mean_travel_min"] - summary["plan"]["mean_travel_min"]
    assert f"{-saved:+.2f} min" in html
    assert f"{summary['change']['hours_moved']:,.0f}" in html
    for zone in summary["zones"]:
        assert f"{zone['hours_per_week']:,.0f}" in html
    assert f"{summary['plan']['max_min_ratio']:.2f}" in html and f"{summary['current']['max_min_ratio']:.2f}" in html
    paid = 52 * (summary["costs"]["travel_gbp_per_week_current"] - summary["costs"]["travel_gbp_per_week_proposed"])
    assert f"£{paid:,.0f}" in html and "illustrative" in html
    assert f"{100 * summary['solver']['gap_to_certified_bound']:.2f}%" in html  # the certified quality
    assert "gap" in html and summary["solver"]["status"] in html
    assert "Open Government Licence" in html
    assert 'class="flag"' in html  # Melton's zones with less capacity than demand are flagged


def test_markdown_and_html_reports_say_the_same_things(run: Run) -> None:
    """One template: the same headings in the same order, the same figures, the same tables."""
    _, paths, summary = run
    md = paths["report"].read_text(encoding="utf-8")
    html = paths["report_html"].read_text(encoding="utf-8")
    md_headings = re.findall(r"^#{1,3} (.+)$", md, flags=re.M)
    html_headings = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<h[1-3][^>]*>(.*?)</h[1-3]>", html)]
    unescape = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&#x27;": "'", "&#39;": "'", "&quot;": '"'}
    for a, b in unescape.items():
        html_headings = [h.replace(a, b) for h in html_headings]
        md_headings = [h.replace(a, b) for h in md_headings]
    assert md_headings == html_headings and "At a glance" in md_headings and "Zone by zone" in md_headings
    for stem in ("report_map_zones", "report_chart_load", "report_chart_travel"):
        assert f"]({stem}.png)" in md and f"{stem}.svg" in html
    for zone in summary["zones"]:
        row = f"{zone['hours_per_week']:,.0f} | {zone['load_vs_mean_pct']:+.1f}%"
        assert row in md
    assert md.count("⚠") == html.count("⚠")


def test_report_figures_exist_as_png_and_svg_and_are_not_blank(run: Run) -> None:
    import xml.etree.ElementTree as ET

    import numpy as np
    from PIL import Image

    _, paths, _ = run
    for role in ("maps", "load", "travel"):
        png, svg = paths[f"figure_{role}_png"], paths[f"figure_{role}_svg"]
        pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
        assert pixels.shape[0] > 500_000  # 200 dpi
        not_white = (pixels < 245).any(axis=1).mean()
        assert not_white > 0.03, f"{png.name} is blank ({100 * not_white:.1f}% ink)"
        assert len(np.unique(pixels[::7], axis=0)) > 20
        assert ET.parse(svg).getroot().tag.endswith("svg")
    # the zone maps carry the zone colours (drawn at the map's fill opacity over white)
    from maps.colours import PALETTE

    pixels = np.asarray(Image.open(paths["figure_maps_png"]).convert("RGB"), dtype=float).reshape(-1, 3)
    seen = 0
    for colour in PALETTE:
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
        target = 0.6 * rgb + 0.4 * 255
        seen += int((np.abs(pixels - target).max(axis=1) <= 4).sum() > 5000)
    assert seen >= 3  # three Melton zones, two of today's; neighbours differ


def test_client_level_outputs_carry_no_small_counts(run: Run) -> None:
    plan, paths, summary = run
    assert summary["privacy"]["client_level"] is True  # the fixture's demand has client_ref
    lookup = pd.read_csv(paths["postcodes"], dtype=str)
    assert "hours_per_week" not in lookup.columns  # no demand per postcode
    counts = [z["demand_rows"] for z in summary["zones"] + summary["current_zones"]]
    assert all(c is None or (c >= 10 and c % 5 == 0) for c in counts)
    assert summary["demand"]["rows"] % 5 == 0
    units = gpd.read_file(paths["gpkg"], layer="units")
    shown = units["clients"].dropna()
    assert ((shown == 0) | ((shown >= 10) & (shown % 5 == 0))).all()
    assert units.loc[units["suppressed"], "hours_per_week"].isna().all()
    assert units["suppressed"].any()  # Melton LSOAs hold a handful of clients each
    true_counts = plan.demand.merge(plan.postcodes[["postcode", "lsoa11cd"]].reset_index(drop=True), on="postcode")
    true_counts = true_counts.groupby("lsoa11cd").size().reindex(units["lsoa11cd"]).fillna(0).to_numpy()
    for zone, group in units.assign(true=true_counts).groupby("proposed_zone"):
        hidden = group.loc[group["suppressed"], "true"].sum()
        assert hidden == 0 or hidden >= 10, f"zone {zone}: {hidden} hidden clients recoverable by subtraction"
    for z in summary["zones"]:  # cohort hours from small counts are hidden
        assert any(z[f"hours_{c}"] is None for c in ("children", "live_in")) or z["demand_rows"] is None
    dist = summary["travel_distribution"]
    assert len(dist["proposed"]) == len(dist["edges_min"]) - 1
    map_html = paths["map"].read_text(encoding="utf-8")
    assert "suppressed" in map_html and "Client-level demand" in map_html
    assert "hours_per_week" not in map_html  # only formatted display strings reach the page


def test_a_postcode_level_file_is_personal_unless_shown_aggregated(melton_copy: Path, tmp_path: Path) -> None:
    demand = pd.read_csv(melton_copy / "demand.csv", dtype=str).drop(columns="client_ref")
    per_pc = demand.assign(hours_per_week=demand["hours_per_week"].astype(float)).groupby("postcode", as_index=False)[
        "hours_per_week"].sum()
    per_pc.to_csv(melton_copy / "by_postcode.csv", index=False)
    from tests.conftest import write_scenario

    # one row per postcode, small hours, nothing declared: as identifying as a client list (was published)
    plan = plan_zones(load_scenario(write_scenario(melton_copy, demand="by_postcode.csv")))
    paths = write_outputs(plan, tmp_path / "undeclared")
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert summary["privacy"]["client_level"] is True and "not declared aggregated" in summary["privacy"]["reason"]
    assert "hours_per_week" not in pd.read_csv(paths["postcodes"], dtype=str).columns
    # declared aggregated, with at least min_count clients behind every postcode: published as is
    per_pc.assign(clients=12).to_csv(melton_copy / "by_postcode.csv", index=False)
    scenario = write_scenario(melton_copy, demand="by_postcode.csv", extra='[privacy]\nclient_level = "no"\n')
    plan = plan_zones(load_scenario(scenario))
    paths = write_outputs(plan, tmp_path / "declared")
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert summary["privacy"]["client_level"] is False
    lookup = pd.read_csv(paths["postcodes"], dtype={"postcode": str})
    assert lookup["hours_per_week"].sum() == pytest.approx(per_pc["hours_per_week"].sum())
    units = gpd.read_file(paths["gpkg"], layer="units")
    assert units["clients"].notna().all() and units["clients"].sum() == 12 * len(per_pc)


def test_zones_changed_and_hours_moved_are_consistent(run: Run) -> None:
    plan, _, summary = run
    change = summary["change"]
    assert 0 <= change["hours_moved"] <= summary["plan"]["total_hours"]
    assert 0 <= change["zones_changed"] <= summary["plan"]["zones"]
    continues = change["continues"]
    moved = plan.postcodes["current_zone"] != plan.postcodes["proposed_zone"].map(continues)
    hours = plan.demand.merge(plan.postcodes[["postcode"]].assign(moved=moved.to_numpy()).reset_index(drop=True),
                              on="postcode")
    assert change["hours_moved"] == pytest.approx(hours.loc[hours["moved"], "hours_per_week"].sum())
    assert len(set(v for v in continues.values() if v is not None)) == len([v for v in continues.values() if v])


def test_the_manifest_hashes_every_input_and_output_and_every_file_carries_the_run_id(run: Run) -> None:
    from tests.conftest import file_digest
    from zoning.publish.manifest import verify_output_set

    plan, paths, summary = run
    folder = paths["manifest"].parent
    manifest = json.loads(paths["manifest"].read_text(encoding="utf-8"))
    assert verify_output_set(folder) == []
    assert {o["file"] for o in manifest["outputs"]} == {p.name for k, p in paths.items() if k != "manifest"}
    for entry in manifest["outputs"]:
        assert entry["sha256"] == file_digest(folder / entry["file"])
    inputs = {i["role"]: i for i in manifest["inputs"]}
    assert inputs["demand"]["sha256"] == file_digest(plan.scenario.demand.path)
    assert inputs["scenario"]["sha256"] == file_digest(plan.scenario.source)
    assert {"providers", "current_zones", "postcodes", "boundaries"} <= set(inputs)
    assert manifest["solver"]["name"] == "highs" and "highspy" in manifest["solver"]["version"]
    assert manifest["solver"]["status"] == summary["solver"]["status"] and manifest["seed"] == 7
    assert manifest["reference_data"]["vintage"] and manifest["carezones_version"] == summary["carezones_version"]
    run_id, digest = manifest["run_id"], manifest["scenario"]["sha256_validated"]
    assert summary["run"] == {"run_id": run_id, "scenario_sha256": digest}
    geojson = json.loads(paths["zones"].read_text(encoding="utf-8"))
    assert geojson["type"] == "FeatureCollection" and geojson["carezones"]["run_id"] == run_id
    assert len(geojson["features"]) == summary["plan"]["zones"]
    meta = pyogrio.read_dataframe(paths["gpkg"], layer="run").iloc[0]
    assert meta["carezones_run_id"] == run_id and meta["carezones_scenario_sha256"] == digest
    lookup = pd.read_csv(paths["postcodes"], dtype=str)
    assert set(lookup["run_id"]) == {run_id} and set(lookup["scenario_sha256_12"]) == {digest[:12]}
    about = [r[0] for r in load_workbook(paths["postcodes_xlsx"])["about"].iter_rows(values_only=True)]
    assert any(run_id in str(line) and digest in str(line) for line in about)
    for key in ("report", "report_html", "map"):
        assert run_id in paths[key].read_text(encoding="utf-8"), key
