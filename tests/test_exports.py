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
    assert layers == {"zones", "current_zones", "units", "providers", "run"}
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
        assert row.mean_travel_min == pytest.approx(by_zone[row.zone_id]["mean_travel_min"])
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
    assert header == ["postcode", "proposed_zone", "proposed_zone_name", "current_zone", "band", "district_name"]
    assert len(rows) - 1 == len(csv)
    assert all(c.data_type != "f" for row in rows for c in row)
    current = [r[header.index("current_zone")].value for r in rows[1:]]
    assert "'=Melton rural" in current and "=Melton rural" not in current  # the fixture's formula-like zone
    assert set(csv["band"]) <= {"urban", "fringe", "rural", "isolated"}
    xlsx = pd.read_excel(paths["postcodes_xlsx"], sheet_name="postcode_zones", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(xlsx[["postcode", "proposed_zone", "band"]], csv[["postcode", "proposed_zone", "band"]])


def test_report_html_is_self_contained_escaped_and_agrees_with_the_summary(run: Run) -> None:
    _, paths, summary = run
    html = paths["report_html"].read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', html)
    assert html.count("<svg") == 2  # loads vs capacity, travel before/after
    assert "Melton test &lt;b&gt;&amp; co&lt;/b&gt;" in html and "<b>& co</b>" not in html
    assert "SYNTHETIC" in html and "APPROXIMATE" in html
    saved = summary["current"]["mean_travel_min"] - summary["plan"]["mean_travel_min"]
    assert f"{-saved:+.2f} min" in html
    assert f"{summary['change']['hours_moved']:,.0f}" in html
    for zone in summary["zones"]:
        assert f"{zone['hours_per_week']:,.0f}" in html
    assert "gap" in html and summary["solver"]["status"] in html
    assert "Open Government Licence" in html


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
