"""Postcode search: a compact postcode -> zone table embedded in the page, searched in JS.

The table is grouped by outward code; each inward code is stored as its 3 characters followed
by the proposed- and current-zone indexes in base 62 (one character each while there are at
most 62 zones). About 5 bytes a postcode: 17,000 postcodes take ~90 kB. Zone ids and names are
escaped in Python (:func:`maps.escape.escape_text`) and only ever used as HTML; the JSON is
written with ``<``, ``>`` and ``&`` as ``\\u`` escapes so it cannot close the script block.

The search normalises case and spacing (``" le13  0aa"`` -> ``LE13 0AA``), highlights the
zone on the map, zooms to it and says clearly when a postcode is not in the table.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from maps.escape import escape_text

__all__ = ["SearchBox", "encode_lookup", "script_json"]

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ([0-9][A-Z]{2})$")


def _b62(n: int, width: int) -> str:
    out = ""
    for _ in range(width):
        n, r = divmod(n, 62)
        out = _B62[r] + out
    return out


def script_json(value: object) -> str:
    """JSON safe inside ``<script>``: no ``<``, ``>``, ``&`` or line separators."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def encode_lookup(table: pd.DataFrame, *, zone_ids: list[str]) -> dict[str, object]:
    """``table`` (columns ``postcode``, ``zone_id``, ``current_zone``) -> the embedded structure.

    Raises ``ValueError`` for postcodes not in the normalised ``AA9A 9AA`` form or zone ids
    not in ``zone_ids``.
    """
    current = sorted(set(map(str, table["current_zone"].fillna(""))))
    width = 1 if max(len(zone_ids), len(current)) <= 62 else 2
    zindex = {z: i for i, z in enumerate(zone_ids)}
    cindex = {c: i for i, c in enumerate(current)}
    groups: dict[str, list[str]] = defaultdict(list)
    bad: list[str] = []
    for pc, zone, cur in zip(table["postcode"], table["zone_id"], table["current_zone"].fillna(""), strict=True):
        match = _POSTCODE.match(str(pc))
        if match is None or str(zone) not in zindex:
            bad.append(f"{pc!r} -> {zone!r}")
            continue
        groups[match[1]].append(match[2] + _b62(zindex[str(zone)], width) + _b62(cindex[str(cur)], width))
    if bad:
        raise ValueError(f"postcode search: expected normalised postcodes and known zone ids; received {bad[:5]}")
    return {
        "w": width,
        "z": [escape_text(z) for z in zone_ids],
        "c": [escape_text(c) for c in current],
        "e": escape_text(example_postcode(table)),
        "p": {out: "".join(sorted(items)) for out, items in sorted(groups.items())},
        "n": int(len(table)),
    }


class SearchBox(MacroElement):
    """Wires the header's search form to the proposed-zones GeoJSON layer ``layer_name``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var data = {{ this.data_json }};
          var names = {{ this.names_json }};
          var layer = {{ this.layer_name }};
          var map = {{ this.map_name }};
          var B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
          function num(s) { var n = 0; for (var i = 0; i < s.length; i++) { n = n * 62 + B62.indexOf(s[i]); } return n; }
          function find(raw) {
            var s = String(raw).toUpperCase().replace(/[^A-Z0-9]/g, "");
            if (!/^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$/.test(s)) { return {bad: true}; }
            var out = s.slice(0, -3), inw = s.slice(-3), pc = out + " " + inw;
            var packed = data.p[out] || "", step = 3 + 2 * data.w;
            for (var i = 0; i < packed.length; i += step) {
              if (packed.substr(i, 3) === inw) {
                return {pc: pc, zone: num(packed.substr(i + 3, data.w)), cur: num(packed.substr(i + 3 + data.w, data.w))};
              }
            }
            return {pc: pc, missing: true};
          }
          function highlight(zoneId) {
            var hit = null;
            layer.eachLayer(function (l) {
              layer.resetStyle(l);
              if (l.feature && l.feature.properties.zone_id === zoneId) { hit = l; }
            });
            if (hit) {
              hit.setStyle({weight: 5, color: "#000000", fillOpacity: 0.8});
              hit.bringToFront();
              map.fitBounds(hit.getBounds(), {maxZoom: 12});
            }
            return hit;
          }
          var input = document.getElementById("cz-search-input");
          var result = document.getElementById("cz-search-result");
          function run(ev) {
            if (ev) { ev.preventDefault(); }
            var r = find(input.value);
            result.className = "cz-search-result";
            if (r.bad) {
              result.className += " cz-miss";
              result.innerHTML = "Not a postcode: type e.g. " + data.e + " (spaces and case do not matter).";
              return false;
            }
            if (r.missing) {
              result.className += " cz-miss";
              result.innerHTML = r.pc + " was not found: it is not one of the " + data.n.toLocaleString("en-GB") +
                " postcodes in this area (new or outside the area?).";
              highlight(null);
              return false;
            }
            var zid = data.z[r.zone];
            result.className += " cz-hit";
            result.innerHTML = "<b>" + r.pc + "</b>: proposed zone <b>" + zid + "</b> " + (names[zid] || "") +
              (data.c[r.cur] ? "<br>today: " + data.c[r.cur] : "");
            result.setAttribute("data-zone", zid);
            highlight(zid);
            return false;
          }
          document.getElementById("cz-search-form").addEventListener("submit", run);
          window.czFindPostcode = find;
        })();
        {% endmacro %}
        """
    )

    def __init__(self, *, data: dict[str, object], zone_names: dict[str, str], layer_name: str, map_name: str) -> None:
        super().__init__()
        self._name = "SearchBox"
        self.data_json = script_json(data)
        self.names_json = script_json(zone_names)
        self.layer_name = layer_name
        self.map_name = map_name


def example_postcode(table: pd.DataFrame) -> str:
    """A postcode of the area itself for the search box's hint (the middle one in sorted order)."""
    pcs = sorted(map(str, table["postcode"]))
    return pcs[len(pcs) // 2] if pcs else ""


def search_html(example: str) -> str:
    """The search form; ``example`` (a postcode of the area) is the hint."""
    hint = escape_text(f"e.g. {example}") if example else ""
    return (
        '<form id="cz-search-form" class="cz-search" autocomplete="off">'
        '<label for="cz-search-input">Find a postcode\'s zone</label><br>'
        f'<input id="cz-search-input" type="search" placeholder="{hint}" size="12">'
        '<button type="submit" id="cz-search-button">Find</button>'
        '<div id="cz-search-result" class="cz-search-result" role="status" aria-live="polite"></div>'
        "</form>"
    )
