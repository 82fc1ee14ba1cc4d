"""The planner's commands (`sweep`, `evaluate`, `compare`), registered on the `carezones` app.

Each command parses its options, shows progress and delegates to :mod:`zoning.planner`; heavy
modules are imported inside the commands so that `carezones --help` stays quick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from zoning.errors import CarezonesError

Fail = Callable[[BaseException], None]  # prints the error and exits with its code


def _sweep_command(fail: Fail, err: Console, out: Console) -> Callable[..., None]:
    def sweep(
        scenario_file: Annotated[Path | None, typer.Argument(
            help="Scenario TOML file (default: the Leicestershire scenario).", show_default=False)] = None,
        settings: Annotated[list[str] | None, typer.Option(
            "--set", help="KEY=V1,V2,...: a scenario option and its values, e.g. model.zones=12,14,16. Repeat for "
            "more keys; the sweep runs every combination.")] = None,
        out_dir: Annotated[Path | None, typer.Option("--out", help="Sweep folder. Default: out/<scenario>-sweep/.")] = None,
        workers: Annotated[int | None, typer.Option(
            help="Worker processes on this machine (default: one per core). 1 runs the variants one after another "
            "in this process, without Dask.")] = None,
        scheduler: Annotated[str | None, typer.Option(
            help="Address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: $DASK_SCHEDULER_ADDRESS, "
            "else a local cluster). Its workers need carezones and the same file paths.")] = None,
    ) -> None:
        """Options appraisal: run every combination of --set values as a full run in OUT/<variant>/, then
        write OUT/comparison.csv, comparison.json and comparison.html (table, trade-off charts, small maps,
        shortlist). Variants already complete (same settings and inputs) are not run again."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        from zoning.planner.sweep import SweepEvent, run_sweep
        from zoning.scenario import load_scenario

        try:
            scenario = load_scenario(scenario_file)
        except CarezonesError as exc:
            fail(exc)
        target = out_dir or Path("out") / f"{scenario.name}-sweep"
        bar = Progress(TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
                       TimeElapsedColumn(), console=err, transient=False)
        quiet = [logging.getLogger(n) for n in ("zoning", "optimiser", "maps") if not logging.getLogger().isEnabledFor(logging.DEBUG)]
        for logger in quiet:  # one run's stage logs would bury the progress bar; -v shows them
            logger.setLevel(logging.WARNING)
        logging.getLogger("zoning.planner").setLevel(logging.INFO)
        try:
            with bar:
                task = bar.add_task("sweep", total=None, last="validating variants")

                def progress(event: SweepEvent) -> None:
                    what = "already complete" if event.skipped else str(event.row.get("status", ""))
                    bar.update(task, total=event.total, completed=event.done,
                               last=f"{event.name}: {what} ({event.total - event.done} remaining)")

                result = run_sweep(scenario, list(settings or []), target, workers=workers, scheduler=scheduler,
                                   progress=progress)
        except CarezonesError as exc:
            fail(exc)
        from zoning.planner.comparison import pareto_shortlist

        shortlisted = pareto_shortlist(result.rows)
        out.print(f"{len(result.rows)} variant(s) on {result.engine}: {len(result.skipped)} already complete; "
                  f"{result.seconds:.1f} s", highlight=False)
        out.print(f"shortlist: {', '.join(shortlisted) or 'none'}", highlight=False, markup=False)
        for name, path in result.paths.items():
            out.print(f"  {name:5s} {path}", highlight=False)

    return sweep


def register_planner_commands(app: typer.Typer, *, fail: Fail, err: Console, out: Console) -> None:
    """Add the planner's commands to ``app``."""
    app.command("sweep")(_sweep_command(fail, err, out))
