"""Towns found from the postcode data alone: dense clusters of residential postcodes, named from
their wards.

No place-name gazetteer ships with carezones, so a *town* is where residential postcodes
(Code-Point Open, large users left out) are densest:

1. each postcode's density is the number of residential postcodes within ``radius_m``
   (500 m);
2. the densest postcode is a town centre; every postcode within ``spacing_m`` (3 km) of it
   is claimed, and the next densest unclaimed postcode is the next centre, until densities
   fall below ``min_density``;
3. a town's size is its residential postcodes within ``size_m`` (2 km) of the centre;
4. its name comes from the wards around it (within ``size_m``): the words that two or more
   of those wards' names begin with ("Loughborough Ashby", "Loughborough East" ->
   "Loughborough"); else the name of the ward holding most of its postcodes. A district's
   largest town takes the district's name when that is a place's name (``Colchester``, not
   ``North West Leicestershire``) and its wards do not name it. Further clusters of one town are numbered ("Loughborough 2").

Used by the synthetic stand-ins (provider branches at each area's own towns) and by zone
names (each zone is named after the largest town in it).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Town:
    """A dense cluster of residential postcodes."""

    name: str
    district_name: str
    easting: float
    northing: float
    postcodes: int  # residential postcodes within size_m of the centre
    centre_postcode: str
    place: str = ""  # the name without the cluster number ("Loughborough" for "Loughborough 2")


def _common_words(names: list[str]) -> str:
    """Longest run of leading words shared by every name (``"Market Harborough - Logan"``...)."""
    split = [n.replace("-", " ").replace(",", " ").split() for n in names]
    out: list[str] = []
    for words in zip(*split, strict=False):
        if len(set(words)) != 1:
            break
        out.append(words[0])
    while out and out[-1].lower() in {"and", "&", "of", "the", "with", "st", "st."}:
        out.pop()
    return " ".join(out)


def _place_like(name: str) -> bool:
    """A district name that is also a town's (``Colchester``), not ``North West Leicestershire``."""
    words = name.split()
    compass = {"north", "south", "east", "west", "mid", "central", "greater"}
    return not ({w.lower() for w in words} & (compass | {"and", "&", "forest", "vale", "district"})) and not any(
        w.lower().endswith("shire") for w in words) and len(words) <= 2


def _name_from_wards(wards: pd.Series) -> tuple[str | None, float]:
    """The leading words that two or more wards share and that cover most postcodes."""
    counts = wards.value_counts()
    by_first: dict[str, list[str]] = {}
    for name in counts.index:
        words = str(name).split()
        if words:
            by_first.setdefault(words[0], []).append(str(name))
    best: tuple[int, str] | None = None
    for group in by_first.values():
        if len(group) < 2:
            continue
        prefix = _common_words(group)
        if not prefix or len(prefix) < 3:
            continue
        weight = int(counts[group].sum())
        if best is None or weight > best[0]:
            best = (weight, prefix)
    if best is None or best[0] < 0.3 * counts.sum():
        return None, 0.0
    return best[1], best[0] / float(counts.sum())


def find_towns(
    postcodes: pd.DataFrame,
    *,
    radius_m: float = 500.0,
    spacing_m: float = 3000.0,
    size_m: float = 2000.0,
    min_density: int = 40,
    max_towns: int = 60,
) -> list[Town]:
    """Towns among ``postcodes`` (index postcode or column ``postcode``; ``easting``,
    ``northing``, ``ward_name``, ``district_name``, ``large_user``), largest first."""
    frame = postcodes.reset_index() if "postcode" not in postcodes.columns else postcodes.reset_index(drop=True)
    homes = frame[~frame["large_user"].astype(bool)].sort_values("postcode").reset_index(drop=True)
    if homes.empty:
        return []
    xy = homes[["easting", "northing"]].to_numpy(float)
    tree = cKDTree(xy)
    density = np.array([len(n) for n in tree.query_ball_point(xy, r=radius_m)])
    order = np.lexsort((np.arange(len(xy)), -density))  # densest first, ties by postcode
    claimed = np.zeros(len(xy), dtype=bool)
    raw: list[tuple[int, int]] = []  # (centre row, size)
    for i in order.tolist():
        if density[i] < min_density and raw:
            break
        if claimed[i]:
            continue
        claimed[tree.query_ball_point(xy[i], r=spacing_m)] = True
        raw.append((i, len(tree.query_ball_point(xy[i], r=size_m))))
        if len(raw) >= max_towns:
            break
    raw.sort(key=lambda t: (-t[1], str(homes.at[t[0], "postcode"])))
    towns: list[Town] = []
    seen_district: set[str] = set()
    for i, size in raw:
        near = homes.iloc[tree.query_ball_point(xy[i], r=size_m)]
        district = str(near["district_name"].mode().iloc[0])
        name, share = _name_from_wards(near["ward_name"].astype(str))
        if district not in seen_district and (name is None or share < 0.5) and _place_like(district):
            name = district  # the district's largest town, when its wards do not name it (Colchester)
        if name is None:
            name = str(near["ward_name"].mode().iloc[0]) or district
        seen_district.add(district)
        towns.append(Town(name=name, district_name=district, easting=float(xy[i, 0]), northing=float(xy[i, 1]),
                          postcodes=size, centre_postcode=str(homes.at[i, "postcode"])))
    out = []
    seen: Counter[str] = Counter()
    for t in towns:  # a second cluster of the same town (a large one): "Loughborough 2"
        seen[t.name] += 1
        name = t.name if seen[t.name] == 1 else f"{t.name} {seen[t.name]}"
        out.append(Town(name, t.district_name, t.easting, t.northing, t.postcodes, t.centre_postcode, t.name))
    log.info("found %d towns (dense residential postcode clusters): %s", len(out),
             ", ".join(t.name for t in out[:8]) + (" ..." if len(out) > 8 else ""))
    return out


def _compass(points: np.ndarray) -> list[str]:
    """Suffixes telling apart zones that share a town: North/South or East/West (the wider
    spread), and numbers beyond two."""
    if len(points) == 2:
        dx, dy = np.ptp(points[:, 0]), np.ptp(points[:, 1])
        if dy >= dx:
            return ["North", "South"] if points[0, 1] > points[1, 1] else ["South", "North"]
        return ["West", "East"] if points[0, 0] < points[1, 0] else ["East", "West"]
    order = np.lexsort((points[:, 0], -points[:, 1]))  # north first
    out = [""] * len(points)
    for rank, i in enumerate(order.tolist()):
        out[i] = str(rank + 1)
    return out


def name_zones(postcodes: pd.DataFrame, *, zone_column: str, n_zones: int,
               towns: list[Town] | None = None) -> list[str]:
    """A unique name per zone ``0..n_zones-1`` from the largest town in it.

    ``postcodes`` (in-area, with ``zone_column`` holding each postcode's zone index) give the
    towns (:func:`find_towns`) and the zone of each town's centre postcode. A zone's name is its
    largest town's (a town's further clusters count as the town); a zone holding no town is
    named after its commonest ward. Zones that would share a name take "North"/"South" (or
    "East"/"West") by where their residential postcodes lie; the name does not depend on the
    zone's centre, so it stays put when the centre moves within the zone."""
    frame = postcodes.reset_index() if "postcode" not in postcodes.columns else postcodes.reset_index(drop=True)
    towns = find_towns(frame) if towns is None else towns
    zone_of = dict(zip(frame["postcode"].astype(str), frame[zone_column].astype(int), strict=True))
    best: dict[int, Town] = {}
    for town in towns:  # largest first
        z = zone_of.get(town.centre_postcode)
        if z is not None and z not in best:
            best[z] = town
    names: list[str] = []
    for z in range(n_zones):
        if z in best:
            names.append(best[z].place or best[z].name)
            continue
        members = frame[frame[zone_column] == z]
        names.append(str(members["ward_name"].mode().iloc[0]) if len(members) else f"Zone {z + 1}")
    homes = frame[~frame["large_user"].astype(bool)]
    centroid = homes.groupby(zone_column)[["easting", "northing"]].mean()
    out = list(names)
    for name in {n for n in names if names.count(n) > 1}:
        zones = [z for z in range(n_zones) if names[z] == name]
        pts = np.array([centroid.loc[z].to_numpy(float) if z in centroid.index else (0.0, 0.0) for z in zones])
        for z, suffix in zip(zones, _compass(pts), strict=True):
            out[z] = f"{name} {suffix}"
    return out
