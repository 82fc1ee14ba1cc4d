"""Seeded synthetic stand-ins for the confidential inputs of the Leicestershire default.

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


def synthetic_demand(postcodes: pd.DataFrame, population: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """One row per synthetic client: ``client_ref, postcode, hours_per_week, cohort``."""
    rng = np.random.default_rng(seed)
    area = postcodes[postcodes["in_area"] & ~postcodes["large_user"]]
    names = list(COHORTS)
    shares = np.array([COHORTS[c][0] for c in names])
    frames = []
    for district, group in area.groupby("district_name", sort=True):
        pop = population.loc[population["district_name"] == district, "pop_65_plus"]
        if pop.empty:
            raise ValueError(f"no 65+ population for district {district!r}")
        clients = int(round(PREVALENCE_65_PLUS * float(pop.iloc[0])))
        where = rng.choice(group["postcode"].to_numpy(), size=clients, replace=True)
        cohort = rng.choice(len(names), size=clients, p=shares / shares.sum())
        hours = np.empty(clients)
        for k, name in enumerate(names):
            _, shape, mean = COHORTS[name]
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


def build_synthetic(
    *, postcodes_path: Path, population_path: Path, out_dir: Path, area_code: str, seed: int = DEFAULT_SEED
) -> SyntheticFiles:
    """Write ``<area>_demand.csv`` and ``<area>_providers.csv`` (synthetic) to ``out_dir``."""
    postcodes = load_reference_postcodes(postcodes_path).reset_index(drop=True)
    population = pd.read_csv(population_path)
    demand = synthetic_demand(postcodes, population, seed=seed)
    providers = synthetic_providers(postcodes, total_demand=float(demand["hours_per_week"].sum()), seed=seed)
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
