"""Two small inline SVG charts for the HTML report (hand-written: a few kB each, no dependency).

- :func:`zone_load_chart`: each zone's demand as a bar, its provider capacity as a tick, the
  mean and the ±tolerance band as vertical lines.
- :func:`travel_histogram`: share of care hours by travel time to the zone centre, proposed
  against current; suppressed bins are drawn as an asterisk.

Labels are escaped with :func:`maps.escape.escape_text`; numbers are formatted here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from maps.escape import escape_text

__all__ = ["PROPOSED_COLOUR", "CURRENT_COLOUR", "zone_load_chart", "travel_histogram"]

PROPOSED_COLOUR = "#4363d8"
CURRENT_COLOUR = "#f58231"
_FONT = 'font-family="system-ui,sans-serif" font-size="11"'


def _nice_max(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def zone_load_chart(labels: Sequence[str], loads: Sequence[float], capacities: Sequence[float], *,
                    tolerance: float, title: str) -> str:
    """Horizontal bars: demand per zone (hours/week) against capacity and the balance band."""
    n = len(labels)
    left, right, top, row = 250, 30, 34, 20
    width, height = 680, top + row * n + 34
    finite = [v for v in (*loads, *capacities) if math.isfinite(v)]
    top_value = _nice_max(max(finite, default=1.0) * 1.05)
    scale = (width - left - right) / top_value
    mean = sum(loads) / n if n else 0.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" {_FONT}><title>{escape_text(title)}</title>',
        f'<text x="{left}" y="14" font-weight="bold">{escape_text(title)}</text>',
    ]
    lo, hi = (1 - tolerance) * mean * scale + left, (1 + tolerance) * mean * scale + left
    bottom = top + row * n
    parts.append(f'<rect x="{lo:.1f}" y="{top - 4}" width="{hi - lo:.1f}" height="{bottom - top + 8}" fill="#e5f5e0"/>')
    parts.append(f'<line x1="{mean * scale + left:.1f}" x2="{mean * scale + left:.1f}" y1="{top - 4}" '
                 f'y2="{bottom + 4}" stroke="#238b45" stroke-dasharray="4 2"/>')
    for i, (label, load, cap) in enumerate(zip(labels, loads, capacities, strict=True)):
        y = top + i * row
        short = label if len(label) <= 38 else label[:37] + "…"
        parts.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{escape_text(short)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{max(load, 0) * scale:.1f}" height="{row - 7}" '
                     f'fill="{PROPOSED_COLOUR}"><title>{escape_text(label)}: {load:,.0f} h/week</title></rect>')
        if math.isfinite(cap):
            x = left + cap * scale
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + row - 2}" stroke="#111" '
                         f'stroke-width="2.5"><title>capacity {cap:,.0f} h/week</title></line>')
    for k in range(5):
        v = top_value * k / 4
        x = left + v * scale
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#555"/>'
                     f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle">{v:,.0f}</text>')
    parts.append(
        f'<text x="{left}" y="{height - 4}">bars: demand, hours/week; black tick: provider capacity; '
        f'green: mean ±{100 * tolerance:.0f}%</text></svg>'
    )
    return "".join(parts)


def travel_histogram(edges: Sequence[float], series: Sequence[tuple[str, str, Sequence[float | None]]], *,
                     title: str) -> str:
    """Grouped bars of the share of hours (0-1) per travel-time bin; ``None`` = suppressed.

    ``series``: (label, colour, shares per bin). ``edges`` has one more entry than each
    series; a last edge of ``inf`` is labelled as an open bin.
    """
    bins = len(edges) - 1
    left, bottom_pad, top = 44, 44, 30
    width, height = 680, 260
    plot_w, plot_h = width - left - 20, height - top - bottom_pad
    values = [v for _, _, vals in series for v in vals if v is not None]
    top_value = _nice_max(max(values, default=0.01))
    group_w = plot_w / max(bins, 1)
    bar_w = (group_w - 6) / max(len(series), 1)
    base = top + plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" {_FONT}><title>{escape_text(title)}</title>',
        f'<text x="{left}" y="14" font-weight="bold">{escape_text(title)}</text>',
        f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" stroke="#555"/>',
    ]
    for k in range(5):
        v = top_value * k / 4
        y = base - v / top_value * plot_h
        parts.append(f'<line x1="{left - 3}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end">{100 * v:.3g}%</text>')
    for b in range(bins):
        x0 = left + b * group_w + 3
        for s, (label, colour, vals) in enumerate(series):
            share = vals[b]
            x = x0 + s * bar_w
            if share is None:
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{base - 3}" text-anchor="middle">*</text>')
                continue
            h = share / top_value * plot_h
            parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{escape_text(label)}: {100 * share:.1f}%</title></rect>')
        lo, hi = edges[b], edges[b + 1]
        text = f"{lo:.0f}+" if not math.isfinite(hi) else f"{lo:.0f}–{hi:.0f}"
        parts.append(f'<text x="{x0 + (group_w - 6) / 2:.1f}" y="{base + 14}" text-anchor="middle">{text}</text>')
    legend_x = left
    for label, colour, _ in series:
        parts.append(f'<rect x="{legend_x}" y="{height - 14}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{legend_x + 14}" y="{height - 5}">{escape_text(label)}</text>')
        legend_x += 14 + 7 * len(label) + 20
    parts.append(f'<text x="{width - 20}" y="{height - 5}" text-anchor="end">minutes to zone centre; '
                 f'* suppressed</text></svg>')
    return "".join(parts)
