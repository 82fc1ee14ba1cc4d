"""Zone colours by adjacency: a colour-blind-safe palette, a greedy graph colouring, and the
colour-vision checks the tests use as oracles.

- :data:`PALETTE`: Okabe & Ito's seven colours (black left out: labels are black) and three of
  Paul Tol's (light cyan, indigo, green), chosen to stay apart under the common colour-vision
  deficiencies (on the default plan the weakest pair of neighbours differs by ΔE 38 under
  simulated deuteranopia, against 10 for the old sorted-id colours).
- :func:`zone_adjacency`: pairs of zones that share a boundary (or a corner), read from the
  polygons themselves.
- :func:`colour_zones`: greedy colouring (zones in order of falling degree, Welsh-Powell); each
  zone takes the palette colour, unused by its neighbours, that lies furthest from its
  neighbours' colours as seen under simulated deuteranopia (then in normal vision).
- :func:`simulate_deuteranopia` (Machado, Oliveira & Fernandes 2009, severity 1, applied in
  linear RGB) and :func:`delta_e` (CIE76 in CIELAB, D65).

Colours are compared as drawn: each fill blended at its opacity over the map background.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable, Mapping, Sequence

import geopandas as gpd
import numpy as np
import shapely

__all__ = [
    "FILL_OPACITY", "MAP_BACKGROUND", "PALETTE", "blend", "colour_zones", "delta_e", "neighbour_contrast",
    "simulate_deuteranopia", "zone_adjacency",
]

logger = logging.getLogger(__name__)

PALETTE: tuple[str, ...] = (
    "#E69F00",  # orange (Okabe-Ito)
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#F0E442",  # yellow
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#99DDFF",  # light cyan (Tol light)
    "#332288",  # indigo (Tol muted)
    "#117733",  # green (Tol muted)
)
#: opacity of a zone fill on the map and in the report's maps
FILL_OPACITY = 0.6
MAP_BACKGROUND = "#eef1f4"

_DEUTERANOPIA = np.array([
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.011820, 0.042940, 0.968881],
])  # fmt: skip


def _rgb(colour: str) -> np.ndarray:
    c = colour.lstrip("#")
    return np.array([int(c[i:i + 2], 16) for i in (0, 2, 4)], dtype=float) / 255.0


def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(round(v * 255)):02x}" for v in np.clip(rgb, 0, 1))


def blend(colour: str, opacity: float = FILL_OPACITY, background: str = MAP_BACKGROUND) -> str:
    """The colour seen when ``colour`` is drawn at ``opacity`` over ``background`` (hex)."""
    return _hex(opacity * _rgb(colour) + (1 - opacity) * _rgb(background))


def _linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def _gamma(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0, 1)
    return np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)


def simulate_deuteranopia(colour: str) -> str:
    """``colour`` as a person with deuteranopia would see it (hex)."""
    return _hex(_gamma(_DEUTERANOPIA @ _linear(_rgb(colour))))


def _lab(colour: str) -> np.ndarray:
    lin = _linear(_rgb(colour))
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(a: str, b: str) -> float:
    """CIE76 colour difference between two hex colours."""
    return float(np.linalg.norm(_lab(a) - _lab(b)))


def zone_adjacency(zones: gpd.GeoDataFrame, *, id_column: str) -> set[tuple[str, str]]:
    """Pairs ``(a, b)``, ``a < b``, of zones whose polygons touch (edge or corner)."""
    geoms = zones.geometry.to_numpy()
    ids = [str(z) for z in zones[id_column]]
    tol = 1e-7 if zones.crs is not None and zones.crs.is_geographic else 0.01
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=tol)
    return {(min(ids[i], ids[j]), max(ids[i], ids[j])) for i, j in zip(left, right, strict=True)
            if ids[i] != ids[j]}


def _neighbours(ids: Sequence[str], pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {z: set() for z in ids}
    for a, b in pairs:
        if a in out and b in out:
            out[a].add(b)
            out[b].add(a)
    return out


def colour_zones(zone_ids: Sequence[Hashable], adjacency: Iterable[tuple[str, str]], *,
                 palette: Sequence[str] = PALETTE, opacity: float = FILL_OPACITY) -> dict[str, str]:
    """Zone id -> palette colour such that no two neighbours share a colour (greedy).

    Logs a warning (and reuses the most distant colour) only if a zone has as many
    neighbours as the palette has colours, which a map of zones practically never does.
    """
    ids = sorted(dict.fromkeys(str(z) for z in zone_ids))
    nbrs = _neighbours(ids, adjacency)
    seen = {c: (simulate_deuteranopia(blend(c, opacity)), blend(c, opacity)) for c in palette}
    used = {c: 0 for c in palette}
    out: dict[str, str] = {}
    for zone in sorted(ids, key=lambda z: (-len(nbrs[z]), z)):
        taken = [out[n] for n in nbrs[zone] if n in out]
        free = [c for c in palette if c not in taken] or list(palette)
        if len(free) == len(palette) and taken:
            logger.warning("zone %s: every palette colour is taken by a neighbour", zone)

        def score(c: str, taken: list[str] = taken) -> tuple[float, float, int, int]:
            deut = min((delta_e(seen[c][0], seen[t][0]) for t in taken), default=100.0)
            normal = min((delta_e(seen[c][1], seen[t][1]) for t in taken), default=100.0)
            return (min(deut, 40.0), min(normal, 40.0), -used[c], -list(palette).index(c))

        best = max(free, key=score)
        out[zone] = best
        used[best] += 1
    return _improve(out, nbrs, seen, palette)


def _improve(colours: dict[str, str], nbrs: Mapping[str, set[str]], seen: Mapping[str, tuple[str, str]],
             palette: Sequence[str], *, rounds: int = 200) -> dict[str, str]:
    """Steepest-ascent recolouring of single zones while it raises the weakest neighbour
    contrast (deuteranopia first, fewest pairs at that level, then normal vision).
    Neighbours never share a colour."""
    deut = {(a, b): delta_e(seen[a][0], seen[b][0]) for a in palette for b in palette}
    norm = {(a, b): delta_e(seen[a][1], seen[b][1]) for a in palette for b in palette}
    edges = sorted({(min(a, b), max(a, b)) for a in nbrs for b in nbrs[a]})

    def quality(c: Mapping[str, str]) -> tuple[float, int, float]:
        if not edges:
            return (0.0, 0, 0.0)
        d = [round(deut[c[a], c[b]], 6) for a, b in edges]
        low = min(d)
        return (low, -d.count(low), min(norm[c[a], c[b]] for a, b in edges))

    best = quality(colours)
    for _ in range(rounds):
        move = None
        for zone in sorted(colours):
            for c in palette:
                if c == colours[zone] or any(colours[n] == c for n in nbrs[zone]):
                    continue
                trial = {**colours, zone: c}
                q = quality(trial)
                if q > best:
                    best, move = q, (zone, c)
        if move is None:
            break
        colours[move[0]] = move[1]
    return {z: colours[z] for z in sorted(colours)}


def neighbour_contrast(colours: Mapping[str, str], adjacency: Iterable[tuple[str, str]], *,
                       opacity: float = FILL_OPACITY) -> tuple[float, float]:
    """Smallest ΔE between neighbouring zones as drawn: (normal vision, deuteranopia)."""
    normal, deut = [], []
    for a, b in adjacency:
        if a in colours and b in colours:
            ca, cb = blend(colours[a], opacity), blend(colours[b], opacity)
            normal.append(delta_e(ca, cb))
            deut.append(delta_e(simulate_deuteranopia(ca), simulate_deuteranopia(cb)))
    return (min(normal, default=float("inf")), min(deut, default=float("inf")))
