"""`carezones evaluate`: a given plan measured like a run; lossless round trips; failing checks named."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import write_scenario
from tests.test_cli import carezones
from zoning.pipeline import plan_zones
from zoning.planner.evaluate import evaluate_plan
from zoning.publish.writers import write_outputs
from zoning.scenario import load_scenario

#: the summary sections a round trip must reproduce exactly (the solver's and timing sections differ)
FIGURES = ("plan", "current", "zones", "current_zones", "costs", "moves", "change", "bands", "travel_distribution",
           "demand", "providers")


@pytest.fixture(scope="module")
def melton_run_dir(melton_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    write_outputs(plan_zones(load_scenario(melton_dir / "melton.toml")), out)
    return out


def _summary(folder: Path) -> dict[str, object]:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("plan_name", ["postcode_zones.csv", "zones.gpkg", "zones.geojson"])
def test_evaluating_a_runs_own_plan_reproduces_its_figures(melton_dir: Path, melton_run_dir: Path, tmp_path: Path,
                                                           plan_name: str) -> None:
    plan = evaluate_plan(load_scenario(melton_dir / "melton.toml"), melton_run_dir / plan_name)
    assert all(c.passed for c in plan.checks), [c for c in plan.checks if not c.passed]
    write_outputs(plan, tmp_path)
    ran, evaluated = _summary(melton_run_dir), _summary(tmp_path)
    for section in FIGURES:
        assert evaluated[section] == ran[section], section
    stamp = ["run_id", "scenario_sha256_12"]  # each run's own identity, not a figure
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "postcode_zones.csv", dtype=str).drop(columns=stamp, errors="ignore"),
        pd.read_csv(melton_run_dir / "postcode_zones.csv", dtype=str).drop(columns=stamp, errors="ignore"))
    assert evaluated["solver"]["name"] == "none" and "not solved" in evaluated["solver"]["solver_status"]


def test_a_runs_own_zones_gpkg_as_current_zones_moves_nothing(melton_dir: Path, melton_run_dir: Path,
                                                              tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    for f in melton_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "zones.gpkg").write_bytes((melton_run_dir / "zones.gpkg").read_bytes())
    path = write_scenario(folder)
    text = path.read_text().replace('path = "zones.csv"\nkey = "ward_code"',
                                    'path = "zones.gpkg"\nkey = "polygon"\nzone_column = "zone_id"\nlayer = "zones"')
    path.write_text(text)
    plan = evaluate_plan(load_scenario(path), melton_run_dir / "postcode_zones.csv")
    assert plan.hours_moved == 0.0
    assert plan.change is not None and plan.change.postcodes_moved == 0 and plan.change.zones_changed == 0
    assert (plan.postcodes["current_zone"] == plan.postcodes["proposed_zone"]).all()


def test_an_edited_plan_reports_each_failing_check_by_how_much(melton_dir: Path, melton_run_dir: Path,
                                                               tmp_path: Path) -> None:
    table = pd.read_csv(melton_run_dir / "postcode_zones.csv", dtype=str, keep_default_na=False)
    # split one LSOA and move the rest of the biggest zone's largest LSOA elsewhere: balance breaks
    demand = pd.read_csv(melton_dir / "demand.csv").groupby("postcode")["hours_per_week"].sum()
    hours = table.assign(h=table["postcode"].map(demand).fillna(0.0))
    zone_hours = hours.groupby("proposed_zone")["h"].sum()
    big, small = zone_hours.idxmax(), zone_hours.idxmin()
    lsoa = hours[hours["proposed_zone"] == small].groupby("lsoa11cd")["h"].sum().idxmax()
    rows = table.index[table["lsoa11cd"] == lsoa]
    table.loc[rows, "proposed_zone"] = big
    table.loc[rows[:1], "proposed_zone"] = small  # one postcode stays: the LSOA is split
    edited = tmp_path / "edited.csv"
    table.to_csv(edited, index=False)
    res = carezones("evaluate", str(melton_dir / "melton.toml"), "--plan", str(edited), "--out", str(tmp_path / "out"))
    assert res.returncode == 6, res.stderr
    assert "FAIL lsoas_whole: 1 LSOA(s) split between zones: 1 postcode(s)" in res.stdout
    assert "FAIL within_bounds" in res.stdout and "outside [" in res.stdout
    summary = _summary(tmp_path / "out")
    failed = {c["name"]: c["detail"] for c in summary["checks"] if not c["passed"]}
    assert "lsoas_whole" in failed and "within_bounds" in failed
    assert f"{small}: load" in failed["within_bounds"]  # named by the plan's own zone id, with its figure
    assert "Traceback" not in res.stderr


def test_a_plan_file_without_a_zone_column_says_what_it_needs(melton_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "plan.csv"
    bad.write_text("postcode,area\nLE13 0AA,north\n", encoding="utf-8")
    res = carezones("evaluate", str(melton_dir / "melton.toml"), "--plan", str(bad), "--out", str(tmp_path / "o"))
    assert res.returncode == 3
    assert "no zone column: expected one of ['proposed_zone', 'zone_id', 'zone']" in res.stderr


def test_an_lsoa_table_is_a_plan_too(melton_dir: Path, melton_run_dir: Path, tmp_path: Path) -> None:
    lookup = pd.read_csv(melton_run_dir / "postcode_zones.csv", dtype=str)
    table = lookup[["lsoa11cd", "proposed_zone", "proposed_zone_name"]].drop_duplicates()
    table.columns = ["lsoa11cd", "zone", "zone_name"]
    table.to_csv(tmp_path / "lsoa_plan.csv", index=False)
    plan = evaluate_plan(load_scenario(melton_dir / "melton.toml"), tmp_path / "lsoa_plan.csv")
    ran = _summary(melton_run_dir)
    # no centres given: each zone's medoid, never worse than the run's own centre (a member too)
    assert plan.metrics.mean_travel_min <= ran["plan"]["mean_travel_min"] + 1e-9
    assert [z["hours_per_week"] for z in ran["zones"]] == pytest.approx(list(plan.zones["hours_per_week"]))
    assert list(plan.zones["zone"]) == [z["zone"] for z in ran["zones"]]
    assert list(plan.zones["zone_name"]) == [z["zone_name"] for z in ran["zones"]]


def test_named_zones_keep_their_locks_when_evaluated(melton_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    for f in melton_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    lsoa = pd.read_csv(folder / "postcodes.csv", dtype=str).query("in_area == '1'")["lsoa11cd"].min()
    path = write_scenario(folder, extra="")
    path.write_text(path.read_text() + f'\n[[zone]]\nname = "Locked"\nlock_lsoas = ["{lsoa}"]\n')
    scenario = load_scenario(path)
    write_outputs(plan_zones(scenario), tmp_path / "run")
    plan = evaluate_plan(scenario, tmp_path / "run" / "postcode_zones.csv")
    assert {c.name: c.passed for c in plan.checks}["locks_respected"]
    table = pd.read_csv(tmp_path / "run" / "postcode_zones.csv", dtype=str, keep_default_na=False)
    locked_zone = table.loc[table["lsoa11cd"] == lsoa, "proposed_zone"].iloc[0]
    other = sorted(set(table["proposed_zone"]) - {locked_zone})[0]
    table.loc[table["lsoa11cd"] == lsoa, "proposed_zone"] = other
    table.to_csv(tmp_path / "moved.csv", index=False)
    moved = evaluate_plan(scenario, tmp_path / "moved.csv")
    assert not {c.name: c.passed for c in moved.checks}["locks_respected"]
