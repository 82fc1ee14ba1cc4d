"""Make a folium page self-contained: Leaflet and Leaflet.markercluster inlined, no CDN requests.

Council laptops often block CDNs, and a page opened from disk with no network would
otherwise be blank. The page needs only Leaflet (zones, tooltips, layer control and circle
markers are plain Leaflet) and Leaflet.markercluster (provider branches), so folium's other
default assets (jQuery, Bootstrap, Font Awesome, awesome-markers) are dropped and the
vendored copies in ``maps/vendor/`` are written into the page:

- Leaflet 1.9.3, BSD-2-Clause (© Volodymyr Agafonkin, CloudMade), npm ``leaflet``;
- Leaflet.markercluster 1.5.3, MIT (© Dave Leaver), npm ``leaflet.markercluster``.

Source-map comments are removed when inlining, so not even developer tools fetch anything.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import folium
from branca.element import Figure
from folium.plugins import MarkerCluster

VENDOR = Path(__file__).resolve().parent / "vendor"
_PREFIX = "carezones-inline:"

#: placeholder name -> file under ``maps/vendor``
ASSETS: dict[str, str] = {
    "leaflet.js": "leaflet-1.9.3/leaflet.js",
    "leaflet.css": "leaflet-1.9.3/leaflet.css",
    "markercluster.js": "leaflet.markercluster-1.5.3/leaflet.markercluster.js",
    "markercluster.css": "leaflet.markercluster-1.5.3/MarkerCluster.css",
    "markercluster.default.css": "leaflet.markercluster-1.5.3/MarkerCluster.Default.css",
}
_REQUIRED = ("leaflet.js", "leaflet.css")
_SOURCE_MAP = re.compile(r"^\s*(//|/\*)# sourceMappingURL=.*$", flags=re.MULTILINE)


@cache
def _asset(name: str) -> str:
    text = (VENDOR / ASSETS[name]).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"vendored {name} contains a closing tag and cannot be inlined")
    return _SOURCE_MAP.sub("", text)


class InlineMarkerCluster(MarkerCluster):
    """folium's MarkerCluster loading the vendored Leaflet.markercluster instead of a CDN."""

    default_js = [("markerclusterjs", _PREFIX + "markercluster.js")]
    default_css = [
        ("markerclustercss", _PREFIX + "markercluster.css"),
        ("markerclusterdefaultcss", _PREFIX + "markercluster.default.css"),
    ]


class OfflineFigure(Figure):
    """A branca Figure whose rendered page has the vendored assets inlined (no CDN)."""

    def render(self, **kwargs: object) -> str:
        return inline_assets(super().render(**kwargs))


class OfflineMap(folium.Map):
    """A folium Map that loads only the vendored Leaflet, inlined: the page it renders, the file
    :meth:`save` writes and its Jupyter display (``_repr_html_``, an iframe) all work offline
    and hold no ``http(s)`` script or stylesheet source."""

    default_js = [("leaflet", _PREFIX + "leaflet.js")]
    default_css = [("leaflet_css", _PREFIX + "leaflet.css")]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        OfflineFigure().add_child(self)  # folium made a plain Figure its parent

    def render_page(self) -> str:
        """The whole self-contained HTML page."""
        return self.get_root().render()


def inline_assets(html: str) -> str:
    """Replace every placeholder ``<script src>``/``<link href>`` with the vendored file."""
    found: set[str] = set()

    def script(match: re.Match[str]) -> str:
        found.add(match[1])
        return "<script>\n" + _asset(match[1]) + "\n</script>"

    def style(match: re.Match[str]) -> str:
        found.add(match[1])
        return "<style>\n" + _asset(match[1]) + "\n</style>"

    names = "|".join(re.escape(n) for n in ASSETS)
    html = re.sub(r'<script src="' + re.escape(_PREFIX) + f'({names})"></script>', script, html)
    html = re.sub(r'<link rel="stylesheet" href="' + re.escape(_PREFIX) + f'({names})"\\s*/?>', style, html)
    if not set(_REQUIRED) <= found:
        raise ValueError("folium's page template changed: Leaflet placeholders not found")
    if _PREFIX in html:
        raise ValueError("a carezones-inline placeholder was left in the page (unknown asset)")
    return html


def external_urls(html: str) -> list[str]:
    """Every ``src``/``href`` that would make the browser fetch from the network."""
    return re.findall(r'(?:src|href)\s*=\s*["\'](https?://[^"\']+)', html)
