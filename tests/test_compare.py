"""`carezones compare`: zones side by side, flows between zones (suppressed when small), a map."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.test_cli import carezones
from zoning.pipeline import plan_zones
from zoning.planner.compare import compare_runs
from zoning.planner.overrides import apply_settings
from zoning.publish.writers import write_outputs
from zoning.scenario import load_scenario


def _run(melton_dir: Path, out: Path, **settings: object) -> Path:
    scenario = apply_settings(load_scenario(melton_dir / "melton.toml"), {"model.certify_s": 0, **settings})
    write_outputs(plan_zones(scenario), out)
    return out


@pytest.fixture(scope="module")
def runs(melton_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("cmp")
    # aggregated demand (one row per postcode, declared not client level, >= 10 clients each): hours are published
    rows = pd.read_csv(melton_dir / "demand.csv").groupby("postcode")["hours_per_week"].agg(["sum", "size"])
    aggregated = pd.DataFrame({"postcode": rows.index, "hours_per_week": rows["sum"].round(2).to_numpy(),
                               "clients": rows["size"].clip(lower=10).to_numpy()})
    aggregated.to_csv(base / "aggregated.csv", index=False)
    public = {"privacy.client_level": "no", "demand.path": base / "aggregated.csv"}
    return {
        "three": _run(melton_dir, base / "three", **public),
        "four": _run(melton_dir, base / "four", **public, **{"model.zones": 4}),
        "three_private": _run(melton_dir, base / "three_private"),
        "four_private": _run(melton_dir, base / "four_private", **{"model.zones": 4}),
    }


def test_a_run_compared_with_itself_changes_nothing(runs: dict[str, Path]) -> None:
    c = compare_runs(runs["three"], runs["three"])
    assert c.postcodes_changed == 0 and c.hours_changed == 0 and c.flows.empty and c.changed_lsoas.empty
    assert (c.zones["hours_per_week_change"] == 0).all()


def test_flows_add_up_to_the_postcodes_and_hours_whose_zone_differs(runs: dict[str, Path], tmp_path: Path) -> None:
    res = carezones("compare", str(runs["three"]), str(runs["four"]), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    a = pd.read_csv(runs["three"] / "postcode_zones.csv", dtype={"proposed_zone": str})
    assert "hours_per_week" in a.columns
    b = pd.read_csv(runs["four"] / "postcode_zones.csv", dtype={"proposed_zone": str})
    both = a.merge(b[["postcode", "proposed_zone"]], on="postcode", suffixes=("_a", "_b"))
    differ = both[both["proposed_zone_a"] != both["proposed_zone_b"]]
    flows = pd.read_csv(tmp_path / "compare_flows.csv")
    assert flows["postcodes"].sum() == len(differ) > 0
    assert flows["hours_per_week"].sum() == pytest.approx(differ["hours_per_week"].sum())
    zones = pd.read_csv(tmp_path / "compare_zones.csv")
    assert len(zones) == 4 and zones["hours_per_week_b"].sum() == pytest.approx(a["hours_per_week"].sum())
    html = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert "Map of the differences" in html and html.count("<path") > 30
    assert "://" not in html.replace("http://www.w3.org/2000/svg", "") and "<script" not in html
    assert "SYNTHETIC" in html


def test_client_level_flows_hide_small_counts(runs: dict[str, Path]) -> None:
    c = compare_runs(runs["three_private"], runs["four_private"])
    assert c.postcodes_changed > 0
    lookup = pd.read_csv(runs["three_private"] / "postcode_zones.csv")
    assert "hours_per_week" not in lookup.columns  # nothing per postcode to start from
    hidden = c.flows[c.flows["suppressed"]]
    assert hidden["hours_per_week"].isna().all()
    if hidden.empty:
        assert c.hours_changed is not None
    else:
        assert c.hours_changed is None  # a total would reveal the hidden flows
