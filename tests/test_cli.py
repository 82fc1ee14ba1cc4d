"""The command line: help, exit codes, one clear message, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import file_digest, write_scenario


def carezones(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zoning.cli", *args], capture_output=True, text=True, timeout=300,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "NO_COLOR": "1"})


def test_help_explains_the_commands() -> None:
    res = carezones("--help")
    assert res.returncode == 0
    for word in ("run", "data"):
        assert word in res.stdout
    run_help = carezones("run", "--help")
    assert run_help.returncode == 0
    for word in ("--solver", "--time-limit", "--out", "leicestershire.toml", "map.html"):
        assert word in run_help.stdout


def test_bad_demand_exits_non_zero_naming_rows_and_keeps_inputs(melton_copy: Path, tmp_path: Path) -> None:
    bad = melton_copy / "bad.csv"
    bad.write_text("postcode,hours_per_week\nLE13 0AA,abc\nZZ99 9ZZ,4\nLE13 0AA,-1\n", encoding="utf-8")
    scenario = write_scenario(melton_copy, demand="bad.csv")
    before = file_digest(bad)
    res = carezones("run", str(scenario), "--out", str(tmp_path / "out"))
    assert res.returncode == 3
    assert "row 2: hours_per_week 'abc' is not a number" in res.stderr
    assert "row 4: hours_per_week '-1' is negative" in res.stderr
    assert "Traceback" not in res.stderr
    assert file_digest(bad) == before
    assert not (tmp_path / "out").exists()


def test_unknown_scenario_key_exits_2(melton_copy: Path) -> None:
    scenario = write_scenario(melton_copy, extra="zonez = 3\n")
    res = carezones("run", str(scenario))
    assert res.returncode == 2
    assert "zonez" in res.stderr and "Extra inputs are not permitted" in res.stderr


def test_impossible_balance_exits_5_with_the_reason(melton_copy: Path, tmp_path: Path) -> None:
    scenario = write_scenario(melton_copy, zones=25, tolerance=0.0)
    res = carezones("run", str(scenario), "--out", str(tmp_path / "o"))
    assert res.returncode == 5
    assert "no plan is possible" in res.stderr and "more than the zone maximum" in res.stderr
    res = carezones("run", str(scenario), "--zones", "100")
    assert res.returncode == 2  # a scenario problem, not a solver failure (was 5)
    assert "asked for 100 zones but the area has only 30 units" in res.stderr


def test_run_writes_outputs_and_prints_both_plans(melton_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = carezones("run", str(melton_dir / "melton.toml"), "--out", str(out), "--solver", "cbc", "--time-limit", "60")
    assert res.returncode == 0, res.stderr
    for name in ("map.html", "zones.geojson", "postcode_zones.csv", "summary.json", "report.md"):
        assert (out / name).is_file()
    assert "proposed" in res.stdout and "current (approx.)" in res.stdout
    assert "solver cbc:" in res.stdout and "gap" in res.stdout
    assert "SYNTHETIC" in res.stdout
    assert not list(out.glob(".*"))  # no temporary files left behind
