"""Inline SVG for the planner's pages: trade-off scatter charts and small plan maps.

Hand-written SVG (a few kB each, no scripts, no dependency). Shapes arrive as plain rings of
projected coordinates (metres, y up); labels are escaped here with
:func:`maps.escape.escape_text`, numbers formatted here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from maps.escape import escape_text

__all__ = ["Point", "Shape", "scatter_chart", "plan_map_svg"]

_FONT = 'font-family="system-ui,sans-serif" font-size="11"'
HIGHLIGHT = "#d62728"
PLAIN = "#4363d8"


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    highlight: bool = False


@dataclass(frozen=True)
class Shape:
    """One zone of a small map: its id (for the colour), fill colour and polygon rings."""

    zone: str
    colour: str
    rings: tuple[tuple[tuple[float, float], ...], ...]
    title: str = ""
    stroke: str = "#333"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * step:
            step *= mult
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def scatter_chart(points: Sequence[Point], *, title: str, x_label: str, y_label: str,
                  width: int = 460, height: int = 300) -> str:
    """A labelled scatter; highlighted points (the shortlist) in red with a ring."""
    pts = [p for p in points if math.isfinite(p.x) and math.isfinite(p.y)]
    left, right, top, bottom = 64, 16, 30, 44
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" {_FONT}><title>{escape_text(title)}</title>',
             f'<text x="{left}" y="16" font-weight="bold">{escape_text(title)}</text>']
    if not pts:
        parts.append(f'<text x="{left}" y="{height // 2}">no variant with a plan</text></svg>')
        return "".join(parts)
    xs, ys = [p.x for p in pts], [p.y for p in pts]
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    pad_x = (x_hi - x_lo) * 0.08 or max(abs(x_lo) * 0.05, 0.5)
    pad_y = (y_hi - y_lo) * 0.08 or max(abs(y_lo) * 0.05, 0.5)
    x_lo, x_hi, y_lo, y_hi = x_lo - pad_x, x_hi + pad_x, y_lo - pad_y, y_hi + pad_y
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(x: float) -> float:
        return left + (x - x_lo) / (x_hi - x_lo) * plot_w

    def sy(y: float) -> float:
        return top + plot_h - (y - y_lo) / (y_hi - y_lo) * plot_h

    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    for t in _ticks(x_lo, x_hi):
        parts.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="#999"/>'
                     f'<text x="{sx(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{_fmt(t)}</text>')
    for t in _ticks(y_lo, y_hi):
        parts.append(f'<line x1="{left - 4}" x2="{left}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#999"/>'
                     f'<text x="{left - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle">{escape_text(x_label)}</text>')
    parts.append(f'<text transform="translate(14 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle">'
                 f'{escape_text(y_label)}</text>')
    for p in sorted(pts, key=lambda q: q.highlight):
        colour = HIGHLIGHT if p.highlight else PLAIN
        ring = (f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="8" fill="none" stroke="{HIGHLIGHT}"/>'
                if p.highlight else "")
        parts.append(f'{ring}<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="4.5" fill="{colour}">'
                     f'<title>{escape_text(p.label)}: {_fmt(p.x)}, {_fmt(p.y)}</title></circle>'
                     f'<text x="{sx(p.x) + 7:.1f}" y="{sy(p.y) - 6:.1f}" font-size="8" fill="#555">'
                     f'{escape_text(p.label if len(p.label) <= 24 else p.label[:23] + "…")}</text>')
    parts.append("</svg>")
    return "".join(parts)


def plan_map_svg(shapes: Sequence[Shape], *, title: str, size: int = 220,
                 bounds: tuple[float, float, float, float] | None = None) -> str:
    """A small map: every zone filled in its colour, hover shows its title. ``bounds`` fixes the
    frame (minx, miny, maxx, maxy) so that several maps share one scale."""
    coords = [xy for s in shapes for ring in s.rings for xy in ring]
    if not coords:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}"><title>{escape_text(title)}</title></svg>'
    if bounds is None:
        bounds = (min(c[0] for c in coords), min(c[1] for c in coords),
                  max(c[0] for c in coords), max(c[1] for c in coords))
    minx, miny, maxx, maxy = bounds
    span = max(maxx - minx, maxy - miny, 1.0)
    scale = (size - 8) / span
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {size} {size}" width="{size}" '
             f'height="{size}" {_FONT}><title>{escape_text(title)}</title>']
    for shape in shapes:
        d = " ".join(
            "M" + " L".join(f"{4 + (x - minx) * scale:.1f},{size - 4 - (y - miny) * scale:.1f}" for x, y in ring) + " Z"
            for ring in shape.rings if len(ring) >= 3
        )
        parts.append(f'<path d="{d}" fill="{escape_text(shape.colour)}" fill-opacity="0.75" stroke="{escape_text(shape.stroke)}" '
                     f'stroke-width="0.6" fill-rule="evenodd"><title>{escape_text(shape.title or shape.zone)}</title></path>')
    parts.append("</svg>")
    return "".join(parts)


def legend_html(items: Mapping[str, str]) -> str:
    """Colour swatches with escaped labels."""
    return " ".join(f'<span style="display:inline-block;width:10px;height:10px;background:{escape_text(c)}"></span> '
                    f"{escape_text(label)}" for label, c in items.items())
