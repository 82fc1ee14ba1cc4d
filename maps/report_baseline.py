"""The "Since the baseline" section of report.md / report.html (a re-opening), from summary.json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maps.escape import escape_text, format_number

__all__ = ["baseline_rows", "baseline_section_md", "baseline_section_html"]

ZONE_HEADER = ("zone", "name", "continues", "hours before", "hours after", "hours in", "hours out",
               "postcodes in", "postcodes out", "capacity before", "capacity after")
PROVIDER_HEADER = ("branch", "name", "change", "zone", "capacity before", "capacity after")


def _n(value: object, spec: str = ",.0f") -> str:
    if value is None:
        return "suppressed"
    try:
        return format_number(float(value), spec)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)


def baseline_rows(since: Mapping[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    """Plain-text cells (not yet escaped) of the zone and provider tables."""
    zones = [[str(z["zone"]), str(z["zone_name"]), str(z["continues"] or "new"), _n(z["hours_before"]),
              _n(z["hours_after"]), _n(z["hours_in"]), _n(z["hours_out"]), _n(z["postcodes_in"]),
              _n(z["postcodes_out"]), _n(z["capacity_before"]), _n(z["capacity_after"])] for z in since["zones"]]
    providers = [[str(p["provider_id"]), str(p["name"]), str(p["change"]), str(p["zone"]), _n(p["capacity_before"]),
                  _n(p["capacity_after"])] for p in since["providers"]]
    return zones, providers


def _intro(since: Mapping[str, Any]) -> str:
    return (f"Since the baseline run ({since['run']}): {_n(since['hours_moved'])} care hours/week and "
            f"{_n(since['postcodes_moved'])} postcodes change zone; {len(since['providers'])} provider branch(es) "
            f"joined, left or changed capacity. {since['rule']}.")


def baseline_section_md(summary: Mapping[str, Any], md_text: Any) -> list[str]:
    """Markdown lines (``md_text`` escapes a cell), or none without a baseline."""
    since = summary.get("since_baseline")
    if not since:
        return []
    zones, providers = baseline_rows(since)

    def table(header: Sequence[str], rows: list[list[str]]) -> list[str]:
        return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
                *("| " + " | ".join(md_text(c) for c in row) + " |" for row in rows)]

    out = ["", "## Since the baseline", "", md_text(_intro(since)), "", *table(ZONE_HEADER, zones), ""]
    if providers:
        out += ["Provider branches that joined, left or changed capacity:", "", *table(PROVIDER_HEADER, providers), ""]
    else:
        out += ["No provider branch joined, left or changed capacity.", ""]
    return out


def baseline_section_html(summary: Mapping[str, Any]) -> str:
    since = summary.get("since_baseline")
    if not since:
        return ""
    zones, providers = baseline_rows(since)

    def table(header: Sequence[str], rows: list[list[str]]) -> str:
        head = "".join(f"<th>{escape_text(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{escape_text(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    prov = table(PROVIDER_HEADER, providers) if providers else "<p>No provider branch joined, left or changed capacity.</p>"
    return f"<h2>Since the baseline</h2><p>{escape_text(_intro(since))}</p>{table(ZONE_HEADER, zones)}{prov}"
