"""The zone map's header, legend, print and phone layout, and label de-cluttering.

- A compact header (``<details>``, closed): the title and three headline figures on one or two
  lines; opened on demand for the run's details, the postcode search and the legend.
- A print layout (A4 landscape): the map on the left two thirds, a legend panel (title,
  figures, zone colours, caveats) on the right; controls hidden; Leaflet refits to the page.
- A phone layout (≤ 600 px): the header spans the width and stays one block.
- Labels that do not collide: after every zoom or move, town labels that overlap a zone label
  or a larger town's label are hidden (zone labels first, then towns in rank order).

``box_html`` and ``print_html`` are built here from escaped text only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from branca.element import MacroElement
from jinja2 import Template

from maps.colours import FILL_OPACITY, blend
from maps.escape import escape_text
from maps.search import search_html

__all__ = ["HeaderBox", "header_html", "legend_rows", "print_html"]

_CSS = """
#{{ this.map_name }} { background: {{ this.background }}; }
.cz-box { position: absolute; top: 10px; left: 54px; z-index: 1000; max-width: 430px;
          max-height: calc(100% - 30px); overflow-y: auto; background: rgba(255,255,255,0.96);
          border: 1px solid #999; border-radius: 4px; padding: 4px 10px;
          font: 12px/1.35 system-ui, sans-serif; color: #111; }
.cz-box summary { cursor: pointer; list-style: none; }
.cz-box summary::-webkit-details-marker { display: none; }
.cz-box .cz-title { font-weight: bold; font-size: 13px; }
.cz-box .cz-figs { display: block; color: #222; margin-top: 1px; }
.cz-box .cz-figs span { white-space: nowrap; }
.cz-box .cz-open { color: #0b5ea8; font-size: 11px; }
.cz-box details[open] .cz-open::after { content: " (close)"; }
.cz-box ul { margin: 4px 0; padding-left: 16px; }
.cz-box table, .cz-print table { border-collapse: collapse; }
.cz-box td, .cz-print td { padding: 1px 4px 1px 0; vertical-align: middle; }
.cz-swatch { display: inline-block; width: 14px; height: 10px; border: 1px solid #555; }
.cz-zone-label { font: bold 11px system-ui, sans-serif; color: #111; text-align: center; pointer-events: none;
                 text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 3px #fff; }
.cz-town-label { font: italic 11px system-ui, sans-serif; color: #333; text-align: center; white-space: nowrap;
                 pointer-events: none; text-shadow: 0 0 2px #fff, 0 0 2px #fff; }
.cz-hidden { visibility: hidden; }
.cz-provider { box-sizing: border-box; border-radius: 50%; border: 2px solid #1a1a1a; background: rgba(255,255,255,0.85); }
.cz-cluster { border-radius: 50%; background: rgba(26,26,26,0.6); color: #fff; text-align: center;
              font: bold 11px system-ui, sans-serif; border: 2px solid #fff; }
.cz-search { margin: 4px 0 6px 0; } .cz-search input { font-size: 12px; }
.cz-search-result { margin-top: 3px; } .cz-miss { color: #a50f15; font-weight: bold; }
.leaflet-tooltip { width: max-content; max-width: 300px; white-space: normal; font-size: 12px; }
.leaflet-tooltip table { width: 100%; } .leaflet-tooltip th { text-align: left; padding-right: 6px; }
.cz-print { display: none; }
.leaflet-control-layers-toggle { background-image: none !important; width: auto !important; height: auto !important;
                                 padding: 5px 9px; font: bold 12px system-ui, sans-serif; color: #111;
                                 text-decoration: none; }
.leaflet-control-layers-toggle::after { content: "Layers ☰"; }
@media (max-width: 600px) {
  .cz-box { left: 8px; right: 8px; top: 8px; max-width: none; max-height: 70%; font-size: 11px; }
  .cz-box .cz-title { font-size: 12px; }
  .leaflet-top.leaflet-left { top: auto; bottom: 62px; }
  .leaflet-top.leaflet-right { top: auto; bottom: 28px; }
  .leaflet-tooltip { max-width: 230px; font-size: 11px; }
}
@media print {
  @page { size: A4 landscape; margin: 8mm; }
  html, body { width: 281mm; height: 192mm; margin: 0; overflow: hidden; }
  #{{ this.map_name }} { position: absolute !important; left: 0; top: 0; width: 196mm !important;
                         height: 192mm !important; border: 1px solid #999; }
  .cz-box, .leaflet-control-layers, .leaflet-control-zoom, .leaflet-tooltip-pane { display: none !important; }
  .cz-print { display: block; position: absolute; left: 200mm; top: 0; width: 80mm; height: 192mm;
              overflow: hidden; font: 8pt/1.3 system-ui, sans-serif; color: #111; }
  .cz-print h1 { font-size: 11pt; margin: 0 0 3pt 0; }
  .cz-print ul { margin: 2pt 0; padding-left: 11pt; }
  .cz-print .cz-swatch { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

_SCRIPT = """
(function () {
  var map = {{ this.map_name }};
  function box(el) { var r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }
  function overlaps(a, b) { return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]; }
  function declutter() {
    var kept = [];
    document.querySelectorAll('.cz-zone-label').forEach(function (el) { kept.push(box(el)); });
    var towns = Array.prototype.slice.call(document.querySelectorAll('.cz-town-label'));
    towns.sort(function (a, b) { return (+a.dataset.rank) - (+b.dataset.rank); });
    towns.forEach(function (el) {
      el.classList.remove('cz-hidden');
      var b = box(el);
      if (b[2] - b[0] === 0) { return; }
      var hit = kept.some(function (k) { return overlaps(k, b); });
      if (hit) { el.classList.add('cz-hidden'); } else { kept.push(b); }
    });
  }
  var bounds = {{ this.bounds }};
  function refit() { map.invalidateSize({animate: false}); map.fitBounds(bounds, {animate: false}); declutter(); }
  map.on('zoomend moveend overlayadd', declutter);
  map.whenReady(function () { setTimeout(declutter, 0); });
  window.addEventListener('beforeprint', refit);
  window.addEventListener('afterprint', refit);
  if (window.matchMedia) { window.matchMedia('print').addEventListener('change', refit); }
})();
"""


class HeaderBox(MacroElement):
    """The header box and print legend (HTML), their styles, and the label / print script."""

    _template = Template(
        "{% macro header(this, kwargs) %}<style>" + _CSS + "</style>{% endmacro %}"
        "{% macro html(this, kwargs) %}{{ this.box_html }}{{ this.print_html }}{% endmacro %}"
        "{% macro script(this, kwargs) %}" + _SCRIPT + "{% endmacro %}"
    )

    def __init__(self, *, box_html: str, print_html: str, map_name: str, background: str,
                 bounds: Sequence[Sequence[float]]) -> None:
        super().__init__()
        self._name = "HeaderBox"
        self.box_html = box_html
        self.print_html = print_html
        self.map_name = map_name
        self.background = background
        self.bounds = [[float(v) for v in corner] for corner in bounds]


def _swatch(style: str) -> str:
    return f'<span class="cz-swatch" style="{style}"></span>'


def legend_rows(colours: Mapping[str, str], names: Mapping[str, str], *, current_label: str | None,
                provider_label: str, has_centres: bool, has_outline: bool) -> str:
    """Legend rows: zones (swatches as drawn: blended at the fill opacity), then the other marks.
    ``colours`` / ``names`` are keyed by escaped zone id; ``names`` are escaped."""
    rows = [f"<tr><td>{_swatch('background:' + blend(colour, FILL_OPACITY, '#ffffff'))}</td>"
            f"<td>{zone_id}</td><td>{names.get(zone_id, '')}</td></tr>" for zone_id, colour in colours.items()]
    if current_label:
        rows.append(f"<tr><td>{_swatch('background:none;border:2px dashed #222')}</td>"
                    f"<td colspan=2>{escape_text(current_label)}</td></tr>")
    rows.append(f"<tr><td>{_swatch('border-radius:50%;width:10px;background:#fff;border:2px solid #1a1a1a')}</td>"
                f"<td colspan=2>{escape_text(provider_label)} (larger = more capacity; a number = a cluster)</td></tr>")
    if has_centres:
        rows.append(f"<tr><td>{_swatch('border-radius:50%;width:6px;height:6px;background:#000;border:none')}</td>"
                    "<td colspan=2>Zone centre (travel is measured to it)</td></tr>")
    if has_outline:
        rows.append(f"<tr><td>{_swatch('background:none;border:1px solid #7a7a7a')}</td>"
                    "<td colspan=2>Area and district outline</td></tr>")
    return "".join(rows)


def _figures_html(headline: Sequence[str]) -> str:
    return " · ".join(f"<span>{escape_text(x)}</span>" for x in headline)


def header_html(*, title: str, headline: Sequence[str], lines: Sequence[str], legend: str, extra_legend: str,
                search: bool, search_example: str = "") -> str:
    """The collapsed header box; everything below the summary line opens on demand.
    ``search_example``: a postcode of the area itself, the search box's hint."""
    items = "".join(f"<li>{escape_text(line)}</li>" for line in lines)
    more = (f'<details class="cz-more"><summary>Legend for the other layers</summary><table>{extra_legend}</table>'
            "</details>" if extra_legend else "")
    return (
        '<div class="cz-box"><details class="cz-details">'
        f'<summary><span class="cz-title">{escape_text(title)}</span> <span class="cz-open">details ▾</span>'
        f'<span class="cz-figs">{_figures_html(headline)}</span></summary>'
        f"{search_html(search_example) if search else ''}<table>{legend}</table>{more}<ul>{items}</ul>"
        "</details></div>"
    )


def print_html(*, title: str, headline: Sequence[str], caveats: Sequence[str], lines: Sequence[str],
               legend: str) -> str:
    """The legend panel printed beside the map (hidden on screen): figures, legend, then the
    caveats (SYNTHETIC / APPROXIMATE / privacy) before the run's details."""
    figs = "".join(f"<li>{escape_text(x)}</li>" for x in headline)
    items = "".join(f"<li>{escape_text(line)}</li>" for line in [*caveats, *(x for x in lines if x not in caveats)])
    return (f'<div class="cz-print"><h1>{escape_text(title)}</h1><ul>{figs}</ul><table>{legend}</table>'
            f"<ul>{items}</ul></div>")
