"""Seeded synthetic stand-ins for the confidential inputs (demand, providers) of any area.

Client demand is personal data and no offline list of home-care branches exists, so the
default scenario uses stand-ins built from *real structure*:

* **Demand** — per district, clients = home-care prevalence x the district's real 65+
  population (ONS, via the population file built by `carezones data build`); each client is
  placed at a residential (non-large-user) live postcode of the district, drawn uniformly,
  so demand follows real postcode (household) density; cohort and weekly hours are drawn
  from the plausible distributions below.
* **Providers** — 86 branches (the framework had 86 providers in March 2023) at real
  postcodes in the centres of real towns of the county, Leicester city and Rutland: the
  densest residential postcodes of the wards that carry the town's name; capacity is
  drawn so total capacity is about 115% of total demand.

Any other area: demand the same way (its own districts' 65+ population); about one branch
per 29 clients (Leicestershire's ratio) at the area's own towns, found from the data as dense
residential postcode clusters named from their wards (:mod:`zoning.places`). The children's
share (a joint adults' and children's framework) and the prevalence are parameters.

Everything here is SYNTHETIC and every output that uses it says so. Rebuild with
``carezones data synthetic`` (same seed -> identical files).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from zoning import atomic
from zoning.postcodes import load_reference_postcodes

log = logging.getLogger(__name__)

DEFAULT_SEED = 20260901  # the new framework's start month

#: Share of residents aged 65+ receiving council-arranged home care (plausible: 1-2%).
PREVALENCE_65_PLUS = 0.016
#: Cohort mix of clients, and weekly hours per client: (share, gamma shape, mean hours).
COHORTS: dict[str, tuple[float, float, float]] = {
    "adults": (0.86, 2.2, 10.5),
    "children": (0.04, 2.0, 8.0),
    "chc": (0.07, 2.5, 21.0),
    "live_in": (0.03, 40.0, 70.0),
}
CAPACITY_MARGIN = 1.15
#: Leicestershire: 2,465 synthetic clients and 86 framework branches (March 2023).
CLIENTS_PER_BRANCH = 2465 / 86
LEICESTERSHIRE = "E10000018"

#: (area or district name, ward-name pattern, branches). Town-centre postcodes are taken from
#: the wards whose names match; Leicester city branches are spread over its wards.
TOWNS: tuple[tuple[str, str, int], ...] = (
    ("Charnwood", r"^Loughborough", 8), ("Charnwood", r"^Shepshed", 2), ("Charnwood", r"^Syston", 2),
    ("Charnwood", r"^Birstall", 1), ("Charnwood", r"^Mountsorrel$", 1), ("Charnwood", r"^Anstey", 1),
    ("Charnwood", r"^Thurmaston", 1), ("Charnwood", r"^Sileby", 1),
    ("Hinckley and Bosworth", r"^Hinckley", 5), ("Hinckley and Bosworth", r"^Earl Shilton", 1),
    ("Hinckley and Bosworth", r"^Burbage", 1), ("Hinckley and Bosworth", r"Market Bosworth", 1),
    ("Hinckley and Bosworth", r"^Barwell", 1), ("Hinckley and Bosworth", r"^Groby", 1),
    ("North West Leicestershire", r"^Coalville", 4), ("North West Leicestershire", r"^Ashby (?:Castle|Holywell|Ivanhoe|Money Hill|Willesley)", 2),
    ("North West Leicestershire", r"^Castle Donington", 1), ("North West Leicestershire", r"^Kegworth", 1),
    ("North West Leicestershire", r"^Measham", 1), ("North West Leicestershire", r"^Ibstock", 1),
    ("Melton", r"^Melton", 4), ("Melton", r"^Bottesford", 1),
    ("Harborough", r"^Market Harborough", 3), ("Harborough", r"^Lutterworth", 2),
    ("Harborough", r"^Broughton Astley", 1), ("Harborough", r"^Fleckney", 1), ("Harborough", r"^Kibworth", 1),
    ("Oadby and Wigston", r"Wigston", 3), ("Oadby and Wigston", r"^Oadby", 2),
    ("Blaby", r"^Blaby$", 1), ("Blaby", r"^Narborough", 1), ("Blaby", r"^Enderby", 1),
    ("Blaby", r"^Glenfield", 1), ("Blaby", r"^Countesthorpe", 1), ("Blaby", r"^Braunstone", 1),
    ("Leicester", r".", 23), ("Rutland", r"^Oakham", 2),
)

_PREFIXES = ("Care", "Home", "Community", "Companion", "Bluebell", "Oak", "Riverside", "Heritage",
             "Willow", "Meadow", "Kind", "Together", "Orchard", "Harbour", "Beacon", "Sunrise")
_SUFFIXES = ("Home Care", "Care Services", "Homecare", "Domiciliary Care", "Care at Home", "Support")


@dataclass(frozen=True)
class SyntheticFiles:
    demand: Path
    providers: Path
    clients: int
    hours: float
    branches: int
    capacity: float


def cohort_mix(*, children_share: float | None = None) -> dict[str, tuple[float, float, float]]:
    """:data:`COHORTS` with the children's share set (a joint adults' and children's framework)
    and the other cohorts scaled to keep their proportions; ``None`` leaves the default."""
    if children_share is None:
        return dict(COHORTS)
    if not 0.0 <= children_share < 1.0:
        raise ValueError(f"children's share must be in [0, 1), got {children_share}")
    rest = sum(v[0] for k, v in COHORTS.items() if k != "children")
    return {k: ((children_share if k == "children" else v[0] * (1 - children_share) / rest), v[1], v[2])
            for k, v in COHORTS.items()}


def synthetic_demand(
    postcodes: pd.DataFrame, population: pd.DataFrame, *, seed: int,
    cohorts: dict[str, tuple[float, float, float]] | None = None, prevalence: float = PREVALENCE_65_PLUS,
) -> pd.DataFrame:
    """One row per synthetic client: ``client_ref, postcode, hours_per_week, cohort``.

    ``cohorts`` maps cohort -> (share, gamma shape, mean hours/week) (default :data:`COHORTS`);
    ``prevalence`` is the share of residents aged 65+ who are clients."""
    rng = np.random.default_rng(seed)
    cohorts = COHORTS if cohorts is None else cohorts
    area = postcodes[postcodes["in_area"] & ~postcodes["large_user"]]
    names = list(cohorts)
    shares = np.array([cohorts[c][0] for c in names])
    frames = []
    for district, group in area.groupby("district_name", sort=True):
        pop = population.loc[population["district_name"] == district, "pop_65_plus"]
        if pop.empty:
            raise ValueError(f"no 65+ population for district {district!r}")
        clients = int(round(prevalence * float(pop.iloc[0])))
        where = rng.choice(group["postcode"].to_numpy(), size=clients, replace=True)
        cohort = rng.choice(len(names), size=clients, p=shares / shares.sum())
        hours = np.empty(clients)
        for k, name in enumerate(names):
            _, shape, mean = cohorts[name]
            sel = cohort == k
            hours[sel] = rng.gamma(shape, mean / shape, size=int(sel.sum()))
        hours = np.clip(np.round(hours * 4) / 4, 1.75, 140.0)  # quarter hours, a 1.75 h floor
        frames.append(pd.DataFrame({"postcode": where, "hours_per_week": hours,
                                    "cohort": [names[k] for k in cohort]}))
    demand = pd.concat(frames, ignore_index=True)
    demand.insert(0, "client_ref", [f"SYN{i + 1:05d}" for i in range(len(demand))])
    return demand


def synthetic_providers(postcodes: pd.DataFrame, *, total_demand: float, seed: int) -> pd.DataFrame:
    """Branches at real town-centre postcodes: ``provider_id, name, postcode, capacity_hours_per_week``."""
    rng = np.random.default_rng(seed + 1)
    homes = postcodes[~postcodes["large_user"]]
    rows = []
    for place, pattern, count in TOWNS:
        pool = homes[(homes["district_name"] == place) & homes["ward_name"].str.contains(pattern, regex=True)]
        if pool.empty:
            raise ValueError(f"no postcodes for town pattern {pattern!r} in {place}")
        xy = pool[["easting", "northing"]].to_numpy(float)
        density = np.array([len(n) for n in cKDTree(xy).query_ball_point(xy, r=500.0)])
        if place == "Leicester":  # spread over the city's wards, busiest first
            picks = []
            for _, ward in pool.assign(d=density).groupby("ward_name", sort=True):
                picks.append(ward.sort_values(["d", "postcode"], ascending=[False, True]).iloc[0])
            chosen = pd.DataFrame(picks).sort_values(["d", "postcode"], ascending=[False, True]).head(count)
            extra = count - len(chosen)
            if extra > 0:
                rest = pool.assign(d=density).drop(chosen.index).sort_values(["d", "postcode"], ascending=[False, True])
                chosen = pd.concat([chosen, rest.iloc[::25].head(extra)])
        else:  # the densest postcode is the centre; branches at distinct postcodes near it
            centre = xy[int(np.argmax(density))]
            dist = np.hypot(*(xy - centre).T)
            chosen = pool.iloc[np.argsort(dist, kind="stable")[: 4 * count : 4]]
        town = "Leicester" if place == "Leicester" else _town_label(pattern)
        for pc in chosen["postcode"]:
            rows.append((town, pc))
    return _branch_table(rows, rng=rng, total_demand=total_demand)


def _branch_table(rows: list[tuple[str, str]], *, rng: np.random.Generator, total_demand: float) -> pd.DataFrame:
    """(town, postcode) rows -> the providers table, capacity about CAPACITY_MARGIN x demand."""
    n = len(rows)
    weights = rng.gamma(2.0, 1.0, n)
    capacity = np.round(weights / weights.sum() * CAPACITY_MARGIN * total_demand / 10) * 10
    capacity = np.maximum(capacity, 40.0)
    names = [f"{_PREFIXES[rng.integers(len(_PREFIXES))]} {_SUFFIXES[rng.integers(len(_SUFFIXES))]} "
             f"({place}) [synthetic]" for place, _ in rows]
    return pd.DataFrame(
        {
            "provider_id": [f"SYNP{i + 1:03d}" for i in range(n)],
            "name": names,
            "postcode": [pc for _, pc in rows],
            "capacity_hours_per_week": capacity,
        }
    )


def providers_at_towns(
    postcodes: pd.DataFrame, *, total_demand: float, clients: int, seed: int,
    clients_per_branch: float = CLIENTS_PER_BRANCH,
) -> pd.DataFrame:
    """Branches at the area's own towns, found from the data (:func:`zoning.places.find_towns`):
    about one branch per ``clients_per_branch`` clients (at least 3), shared among the towns in
    proportion to their size (largest remainder; the largest towns first when there are more
    towns than branches), each at distinct residential postcodes near the town centre."""
    from zoning.places import find_towns

    rng = np.random.default_rng(seed + 1)
    homes = postcodes[postcodes["in_area"] & ~postcodes["large_user"]].reset_index(drop=True)
    towns = find_towns(homes)
    if not towns:
        raise ValueError("no residential postcodes in the area to place provider branches at")
    n = max(3, int(round(clients / clients_per_branch)))
    towns = towns[:n]
    size = np.array([t.postcodes for t in towns], dtype=float)
    quota = n * size / size.sum()
    count = np.maximum(np.floor(quota).astype(int), 1)
    for i in np.argsort(-(quota - np.floor(quota)), kind="stable"):
        if count.sum() >= n:
            break
        count[i] += 1
    xy = homes[["easting", "northing"]].to_numpy(float)
    rows = []
    for town, k in zip(towns, count.tolist(), strict=True):
        dist = np.hypot(xy[:, 0] - town.easting, xy[:, 1] - town.northing)
        for i in np.argsort(dist, kind="stable")[: 4 * k : 4]:
            rows.append((town.place or town.name, str(homes.at[int(i), "postcode"])))
    return _branch_table(rows, rng=rng, total_demand=total_demand)


def build_synthetic(
    *, postcodes_path: Path, population_path: Path, out_dir: Path, area_code: str, seed: int = DEFAULT_SEED,
    children_share: float | None = None, prevalence: float = PREVALENCE_65_PLUS,
) -> SyntheticFiles:
    """Write ``<area>_demand.csv`` and ``<area>_providers.csv`` (synthetic) to ``out_dir``.

    Leicestershire (``E10000018``) keeps its documented town table (:data:`TOWNS`, byte for
    byte as shipped); every other area gets branches at its own towns found from the data."""
    postcodes = load_reference_postcodes(postcodes_path).reset_index(drop=True)
    population = pd.read_csv(population_path)
    demand = synthetic_demand(postcodes, population, seed=seed, cohorts=cohort_mix(children_share=children_share),
                              prevalence=prevalence)
    total = float(demand["hours_per_week"].sum())
    if area_code == LEICESTERSHIRE:
        providers = synthetic_providers(postcodes, total_demand=total, seed=seed)
    else:
        providers = providers_at_towns(postcodes, total_demand=total, clients=len(demand), seed=seed)
    demand_path = out_dir / f"{area_code}_demand.csv"
    providers_path = out_dir / f"{area_code}_providers.csv"
    atomic.write_text(demand_path, demand.to_csv(index=False, float_format="%.2f"))
    atomic.write_text(providers_path, providers.to_csv(index=False, float_format="%.0f"))
    log.info("synthetic demand: %d clients, %.0f hours/week; providers: %d branches, %.0f hours/week",
             len(demand), demand["hours_per_week"].sum(), len(providers), providers["capacity_hours_per_week"].sum())
    return SyntheticFiles(demand_path, providers_path, len(demand), float(demand["hours_per_week"].sum()),
                          len(providers), float(providers["capacity_hours_per_week"].sum()))


def _town_label(pattern: str) -> str:
    """``r"^Ashby (?:Castle|...)"`` -> ``"Ashby"``: the plain words at the start of a pattern."""
    return re.sub(r"\(\?:.*|[\^$]", "", pattern).strip()
