"""A real council other than Leicestershire, end to end: `carezones init` then `carezones run`
for the Isle of Wight (E06000046, 89 LSOAs, an island), and no text of Leicestershire in any
output.

Needs the three source wheels in the cache (``~/.cache/carezones/wheels``, filled by the first
`carezones data build`); the test does not download them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zoning.cli import app
from zoning.databuild.build import DEFAULT_WHEEL_DIR
from zoning.databuild.sources import WHEEL_SPECS

CACHED = all(any(DEFAULT_WHEEL_DIR.glob(f"{prefix}-*.whl")) for _d, _v, prefix in WHEEL_SPECS.values())


@pytest.mark.slow
@pytest.mark.skipif(not CACHED, reason=f"source wheels not cached in {DEFAULT_WHEEL_DIR} (run `carezones data build`)")
def test_isle_of_wight_init_then_run_has_nothing_of_leicestershire(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = tmp_path / "iow"
    init = runner.invoke(app, ["init", "--area", "E06000046", "--dir", str(folder)])
    assert init.exit_code == 0, init.output
    assert f"carezones run {folder / 'scenario.toml'}" in init.output.replace("\n", "")
    out = tmp_path / "out"
    run = runner.invoke(app, ["run", str(folder / "scenario.toml"), "--out", str(out), "--time-limit", "60"])
    assert run.exit_code == 0, run.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert all(c["passed"] for c in summary["checks"])
    assert summary["current"] is None and summary["change"] is None  # no current zones: no comparison
    assert summary["provenance"]["current_zones_given"] is False
    assert "Isle of Wight" in summary["travel_model"]
    files = sorted(p for p in out.iterdir() if p.is_file())
    assert len(files) >= 8
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert not re.search(r"leicester", text, re.IGNORECASE), f"{path.name} names Leicester"
        assert not re.search(r"\bLE\d{1,2}\b", text), f"{path.name} shows a Leicestershire (LE) postcode"
        if path.suffix not in (".gpkg", ".xlsx") and path.name != "map.html":  # binary, or inlined JS libraries
            assert not re.search(r"\bnan\b", text, re.IGNORECASE), f"{path.name} shows 'nan'"
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "No current zones were given" in report
    assert "| current" not in report and "less than the current zones" not in report and "saved" not in report
