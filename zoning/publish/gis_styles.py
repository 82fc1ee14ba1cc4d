"""QGIS styles for the GIS outputs: the zones coloured as on the web map (adjacency colouring,
:mod:`maps.colours`) and labelled by zone id, today's zones as dashed outlines labelled by name,
units as thin outlines, providers as circles.

Styles are QML documents. In ``zones.gpkg`` they sit in the ``layer_styles`` table (the table
QGIS itself writes, registered in ``gpkg_contents``, one default style per layer), so the layers
open styled; ``zones.qml`` beside ``zones.geojson`` does the same for the GeoJSON (QGIS loads a
``.qml`` with the layer's file name).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from xml.sax.saxutils import quoteattr

from maps.colours import FILL_OPACITY

__all__ = ["current_zones_qml", "providers_qml", "read_layer_styles", "units_qml", "write_layer_styles",
           "zones_qml"]

_HEAD = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"


def _rgba(colour: str, alpha: float = 1.0) -> str:
    c = colour.lstrip("#")
    return ",".join(str(int(c[i:i + 2], 16)) for i in (0, 2, 4)) + f",{round(255 * alpha)}"


def _options(values: Mapping[str, str]) -> str:
    return '<Option type="Map">' + "".join(
        f'<Option name={quoteattr(k)} type="QString" value={quoteattr(v)}/>' for k, v in values.items()
    ) + "</Option>"


def _fill(name: str, *, fill: str | None, outline: str, width_mm: float, dashed: bool = False) -> str:
    return (
        f'<symbol type="fill" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
        '<layer class="SimpleFill" enabled="1" locked="0" pass="0">'
        + _options({
            "color": _rgba(fill, FILL_OPACITY) if fill else "0,0,0,0",
            "style": "solid" if fill else "no",
            "outline_color": _rgba(outline), "outline_style": "dash" if dashed else "solid",
            "outline_width": f"{width_mm:g}", "outline_width_unit": "MM", "joinstyle": "round",
        })
        + "</layer></symbol>"
    )


def _labels(field: str, *, size: float, bold: bool, italic: bool = False) -> str:
    return (
        '<labeling type="simple"><settings calloutType="simple">'
        f'<text-style fieldName={quoteattr(field)} isExpression="0" fontFamily="Arial" fontSize="{size:g}" '
        f'fontSizeUnit="Point" fontWeight="{75 if bold else 50}" fontItalic="{1 if italic else 0}" '
        'textColor="17,17,17,255" textOpacity="1">'
        '<text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" bufferColor="255,255,255,255" '
        'bufferOpacity="0.9"/></text-style>'
        '<placement placement="1" centroidInside="1" centroidWhole="0" fitInPolygonOnly="0"/>'
        '<rendering obstacle="1" displayAll="0" scaleVisibility="0"/>'
        "</settings></labeling>"
    )


def zones_qml(colours: Mapping[str, str], names: Mapping[str, str], *, field: str = "zone_id") -> str:
    """Categorised by ``field`` with the map's colours (fill opacity as on the map), labelled."""
    labels = {z: f"{z} — {names.get(z, '')}" for z in colours}
    cats = "".join(
        f'<category render="true" symbol="{i}" value={quoteattr(z)} label={quoteattr(labels[z])}/>'
        for i, z in enumerate(colours)
    )
    symbols = "".join(_fill(str(i), fill=c, outline="#333333", width_mm=0.4) for i, c in enumerate(colours.values()))
    return (
        f'{_HEAD}<qgis version="3.28.0" styleCategories="Symbology|Labeling" labelsEnabled="1">'
        f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(field)} symbollevels="0" enableorderby="0" '
        f'forceraster="0"><categories>{cats}</categories><symbols>{symbols}</symbols></renderer-v2>'
        f"{_labels(field, size=10, bold=True)}</qgis>\n"
    )


def current_zones_qml(*, field: str = "zone_name") -> str:
    """Today's zones: no fill, a dark dashed outline, labelled by name."""
    return (
        f'{_HEAD}<qgis version="3.28.0" styleCategories="Symbology|Labeling" labelsEnabled="1">'
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0"><symbols>'
        f'{_fill("0", fill=None, outline="#222222", width_mm=0.6, dashed=True)}</symbols></renderer-v2>'
        f"{_labels(field, size=8, bold=False, italic=True)}</qgis>\n"
    )


def units_qml() -> str:
    """Units (LSOAs): thin grey outlines, no fill, no labels (the zones carry the colour)."""
    return (
        f'{_HEAD}<qgis version="3.28.0" styleCategories="Symbology" labelsEnabled="0">'
        '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0"><symbols>'
        f'{_fill("0", fill=None, outline="#9a9a9a", width_mm=0.15)}</symbols></renderer-v2></qgis>\n'
    )


def providers_qml() -> str:
    """Provider branches: white circles with a black ring, sized 2.5 mm."""
    marker = ('<symbol type="marker" name="0" alpha="1" clip_to_extent="1" force_rhr="0">'
              '<layer class="SimpleMarker" enabled="1" locked="0" pass="0">'
              + _options({"name": "circle", "color": "255,255,255,230", "outline_color": "26,26,26,255",
                          "outline_width": "0.5", "outline_width_unit": "MM", "size": "2.5", "size_unit": "MM"})
              + "</layer></symbol>")
    return (f'{_HEAD}<qgis version="3.28.0" styleCategories="Symbology" labelsEnabled="0">'
            '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
            f"<symbols>{marker}</symbols></renderer-v2></qgis>\n")


_CREATE = """CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
  useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), update_time DATETIME DEFAULT CURRENT_TIMESTAMP)"""


def write_layer_styles(gpkg: Path, styles: Mapping[str, str], *, geometry_column: str = "geom") -> None:
    """Store one default QML style per layer in ``gpkg``'s ``layer_styles`` table (as QGIS does)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with closing(sqlite3.connect(gpkg)) as con, con:
        con.execute(_CREATE)
        con.execute("DELETE FROM layer_styles")
        con.execute("INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, "
                    "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                    "'QGIS styles (carezones)', ?)", (now,))
        con.executemany(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, "
            "styleQML, styleSLD, useAsDefault, description, owner) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, 'carezones')",
            [(layer, geometry_column, f"{layer} (carezones)", qml, f"carezones style for {layer}")
             for layer, qml in styles.items()],
        )


def read_layer_styles(gpkg: Path) -> dict[str, str]:
    """Layer name -> default QML, read back from ``layer_styles``."""
    with closing(sqlite3.connect(gpkg)) as con:
        rows = con.execute("SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault").fetchall()
    return {str(name): str(qml) for name, qml in rows}
