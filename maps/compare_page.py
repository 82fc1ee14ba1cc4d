"""``compare.html``: two runs side by side, what changes zone, and a map of the differences.

Self-contained (no network, no scripts): tables and inline SVG (:mod:`maps.plan_svg`). Every
cell arrives as plain text or a number and is escaped or formatted here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from maps.escape import escape_text as e
from maps.escape import format_number
from maps.plan_svg import Shape, legend_html, plan_map_svg

__all__ = ["render_compare_page"]

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #111; max-width: 1300px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 12px; } th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #f2f2f2; } td.t, th.t { text-align: left; }
.warn { background: #fff4e5; border-left: 4px solid #e66101; padding: 8px 12px; }
"""


def _cell(value: object, spec: str = ",.1f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "suppressed" if spec == "hours" else "n/a"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int | float):
        return e(format_number(float(value), ",.1f" if spec == "hours" else spec))
    return e(value)


def _table(header: Sequence[tuple[str, str, str]], rows: Sequence[Mapping[str, object]]) -> str:
    """``header``: (key, label, spec); spec "" marks a text column."""
    head = "".join(f'<th class="{"t" if not spec else ""}">{e(label)}</th>' for _, label, spec in header)
    body = "".join("<tr>" + "".join(f'<td class="{"t" if not spec else ""}">{_cell(r.get(k), spec or "text")}</td>'
                                    for k, _, spec in header) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


ZONES = (("zone", "zone", ""), ("zone_name_a", "name (A)", ""), ("zone_name_b", "name (B)", ""),
         ("hours_per_week_a", "hours/week A", ",.0f"), ("hours_per_week_b", "hours/week B", ",.0f"),
         ("hours_per_week_change", "change", "+,.0f"), ("capacity_hours_per_week_a", "capacity A", ",.0f"),
         ("capacity_hours_per_week_b", "capacity B", ",.0f"), ("mean_travel_min_a", "travel A (min)", ".2f"),
         ("mean_travel_min_b", "travel B (min)", ".2f"), ("n_postcodes_a", "postcodes A", ",.0f"),
         ("n_postcodes_b", "postcodes B", ",.0f"))
FLOWS = (("zone_a", "zone in A", ""), ("zone_b", "zone in B", ""), ("postcodes", "postcodes", ",.0f"),
         ("hours_per_week", "hours/week", "hours"))


def render_compare_page(*, title: str, intro: str, notes: Sequence[str], zones: Sequence[Mapping[str, object]],
                        flows: Sequence[Mapping[str, object]], shapes: Sequence[Shape], legend: Mapping[str, str],
                        headline: Sequence[tuple[str, str, str]]) -> str:
    """The whole page; ``headline`` rows are (measure, A, B) already formatted."""
    warn = f'<p class="warn"><b>Read this first.</b> {e(" ".join(notes))}</p>' if notes else ""
    head = "".join(f'<tr><td class="t">{e(m)}</td><td>{e(a)}</td><td>{e(b)}</td></tr>' for m, a, b in headline)
    top = f'<table><thead><tr><th class="t">measure</th><th>A</th><th>B</th></tr></thead><tbody>{head}</tbody></table>'
    diff_map = plan_map_svg(shapes, title="LSOAs whose zone differs, coloured by their zone in B", size=520)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body><h1>{e(title)}</h1>{warn}<p>{e(intro)}</p>"
        f"<h2>Headline</h2>{top}<h2>Zones side by side (paired by id)</h2>{_table(ZONES, zones)}"
        f"<h2>What changes zone</h2>{_table(FLOWS, flows) if flows else '<p>No postcode changes zone.</p>'}"
        f"<h2>Map of the differences</h2><figure>{diff_map}<figcaption>Grey: same zone in both. "
        f"Coloured: the LSOA's zone in B. {legend_html(legend)}</figcaption></figure></body></html>\n"
    )
