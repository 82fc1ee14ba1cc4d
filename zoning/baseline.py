"""Re-opening the framework: a previous run's plan as today's zones, and what changed since.

``[baseline] run = "out/leicestershire"`` (or ``carezones run --baseline DIR``):

1. **Today's zones, losslessly.** ``[current_zones]`` becomes the run's ``postcode_zones.csv``
   (key ``postcode``, column ``proposed_zone``): every postcode keeps its zone id; names come
   from the run's ``summary.json``.
2. **Continuity by default.** When the zone count is the baseline's, ``[continuity]`` is on
   (the design starts from the baseline's zones; caps and charges as the scenario sets them)
   and every proposed zone keeps the id and name of the baseline zone it continues. With
   another zone count, each proposed zone takes the id and name of the baseline zone it shares
   most hours with (one-to-one); the others get new ids after the baseline's.
3. **What changed** (:func:`since_baseline`): per zone, hours and postcodes joining and
   leaving, capacity before and after; per provider branch that joined, left or changed
   capacity, the zone it belongs to.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from optimiser.districting import DistrictingResult
from zoning.changes import match_zones
from zoning.errors import ScenarioError
from zoning.measure import ZoneIdentity
from zoning.plan import ZonePlan
from zoning.prepare import Prepared

log = logging.getLogger(__name__)

FILES = ("postcode_zones.csv", "summary.json")
#: [continuity] as dumped with every option at its default (what a baseline switches on)
DEFAULT_CONTINUITY = {"max_moved_hours": None, "max_moved_share": None, "moved_penalty_min": 0.0}


def _run_folder(run: object) -> Path:
    folder = Path(str(run))
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise ScenarioError(
            f"baseline run folder {folder}: missing {missing}. How to fix: point [baseline] run (or --baseline) at "
            "the output folder of a carezones run (it holds postcode_zones.csv and summary.json)"
        )
    return folder


def baseline_summary(run: object) -> dict[str, object]:
    summary: dict[str, object] = json.loads((_run_folder(run) / "summary.json").read_text(encoding="utf-8"))
    return summary


def baseline_names(run: object) -> dict[str, str]:
    """Baseline zone id -> name."""
    zones = baseline_summary(run).get("zones", [])
    assert isinstance(zones, list)
    return {str(z["zone"]): str(z.get("zone_name") or z["zone"]) for z in zones}


def baseline_inputs(data: dict[str, object]) -> dict[str, object]:
    """Raw scenario tables with ``[current_zones]`` (and ``[continuity]``) set from ``[baseline]``."""
    raw = dict(data)
    block = raw["baseline"]
    options = block if isinstance(block, dict) else block.model_dump()  # type: ignore[attr-defined]
    run = _run_folder(options["run"])
    raw["current_zones"] = {
        "path": run / "postcode_zones.csv", "key": "postcode", "zone_column": "proposed_zone", "approximate": False,
        "description": f"Today's zones are the plan of the baseline run {run} (postcode by postcode).",
    }
    zones = len(baseline_names(run))
    model = raw.get("model") or {}
    wanted = model.get("zones", 14) if isinstance(model, dict) else model.zones  # type: ignore[attr-defined]
    implied = raw.get("continuity") in (None, {}, DEFAULT_CONTINUITY)  # not set by the planner
    if options.get("continuity", True) and implied:
        if wanted == zones:
            raw["continuity"] = {}
        else:
            raw["continuity"] = None
            log.warning("baseline has %d zones, the scenario asks for %s: designing afresh (no continuity) and "
                        "matching zones to the baseline's", zones, wanted)
    return raw


def with_baseline(raw: dict[str, object]) -> dict[str, object]:
    """Raw scenario tables with ``[baseline]`` applied (unchanged without one)."""
    return baseline_inputs(raw) if raw.get("baseline") else raw


def _next_ids(taken: list[str], count: int) -> list[str]:
    """``count`` new ids after the highest ``Znn`` in ``taken``."""
    numbers = [int(t[1:]) for t in taken if t[:1] == "Z" and t[1:].isdigit()]
    start = max(numbers, default=0) + 1
    width = max(2, len(str(start + count)))
    return [f"Z{n:0{width}d}" for n in range(start, start + count)]


def baseline_identity(prep: Prepared, result: DistrictingResult) -> ZoneIdentity | None:
    """Ids and names the proposed zones keep from the baseline (see the module docstring)."""
    s = prep.scenario
    if s.baseline is None:
        return None
    names = baseline_names(s.baseline.run)
    k = prep.problem.n_zones
    if s.continuity is not None and len(prep.current_names) == k:  # zone index z continues today's zone z
        ids = list(prep.current_names)
    else:
        frame = pd.DataFrame({"proposed_zone": result.labels[prep.area["unit"].to_numpy()].astype(str),
                              "current_zone": prep.area["current_zone"].to_numpy(),
                              "hours_per_week": prep.area["hours_per_week"].to_numpy()})
        continues = match_zones(frame)
        fresh = iter(_next_ids(list(names), k))
        ids = [continues.get(str(z)) or next(fresh) for z in range(k)]
    return ZoneIdentity(ids=tuple(ids), names=tuple(names.get(i, f"new zone {i}") for i in ids))


@dataclass(frozen=True)
class SinceBaseline:
    """What changed since the baseline run."""

    run: Path
    zones: pd.DataFrame  # one row per proposed zone (and per baseline zone no longer continued)
    providers: pd.DataFrame  # branches that joined, left or changed capacity
    hours_moved: float
    postcodes_moved: int


def _baseline_providers(run: Path) -> pd.DataFrame:
    gpkg = run / "zones.gpkg"
    if not gpkg.is_file():
        return pd.DataFrame(columns=["provider_id", "name", "capacity_hours_per_week", "proposed_zone"])
    frame = gpd.read_file(gpkg, layer="providers")
    return pd.DataFrame(frame.drop(columns="geometry"))


def since_baseline(plan: ZonePlan) -> SinceBaseline | None:
    """Per zone and per provider branch, what changed since the baseline (``None`` without one)."""
    s = plan.scenario
    if s.baseline is None or plan.change is None:
        return None
    run = Path(s.baseline.run)
    before = pd.DataFrame(baseline_summary(run).get("zones", [])).set_index("zone")  # type: ignore[arg-type]
    pcs = plan.postcodes
    changed = plan.change.postcode_changed.reindex(pcs.index).fillna(False).to_numpy(bool)
    hours = pcs["hours_per_week"].to_numpy(float)
    rows_per_pc = plan.demand.groupby("postcode").size().reindex(pcs.index).fillna(0).to_numpy(int)
    rows = []
    for zone in plan.zones.itertuples(index=False):
        was = plan.change.continues.get(str(zone.zone))
        into = changed & (pcs["proposed_zone"].to_numpy() == zone.zone)
        out_of = changed & (pcs["current_zone"].to_numpy() == was)
        rows.append({
            "zone": zone.zone, "zone_name": zone.zone_name, "continues": was or "",
            "hours_before": float(before.at[was, "hours_per_week"]) if was in before.index else 0.0,
            "hours_after": float(zone.hours_per_week),
            "hours_in": float(hours[into].sum()), "hours_out": float(hours[out_of].sum()),
            "postcodes_in": int(into.sum()), "postcodes_out": int(out_of.sum()),
            "demand_rows_in": int(rows_per_pc[into].sum()), "demand_rows_out": int(rows_per_pc[out_of].sum()),
            "capacity_before": float(before.at[was, "capacity_hours_per_week"]) if was in before.index else 0.0,
            "capacity_after": float(zone.capacity_hours_per_week),
        })
    zones = pd.DataFrame(rows)
    return SinceBaseline(run=run, zones=zones, providers=_provider_changes(plan, _baseline_providers(run)),
                         hours_moved=plan.change.hours_moved, postcodes_moved=plan.change.postcodes_moved)


def published_since(since: SinceBaseline, *, client_level: bool, min_count: int) -> pd.DataFrame:
    """The per-zone table as published: with client-level demand, hours joining or leaving a zone
    with fewer than ``min_count`` demand rows (clients) are hidden (None), and row counts left out."""
    table = since.zones.copy()
    if client_level:
        for side in ("in", "out"):
            few = (table[f"demand_rows_{side}"] > 0) & (table[f"demand_rows_{side}"] < min_count)
            table[f"hours_{side}"] = table[f"hours_{side}"].astype(object).where(~few, None)
    return table.drop(columns=["demand_rows_in", "demand_rows_out"])


def since_baseline_summary(plan: ZonePlan, *, client_level: bool) -> dict[str, object] | None:
    """The ``since_baseline`` section of summary.json, or None without a baseline."""
    since = since_baseline(plan)
    if since is None:
        return None
    zones = published_since(since, client_level=client_level, min_count=plan.scenario.privacy.min_count)

    def records(frame: pd.DataFrame) -> list[dict[str, object]]:
        return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v.item() if hasattr(v, "item") else v)
                 for k, v in row.items()} for row in frame.to_dict(orient="records")]

    return {
        "run": str(since.run), "hours_moved": since.hours_moved, "postcodes_moved": since.postcodes_moved,
        "zones": records(zones), "providers": records(since.providers),
        "rule": "a postcode moves when its baseline zone is not the one its proposed zone continues; capacity "
                "before is the baseline run's, after is today's branches in the proposed zone",
    }


def _provider_changes(plan: ZonePlan, old: pd.DataFrame) -> pd.DataFrame:
    """Branches that joined (their proposed zone), left (their baseline zone) or changed capacity."""
    new = plan.providers.set_index(plan.providers["provider_id"].astype(str))
    old = old.set_index(old["provider_id"].astype(str)) if len(old) else old
    out = []
    for pid in sorted(set(new.index) - set(old.index)):
        r = new.loc[pid]
        out.append({"provider_id": pid, "name": r["name"], "change": "joined", "zone": r["proposed_zone"],
                    "capacity_before": 0.0, "capacity_after": float(r["capacity_hours_per_week"])})
    for pid in sorted(set(old.index) - set(new.index)):
        r = old.loc[pid]
        out.append({"provider_id": pid, "name": r["name"], "change": "left", "zone": r["proposed_zone"],
                    "capacity_before": float(r["capacity_hours_per_week"]), "capacity_after": 0.0})
    for pid in sorted(set(old.index) & set(new.index)):
        a, b = float(old.at[pid, "capacity_hours_per_week"]), float(new.at[pid, "capacity_hours_per_week"])
        if not np.isclose(a, b):
            out.append({"provider_id": pid, "name": new.at[pid, "name"], "change": "capacity changed",
                        "zone": new.at[pid, "proposed_zone"], "capacity_before": a, "capacity_after": b})
    return pd.DataFrame(out, columns=["provider_id", "name", "change", "zone", "capacity_before", "capacity_after"])
