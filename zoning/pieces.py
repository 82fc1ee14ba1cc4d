"""Separate pieces of the adjacency graph, and the links that join them before solving.

Rook adjacency (shared boundary) leaves islands and LSOAs across an estuary apart: Essex's
Mersea, Canvey and Foulness, say, which people reach by road every day. A zone plan must be
contiguous, so a graph in several pieces has no plan at all. Before solving, each piece
other than the largest (the *main* piece) is joined to the rest by one **link**:

* a link the scenario declares (``[[link]]``: a bridge, causeway or ferry between two units);
* otherwise the *nearest units across the water*: over every pair of pieces the pair of
  LSOA polygons with the smallest gap; greedy on the gap (Kruskal over pieces), so an island
  next to another island may join through it. With a road network (``[travel] mode =
  "road"``) the few nearest pairs (by gap) are compared by road minutes between their
  residential points and the quickest is taken;
* a piece whose every unit lies farther than the network's ``far_from_road_m`` from any road
  node is one *no road reaches*: it is still joined (by the nearest gap, as by boat) and is
  reported with its hours, never dropped.

``[pieces] join = "declared"`` uses only declared links and stops when a piece stays apart.
``[pieces] own_zone`` names units (LSOA codes, postcodes or ward names) whose pieces become a
zone of their own (see :func:`own_zone_specs`). Every link is listed in the run's outputs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from zoning.errors import ScenarioError, SolveError
from zoning.travel import RoadTravel, TravelModel
from zoning.units import Units

if TYPE_CHECKING:
    from zoning.scenario import Scenario, ZoneSpec

log = logging.getLogger(__name__)

#: Candidate unit pairs (smallest gaps) compared by road minutes when a network is present.
ROAD_CANDIDATES = 6


@dataclass(frozen=True)
class Link:
    """An added adjacency between two units in different pieces."""

    a: str  # LSOA code on the side of the piece being joined
    b: str  # LSOA code on the other side
    gap_m: float  # shortest distance between the two polygons (0 when they touch at a point)
    minutes: float  # travel minutes between the two units' points (the run's travel model)
    how: str  # "declared", "nearest" or "road"
    note: str = ""

    def describe(self) -> str:
        why = {"declared": "declared in the scenario", "nearest": "nearest units across the gap",
               "road": "quickest by road of the nearest units"}[self.how]
        text = f"{self.a} – {self.b}: {self.gap_m / 1000:.2f} km gap, {self.minutes:.1f} min ({why})"
        return f"{text}; {self.note}" if self.note else text


@dataclass(frozen=True)
class Piece:
    """A piece of the area other than the main one."""

    units: tuple[str, ...]
    hours_per_week: float
    road_reached: bool | None  # None: no road network to tell
    own_zone: bool = False
    name: str = ""  # the commonest ward among its postcodes (e.g. "Canvey Island North")

    def describe(self) -> str:
        road = "" if self.road_reached in (None, True) else "; NO ROAD reaches it (joined by the nearest gap)"
        own = "; a zone of its own" if self.own_zone else ""
        first = ", ".join(self.units[:3]) + (" ..." if len(self.units) > 3 else "")
        label = f"{self.name}: " if self.name else ""
        return f"{label}{len(self.units)} unit(s) ({first}), {self.hours_per_week:,.1f} hours/week{road}{own}"


@dataclass(frozen=True)
class PieceJoin:
    """How the area's adjacency graph was made whole."""

    n_pieces: int  # before joining (1: nothing to do)
    main_units: int
    pieces: tuple[Piece, ...]
    links: tuple[Link, ...]

    def summary(self) -> dict[str, object]:
        """For summary.json and the report."""
        return {
            "pieces_before_joining": self.n_pieces,
            "main_piece_units": self.main_units,
            "pieces": [
                {"name": p.name, "units": list(p.units), "hours_per_week": round(p.hours_per_week, 2),
                 "road_reached": p.road_reached, "own_zone": p.own_zone} for p in self.pieces
            ],
            "links": [
                {"a": k.a, "b": k.b, "gap_km": round(k.gap_m / 1000, 3), "minutes": round(k.minutes, 2),
                 "how": k.how, "note": k.note} for k in self.links
            ],
        }

    def notes(self) -> list[str]:
        """Sentences for the report and the command line."""
        if self.n_pieces <= 1 and not self.links:
            return []
        out = [f"the LSOAs' shared boundaries form {self.n_pieces} separate piece(s); "
               f"{len(self.links)} link(s) were added so that zones can cross the water"]
        out += [f"piece: {p.describe()}" for p in self.pieces]
        out += [f"link: {k.describe()}" for k in self.links]
        return out


def _components(g: nx.Graph, order: dict[str, int]) -> list[list[str]]:
    comps = [sorted(c, key=order.__getitem__) for c in nx.connected_components(g)]
    return sorted(comps, key=lambda c: (-len(c), order[c[0]]))


def _nearest_pairs(polys: gpd.GeoSeries, inside: np.ndarray, outside: np.ndarray, k: int) -> list[tuple[int, int, float]]:
    """Up to ``k`` (i in ``inside``, j in ``outside``, gap m) pairs with the smallest gaps."""
    other = polys.iloc[outside].reset_index(drop=True)
    (src, dst), dist = other.sindex.nearest(polys.iloc[inside].to_numpy(), return_distance=True, return_all=False)
    pairs = sorted(((int(inside[s]), int(outside[d]), float(g)) for s, d, g in zip(src, dst, dist, strict=True)),
                   key=lambda t: (t[2], t[0], t[1]))
    return pairs[:k]


def _far_from_road(travel: TravelModel, points: np.ndarray) -> np.ndarray | None:
    if not isinstance(travel, RoadTravel):
        return None
    dist, _ = travel.tree.query(points)
    return np.asarray(dist) > travel.far_from_road_m


def join_pieces(
    units: Units,
    *,
    unit_hours: np.ndarray,
    travel: TravelModel,
    declared: Sequence[tuple[str, str, str]] = (),
    declared_only: bool = False,
    own_zone_units: Sequence[int] = (),
) -> tuple[Units, PieceJoin]:
    """``units`` with links added so the adjacency is one piece, and what was added.

    ``declared`` holds (LSOA a, LSOA b, note) links from the scenario; ``own_zone_units``
    indices of units whose pieces become zones of their own.
    """
    order = units.index()
    g = units.graph()
    n_before = nx.number_connected_components(g)
    links: list[Link] = []
    pts = units.points
    for a, b, note in declared:
        ia, ib = order[a], order[b]
        gap = float(units.polygons.geometry.iloc[ia].distance(units.polygons.geometry.iloc[ib]))
        if not g.has_edge(a, b):
            g.add_edge(a, b)
            links.append(Link(a, b, gap, float(travel.minutes(pts[[ia]], pts[[ib]])[0, 0]), "declared", note))
    comps = _components(g, order)
    far = _far_from_road(travel, pts)
    if len(comps) > 1 and declared_only:
        raise SolveError(
            f"the adjacency graph has {len(comps)} separate pieces after the declared links and [pieces] join is "
            f"'declared': e.g. {comps[1][:3]}. How to fix: add a [[link]] for each piece, or set join = 'nearest'"
        )
    polys = units.polygons.geometry.reset_index(drop=True)
    while len(comps) > 1:
        best: tuple[float, int, int, str, float | None] | None = None
        for c in comps[1:]:
            inside = np.array([order[u] for u in c])
            outside = np.setdiff1d(np.arange(units.n), inside)
            pairs = _nearest_pairs(polys, inside, outside, ROAD_CANDIDATES if far is not None else 1)
            how, pick, pick_min = "nearest", pairs[0], None
            if far is not None and not far[inside].all() and len(pairs) > 1:
                # one travel-time call for the piece's candidate pairs (a road network routes them together)
                minutes = np.diag(travel.minutes(pts[[i for i, _, _ in pairs]], pts[[j for _, j, _ in pairs]]))
                k = int(np.argmin(minutes))
                pick, pick_min, how = pairs[k], float(minutes[k]), "road"
            if best is None or pick[2] < best[0]:
                best = (pick[2], pick[0], pick[1], how, pick_min)
        assert best is not None
        gap, i, j, how, link_min = best
        a, b = units.ids[i], units.ids[j]
        g.add_edge(a, b)
        if link_min is None:
            link_min = float(travel.minutes(pts[[i]], pts[[j]])[0, 0])
        links.append(Link(a, b, gap, link_min, how))
        comps = _components(g, order)
    # the pieces as they were before any link
    base = _components(units.graph(), order)
    own = {int(u) for u in own_zone_units}
    pieces = tuple(
        Piece(units=tuple(c), hours_per_week=float(unit_hours[[order[u] for u in c]].sum()),
              road_reached=None if far is None else not bool(far[[order[u] for u in c]].all()),
              own_zone=any(order[u] in own for u in c))
        for c in base[1:]
    )
    if own and not any(p.own_zone for p in pieces):
        raise ScenarioError("[pieces] own_zone names units of the main piece only: name a unit of a separate piece")
    edges = units.edges
    if links:
        extra = np.array([sorted((order[k.a], order[k.b])) for k in links], dtype=np.int64)
        edges = np.unique(np.vstack([edges, extra]), axis=0)
        units = replace(units, edges=edges)
    return units, PieceJoin(n_pieces=n_before, main_units=len(base[0]), pieces=pieces, links=tuple(links))


def unit_hours_of(area: pd.DataFrame, n_units: int) -> np.ndarray:
    """Hours/week per unit from the in-area postcodes' ``unit`` and ``hours_per_week``."""
    return np.bincount(area["unit"], weights=area["hours_per_week"], minlength=n_units).astype(np.float64)


def _unit_of(token: str, area: pd.DataFrame, order: dict[str, int], *, what: str) -> str:
    """LSOA code of ``token`` (an in-area LSOA code or postcode)."""
    from zoning.postcodes import normalise_postcode

    text = token.strip()
    if text.upper() in order:
        return text.upper()
    pc = normalise_postcode(text)
    if pc in area.index:
        return str(area.at[pc, "lsoa11cd"])
    raise ScenarioError(f"{what}: {token!r} is neither an in-area LSOA code (E01...) nor an in-area postcode. "
                        "How to fix: use a code from the boundaries file or a postcode inside the area")


def own_zone_specs(join: PieceJoin) -> list[ZoneSpec]:
    """One ``[[zone]]`` per piece that is to be a zone of its own: locked to its units (LSOA
    codes), bounded by its hours (the postcode level carries the locks onto its cells)."""
    from zoning.scenario import ZoneSpec

    return [ZoneSpec(name=(p.name or p.units[0])[:80], lock_lsoas=p.units, min_hours=0.0,
                     max_hours=p.hours_per_week, piece=True) for p in join.pieces if p.own_zone]


def piece_of_units(join: PieceJoin | None, ids: Sequence[str]) -> np.ndarray:
    """(n,) the piece of each unit (``ids``: LSOA codes) before any link: 0 for the main piece,
    ``p + 1`` for ``join.pieces[p]``."""
    out = np.zeros(len(ids), dtype=np.int64)
    if join is None:
        return out
    where = {u: p + 1 for p, piece in enumerate(join.pieces) for u in piece.units}
    return np.array([where.get(u, 0) for u in ids], dtype=np.int64)


def join_for_scenario(scenario: Scenario, units: Units, area: pd.DataFrame, travel: TravelModel
                      ) -> tuple[Units, PieceJoin, Scenario]:
    """Join the pieces as ``scenario`` asks; the scenario returned carries one ``[[zone]]`` per
    piece that is to be a zone of its own (locked to its units, bounded by its hours)."""
    order = units.index()
    declared = [(_unit_of(s.a, area, order, what="[[link]] a"), _unit_of(s.b, area, order, what="[[link]] b"),
                 s.note) for s in scenario.link]
    own_units = [order[_unit_of(t, area, order, what="[pieces] own_zone")] for t in scenario.pieces.own_zone]
    hours = unit_hours_of(area, units.n)
    joined, join = join_pieces(units, unit_hours=hours, travel=travel, declared=declared,
                               declared_only=scenario.pieces.join == "declared", own_zone_units=own_units)
    named = []
    for piece in join.pieces:
        members = area[area["lsoa11cd"].isin(piece.units)]
        named.append(replace(piece, name=str(members["ward_name"].mode().iloc[0]) if len(members) else ""))
    join = replace(join, pieces=tuple(named))
    for line in join.notes():
        log.info(line)
    specs = own_zone_specs(join)
    if specs:
        scenario = scenario.model_copy(update={"zone": (*scenario.zone, *specs)})
        if len(scenario.zone) > scenario.model.zones:
            raise ScenarioError(f"{len(scenario.zone)} named or own-piece zones for {scenario.model.zones} zones: "
                                "raise model.zones")
    return joined, join, scenario
