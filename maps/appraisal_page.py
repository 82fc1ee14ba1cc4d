"""``comparison.html`` of a sweep: the variants' table, trade-off charts and small maps.

Self-contained (no network, no scripts): inline SVG from :mod:`maps.plan_svg`. Every string
from the inputs or the settings is escaped; the shortlist (no other variant better on every
measure) is marked in the table, the charts and the maps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from maps.escape import escape_text as e
from maps.escape import format_number
from maps.plan_svg import Point, Shape, plan_map_svg, scatter_chart

__all__ = ["render_appraisal_page"]

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #111; max-width: 1300px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 12px; } th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f2f2f2; } td.t, th.t { text-align: left; } tr.short td { background: #fff0f0; font-weight: 600; }
.warn { background: #fff4e5; border-left: 4px solid #e66101; padding: 8px 12px; }
.maps { display: flex; flex-wrap: wrap; gap: 12px; } .maps figure { margin: 0; font-size: 12px; }
.maps figure.short { outline: 2px solid #d62728; }
"""

_MEASURE_COLUMNS = (
    ("zones", "zones", "d"), ("mean_travel_min", "mean travel (min)", ".2f"),
    ("paid_travel_gbp_per_year", "paid travel (£/year)", ",.0f"), ("max_min_ratio", "largest ÷ smallest", ".2f"),
    ("hours_moved", "hours moving zone (h/week)", ",.0f"), ("checks", "checks", ""),
    ("ratio_to_bound", "ratio to bound", ".3f"), ("seconds", "seconds", ".0f"),
)


def _cell(value: object, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if spec and isinstance(value, int | float) and not isinstance(value, bool):
        return e(format_number(float(value), ",.0f") if spec == "d" else format_number(float(value), spec))
    return e(value)


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def _table(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> str:
    head = ['<th class="t">variant</th>', *(f'<th class="t">{e(k)}</th>' for k in keys),
            *(f"<th>{e(label)}</th>" for _, label, _ in _MEASURE_COLUMNS), '<th class="t">shortlist</th>']
    body = []
    for r in rows:
        cls = ' class="short"' if r.get("shortlisted") else ""
        status = "" if r.get("status") == "ok" else f" ({e(r.get('status'))}: {e(r.get('error'))})"
        cells = [f'<td class="t">{e(r["variant"])}{status}</td>', *(f'<td class="t">{e(r.get(k))}</td>' for k in keys),
                 *(f"<td>{_cell(r.get(c), spec)}</td>" for c, _, spec in _MEASURE_COLUMNS),
                 f'<td class="t">{"shortlisted" if r.get("shortlisted") else ""}</td>']
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _charts(rows: Sequence[Mapping[str, Any]]) -> str:
    ok = [r for r in rows if r.get("status") == "ok"]

    def points(x: str, y: str) -> list[Point]:
        return [Point(_num(r.get(x)), _num(r.get(y)), str(r["variant"]), bool(r.get("shortlisted"))) for r in ok]

    charts = [
        scatter_chart(points("zones", "mean_travel_min"), title="Travel against zone count",
                      x_label="zones", y_label="mean travel (min)"),
        scatter_chart(points("hours_moved", "mean_travel_min"), title="Travel against hours moving zone",
                      x_label="hours/week moving zone", y_label="mean travel (min)"),
        scatter_chart(points("max_min_ratio", "paid_travel_gbp_per_year"), title="Paid travel against balance",
                      x_label="largest ÷ smallest zone", y_label="paid travel (£/year)"),
    ]
    return '<div class="maps">' + "".join(f"<figure>{c}</figure>" for c in charts) + "</div>"


def _maps(rows: Sequence[Mapping[str, Any]], shapes: Mapping[str, Sequence[Shape]]) -> str:
    coords = [xy for zs in shapes.values() for s in zs for ring in s.rings for xy in ring]
    if not coords:
        return "<p>No plan to draw.</p>"
    bounds = (min(c[0] for c in coords), min(c[1] for c in coords), max(c[0] for c in coords), max(c[1] for c in coords))
    figures = []
    for r in rows:
        name = str(r["variant"])
        if name not in shapes:
            continue
        cls = ' class="short"' if r.get("shortlisted") else ""
        caption = f"{e(name)}{' — shortlisted' if r.get('shortlisted') else ''}"
        figures.append(f"<figure{cls}>{plan_map_svg(shapes[name], title=name, bounds=bounds)}"
                       f"<figcaption>{caption}</figcaption></figure>")
    return '<div class="maps">' + "".join(figures) + "</div>"


def render_appraisal_page(*, title: str, rows: Sequence[Mapping[str, Any]], keys: Sequence[str],
                          shapes: Mapping[str, Sequence[Shape]], notes: Sequence[str], intro: str) -> str:
    """The whole page as one string (UTF-8, no external resources, no scripts)."""
    warn = f'<p class="warn"><b>Read this first.</b> {e(" ".join(notes))}</p>' if notes else ""
    short = [str(r["variant"]) for r in rows if r.get("shortlisted")]
    shortlist = (f"<p><b>Shortlist</b> (no other variant is at least as good on mean travel, paid travel, "
                 f"largest ÷ smallest zone and hours moving zone, and better on one): "
                 f"{e(', '.join(short)) if short else 'none'}.</p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1>{warn}<p>{e(intro)}</p>{shortlist}"
        f"<h2>Variants</h2>{_table(rows, keys)}<h2>Trade-offs</h2>{_charts(rows)}"
        f"<h2>Plans</h2>{_maps(rows, shapes)}</body></html>\n"
    )
