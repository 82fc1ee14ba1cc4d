"""Escape text before it reaches folium.

folium 0.20 does not escape text. Tooltip text is pasted into a JavaScript template
literal (backticks), so `` ` `` and ``${...}`` run as code even after ``html.escape``;
GeoJSON tooltips, popups, DivIcons and layer names are inserted as HTML; and ``</script>``
inside a script block ends it. :func:`escape_text` makes a string safe for all of these
contexts at once: HTML text, quoted HTML attributes and JS template literals.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterable

import geopandas as gpd
import pandas as pd

__all__ = ["escape_text", "escape_frame"]

logger = logging.getLogger(__name__)

# Applied after html.escape, so "&" is already "&amp;" and these entities survive intact.
_EXTRA_ENTITIES = str.maketrans(
    {
        "`": "&#96;",
        "$": "&#36;",
        "\\": "&#92;",
        "{": "&#123;",
        "}": "&#125;",
    }
)


def escape_text(value: object) -> str:
    """Return ``value`` as text that is inert in HTML, attributes and JS template literals.

    ``None`` becomes the empty string; anything else is passed through ``str``. Numbers
    should be formatted by the caller (e.g. ``f"{hours:,.0f}"``) before escaping.

    >>> escape_text("<b>${x}</b> `y` \\\\")
    '&lt;b&gt;&#36;&#123;x&#125;&lt;/b&gt; &#96;y&#96; &#92;'
    """
    if value is None:
        return ""
    return html.escape(str(value), quote=True).translate(_EXTRA_ENTITIES)


def _is_missing(value: object) -> bool:
    """True for None, NaN, NaT and pd.NA scalars (never for lists or strings)."""
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def escape_frame(gdf: gpd.GeoDataFrame, columns: Iterable[str]) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` with each of ``columns`` converted to escaped text.

    Missing values (``None``/``NaN``/``NA``) become the empty string. Raises ``ValueError``
    naming every requested column that ``gdf`` lacks.
    """
    cols = list(columns)
    missing = [c for c in cols if c not in gdf.columns]
    if missing:
        raise ValueError(
            f"escape_frame: expected columns {missing} to exist; received a frame with "
            f"columns {list(gdf.columns)}. Fix: pass only columns the frame has."
        )
    out = gdf.copy()
    for col in cols:
        out[col] = ["" if _is_missing(v) else escape_text(v) for v in gdf[col]]
    logger.debug("escaped %d column(s) over %d row(s)", len(cols), len(out))
    return out


def format_number(number: float, spec: str) -> str:
    """``format(number, spec)`` without a minus on a figure that rounds to zero ("-0.00 min"):
    such a figure reads "0.00" (or "+0.00" when the spec asks for a sign)."""
    text = format(number, spec)
    if text.startswith("-") and not any(ch in "123456789" for ch in text):
        return ("+" if "+" in spec else "") + text[1:]
    return text
