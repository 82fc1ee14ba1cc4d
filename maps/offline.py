"""Make a folium page self-contained: Leaflet inlined, no CDN requests.

Council laptops often block CDNs, and a page opened from disk with no network would
otherwise be blank. The page needs only Leaflet (zones, tooltips, layer control and circle
markers are plain Leaflet), so folium's other default assets (jQuery, Bootstrap, Font
Awesome, awesome-markers) are dropped and Leaflet 1.9.3 (BSD-2-Clause, from the npm
registry, vendored in ``maps/vendor/``) is written into the page.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import folium

VENDOR = Path(__file__).resolve().parent / "vendor" / "leaflet-1.9.3"
_JS_URL = "carezones-inline:leaflet.js"
_CSS_URL = "carezones-inline:leaflet.css"


@cache
def _asset(name: str) -> str:
    text = (VENDOR / name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"vendored {name} contains a closing tag and cannot be inlined")
    return text


def strip_cdn_assets(m: folium.Map) -> None:
    """Let the map load only Leaflet, from placeholders :func:`inline_assets` fills in."""
    m.default_js = [("leaflet", _JS_URL)]
    m.default_css = [("leaflet_css", _CSS_URL)]


def inline_assets(html: str) -> str:
    """Replace the placeholder tags with the vendored Leaflet JS and CSS."""
    js = re.compile(r'<script src="' + re.escape(_JS_URL) + r'"></script>')
    css = re.compile(r'<link rel="stylesheet" href="' + re.escape(_CSS_URL) + r'"\s*/?>')
    if not js.search(html) or not css.search(html):
        raise ValueError("folium's page template changed: Leaflet placeholders not found")
    html = js.sub(lambda _m: "<script>\n" + _asset("leaflet.js") + "\n</script>", html, count=1)
    return css.sub(lambda _m: "<style>\n" + _asset("leaflet.css") + "\n</style>", html, count=1)


def external_urls(html: str) -> list[str]:
    """Every ``src``/``href`` that would make the browser fetch from the network."""
    return re.findall(r'(?:src|href)\s*=\s*["\'](https?://[^"\']+)', html)
