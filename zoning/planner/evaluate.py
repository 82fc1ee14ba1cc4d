"""Score a plan a person made (in QGIS or a spreadsheet) with the same measures and checks as a run.

The plan is read like a current-zones file (:func:`zoning.inputs.read_current_zones`): a
postcode -> zone or LSOA -> zone table (CSV/XLSX), or a polygon file (GeoPackage with
``layer``, GeoJSON). The scenario's inputs are prepared as for a run
(:func:`zoning.prepare.prepare_problem`, with ``model.zones`` set to the plan's zone count), the
plan becomes a labelled assignment of units with centres, and :func:`zoning.measure.measure_plan`
measures it: every figure and every named check, failures included (they are reported, not
raised, until the outputs are written).

- **Units.** The optimiser's units are LSOAs. An LSOA whose postcodes the plan splits between
  zones is measured in its majority zone (by hours, then postcodes); the check
  ``lsoas_whole`` fails and says how many postcodes and hours that moved.
- **Centres.** A zone's centre is the plan's own when it gives one (``centre_lsoa`` in the
  polygon layer, or in the ``summary.json`` beside a carezones ``postcode_zones.csv``), else
  the member LSOA with least demand-weighted travel (its medoid), as the optimiser re-centres.
- **Identity.** Zones keep the plan's ids and names (``zone_name`` / ``proposed_zone_name``).

Evaluating a run's own ``zones.gpkg`` or ``postcode_zones.csv`` reproduces that run's figures.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimiser.checks import Check
from optimiser.districting import DistrictingResult, best_centres, plan_objective
from optimiser.solve import SolverReport, SolveStatus
from zoning.changes import match_zones
from zoning.errors import InputError
from zoning.inputs import read_current_zones, read_layer, read_table
from zoning.measure import ZoneIdentity, fill_from_neighbours, measure_plan
from zoning.plan import ZonePlan
from zoning.planner.overrides import apply_settings
from zoning.postcodes import load_reference_postcodes
from zoning.prepare import Prepared, prepare_problem
from zoning.scenario import Scenario
from zoning.units import read_boundaries

log = logging.getLogger(__name__)

ZONE_COLUMNS = ("proposed_zone", "zone_id", "zone")  # carezones' own first
NAME_COLUMNS = ("proposed_zone_name", "zone_name", "name")


@dataclass(frozen=True)
class GivenPlan:
    """A plan read from a file: each in-area postcode's zone, zone names, centres if given."""

    path: Path
    zone_of_postcode: pd.Series  # index postcode -> zone id
    names: dict[str, str]
    centres: dict[str, str]  # zone id -> centre LSOA code, when the file says


def _pick(columns: list[str], wanted: tuple[str, ...], path: Path, what: str) -> str | None:
    found = next((c for c in wanted if c in columns), None)
    if found is None and what:
        raise InputError(path, [f"no {what} column: expected one of {list(wanted)}; found {columns}"],
                         hint=f"name the column holding each row's {what} one of {list(wanted)}")
    return found


def read_plan(path: Path, scenario: Scenario, *, layer: str | None = None) -> GivenPlan:
    """Read ``path`` as a plan over the scenario's area (see the module docstring)."""
    reference = load_reference_postcodes(scenario.data.postcodes)
    suffix = path.suffix.lower()
    names: dict[str, str] = {}
    centres: dict[str, str] = {}
    if suffix in (".gpkg", ".geojson", ".json", ".shp"):
        frame = read_layer(path, layer)
        columns = [str(c) for c in frame.columns]
        zone_col = _pick(columns, ZONE_COLUMNS, path, "zone")
        assert zone_col is not None
        zones = read_current_zones(path, reference, key="polygon", zone_column=zone_col, layer=layer,
                                   boundaries=read_boundaries(scenario.data.boundaries))
        ids = frame[zone_col].astype(str)
        name_col = _pick(columns, NAME_COLUMNS, path, "")
        if name_col:
            names = dict(zip(ids, frame[name_col].astype(str), strict=True))
        if "centre_lsoa" in columns:
            centres = dict(zip(ids, frame["centre_lsoa"].astype(str), strict=True))
    else:
        table = read_table(path)
        columns = list(table.columns)
        key = "postcode" if "postcode" in columns else "lsoa11cd" if "lsoa11cd" in columns else None
        if key is None:
            raise InputError(path, [f"no postcode or lsoa11cd column; found {columns}"],
                             hint="a plan table has a postcode (or lsoa11cd) column and a zone column")
        zone_col = _pick(columns, ZONE_COLUMNS, path, "zone")
        assert zone_col is not None
        zones = read_current_zones(path, reference, key=key, zone_column=zone_col)
        name_col = _pick(columns, NAME_COLUMNS, path, "")
        if name_col:
            # a row moved by hand often keeps its old zone's name: each zone takes its most frequent name
            pairs = pd.DataFrame({"zone": table[zone_col].str.strip(), "name": table[name_col].str.strip().str.lstrip("'")})
            counts = pairs.groupby(["zone", "name"]).size().rename("n").reset_index()
            counts = counts.sort_values(["zone", "n", "name"], ascending=[True, False, True]).groupby("zone").first()
            names = dict(zip(counts.index, counts["name"], strict=True))
        centres = _centres_beside(path)
    log.info("plan %s: %d zones over %d postcodes", path.name, zones.nunique(), len(zones))
    return GivenPlan(path=path, zone_of_postcode=zones.astype(str), names=names, centres=centres)


def _centres_beside(path: Path) -> dict[str, str]:
    """Zone centres from the ``summary.json`` of the run that wrote ``path``, if it is there."""
    summary = path.parent / "summary.json"
    if not summary.is_file():
        return {}
    try:
        zones = json.loads(summary.read_text(encoding="utf-8")).get("zones", [])
        found = {str(z["zone"]): str(z["centre_lsoa"]) for z in zones if z.get("centre_lsoa")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    log.info("zone centres taken from %s", summary)
    return found


def _unit_labels(prep: Prepared, plan: GivenPlan, ids: list[str]) -> tuple[np.ndarray, Check]:
    """Each LSOA's zone index (majority of its postcodes, by hours then count) and the
    ``lsoas_whole`` check saying what a split LSOA moved."""
    area = prep.area
    zone = plan.zone_of_postcode.reindex(area.index)
    frame = pd.DataFrame({"lsoa": area["lsoa11cd"].to_numpy(), "zone": zone.to_numpy(),
                          "w": area["hours_per_week"].to_numpy() + 1e-6})
    weights = frame.groupby(["lsoa", "zone"])["w"].sum().reset_index().sort_values(
        ["lsoa", "w", "zone"], ascending=[True, False, True])
    majority = weights.groupby("lsoa")["zone"].first()
    per_unit = fill_from_neighbours(majority.reindex(list(prep.units.ids)), prep.units)
    index = {z: k for k, z in enumerate(ids)}
    labels = np.array([index[str(z)] for z in per_unit], dtype=np.int64)
    off = zone.to_numpy() != area["lsoa11cd"].map(majority).to_numpy()
    split = int(frame.loc[off, "lsoa"].nunique())
    hours = float(area["hours_per_week"].to_numpy()[off].sum())
    check = Check("lsoas_whole", split == 0,
                  f"{split} LSOA(s) split between zones: {int(off.sum())} postcode(s) with {hours:,.1f} hours/week "
                  "measured in their LSOA's majority zone" if split else "every LSOA lies in one zone")
    return labels, check


def _centres(prep: Prepared, plan: GivenPlan, ids: list[str], labels: np.ndarray) -> tuple[int, ...]:
    """The plan's own centres where it gives valid ones (a member LSOA), else each zone's medoid."""
    best = best_centres(prep.problem, labels)
    index = prep.units.index()
    out = []
    for z, zone in enumerate(ids):
        given = index.get(plan.centres.get(zone, ""))
        out.append(int(given) if given is not None and labels[given] == z else best[z])
    return tuple(out)


def _zone_order(prep: Prepared, plan: GivenPlan, ids: list[str]) -> list[str]:
    """Zone ids by index: under continuity index z must be today's zone z (so the moved-hours
    arrays line up), matched by id or by shared hours; otherwise the plan's ids in sorted order,
    with ``[[zone]]`` entries at their own index (matched by name)."""
    if prep.scenario.continuity is None or len(ids) != len(prep.current_names):
        return _named_first(prep, plan, ids)
    if set(ids) == set(prep.current_names):
        return list(prep.current_names)
    frame = pd.DataFrame({"proposed_zone": plan.zone_of_postcode.reindex(prep.area.index).to_numpy(),
                          "current_zone": prep.area["current_zone"].to_numpy(),
                          "hours_per_week": prep.area["hours_per_week"].to_numpy()})
    continues = match_zones(frame)  # one-to-one: the zone each given zone continues
    by_current = {c: z for z, c in continues.items() if c is not None}
    return [by_current[c] for c in prep.current_names]


def _named_first(prep: Prepared, plan: GivenPlan, ids: list[str]) -> list[str]:
    """Zone index z of a ``[[zone]]`` entry (locks, own bounds) is the plan's zone of that name."""
    named = {name: z for z, name in prep.options.zone_names.items() if z < len(ids)}
    by_name = {plan.names.get(i, i): i for i in ids}
    slots: list[str | None] = [None] * len(ids)
    for name, z in named.items():
        if name in by_name:
            slots[z] = by_name[name]
    rest = iter(i for i in ids if i not in slots)
    return [s if s is not None else next(rest) for s in slots]


def evaluate_plan(scenario: Scenario, plan_path: Path, *, layer: str | None = None) -> ZonePlan:
    """Measure the plan in ``plan_path`` for ``scenario`` (see the module docstring)."""
    plan = read_plan(plan_path, scenario, layer=layer)
    ids = sorted(plan.zone_of_postcode.unique())
    scenario = apply_settings(scenario, {"model.zones": len(ids)})
    prep = prepare_problem(scenario)
    ids = _zone_order(prep, plan, ids)
    labels, whole = _unit_labels(prep, plan, ids)
    centres = _centres(prep, plan, ids, labels)
    problem = prep.problem
    objective = plan_objective(problem, labels, centres)
    report = SolverReport(
        solver="none", status=SolveStatus.FEASIBLE, solver_status=f"plan given in {plan_path.name}, not solved",
        objective=objective, best_bound=None, gap=None, seconds=0.0, time_limit_s=0.0, n_variables=0,
        n_constraints=0,
    )
    result = DistrictingResult(
        labels=labels, centres=centres, objective=objective,
        loads=np.bincount(labels, weights=problem.demand, minlength=problem.n_zones).astype(np.float64),
        report=report, rounds=(), seconds=0.0, method=f"evaluation of a given plan ({plan_path.name})",
        bound_scope="nothing: the plan was given, not optimised",
    )
    identity = ZoneIdentity(ids=tuple(ids), names=tuple(plan.names.get(z, z) for z in ids))
    from zoning.pipeline import certify

    measured = measure_plan(prep, result, bound=certify(prep, result), identity=identity)
    checks = (*measured.checks, whole)
    failed = [c for c in checks if not c.passed]
    log.info("evaluated %s: %d check(s), %d failed", plan_path.name, len(checks), len(failed))
    return _with_checks(measured, checks)


def _with_checks(plan: ZonePlan, checks: tuple[Check, ...]) -> ZonePlan:
    from dataclasses import replace

    return replace(plan, checks=checks)
