"""Options appraisal: many variants of one scenario, each a full run, compared in one table.

Variants run as Dask tasks (``distributed``):

- default: a :class:`distributed.LocalCluster` on this machine, one worker process per core,
  one thread each (every solve single-threaded, in its own process);
- ``scheduler="tcp://HOST:PORT"`` (or ``DASK_SCHEDULER_ADDRESS``): an existing Dask cluster
  (its workers must have carezones installed and see the same input and output paths);
- ``workers=1`` and no scheduler: one after another in this process, without Dask.

A variant is deterministic (seeded, single-threaded solver), so the plans are the same
whichever way the sweep runs. A rerun skips every variant whose ``variant.json`` carries the
same hash of settings, input files and version (:mod:`zoning.planner.variant`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoning.errors import ScenarioError
from zoning.planner.overrides import Variant, expand_variants
from zoning.planner.variant import (
    VariantTask,
    completed_row,
    input_digests,
    run_variant,
    variant_hash,
)
from zoning.scenario import Scenario

log = logging.getLogger(__name__)

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


@dataclass(frozen=True)
class SweepEvent:
    """Progress: one variant finished (or was found complete)."""

    name: str
    done: int
    total: int
    skipped: bool
    row: dict[str, object]


@dataclass(frozen=True)
class SweepResult:
    rows: list[dict[str, object]]  # one per variant, in variant order
    skipped: list[str]  # variants found complete and not run again
    engine: str  # how the variants ran ("serial", "local cluster of 2 workers", "tcp://...")
    seconds: float
    paths: dict[str, Path]


def plan_tasks(scenario: Scenario, settings: list[str], out_dir: Path) -> list[VariantTask]:
    """Validate every variant and give each its folder and hash (nothing runs yet)."""
    variants: list[Variant] = expand_variants(scenario, settings)
    cache: dict[str, str] = {}  # each file hashed once; each variant hashes the files it reads
    return [
        VariantTask(name=v.name, settings=v.settings, scenario=v.scenario, out_dir=str(out_dir / v.name),
                    digest=variant_hash(v.scenario, digests=input_digests(v.scenario, cache=cache)))
        for v in variants
    ]


@contextmanager
def dask_client(*, workers: int | None, scheduler: str | None) -> Iterator[tuple[Any, str]]:
    """A ``distributed.Client`` on the given scheduler, or on a new local cluster (closed after)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=15)
        except (OSError, TimeoutError) as exc:
            raise ScenarioError(
                f"could not reach the Dask scheduler at {scheduler}: {exc}. How to fix: start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS`, or drop --scheduler to use this machine"
            ) from exc
        try:
            yield client, f"Dask scheduler {scheduler}"
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, silence_logs=logging.WARNING)
    client = Client(cluster)
    try:
        yield client, f"local Dask cluster of {n} worker process(es), 1 thread each"
    finally:
        client.close()
        cluster.close()


def _run_dask(todo: list[VariantTask], client: Any, on_row: Callable[[VariantTask, dict[str, object]], None]) -> None:
    from distributed import as_completed

    futures = {client.submit(run_variant, task, key=f"carezones-{task.name}-{task.digest[:12]}", pure=False): task
               for task in todo}
    for future in as_completed(futures):
        task = futures[future]
        try:
            row = future.result()
        except Exception as exc:  # a worker died or the task raised: a row saying so; a rerun retries it
            log.error("variant %s failed on the cluster: %s: %s", task.name, type(exc).__name__, exc)
            row = {"variant": task.name, **task.settings, "status": "error", "checks_passed": False,
                   "error": f"{type(exc).__name__}: {exc}"[:300]}
        on_row(task, row)


def run_sweep(
    scenario: Scenario, settings: list[str], out_dir: Path, *, workers: int | None = None,
    scheduler: str | None = None, progress: Callable[[SweepEvent], None] | None = None,
) -> SweepResult:
    """Run every variant of ``scenario`` (see the module docstring) and write the comparison."""
    from zoning.planner.comparison import write_comparison

    start = time.perf_counter()
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if workers is not None and workers < 1:
        raise ScenarioError(f"--workers must be 1 or more, got {workers}")
    tasks = plan_tasks(scenario, settings, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, object]] = {}
    skipped = []
    say = progress or (lambda _e: None)
    for task in tasks:
        row = completed_row(task)
        if row is not None:
            rows[task.name] = row
            skipped.append(task.name)
            say(SweepEvent(task.name, len(rows), len(tasks), True, row))
    todo = [t for t in tasks if t.name not in rows]
    log.info("sweep of %d variant(s): %d already complete, %d to run", len(tasks), len(skipped), len(todo))

    def on_row(task: VariantTask, row: dict[str, object]) -> None:
        rows[task.name] = row
        say(SweepEvent(task.name, len(rows), len(tasks), False, row))

    if not todo:
        engine = "nothing to run"
    elif scheduler is None and workers == 1:
        engine = "serial (this process)"
        for task in todo:
            on_row(task, run_variant(task))
    else:
        with dask_client(workers=workers, scheduler=scheduler) as (client, engine):
            _run_dask(todo, client, on_row)
    ordered = [rows[t.name] for t in tasks]
    seconds = time.perf_counter() - start
    paths = write_comparison(ordered, out_dir, scenario=scenario, keys=list(tasks[0].settings) if tasks else [],
                             engine=engine, seconds=seconds)
    log.info("sweep done in %.1f s on %s", seconds, engine)
    return SweepResult(rows=ordered, skipped=skipped, engine=engine, seconds=seconds, paths=paths)
