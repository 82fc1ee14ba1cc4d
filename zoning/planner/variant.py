"""One sweep variant: a full run in its own folder, its comparison row, and the mark that it is done.

:func:`run_variant` is what a Dask worker (or the serial loop) executes. It writes the usual
outputs to ``DIR/<variant>/`` (one whole output set) and, last, ``DIR/.variants/<variant>.json``
holding the variant's hash (of its settings, its input files and the carezones version) and its
row. A variant whose record carries the same hash (and whose folder is still there) is complete
and is not run again. The record lives outside the variant's folder, which holds carezones
outputs only (an output set is replaced whole).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

from zoning import __version__, atomic
from zoning.errors import CarezonesError
from zoning.publish.outputset import file_sha256
from zoning.scenario import Scenario

log = logging.getLogger(__name__)

MARKERS = ".variants"

#: the measures a commissioner trades off (all smaller-is-better), used for the shortlist
MEASURES = ("mean_travel_min", "paid_travel_gbp_per_year", "max_min_ratio", "hours_moved")


def input_paths(scenario: Scenario) -> list[Path]:
    """Every file the run reads (reference data, demand, providers, current zones, bands, network)."""
    paths = [scenario.data.postcodes, scenario.data.boundaries, scenario.demand.path, scenario.providers.path,
             scenario.current_zones.path if scenario.current_zones else None, scenario.bands.path, scenario.travel.network, scenario.data.outline]
    return [Path(p) for p in paths if p is not None and Path(p).is_file()]


def variant_hash(scenario: Scenario, *, digests: dict[str, str] | None = None) -> str:
    """sha256 of the validated settings, the input files' contents and the carezones version."""
    settings = scenario.model_dump(mode="json", exclude={"source"})
    files = digests if digests is not None else input_digests(scenario)
    blob = json.dumps({"settings": settings, "files": files, "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def input_digests(scenario: Scenario, *, cache: dict[str, str] | None = None) -> dict[str, str]:
    """Digests of the scenario's own input files; ``cache`` (path -> digest) lets the variants of
    one sweep hash each file once, while a variant that names other files gets their digests."""
    cache = {} if cache is None else cache
    return {str(p): cache[str(p)] if str(p) in cache else cache.setdefault(str(p), file_sha256(p))
            for p in input_paths(scenario)}


@dataclass(frozen=True)
class VariantTask:
    """What a worker needs: picklable, no open files."""

    name: str
    settings: dict[str, object]
    scenario: Scenario
    out_dir: str
    digest: str


def _finite(value: object) -> object:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def plan_row(plan: object) -> dict[str, object]:
    """The comparison measures of a :class:`zoning.pipeline.ZonePlan`."""
    from zoning.pipeline import ZonePlan

    assert isinstance(plan, ZonePlan)
    costs = plan.cost_summary()
    travel_week = float(costs["travel_gbp_per_week_proposed"])  # type: ignore[arg-type]
    bound = plan.bound.value if plan.bound is not None else None
    failed = [c.name for c in plan.checks if not c.passed]
    return {
        "zones": plan.metrics.zones,
        "mean_travel_min": plan.metrics.mean_travel_min,
        "paid_travel_gbp_per_year": 52.0 * travel_week,
        "max_min_ratio": _finite(plan.metrics.max_min_ratio),
        "hours_moved": plan.hours_moved,
        "checks": "all passed" if not failed else "failed: " + ", ".join(failed),
        "checks_passed": not failed,
        "ratio_to_bound": plan.result.objective / bound if bound else None,
        "solver_status": plan.result.report.status.value,
    }


def run_variant(task: VariantTask) -> dict[str, object]:
    """Run one variant end to end and return its row (a failed design is a row too, with its reason)."""
    from zoning.pipeline import plan_zones
    from zoning.publish.writers import write_outputs

    start = time.perf_counter()
    out = Path(task.out_dir)
    row: dict[str, object] = {"variant": task.name, **task.settings}
    try:
        plan = plan_zones(task.scenario)
        write_outputs(plan, out)
        row.update(plan_row(plan), status="ok", error="")
    except CarezonesError as exc:  # no plan / failed check: the sweep goes on and says why
        log.warning("variant %s: %s", task.name, exc)
        row.update(status="no plan", error=str(exc).splitlines()[0][:300], checks_passed=False)
    row["seconds"] = time.perf_counter() - start
    record = {"hash": task.digest, "name": task.name, "settings": task.settings, "row": row}
    atomic.write_text(marker_path(task), json.dumps(record, indent=2, default=str) + "\n")
    return row


def marker_path(task: VariantTask) -> Path:
    """``DIR/.variants/<variant>.json`` for the variant folder ``DIR/<variant>``."""
    out = Path(task.out_dir)
    return out.parent / MARKERS / f"{out.name}.json"


def completed_row(task: VariantTask) -> dict[str, object] | None:
    """The stored row when ``task`` already ran with the same hash, else ``None``."""
    marker = marker_path(task)
    if not marker.is_file():
        return None
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if record.get("hash") != task.digest:
        return None
    row = record.get("row")
    if not isinstance(row, dict):
        return None
    if row.get("status") == "ok" and not (Path(task.out_dir) / "summary.json").is_file():
        return None  # the outputs were removed since: run it again
    return row
