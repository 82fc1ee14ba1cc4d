"""End to end on a small real extract (Melton borough), and on the full Leicestershire default.

Figures in the outputs are recomputed from ``postcode_zones.csv`` and the demand file; the
same named checks the pipeline runs are applied to what was written.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import shape

from optimiser.checks import is_contiguous, within_bounds
from tests.conftest import file_digest
from zoning.pipeline import ZonePlan, plan_zones
from zoning.publish.writers import write_outputs
from zoning.scenario import load_scenario


def _run(scenario_path: Path | None, out: Path) -> tuple[ZonePlan, dict[str, Path]]:
    plan = plan_zones(load_scenario(scenario_path))
    return plan, write_outputs(plan, out)


@pytest.fixture(scope="module")
def melton_run(melton_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ZonePlan, dict[str, Path]]:
    return _run(melton_dir / "melton.toml", tmp_path_factory.mktemp("out"))


def check_outputs(plan: ZonePlan, paths: dict[str, Path], demand_path: Path) -> None:
    """The acceptance checks shared by the small and the full run."""
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    lookup = pd.read_csv(paths["postcodes"], dtype={"postcode": str})
    # every in-area postcode exactly once
    in_area = plan.postcodes["postcode"]
    assert lookup["postcode"].is_unique
    assert set(lookup["postcode"]) == set(in_area) and len(lookup) == len(in_area)
    # zone hours and travel recomputed from the lookup and the demand file
    demand = pd.read_csv(demand_path, dtype={"postcode": str})
    joined = demand.merge(lookup, on="postcode", how="left", suffixes=("", "_pc"))
    assert joined["proposed_zone"].notna().all()
    hours = joined.groupby("proposed_zone")["hours_per_week"].sum()
    travel = (joined["hours_per_week"] * joined["travel_min_proposed"]).groupby(joined["proposed_zone"]).sum() / hours
    for zone in summary["zones"]:
        assert zone["hours_per_week"] == pytest.approx(hours[zone["zone"]], rel=1e-9)
        assert zone["mean_travel_min"] == pytest.approx(travel[zone["zone"]], abs=1e-3)
    mean_travel = float((joined["hours_per_week"] * joined["travel_min_proposed"]).sum() / joined["hours_per_week"].sum())
    assert summary["plan"]["mean_travel_min"] == pytest.approx(mean_travel, abs=1e-3)
    cur_travel = float((joined["hours_per_week"] * joined["travel_min_current"]).sum() / joined["hours_per_week"].sum())
    assert summary["current"]["mean_travel_min"] == pytest.approx(cur_travel, abs=1e-3)
    # the solver's verdict is reported and consistent
    solver = summary["solver"]
    assert solver["status"] in ("optimal", "feasible")
    assert solver["best_bound_value"] <= solver["objective_value"] + 1e-6
    assert solver["gap"] == pytest.approx(
        (solver["objective_value"] - solver["best_bound_value"]) / solver["objective_value"], abs=1e-9)
    # bounds and contiguity, re-checked with the pipeline's own predicates on the written plan
    k = summary["model"]["zones"]
    loads = hours.reindex([z["zone"] for z in summary["zones"]]).to_numpy()
    mean = loads.sum() / k
    tol = summary["model"]["tolerance"]
    assert within_bounds(loads, lower=(1 - tol) * mean, upper=(1 + tol) * mean).passed
    unit_zone = lookup.groupby("lsoa11cd")["proposed_zone"].agg(lambda s: s.unique().tolist())
    assert unit_zone.map(len).max() == 1  # a unit is never split between zones
    index = plan.units.index()
    labels = np.zeros(plan.units.n, dtype=np.int64)
    zone_ids = sorted(lookup["proposed_zone"].unique())
    for lsoa, zones in unit_zone.items():
        labels[index[lsoa]] = zone_ids.index(zones[0])
    assert is_contiguous(labels, plan.units.edges).passed
    assert all(c["passed"] for c in summary["checks"])
    # RFC 7946 GeoJSON: WGS84, no crs member, right-hand rule, one feature per zone
    geo = json.loads(paths["zones"].read_text(encoding="utf-8"))
    assert "crs" not in geo and len(geo["features"]) == k
    for feature in geo["features"]:
        geom = shape(feature["geometry"])
        polys = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
        for poly in polys:
            assert poly.exterior.is_ccw
            assert all(not ring.is_ccw for ring in poly.interiors)
        minx, miny, maxx, maxy = geom.bounds
        assert -3.0 < minx < maxx < 0.5 and 52.0 < miny < maxy < 53.2
        assert "provenance" not in feature["properties"]  # once per file, in the description
    assert "SYNTHETIC" in geo["description"]
    gdf = gpd.read_file(paths["zones"])
    assert gdf.crs.to_epsg() == 4326
    assert gdf["hours_per_week"].sum() == pytest.approx(demand["hours_per_week"].sum())
    # every human-facing output says what was synthetic or approximate
    for name in ("report", "map"):
        text = paths[name].read_text(encoding="utf-8")
        assert "SYNTHETIC" in text and "APPROXIMATE" in text


def test_melton_run_outputs_pass_acceptance_checks(melton_run: tuple[ZonePlan, dict[str, Path]], melton_dir: Path) -> None:
    plan, paths = melton_run
    assert plan.metrics.zones == 3
    check_outputs(plan, paths, melton_dir / "demand.csv")


def test_inputs_are_not_modified(melton_copy: Path, tmp_path: Path) -> None:
    digests = {p.name: file_digest(p) for p in melton_copy.iterdir()}
    _run(melton_copy / "melton.toml", tmp_path / "out")
    assert {p.name: file_digest(p) for p in melton_copy.iterdir()} == digests


def test_input_text_is_escaped_and_formulas_neutralised(melton_run: tuple[ZonePlan, dict[str, Path]]) -> None:
    _, paths = melton_run
    page = paths["map"].read_text(encoding="utf-8")
    assert "<img src=x" not in page and "${alert" not in page
    assert "<b>& co</b>" not in page  # the scenario title is escaped too
    report = paths["report"].read_text(encoding="utf-8")
    assert "<b>" not in report
    lookup = pd.read_csv(paths["postcodes"], dtype=str)
    assert not lookup["current_zone"].str.startswith("=").any()
    assert (lookup["current_zone"] == "'=Melton rural").any()


def test_providers_outside_the_area_count_towards_the_nearest_zone(melton_run: tuple[ZonePlan, dict[str, Path]]) -> None:
    plan, _ = melton_run
    assert plan.zones["capacity_hours_per_week"].sum() == pytest.approx(500 + 300 + 1200)
    assert plan.providers.set_index("provider_id").loc["P3", "in_area"] == False  # noqa: E712 (Leicester)


@pytest.mark.slow
def test_leicestershire_default_meets_the_acceptance_checks(tmp_path: Path) -> None:
    scenario = load_scenario()
    plan, paths = _run(None, tmp_path / "leics")
    assert plan.metrics.zones == 14
    assert len(plan.postcodes) == 16_909
    assert plan.metrics.zones_outside_tolerance == 0 and plan.metrics.contiguous
    assert plan.result.seconds < scenario.model.time_limit_s + 30
    check_outputs(plan, paths, scenario.demand.path)


def test_zone_ids_sort_numerically_for_any_count() -> None:
    from zoning.pipeline import zone_ids

    for k in (3, 14, 99, 100, 150):
        ids = zone_ids(k)
        assert ids == sorted(ids) and len(set(ids)) == k


def test_units_without_postcodes_take_a_neighbours_current_zone(melton_run: tuple[ZonePlan, dict[str, Path]]) -> None:
    from zoning.pipeline import fill_from_neighbours

    plan, _ = melton_run
    gappy = plan.unit_current_zone.copy()
    victim = gappy.index[0]
    gappy[victim] = None
    filled = fill_from_neighbours(gappy, plan.units)
    assert filled.notna().all()
    neighbours = {plan.unit_current_zone[n] for n in plan.units.graph().neighbors(victim)}
    assert filled[victim] in neighbours


def test_summary_is_strict_json(melton_run: tuple[ZonePlan, dict[str, Path]]) -> None:
    _, paths = melton_run
    text = paths["summary"].read_text(encoding="utf-8")
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
