"""The README's Python API example, run as written, and the API's offline map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maps.offline import external_urls

REPO = Path(__file__).resolve().parents[1]


def _readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match, "README's Python API section has no python example"
    return match.group(1)


@pytest.mark.slow
def test_readme_api_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(_readme_example(), "README.md (Python API)", "exec"), namespace)  # noqa: S102

    plan = namespace["plan"]
    zones, lookup, units = namespace["zones"], namespace["lookup"], namespace["units"]
    assert len(zones) == 7 and zones.crs.to_epsg() == 27700  # type: ignore[attr-defined]
    assert {"zone", "zone_name", "hours_per_week", "geometry"} <= set(zones.columns)  # type: ignore[attr-defined]
    assert lookup.crs.to_epsg() == 27700 and lookup["proposed_zone"].notna().all()  # type: ignore[attr-defined]
    assert len(units) == 396  # type: ignore[arg-type]
    # demand given as a DataFrame reached the plan: 12% more hours than the shipped file
    base_hours = namespace["base"].demand.path.read_text().count("\n")  # type: ignore[attr-defined]
    assert base_hours > 0
    total = plan.zone_plan.metrics.total_hours  # type: ignore[attr-defined]
    assert total == pytest.approx(1.12 * 31_324, rel=0.01)
    written = namespace["paths"]
    assert all(Path(p).is_file() for p in written.values())  # type: ignore[attr-defined]
    assert (tmp_path / "out" / "growth" / "map.html").is_file()

    # the notebook display of the map works offline: no external script or stylesheet
    m = namespace["m"]
    page = m.get_root().render()  # type: ignore[attr-defined]
    notebook = m._repr_html_()  # type: ignore[attr-defined]
    assert "leaflet" in page.lower() and "L.map(" in page
    fetched = [u for u in external_urls(page) if u.rstrip("/") != "https://leafletjs.com"]  # attribution link
    assert fetched == []
    assert not re.search(r"<script[^>]*\bsrc\s*=", page), "a script is loaded from outside the page"
    assert not re.search(r"<link[^>]*stylesheet[^>]*https?://", page), "a stylesheet is loaded from a CDN"
    assert not re.search(r"&lt;script[^&]*src=&quot;https?://", notebook), "notebook iframe loads a CDN script"
    assert "L.map(" in notebook or "L.map(" in notebook.replace("&quot;", '"')
