"""Which OSM ways are drivable, what their speed limits are, and how fast a care worker goes.

Three separate facts, kept apart on purpose:

1. **Drivable** (:func:`is_drivable`): the same rule as osmnx's ``network_type="drive"``
   Overpass filter (public roads, no service roads, nothing tagged ``motor_vehicle=no``), so a
   network read from a local file and one downloaded with osmnx hold the same ways. osmnx's
   ``graph_from_xml`` applies no filter at all, hence this predicate.
2. **Speed limit** (:func:`parse_maxspeed_kph`): OSM ``maxspeed`` in km/h, including the UK
   values osmnx cannot parse (``national``, ``GB:nsl_single`` = 60 mph, ``GB:nsl_dual`` and
   ``GB:motorway`` = 70 mph, ``GB:nsl_restricted`` = 30 mph, ``GB:zone20`` …) and ``"30 mph"``.
   Untagged edges take the mean tagged limit of their road class in the same network (what
   osmnx's ``add_edge_speeds`` does), or the UK default of :data:`DEFAULT_LIMIT_MPH` when no
   edge of the class is tagged.
3. **Care-worker speed** = limit × :data:`DEFAULT_SPEED_FACTORS` [road class]. A limit is an
   upper bound, not a journey speed: junctions, traffic, bends, parking and finding the door
   all slow a care round. The factors are stated assumptions, not measurements; a scenario
   can override any of them (``[travel.speed_factors]``). They are applied when routing, not
   when the network is built, so changing them needs no rebuild.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

MPH_TO_KPH = 1.609344

#: Road classes the routing file knows, in this order (the file stores the index).
#: ``*_link`` are slip roads and junction connectors; ``road`` is an OSM way of unknown class.
ROAD_CLASSES: tuple[str, ...] = (
    "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
    "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified", "residential",
    "living_street", "road",
)

#: Legal limits used only when no edge of a class in the network carries a usable maxspeed:
#: the national speed limit on motorways (70 mph) and outside towns (60 mph single
#: carriageway), 30 mph on residential streets, 20 mph on living streets.
DEFAULT_LIMIT_MPH: dict[str, float] = {
    "motorway": 70, "motorway_link": 70, "trunk": 60, "trunk_link": 60, "primary": 60,
    "primary_link": 60, "secondary": 60, "secondary_link": 60, "tertiary": 60,
    "tertiary_link": 60, "unclassified": 60, "residential": 30, "living_street": 20, "road": 30,
}

#: Care-worker speed as a fraction of the limit, by road class (assumptions, stated in the
#: README; override per scenario). E.g. a 60 mph rural lane (unclassified) is driven at
#: 0.5 × 60 = 30 mph, a 30 mph residential street at 18 mph, a motorway at 60 mph.
DEFAULT_SPEED_FACTORS: dict[str, float] = {
    "motorway": 0.85, "motorway_link": 0.60, "trunk": 0.75, "trunk_link": 0.60,
    "primary": 0.65, "primary_link": 0.55, "secondary": 0.60, "secondary_link": 0.55,
    "tertiary": 0.60, "tertiary_link": 0.55, "unclassified": 0.50, "residential": 0.60,
    "living_street": 0.60, "road": 0.50,
}

# UK implicit limits osmnx does not know (keys lower-cased). ``national`` depends on the road.
_UK_IMPLICIT_MPH: dict[str, float] = {
    "gb:nsl_single": 60, "uk:nsl_single": 60, "gb:nsl_dual": 70, "uk:nsl_dual": 70,
    "gb:motorway": 70, "uk:motorway": 70, "gb:nsl_restricted": 30, "uk:nsl_restricted": 30,
    "gb:urban": 30, "uk:urban": 30, "gb:zone20": 20, "gb:zone30": 30, "gb:zone40": 40,
    "gb:zone10": 10, "gb:zone5": 5,
}
_NUMBER = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)

# The osmnx 2.x "drive" filter (osmnx/_overpass.py::_get_network_filter), tag by tag: a way is
# drivable when it has a highway tag and none of these regular expressions matches its value
# (Overpass ``!~`` semantics: a search anywhere in the value). tests/test_roads.py checks that
# this table still equals the installed osmnx's filter.
DRIVE_EXCLUDE: dict[str, str] = {
    "area": "yes",
    "access": "private",
    "highway": "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
    "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|rest_area|"
    "service|services|steps|track",
    "motor_vehicle": "no",
    "motorcar": "no",
    "service": "alley|driveway|emergency_access|parking|parking_aisle|private",
}
_DRIVE_EXCLUDE_RE = {key: re.compile(pattern) for key, pattern in DRIVE_EXCLUDE.items()}


def is_drivable(tags: Mapping[str, str]) -> bool:
    """True when an OSM way with these tags belongs to the drive network (osmnx's rule)."""
    if "highway" not in tags:
        return False
    return not any(key in tags and rx.search(tags[key]) for key, rx in _DRIVE_EXCLUDE_RE.items())


def road_class(highway: object) -> str:
    """The :data:`ROAD_CLASSES` entry of an edge's ``highway`` value (a list after osmnx merged
    ways of several classes: the fastest class listed); anything unknown is ``road``."""
    values = highway if isinstance(highway, list) else [highway]
    known = [v for v in values if isinstance(v, str) and v in ROAD_CLASSES]
    return min(known, key=ROAD_CLASSES.index) if known else "road"


def parse_maxspeed_kph(value: object, *, highway_class: str = "road") -> float | None:
    """A ``maxspeed`` value in km/h, or ``None`` when it gives no usable limit.

    Accepts numbers (km/h by OSM convention), ``"30 mph"``/``"30mph"``, per-lane ``"30|40"`` and
    ``"30;40"`` (their mean), lists from merged edges (their mean), UK implicit values, and
    ``national`` (70 mph on motorways, 60 mph elsewhere). ``none``, ``signals``, ``variable``,
    ``walk`` and anything unparseable give ``None``.
    """
    if isinstance(value, list):
        parsed = [parse_maxspeed_kph(v, highway_class=highway_class) for v in value]
        known = [p for p in parsed if p is not None]
        return sum(known) / len(known) if known else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) and value > 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in ("national", "gb:national", "uk:national"):
        mph = 70.0 if highway_class.startswith("motorway") else 60.0
        return mph * MPH_TO_KPH
    if text in _UK_IMPLICIT_MPH:
        return _UK_IMPLICIT_MPH[text] * MPH_TO_KPH
    parts = re.split(r"[|;]", text)
    speeds: list[float] = []
    for part in parts:
        match = _NUMBER.match(part)
        if match is None:
            continue
        number = float(match.group(1).replace(",", "."))
        unit = (match.group(2) or "").lower()
        speeds.append(number * MPH_TO_KPH if unit == "mph" else number * 1.852 if unit == "knots" else number)
    speeds = [s for s in speeds if s > 0]
    return sum(speeds) / len(speeds) if speeds else None


def speed_factors(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """The default factors with ``overrides`` applied; unknown classes or factors outside
    (0, 1.5] raise ``ValueError`` naming the valid classes."""
    factors = dict(DEFAULT_SPEED_FACTORS)
    for key, factor in (overrides or {}).items():
        if key not in factors:
            raise ValueError(f"unknown road class {key!r} in speed factors; known: {', '.join(ROAD_CLASSES)}")
        if not (0 < factor <= 1.5):
            raise ValueError(f"speed factor for {key} must be in (0, 1.5], got {factor}")
        factors[key] = float(factor)
    return factors
