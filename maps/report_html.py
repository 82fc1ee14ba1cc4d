"""``report.html``: a self-contained page a commissioner can paste from (no network, no scripts).

Rendered from the run's ``summary.json`` content only (like ``report.md``), so the figures
agree with the summary. Every string is escaped with :func:`maps.escape.escape_text`; the
charts are inline SVG from :mod:`maps.charts`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from maps.charts import CURRENT_COLOUR, PROPOSED_COLOUR, travel_histogram, zone_load_chart
from maps.escape import escape_text as e
from maps.escape import format_number
from maps.report_baseline import baseline_section_html

__all__ = ["render_report_html"]

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #111; max-width: 1200px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 8px 0; font-size: 12px; }
td.t { max-width: 260px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; vertical-align: top; }
th { background: #f2f2f2; } td.t, th.t { text-align: left; }
.warn { background: #fff4e5; border-left: 4px solid #e66101; padding: 8px 12px; }
.note { color: #444; font-size: 12px; }
figure { margin: 12px 0; }
"""


def _num(value: object, spec: str = ",.0f", missing: str = "n/a") -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return missing
    return missing if not math.isfinite(number) else format_number(number, spec)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, text_cols: Sequence[int] = (0,)) -> str:
    """Header and cells must already be escaped."""
    head = "".join(f'<th class="{"t" if i in text_cols else ""}">{h}</th>' for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"t" if i in text_cols else ""}">{c}</td>' for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _headline(summary: Mapping[str, Any]) -> str:
    plan, cur, change = summary["plan"], summary["current"], summary.get("change", {})
    approx = " (approximate)" if summary["provenance"]["current_zones_approximate"] else ""
    saved = cur["mean_travel_min"] - plan["mean_travel_min"]
    pct = 100 * saved / cur["mean_travel_min"] if cur["mean_travel_min"] else float("nan")
    total = plan["total_hours"]
    rows = [
        ["Mean travel to zone centre, min per hour of care", _num(plan["mean_travel_min"], ".2f"),
         _num(cur["mean_travel_min"], ".2f"), f"{_num(-saved, '+.2f')} min ({_num(pct, '.1f')}% less)"],
        ["Travel, hour-minutes per week", _num(plan["mean_travel_min"] * total), _num(cur["mean_travel_min"] * total),
         _num(-saved * total, "+,.0f")],
        ["Largest / smallest zone (hours)", _num(plan["max_min_ratio"], ".2f"), _num(cur["max_min_ratio"], ".2f"), ""],
        [f"Zones outside ±{100 * plan['tolerance']:.0f}% of the mean", str(plan["zones_outside_tolerance"]),
         str(cur["zones_outside_tolerance"]), ""],
        ["Zones", str(plan["zones"]), str(cur["zones"]), ""],
    ]
    if change:
        rows += [
            ["Zones changed (gain or lose any postcode)", str(change["zones_changed"]), "", ""],
            ["Care hours/week that move zone", _num(change["hours_moved"]), "",
             f"{_num(100 * change['hours_moved'] / total if total else None, '.1f')}% of {_num(total)}"],
            ["Clients who move zone", _num(change["clients_moved"], ",.0f", missing="suppressed"), "", ""],
            ["Postcodes that move zone", _num(change["postcodes_moved"]), "", ""],
        ]
    return _table(["Measure", "Proposed", "Current" + approx, "Difference"], [[e(c) if i == 0 else c
                                                                                for i, c in enumerate(r)] for r in rows])


def _zone_tables(summary: Mapping[str, Any]) -> str:
    rows = [
        [e(z["zone"]), e(z["zone_name"]), _num(z["hours_per_week"]), _num(z["load_vs_mean_pct"], "+.1f") + "%",
         _num(z["capacity_hours_per_week"]), _num(z["demand_capacity_ratio"], ".2f"), _num(z["mean_travel_min"], ".1f"),
         _num(z.get("demand_rows"), ",.0f", missing="suppressed"), str(z["n_units"]), str(z["n_postcodes"]),
         e(z.get("band_mix", "")), e(z.get("change", ""))]
        for z in summary["zones"]
    ]
    proposed = _table(["Zone", "Named after", "Hours/week", "vs mean", "Capacity h/week", "Demand/capacity",
                       "Mean travel (min)", "Clients", "LSOAs", "Postcodes", "Band mix (postcodes)", "Change vs today"],
                      rows, text_cols=(0, 1, 10, 11))
    cur_rows = [
        [e(z["zone"]), _num(z["hours_per_week"]), _num(z["load_vs_mean_pct"], "+.1f") + "%",
         _num(z["capacity_hours_per_week"]), _num(z["demand_capacity_ratio"], ".2f"), _num(z["mean_travel_min"], ".1f"),
         _num(z.get("demand_rows"), ",.0f", missing="suppressed"), str(z["n_postcodes"])]
        for z in summary["current_zones"]
    ]
    current = _table(["Zone", "Hours/week", "vs mean", "Capacity h/week", "Demand/capacity", "Mean travel (min)",
                      "Clients", "Postcodes"], cur_rows)
    approx = " (approximate reconstruction)" if summary["provenance"]["current_zones_approximate"] else ""
    return f"<h2>Proposed zones</h2>{proposed}<h2>Current zones{e(approx)}</h2>{current}"


def _charts(summary: Mapping[str, Any]) -> str:
    zones = summary["zones"]
    load = zone_load_chart(
        [f"{z['zone']} {z['zone_name']}" for z in zones],
        [float(z["hours_per_week"]) for z in zones],
        [float(z["capacity_hours_per_week"]) if z["capacity_hours_per_week"] is not None else math.nan for z in zones],
        tolerance=summary["plan"]["tolerance"], title="Proposed zones: demand against provider capacity (hours/week)",
    )
    out = f"<h2>Charts</h2><figure>{load}</figure>"
    dist = summary.get("travel_distribution")
    if dist:
        edges = [math.inf if x is None else float(x) for x in dist["edges_min"]]
        hist = travel_histogram(edges, [("Proposed", PROPOSED_COLOUR, dist["proposed"]),
                                        ("Current", CURRENT_COLOUR, dist["current"])],
                                title="Share of care hours by travel time to the zone centre")
        out += f"<figure>{hist}</figure>"
    return out


def _bands(summary: Mapping[str, Any]) -> str:
    bands = summary.get("bands")
    if not bands:
        return ""
    rows = [[e(b["band"]), _num(bands["rates"].get(b["band"]), ",.2f"), _num(b["postcodes"]),
             _num(b["clients"], ",.0f", missing="suppressed"), _num(b["hours_per_week"], ",.0f", missing="suppressed")]
            for b in bands["table"]]
    return (f"<h2>Price bands</h2><p>{e(bands['rule'])}</p>"
            + _table(["Band", "Hourly rate £ (illustrative)", "Postcodes", "Clients", "Hours/week"], rows))


def _method(summary: Mapping[str, Any]) -> str:
    solver, plan, d = summary["solver"], summary["plan"], summary["demand"]
    gap = "n/a" if solver["gap"] is None else f"{100 * solver['gap']:.2f}%"
    items = [
        f"Units: {summary['units']['count']} {summary['units']['kind']} areas, "
        f"{summary['units']['adjacencies']} rook adjacencies.",
        f"Model: {solver['method']}; each zone's demand within ±{100 * plan['tolerance']:.0f}% of the mean "
        "(tolerance); zones contiguous. Travel is measured from every postcode with demand to its zone's centre.",
        f"Solver: {solver['name']}, status {solver['status']} (solver's words: \"{solver['solver_status']}\"), "
        f"objective {_num(solver['objective_hour_minutes'], ',.1f')} {solver.get('objective_units', 'hour-minutes')}, best bound "
        f"{_num(solver['best_bound_hour_minutes'], ',.1f')}, gap {gap}; {solver['gap_scope']}. "
        f"{len(solver['rounds'])} round(s), {solver['seconds']:.1f} s (limit {solver['time_limit_s']:.0f} s).",
        f"Travel model: {summary['travel_model']}.",
        f"Demand: {_num(d['rows'], ',.0f', missing='suppressed')} rows, {d['hours_per_week']:,.1f} hours/week; "
        f"{_num(d['excluded_rows'], ',.0f', missing='suppressed')} row(s) excluded.",
        f"Providers: {summary['providers']['branches']} branches, "
        f"{summary['providers']['capacity_hours_per_week']:,.0f} hours/week; {summary['providers']['assignment']}.",
        "Current zones are measured the same way, each served from its own best central LSOA; a proposed zone "
        "'continues' the current zone it shares most demand hours with (one-to-one), and a postcode 'moves' when "
        "its current zone is not the one its proposed zone continues.",
    ]
    checks = [f"{'PASS' if c['passed'] else 'FAIL'} {c['name']}: {c['detail']}" for c in summary["checks"]]
    licences = [
        f"Data: {summary['provenance']['data_vintage']}.",
        "Contains OS data © Crown copyright and database right 2025; contains Royal Mail data © Royal Mail "
        "copyright and database right 2025; contains National Statistics data © Crown copyright and database "
        "right. Source: Office for National Statistics licensed under the Open Government Licence v.3.0.",
        "Map software: Leaflet 1.9.3 (BSD-2-Clause), Leaflet.markercluster 1.5.3 (MIT), folium (MIT).",
    ]

    def ul(lines: Sequence[str]) -> str:
        return "<ul>" + "".join(f"<li>{e(x)}</li>" for x in lines) + "</ul>"

    return f"<h2>Method</h2>{ul(items)}<h2>Checks</h2>{ul(checks)}<h2>Data and licences</h2>{ul(licences)}"


def render_report_html(summary: Mapping[str, Any]) -> str:
    """The whole page as one string (UTF-8, no external resources, no scripts)."""
    sc, prov = summary["scenario"], summary["provenance"]
    notes = list(prov["notes"])
    privacy = summary.get("privacy") or {}
    if privacy.get("client_level"):
        notes.append(privacy["rule"])
    warn = f'<p class="warn"><b>Read this first.</b> {e(" ".join(notes))}</p>' if notes else ""
    intro = (f"<p>Scenario <b>{e(sc['name'])}</b> ({e(sc['area_name'] or sc['area_code'])}, {e(sc['area_code'])}), "
             f"run {e(summary['run_at'])} with carezones {e(summary['carezones_version'])}.</p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{e(sc['title'])}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(sc['title'])}</h1>{warn}{intro}<h2>Headline</h2>{_headline(summary)}"
        f"{_charts(summary)}{_zone_tables(summary)}{baseline_section_html(summary)}{_bands(summary)}{_method(summary)}"
        "</body></html>\n"
    )
