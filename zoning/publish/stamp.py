"""The run stamp (run id and scenario hash) in file formats that have no column for it."""

from __future__ import annotations

import html
import json
from pathlib import Path

from zoning import __version__
from zoning.publish.outputset import RunStamp

#: Every output by name -> its file name (``manifest.json`` is written last, beside them).
OUTPUT_FILES: dict[str, str] = {
    "zones": "zones.geojson",
    "gpkg": "zones.gpkg",
    "postcodes": "postcode_zones.csv",
    "postcodes_xlsx": "postcode_zones.xlsx",
    "summary": "summary.json",
    "report": "report.md",
    "report_html": "report.html",
    "map": "map.html",
    "zones_qml": "zones.qml",
    "figure_maps_png": "report_map_zones.png",
    "figure_maps_svg": "report_map_zones.svg",
    "figure_load_png": "report_chart_load.png",
    "figure_load_svg": "report_chart_load.svg",
    "figure_travel_png": "report_chart_travel.png",
    "figure_travel_svg": "report_chart_travel.svg",
}


def stamp_metadata(stamp: RunStamp) -> dict[str, str]:
    """Key/value metadata (GeoPackage dataset metadata, XLSX about sheet)."""
    return {"carezones_run_id": stamp.run_id, "carezones_scenario_sha256": stamp.scenario_sha256,
            "carezones_version": __version__, "carezones_run_at": stamp.run_at.isoformat(timespec="seconds") + "Z"}


def stamp_geojson(path: Path, stamp: RunStamp) -> None:
    """Add a top-level ``carezones`` member (RFC 7946 §6.1 foreign member) to a FeatureCollection."""
    data = json.loads(path.read_text(encoding="utf-8"))
    stamped = {"type": data.pop("type"), "carezones": {"run_id": stamp.run_id,
                                                      "scenario_sha256": stamp.scenario_sha256,
                                                      "version": __version__}, **data}
    path.write_text(json.dumps(stamped, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def stamp_html(page: str, stamp: RunStamp) -> str:
    """The stamp as the last paragraph of an HTML page (before ``</body>``)."""
    line = f'<p class="carezones-run" data-run-id="{html.escape(stamp.run_id)}">{html.escape(stamp.line())}</p>\n'
    at = page.rfind("</body>")
    return page + line if at < 0 else page[:at] + line + page[at:]
