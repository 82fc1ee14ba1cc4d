"""Current zones are optional: without [current_zones] every output presents the proposed plan
alone and says so (no comparison, no moves, no 'nan'); the travel fit is the area's own when
[travel] gives no coefficients."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import write_scenario
from zoning.cli import app
from zoning.scenario import load_scenario
from zoning.travel import scenario_travel_options


def _without_current(folder: Path) -> Path:
    path = write_scenario(folder)
    text = path.read_text(encoding="utf-8")
    start = text.index("[current_zones]")
    end = text.index("[model]")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    return path


def test_a_run_without_current_zones_shows_the_plan_alone(melton_copy: Path, tmp_path: Path) -> None:
    scenario = _without_current(melton_copy)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(scenario), "--out", str(out)])
    assert res.exit_code == 0, res.output
    header = next(line for line in res.output.splitlines() if "measure" in line)
    assert "proposed" in header and "current" not in header  # the CLI table has no current column
    assert "No current zones were given" in res.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["current"] is None and summary["current_zones"] == [] and summary["change"] is None
    assert summary["moves"] == [] and summary["costs"]["travel_gbp_per_week_current"] is None
    assert summary["constraints"]["hours_changing_zone"] is None
    assert all(c["passed"] for c in summary["checks"])
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "No current zones were given" in report
    assert "Current zones" not in report and "saved" not in report and "move zone" not in report
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Current zones" not in html and "Change vs today" not in html
    lookup = pd.read_csv(out / "postcode_zones.csv")
    assert not {"current_zone", "changes_zone", "travel_min_current"} & set(lookup.columns)
    import pyogrio

    layers = [name for name, _ in pyogrio.list_layers(out / "zones.gpkg")]
    assert "current_zones" not in layers and "zones" in layers
    units = pyogrio.read_dataframe(out / "zones.gpkg", layer="units")
    assert not {"current_zone", "current_zone_id", "changes_zone"} & set(units.columns)
    for path in out.iterdir():
        if path.suffix in (".md", ".html", ".json", ".csv", ".geojson") and path.name != "map.html":  # map: inlined JS
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"\bnan\b", text, re.IGNORECASE), path.name
    assert "today:" not in (out / "map.html").read_text(encoding="utf-8").split("cz-search-form")[-1][:300]


def test_continuity_needs_current_zones(melton_copy: Path) -> None:
    from zoning.errors import ScenarioError
    from zoning.pipeline import prepare_problem

    scenario = _without_current(melton_copy)
    scenario.write_text(scenario.read_text(encoding="utf-8") + "\n[continuity]\nmax_moved_share = 0.3\n",
                        encoding="utf-8")
    with pytest.raises(ScenarioError, match="no \\[current_zones\\]"):
        prepare_problem(load_scenario(scenario))


def test_travel_without_coefficients_is_the_areas_own_fit(melton_copy: Path) -> None:
    scenario = load_scenario(write_scenario(melton_copy))
    assert "not calibrated for this area" in scenario_travel_options(scenario).calibration  # no travel file here
    travel = melton_copy.parent / "travel"
    travel.mkdir()
    km = np.array([1.0, 2.0, 5.0, 8.0, 3.0])
    pd.DataFrame({"lsoa11cd": ["E01"] * 4 + ["E02"], "hospital": "H", "km_straight": km,
                  "road_minutes": np.r_[4.0 + 1.5 * km[:4], 99.0]}).to_csv(
        travel / "E07000133_lsoa_hospital_times.csv", index=False)
    fitted = scenario_travel_options(scenario, in_area_lsoas={"E01"})  # E02 is context: left out
    assert (fitted.intercept_min, fitted.min_per_km) == pytest.approx((4.0, 1.5))
    assert "Melton LSOAs" in fitted.calibration
    given = load_scenario(write_scenario(melton_copy, extra="[travel]\nintercept_min = 9\nmin_per_km = 1\n"))
    assert scenario_travel_options(given).calibration == "coefficients given in the scenario"
