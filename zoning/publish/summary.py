"""``summary.json``: the run's figures as one typed structure (:class:`maps.summary_types.Summary`).

The reports and the map header read this structure only, so they agree with the file. Its
JSON Schema is committed beside this module (``summary.schema.json``, :data:`SCHEMA_PATH`);
tests validate every run's summary against it. Counts are integers, ``run_at`` carries its
time zone and input paths are relative to the scenario file's folder (no local absolute path).
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import pandas as pd

from maps.summary_types import (
    SCHEMA_VERSION,
    BandRow,
    Costs,
    CurrentZoneRecord,
    Move,
    PlanFigures,
    RunInfo,
    SolverInfo,
    Summary,
    ZoneRecord,
)
from zoning import __version__
from zoning.bands import band_rates
from zoning.baseline import since_baseline_summary
from zoning.plan import ZonePlan
from zoning.publish.layers import PlanLayers, plan_layers
from zoning.publish.shareable import (
    demand_rows_shown,
    published_moves,
    travel_distribution,
    zone_records,
)
from zoning.scenario import DEFAULT_BAND_RATES, Scenario

__all__ = ["SCHEMA_PATH", "build_summary", "capacity_shortfall", "gap_to_bound", "provenance_notes", "summary_run_at"]

SCHEMA_PATH = Path(__file__).with_name("summary.schema.json")

#: columns published as integers (None where suppressed)
_COUNT_COLUMNS = frozenset({"demand_rows", "clients", "postcodes", "n_postcodes", "n_units", "n_branches",
                            "n_units_majority"})


def capacity_shortfall(plan: ZonePlan) -> str | None:
    """A warning when provider capacity is short of demand, whatever the capacity rule."""
    capacity = float(plan.providers["capacity_hours_per_week"].sum())
    demand = float(plan.demand["hours_per_week"].sum())
    if demand <= 0 or capacity >= demand:
        return None
    rule = plan.scenario.capacity.rule
    return (f"WARNING: provider capacity ({capacity:,.0f} h/week) covers only {100 * capacity / demand:.0f}% of "
            f"demand ({demand:,.0f} h/week)" + (" and the zones do not take capacity into account ([capacity] "
                                                "rule = \"none\")" if rule == "none" else "") + ".")


def gap_to_bound(objective: float, bound: float | None) -> float | None:
    """``objective / bound - 1``; 0 when both are 0; ``None`` without a bound or when it is 0
    under a positive objective (no finite relative gap)."""
    if bound is None or not math.isfinite(bound):
        return None
    if bound > 0:
        return _clean(objective / bound - 1)  # type: ignore[no-any-return]
    return 0.0 if abs(objective) <= 1e-9 else None


NO_CURRENT_NOTE = ("No current zones were given: the proposed plan is presented alone, with no comparison "
                   "with today's zones.")


def input_notes(s: Scenario, *, no_current_note: bool = True) -> list[str]:
    """What is SYNTHETIC or APPROXIMATE in a scenario's inputs (and, with ``no_current_note``,
    that no current zones were given), as plain sentences."""
    notes = []
    if s.demand.synthetic:
        notes.append(s.demand.description or "Demand is SYNTHETIC (not real client data).")
    if s.providers.synthetic:
        notes.append(s.providers.description or "Provider branches are SYNTHETIC.")
    if s.current_zones is None:
        if no_current_note:
            notes.append(NO_CURRENT_NOTE)
    elif s.current_zones.approximate:
        notes.append(s.current_zones.description or "Current zones are an APPROXIMATE reconstruction.")
    return notes


def provenance_notes(plan: ZonePlan) -> list[str]:
    """Plain sentences saying what is synthetic or approximate (shown in every output)."""
    s = plan.scenario
    notes = input_notes(s)
    if plan.result.time_limited:
        notes.append(
            "TIME LIMIT: the clock, not the method's work limits, ended " + ", ".join(plan.result.time_limited)
            + "; the plan may differ on a faster or less busy machine (raise --time-limit)."
        )
    if s.model.certify_s > 0 and (plan.bound is None or plan.bound.time_limited):
        notes.append(
            "TIME LIMIT: the certified lower bound " + ("did not finish" if plan.bound is None else
                                                        f"stopped after {plan.bound.iterations} iterations")
            + " within the time limit; a longer run may raise it."
        )
    shortfall = capacity_shortfall(plan)
    if shortfall:
        notes.append(shortfall)
    if plan.excluded.rows:
        notes.append(
            f"{plan.excluded.rows} demand row(s) with {plan.excluded.hours:g} hours/week were EXCLUDED "
            "(postcode unknown or outside the area)."
        )
    return notes


def _clean(value: Any) -> Any:
    """JSON-safe value: numpy scalars unwrapped, NaN and infinities as null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def _count(value: Any) -> int | None:
    value = _clean(value)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(round(value))


def _records(frame: pd.DataFrame, keys: Iterable[str]) -> list[dict[str, Any]]:
    """Rows with exactly ``keys`` (the typed record's fields), counts as integers."""
    keys = list(keys)
    if frame.empty:
        return []
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise KeyError(f"summary: the zone table lacks {missing}; columns are {list(frame.columns)}")
    out = []
    for row in frame[keys].to_dict(orient="records"):
        rec = {k: (_count(v) if k in _COUNT_COLUMNS else _clean(v)) for k, v in row.items()}
        for k in ("continues", "change"):
            if k in rec and isinstance(rec[k], float):  # pandas' NaN for "continues no current zone"
                rec[k] = None if k == "continues" else ""
        out.append(rec)
    return out


def _relative(path: Path | None, scenario: Scenario) -> str | None:
    """``path`` relative to the scenario file's folder (POSIX separators); the name only if unrelated."""
    if path is None:
        return None
    if scenario.source is None:
        return path.name
    try:
        return Path(os.path.relpath(Path(path).resolve(), scenario.source.parent)).as_posix()
    except ValueError:  # another drive on Windows
        return path.name


def summary_run_at(run_at: dt.datetime) -> str:
    """ISO 8601 with the time zone (a naive time is taken as UTC)."""
    if run_at.tzinfo is None:
        run_at = run_at.replace(tzinfo=dt.UTC)
    return run_at.isoformat(timespec="seconds")


def _band_rule(plan: ZonePlan) -> str:
    b = plan.scenario.bands
    if b.path is not None:
        return f"Bands supplied by the council ({b.path.name}, keyed by {b.key})."
    return (f"Band by residential postcodes within {b.radius_m:g} m (OS Code-Point Open): urban >= {b.urban_min}, "
            f"fringe >= {b.fringe_min}, rural >= {b.rural_min}, isolated below.")


def _costs(plan: ZonePlan) -> Costs:
    raw = cast(Mapping[str, Any], _clean(plan.cost_summary()))
    council = dict(plan.scenario.bands.rates) != dict(DEFAULT_BAND_RATES) or plan.scenario.model.travel_rate_per_hour
    return Costs(
        objective=str(raw["objective"]),
        objective_units=str(raw["objective_units"]),
        rates_status="council" if council else "illustrative",
        band_rates_gbp_per_hour=dict(raw["band_rates_gbp_per_hour"]),
        travel_rate=str(raw["travel_rate"]),
        care_gbp_per_week=float(raw["care_gbp_per_week"]),
        travel_gbp_per_week_proposed=float(raw["travel_gbp_per_week_proposed"]),
        travel_gbp_per_week_current=_clean(raw.get("travel_gbp_per_week_current")),
    )


def _solver(plan: ZonePlan, costs: Costs) -> SolverInfo:
    r, rep, bound = plan.result, plan.result.report, plan.bound
    return SolverInfo(
        name=rep.solver, status=rep.status.value, solver_status=rep.solver_status,
        objective_value=_clean(rep.objective), best_bound_value=_clean(rep.best_bound),
        objective_units=costs["objective_units"],
        certified_lower_bound=_clean(bound.value) if bound else None,
        gap_to_certified_bound=gap_to_bound(r.objective, bound.value if bound else None),
        certified_bound_method=f"{bound.method}, {bound.iterations} iterations, {bound.seconds:.1f} s"
        if bound else None,
        certified_bound_scope=bound.scope if bound else None,
        plan_objective=_clean(r.objective), local_search_moves=int(r.local_search_moves),
        gap=_clean(rep.gap),
        gap_scope=f"the gap certifies the {r.bound_scope}; it is not a bound over all centre choices",
        method=r.method, time_limit_s=float(plan.scenario.model.time_limit_s), seconds=float(r.seconds),
        rounds=[{"round": int(x.round), "status": x.status, "objective_value": _clean(x.objective),
                 "gap": _clean(x.gap), "seconds": float(x.seconds)} for x in r.rounds],
    )


def build_summary(plan: ZonePlan, *, run_at: dt.datetime, layers: PlanLayers | None = None,
                  run: RunInfo | None = None,
                  records: tuple[pd.DataFrame, pd.DataFrame] | None = None) -> Summary:
    """The whole summary, typed; ``json.dumps`` of it is ``summary.json``. ``run``: the run's id
    and scenario hash (:mod:`zoning.publish.outputset`), ``None`` outside an output set;
    ``records``: :func:`zone_records` of ``layers`` when the caller has them already."""
    s = plan.scenario
    layers = layers or plan_layers(plan)
    private = layers.client_level
    zones, current = records if records is not None else zone_records(plan, layers)
    change = layers.change
    costs = _costs(plan)
    excluded_rows = demand_rows_shown(plan.excluded.rows, plan, client_level=private)
    moves = published_moves(plan, client_level=private)
    return Summary(
        run=run,
        schema_version=SCHEMA_VERSION,
        carezones_version=__version__,
        scenario={"name": s.name, "title": s.title, "area_code": s.area_code, "area_name": s.area_name,
                  "file": s.source.name if s.source else None,
                  "inputs": {"demand": _relative(s.demand.path, s), "providers": _relative(s.providers.path, s),
                             "current_zones": _relative(s.current_zones.path, s) if s.current_zones else None,
                             "postcodes": _relative(s.data.postcodes, s), "boundaries": _relative(s.data.boundaries, s)},
                  "seed": int(s.seed)},
        run_at=summary_run_at(run_at),
        provenance={"demand_synthetic": s.demand.synthetic, "providers_synthetic": s.providers.synthetic,
                    "current_zones_approximate": bool(s.current_zones and s.current_zones.approximate),
                    "current_zones_given": plan.has_current, "notes": provenance_notes(plan),
                    "data_vintage": s.data.vintage},
        travel_model=plan.travel.describe(),
        units={"level": plan.units_level,
               "kind": "postcode Voronoi cells (postcodes sharing a point merged), clipped to the area"
               if plan.units_level == "postcode" else "ONS LSOA 2011",
               "count": int(plan.units.n), "adjacencies": int(len(plan.units.edges))},
        demand={
            "rows": demand_rows_shown(len(plan.demand), plan, client_level=private),
            "hours_per_week": float(plan.demand["hours_per_week"].sum()),
            "postcodes_with_demand": int(plan.demand.loc[plan.demand["hours_per_week"] > 0, "postcode"].nunique()),
            "excluded_rows": excluded_rows,
            "excluded_hours_per_week": float(plan.excluded.hours) if excluded_rows is not None else None,
            "excluded_examples": [] if private else [str(x) for x in plan.excluded.examples],
        },
        privacy={"client_level": private, "reason": layers.privacy_reason,
                 "rule": layers.privacy_note or "demand is not personal data: no suppression applied"},
        providers={"branches": int(len(plan.providers)),
                   "capacity_hours_per_week": float(plan.providers["capacity_hours_per_week"].sum()),
                   "assignment": "a branch counts towards the zone containing it; branches outside the "
                                 "area (in a context area) count towards the nearest zone"},
        solver=_solver(plan, costs),
        model=cast(dict[str, object], _clean(s.model.model_dump())),
        plan=cast(PlanFigures, _clean(plan.metrics.as_dict())),
        current=cast(PlanFigures, _clean(plan.current_metrics.as_dict())) if plan.has_current else None,
        checks=[{"name": c.name, "passed": bool(c.passed), "detail": c.detail} for c in plan.checks],
        constraints=cast(Any, _clean(plan.constraints_summary())),
        costs=costs,
        moves=cast(list[Move], _records(moves, Move.__annotations__)) if plan.has_current else [],
        zones=cast(list[ZoneRecord], _records(zones, ZoneRecord.__annotations__)),
        current_zones=cast(list[CurrentZoneRecord], _records(current, CurrentZoneRecord.__annotations__))
        if plan.has_current else [],
        change=None if not plan.has_current else {
            "zones_changed": int(change.zones_changed), "hours_moved": float(change.hours_moved),
            "clients_moved": demand_rows_shown(change.clients_moved, plan, client_level=private),
            "postcodes_moved": int(change.postcodes_moved), "continues": dict(change.continues),
            "rule": "each proposed zone continues the current zone it shares most demand hours with (one-to-one); "
                    "a postcode moves when its current zone is not the one its proposed zone continues",
        },
        bands={"rule": _band_rule(plan), "rates": band_rates(s.bands),
               "table": cast(list[BandRow], _records(layers.band_hours, BandRow.__annotations__))},
        travel_distribution=cast(Any, travel_distribution(plan, client_level=private)),
        density_level=layers.density_level,
        since_baseline=cast(Any, since_baseline_summary(plan, client_level=private)),
        timings_s={k: float(v) for k, v in plan.timings.items()},
    )
