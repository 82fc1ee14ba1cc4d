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

        from zoning.planner.overrides import expand_variants
        from zoning.planner.sweep import SweepEvent, run_sweep
        from zoning.scenario import load_scenario

        try:
            scenario = load_scenario(scenario_file)
            expand_variants(scenario, list(settings or []))  # every variant valid before the bar starts
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


def _evaluate_command(fail: Fail, err: Console, out: Console) -> Callable[..., None]:
    def evaluate(
        plan_file: Annotated[Path, typer.Option(
            "--plan", help="The plan: postcode -> zone or lsoa11cd -> zone table (CSV/XLSX; zone column "
            "proposed_zone, zone_id or zone), or polygons (GeoPackage, GeoJSON; zone_id or zone).")],
        scenario_file: Annotated[Path | None, typer.Argument(
            help="Scenario TOML file (its inputs and options; model.zones is taken from the plan).",
            show_default=False)] = None,
        layer: Annotated[str | None, typer.Option(help="GeoPackage layer (default: 'zones' if present).")] = None,
        out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder. Default: out/<scenario>-evaluated/.")] = None,
    ) -> None:
        """Score a plan made by hand with every measure and named check of a run, and write the usual
        outputs for it. Exits 6 when a check fails, after writing the outputs and saying by how much."""
        from zoning.errors import CheckError
        from zoning.planner.evaluate import evaluate_plan
        from zoning.publish.writers import write_outputs
        from zoning.scenario import load_scenario

        try:
            scenario = load_scenario(scenario_file)
            target = out_dir or Path("out") / f"{scenario.name}-evaluated"
            with err.status("evaluating the plan", spinner="dots"):
                plan = evaluate_plan(scenario, plan_file, layer=layer)
                paths = write_outputs(plan, target)
        except CarezonesError as exc:
            fail(exc)
        m = plan.metrics
        out.print(f"{plan_file}: {m.zones} zones, mean travel {m.mean_travel_min:.2f} min, largest / smallest "
                  f"{m.max_min_ratio:.2f}, {plan.hours_moved:,.0f} hours/week change zone against today's zones",
                  highlight=False, markup=False)
        failed = [c for c in plan.checks if not c.passed]
        for c in plan.checks:
            mark = "[green]pass[/]" if c.passed else "[bold red]FAIL[/]"
            out.print(f"  {mark} {c.name}: ", end="", highlight=False)
            out.print(c.detail, highlight=False, markup=False)
        for name, path in paths.items():
            out.print(f"  {name:9s} {path}", highlight=False)
        if failed:
            fail(CheckError(f"{len(failed)} check(s) failed: " + ", ".join(c.name for c in failed)))

    return evaluate


def _compare_command(fail: Fail, err: Console, out: Console) -> Callable[..., None]:
    def compare(
        run_a: Annotated[Path, typer.Argument(help="Output folder of the first run (A).")],
        run_b: Annotated[Path, typer.Argument(help="Output folder of the second run (B).")],
        out_dir: Annotated[Path | None, typer.Option(
            "--out", help="Folder for the comparison. Default: out/compare-<A>-<B>/.")] = None,
    ) -> None:
        """Compare two runs: compare.html (zones side by side, what changes zone, a map of the differences),
        compare_zones.csv and compare_flows.csv. Zones are paired by id; small flows of client-level demand
        are suppressed."""
        from zoning.planner.compare import compare_runs, write_comparison_outputs

        try:
            comparison = compare_runs(run_a, run_b)
            paths = write_comparison_outputs(
                comparison, out_dir or Path("out") / f"compare-{run_a.resolve().name}-{run_b.resolve().name}")
        except CarezonesError as exc:
            fail(exc)
        hours = "suppressed" if comparison.hours_changed is None else f"{comparison.hours_changed:,.0f}"
        out.print(f"{comparison.postcodes_changed:,} postcodes ({len(comparison.changed_lsoas)} LSOAs) and {hours} "
                  "hours/week change zone from A to B", highlight=False)
        for name, path in paths.items():
            out.print(f"  {name:5s} {path}", highlight=False)

    return compare


def print_since_baseline(plan: object, out: Console) -> None:
    """After `carezones run --baseline`: what changed since the baseline, in a few lines."""
    from zoning.baseline import since_baseline
    from zoning.plan import ZonePlan

    assert isinstance(plan, ZonePlan)
    since = since_baseline(plan)
    if since is None:
        return
    out.print(f"since the baseline {since.run}: {since.hours_moved:,.0f} hours/week and {since.postcodes_moved:,} "
              "postcodes change zone", highlight=False, markup=False)
    for p in since.providers.itertuples(index=False):
        out.print(f"  branch {p.provider_id} ({p.name}) {p.change}: zone {p.zone}, capacity "
                  f"{p.capacity_before:,.0f} -> {p.capacity_after:,.0f} h/week", highlight=False, markup=False)
    for z in since.zones.itertuples(index=False):
        if z.capacity_before != z.capacity_after or z.postcodes_in or z.postcodes_out:
            out.print(f"  {z.zone} {z.zone_name}: capacity {z.capacity_before:,.0f} -> {z.capacity_after:,.0f} h/week; "
                      f"{z.postcodes_in:,} postcodes in, {z.postcodes_out:,} out", highlight=False, markup=False)


def register_planner_commands(app: typer.Typer, *, fail: Fail, err: Console, out: Console) -> None:
    """Add the planner's commands to ``app``."""
    app.command("sweep")(_sweep_command(fail, err, out))
    app.command("evaluate")(_evaluate_command(fail, err, out))
    app.command("compare")(_compare_command(fail, err, out))
