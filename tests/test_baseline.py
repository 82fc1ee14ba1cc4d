"""Re-openings: a previous run's plan as today's zones, kept ids and names, what changed since."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.test_cli import carezones
from zoning.pipeline import plan_zones
from zoning.planner.overrides import apply_settings
from zoning.publish.writers import write_outputs
from zoning.scenario import load_scenario


@pytest.fixture(scope="module")
def baseline_run(melton_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("baseline")
    write_outputs(plan_zones(load_scenario(melton_dir / "melton.toml")), out)
    return out


def _summary(folder: Path) -> dict[str, object]:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def test_rerunning_from_its_own_baseline_moves_nothing_and_keeps_ids_and_names(
        melton_dir: Path, baseline_run: Path, tmp_path: Path) -> None:
    res = carezones("run", str(melton_dir / "melton.toml"), "--baseline", str(baseline_run), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    before, after = _summary(baseline_run), _summary(tmp_path)
    assert after["constraints"]["continuity"] is not None  # continuity on by default
    assert [(z["zone"], z["zone_name"]) for z in after["zones"]] == [(z["zone"], z["zone_name"]) for z in before["zones"]]
    since = after["since_baseline"]
    assert since["hours_moved"] == 0 and since["postcodes_moved"] == 0 and since["providers"] == []
    lookup_a = pd.read_csv(baseline_run / "postcode_zones.csv", dtype=str)
    lookup_b = pd.read_csv(tmp_path / "postcode_zones.csv", dtype=str)
    assert (lookup_b["current_zone"] == lookup_a["proposed_zone"]).all()  # today = the baseline, postcode by postcode
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Since the baseline" in report and "-0.00" not in report and "-0.0%" not in report


def test_a_reopening_says_where_new_and_departed_branches_belong(melton_dir: Path, baseline_run: Path,
                                                                tmp_path: Path) -> None:
    folder = tmp_path / "s"
    shutil.copytree(melton_dir, folder)
    providers = pd.read_csv(folder / "providers.csv", dtype=str)
    providers = providers[providers["provider_id"] != "P2"]  # P2 leaves
    joined = pd.DataFrame({"provider_id": ["P9"], "name": ["New branch"], "postcode": ["LE13 1LA"],
                           "capacity_hours_per_week": ["1100"]})
    pd.concat([providers, joined]).to_csv(folder / "providers.csv", index=False)
    scenario = apply_settings(load_scenario(folder / "melton.toml"), {"baseline.run": baseline_run})
    plan = plan_zones(scenario)
    write_outputs(plan, tmp_path / "out")
    since = _summary(tmp_path / "out")["since_baseline"]
    changes = {p["provider_id"]: p for p in since["providers"]}
    base_prov = pd.read_csv(baseline_run / "postcode_zones.csv", dtype=str).set_index("postcode")
    assert changes["P2"]["change"] == "left" and changes["P2"]["capacity_before"] == 300
    assert changes["P9"]["change"] == "joined" and changes["P9"]["capacity_after"] == 1100
    assert changes["P9"]["zone"] == plan.postcodes.at["LE13 1LA", "proposed_zone"]
    assert "LE13 1LA" in base_prov.index
    zones = {z["zone"]: z for z in since["zones"]}
    total_before = sum(z["capacity_before"] for z in zones.values())
    total_after = sum(z["capacity_after"] for z in zones.values())
    assert total_after - total_before == pytest.approx(1100 - 300)
    assert zones[changes["P9"]["zone"]]["capacity_after"] >= 1100


def test_another_zone_count_matches_zones_to_the_baseline_and_numbers_new_ones(
        melton_dir: Path, baseline_run: Path) -> None:
    scenario = apply_settings(load_scenario(melton_dir / "melton.toml"),
                              {"model.zones": 4, "baseline.run": baseline_run})
    assert scenario.continuity is None  # 4 zones against the baseline's 3: designed afresh
    plan = plan_zones(scenario)
    ids = list(plan.zones["zone"])
    assert len(ids) == 4 and {"Z01", "Z02", "Z03"} & set(ids) and "Z04" in ids
    names = dict(zip(plan.zones["zone"], plan.zones["zone_name"], strict=True))
    base = {z["zone"]: z["zone_name"] for z in _summary(baseline_run)["zones"]}
    for zone, continues in plan.matched.items():
        if continues is not None:
            assert zone == continues and names[zone] == base[zone]  # a continued zone keeps id and name


def test_a_baseline_table_in_the_scenario_file_is_relative_to_it(melton_dir: Path, baseline_run: Path,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "s"
    shutil.copytree(melton_dir, folder)
    shutil.copytree(baseline_run, folder / "year0")
    path = folder / "melton.toml"
    path.write_text(path.read_text() + '\n[baseline]\nrun = "year0"\n')
    scenario = load_scenario(path)
    assert scenario.baseline is not None and scenario.baseline.run == (folder / "year0").resolve()
    assert scenario.current_zones.path == (folder / "year0" / "postcode_zones.csv").resolve()
    assert scenario.current_zones.key == "postcode" and scenario.continuity is not None


def test_a_missing_baseline_folder_says_what_it_needs(melton_dir: Path, tmp_path: Path) -> None:
    res = carezones("run", str(melton_dir / "melton.toml"), "--baseline", str(tmp_path / "nowhere"),
                    "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert "missing ['postcode_zones.csv', 'summary.json']" in res.stderr and "Traceback" not in res.stderr


def test_a_reopening_at_postcode_level_keeps_the_baseline_ids_and_says_what_moved(
        melton_dir: Path, baseline_run: Path) -> None:
    from zoning.baseline import since_baseline

    settings = {"baseline.run": baseline_run, "units.level": "postcode", "units.refine_s": 5.0, "units.bound_s": 3.0}
    scenario = apply_settings(load_scenario(melton_dir / "melton.toml"), settings)
    assert scenario.continuity is not None and scenario.units.level == "postcode"  # on by default
    plan = plan_zones(scenario)
    assert plan.units.n > 300 and all(c.passed for c in plan.checks)
    before = pd.read_csv(baseline_run / "postcode_zones.csv", dtype=str).set_index("postcode")
    assert (plan.postcodes["current_zone"] == before.loc[plan.postcodes.index, "proposed_zone"]).all()
    names = dict(zip(before["proposed_zone"], before["proposed_zone_name"], strict=True))
    assert set(plan.zones["zone"]) == set(names)  # the same 3 zones keep their ids and names
    assert dict(zip(plan.zones["zone"], plan.zones["zone_name"], strict=True)) == names
    since = since_baseline(plan)
    assert since is not None
    moved = plan.postcodes["proposed_zone"] != plan.postcodes["current_zone"]
    assert since.postcodes_moved == int(moved.sum())
    # the cells refine the baseline's LSOA zones: most postcodes stay where the baseline put them
    assert moved.mean() < 0.2
