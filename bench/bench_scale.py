"""Issue 12 benchmark: the design methods side by side ("fast-previous" = "fast" before the
robust search, "fast-screened" = "fast" before the kicks, "fast-kicks" = "fast" before the
relaxation's centres led on mid-size problems, "fast-seeded" = "fast" before the joint centre
moves after the kicks (county scale), "fast-plain-start" = "fast" before the whole-area MILP kept
its MIP start (county scale), "fast" = today's default; "classic"
on request), per instance, a seed table for
the default, and whether `carezones run --time-limit T` keeps its limit.

Instances:
  * Leicestershire: the shipped default scenario's LSOA problem (396 units, 14 zones, +/-10%,
    capacity flow, SYNTHETIC demand), exactly as the pipeline builds it (bench/instance.py);
  * Lancashire (with --lancashire DIR, a folder written by `carezones data build --area
    E10000017 --out DIR`): 756 LSOAs, 25 zones, +/-10%, straight-line travel, and a bench-only
    SYNTHETIC demand (each LSOA's residential postcodes x its district's 65+ share, seeded
    gamma noise). No current zones or providers are needed: the optimiser alone is measured;
  * any scenario file (--scenario NAME=PATH, repeatable), built as the pipeline builds it
    (`zoning.prepare.prepare_problem(load_scenario(path))`), e.g. Kent at 25 zones.

For each instance and method: units, zones, plan objective / certified bound (the bound
`carezones run` reports, with the capacity balance: one per instance, the Lagrangian for 6,000 iterations or
--bound-s, then --ladder-s seconds of the target ladder of optimiser/ladder.py, shared by every method; "no-cap": the same over the bound without capacity, the one
the figures before it were measured against), design wall, peak
memory, and whether the time limit bound (the stages it cut short). Then the seed table (default
scenario, seeds 1-N and the shipped seed, each method): ratio and wall per seed, median and
worst. Then `carezones run --time-limit T` for T in --cli-limits: wall of the whole command vs
T + 5 s.

    .venv/bin/python bench/bench_scale.py [--lancashire DIR] [--scenario kent25=PATH] [--time-limit 120]
        [--methods fast-kicks,fast] [--skip-default] [--seeds 10] [--seed-limit 30] [--cli-limits 30,60] [--json PATH]

Timings are wall-clock on a shared 2-core machine; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.instance import build_instance  # noqa: E402
from optimiser.bounds import BoundResult, lagrangian_bound  # noqa: E402
from optimiser.budget import STRATEGIES  # noqa: E402
from optimiser.construct import meets_constraints  # noqa: E402
from optimiser.districting import design_zones  # noqa: E402
from optimiser.ladder import certified_bound as ladder_certified_bound  # noqa: E402
from optimiser.problem import DistrictingProblem  # noqa: E402
from zoning.scenario import load_scenario  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
out = sys.stdout.write


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}"


def lancashire_problem(folder: Path, *, zones: int = 25, tolerance: float = 0.10, seed: int = 12) -> DistrictingProblem:
    """The Lancashire LSOA problem with a bench-only SYNTHETIC demand (module docstring)."""
    import pandas as pd

    from zoning.postcodes import load_reference_postcodes
    from zoning.scenario import TravelOptions
    from zoning.travel import travel_model_from_options
    from zoning.units import build_units, read_boundaries

    code = "E10000017"
    reference = load_reference_postcodes(folder / "postcodes" / f"{code}_postcodes.csv")
    units = build_units(reference, read_boundaries(folder / "boundaries" / f"{code}_lsoa2011.geojson"))
    pop = pd.read_csv(folder / "population" / f"{code}_population.csv")
    area = reference[reference["in_area"].astype(bool)]
    per_district = area.groupby("district_code").size()
    share = pop.set_index("district_code")["pop_65_plus"].reindex(per_district.index) / per_district
    area = area.assign(w=area["district_code"].map(share).fillna(share.mean()))
    weight = area.groupby("lsoa11cd")["w"].sum().reindex(list(units.ids)).fillna(0.0).to_numpy()
    rng = np.random.default_rng(seed)
    demand = weight / weight.sum() * 0.016 * float(pop["pop_65_plus"].sum()) * 12.0 * rng.gamma(4.0, 0.25, units.n)
    travel = travel_model_from_options(TravelOptions())
    cost = travel.minutes(units.points, units.points)
    a, b = units.edges[:, 0], units.edges[:, 1]
    edge_km = np.hypot(*(units.points[a] - units.points[b]).T) / 1000.0
    return DistrictingProblem(demand=demand, cost=cost, edges=units.edges, n_zones=zones, tolerance=tolerance,
                              edge_length=edge_km, unit_ids=units.ids)


#: seconds of the target ladder after the Lagrangian (``--ladder-s``): what the default run's
#: second process has left once the Lagrangian converges (measured: 2.7 s, with the design ending
#: after ~22 s and ``certify_s`` 20)
LADDER_S = 3.0


def certified_bound(problem: DistrictingProblem, *, seconds: float, ladder_s: float = LADDER_S) -> BoundResult:
    """The bound `carezones run` reports (with the capacity balance when the problem has one):
    the Lagrangian for at most ``seconds``, then the target ladder for ``ladder_s``
    (:func:`optimiser.ladder.certified_bound`); ``bound.lagrangian`` keeps the Lagrangian's value."""
    return ladder_certified_bound(problem, time_limit_s=seconds, ladder_s=ladder_s, max_iter=6000)


def bound_without_capacity(problem: DistrictingProblem, *, seconds: float) -> BoundResult:
    """The bound before it covered capacity (for the ratios measured before)."""
    lo, hi = problem.zone_bounds()
    return lagrangian_bound(problem.demand, problem.cost, n_zones=problem.n_zones, lower=float(lo.min()),
                            upper=float(hi.max()), time_limit_s=seconds, max_iter=3000)


def design(problem: DistrictingProblem, *, method: str, seed: int, time_limit_s: float) -> dict[str, object]:
    t0 = time.perf_counter()
    try:
        res = design_zones(problem, solver="highs", time_limit_s=time_limit_s, seed=seed, max_rounds=12,
                           strategy=STRATEGIES[method])
    except (TimeoutError, ValueError) as exc:  # no plan found (or proved impossible): a row, not a crash
        return {"objective": float("nan"), "wall_s": time.perf_counter() - t0, "time_limited": ["no plan"],
                "rounds": 0, "status": f"no plan: {str(exc)[:120]}"}
    wall = time.perf_counter() - t0
    assert meets_constraints(problem, res.labels, res.centres), "the benchmark's plan broke a constraint"
    return {"objective": res.objective, "wall_s": wall, "time_limited": list(res.time_limited),
            "rounds": len(res.rounds), "status": res.report.status.value}


def peak_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return max(own, children)


def instance_rows(name: str, problem: DistrictingProblem, *, methods: list[str], seed: int, time_limit_s: float,
                  bound_s: float, ladder_s: float) -> list[dict[str, object]]:
    bound = certified_bound(problem, seconds=bound_s, ladder_s=ladder_s)
    plain = bound_without_capacity(problem, seconds=bound_s) if problem.branches is not None else bound
    out(f"\n{name}: {problem.n_units} units, {problem.n_zones} zones; certified bound {bound.value:,.1f} after "
        f"{bound.iterations} iterations in {bound.seconds:.1f} s (Lagrangian {bound.lagrangian or bound.value:,.1f}, "
        f"then {bound.ladder_s:.1f} s of target ladder; without capacity: {plain.value:,.1f}) ({load()})\n")
    out(f"  {'method':14s} {'objective':>14s} {'ratio':>8s} {'no-cap':>8s} {'wall s':>8s} {'rounds':>6s} "
        f"{'peak MiB':>9s}  time limit bound\n")
    rows = []
    for method in methods:
        row = design(problem, method=method, seed=seed, time_limit_s=time_limit_s)
        row.update(instance=name, method=method, units=problem.n_units, zones=problem.n_zones,
                   bound=bound.value, bound_iterations=bound.iterations, ratio=float(row["objective"]) / bound.value,
                   bound_without_capacity=plain.value, ratio_without_capacity=float(row["objective"]) / plain.value,
                   peak_mib=peak_mib(), load=load())
        out(f"  {method:14s} {row['objective']:14,.1f} {row['ratio']:8.4f} {row['ratio_without_capacity']:8.4f} "
            f"{row['wall_s']:8.1f} {row['rounds']:6d} "
            f"{row['peak_mib']:9.0f}  {', '.join(row['time_limited']) or 'no'} ({row['load']})\n")  # type: ignore[str-format]
        sys.stdout.flush()
        rows.append(row)
    return rows


def seed_table(problem: DistrictingProblem, *, seeds: list[int], methods: list[str], time_limit_s: float,
               bound: BoundResult) -> dict[str, object]:
    """Each seed run by every method in turn (side by side, so both see the same load)."""
    lagrangian = bound.lagrangian or bound.value
    out(f"\nseed table: default scenario, design limit {time_limit_s:.0f} s, bound {bound.value:,.1f} (Lagrangian "
        f"{lagrangian:,.1f}, then {bound.ladder_s:.1f} s of target ladder); ratio / wall s per method (* = the time "
        "limit bound; the ratio over the Lagrangian alone in the JSON)\n")
    out("  seed      " + "".join(f"{m:>22s}" for m in methods) + "\n")
    rows: dict[str, list[dict[str, object]]] = {m: [] for m in methods}
    for seed in seeds:
        cells = []
        for method in methods:
            row = design(problem, method=method, seed=seed, time_limit_s=time_limit_s)
            row.update(seed=seed, ratio=float(row["objective"]) / bound.value,
                       ratio_lagrangian=float(row["objective"]) / lagrangian, load=load())
            rows[method].append(row)
            cells.append(f"{row['ratio']:.4f} / {row['wall_s']:5.1f}{'*' if row['time_limited'] else ' '}")
        out(f"  {seed:<10d}" + "".join(f"{c:>22s}" for c in cells) + f"  ({load()})\n")
        sys.stdout.flush()
    summary: dict[str, object] = {}
    for method in methods:
        ratios = [float(r["ratio"]) for r in rows[method]]
        walls = [float(r["wall_s"]) for r in rows[method]]
        summary[method] = {"median_ratio": statistics.median(ratios), "worst_ratio": max(ratios),
                           "median_wall_s": statistics.median(walls), "worst_wall_s": max(walls),
                           "time_limit_bound": sum(bool(r["time_limited"]) for r in rows[method]),
                           "rows": rows[method]}
        out(f"  {method}: median ratio {statistics.median(ratios):.4f}, worst {max(ratios):.4f}; median wall "
            f"{statistics.median(walls):.1f} s, worst {max(walls):.1f} s; time limit bound in "
            f"{summary[method]['time_limit_bound']} of {len(ratios)}\n")  # type: ignore[index]
    return summary


def cli_limits(limits: list[float]) -> list[dict[str, object]]:
    out("\ncarezones run --time-limit T (whole command, default scenario)\n")
    rows = []
    for limit in limits:
        target = Path(f"/tmp/bench_scale_run_{int(limit)}")
        t0 = time.perf_counter()
        proc = subprocess.run([str(REPO / ".venv" / "bin" / "carezones"), "run", "--time-limit", str(limit),
                               "--out", str(target)], capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        summary = json.loads((target / "summary.json").read_text()) if (target / "summary.json").exists() else {}
        solver = summary.get("solver", {})
        row = {"limit_s": limit, "wall_s": wall, "exit": proc.returncode, "holds": wall <= limit + 5.0,
               "objective": solver.get("plan_objective"), "bound": solver.get("certified_lower_bound"),
               "time_limit_bound": [n for n in json.dumps(summary).split('"') if n.startswith("TIME LIMIT")],
               "load": load()}
        out(f"  T {limit:5.0f} s: wall {wall:6.1f} s ({'holds' if row['holds'] else 'OVER'} T + 5 s), exit "
            f"{proc.returncode}, objective {row['objective']}, bound {row['bound']}, clock bound "
            f"{row['time_limit_bound']} ({row['load']})\n")
        sys.stdout.flush()
        rows.append(row)
    return rows


def scenario_problem(path: Path) -> DistrictingProblem:
    """A scenario file's problem, as the pipeline builds it."""
    from zoning.prepare import prepare_problem

    return prepare_problem(load_scenario(path)).problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lancashire", type=Path, default=None, help="data folder of `carezones data build --area E10000017`")
    parser.add_argument("--scenario", action="append", default=[], metavar="NAME=PATH",
                        help="a further instance from a scenario file (repeatable)")
    parser.add_argument("--time-limit", type=float, default=120.0, help="design limit per run (s)")
    parser.add_argument("--bound-s", type=float, default=60.0, help="safety limit of the shared bound (s)")
    parser.add_argument("--ladder-s", type=float, default=LADDER_S,
                        help="seconds of the target ladder after the Lagrangian (0: the Lagrangian alone)")
    parser.add_argument("--methods", default="fast-kicks,fast", help=f"comma-separated, of {sorted(STRATEGIES)}")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 1..N (and the shipped seed) in the seed table")
    parser.add_argument("--seed-limit", type=float, default=30.0, help="design limit per seed run (s)")
    parser.add_argument("--cli-limits", default="30,60")
    parser.add_argument("--skip-instances", action="store_true", help="only the seed table and the CLI runs")
    parser.add_argument("--skip-default", action="store_true", help="leave the default out of the instances")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in STRATEGIES]
    if unknown:
        parser.error(f"unknown methods {unknown}: expected some of {sorted(STRATEGIES)}")
    scenario = load_scenario(None)
    default = build_instance(scenario).problem
    result: dict[str, object] = {"instances": []}
    todo: list[tuple[str, DistrictingProblem]] = [] if args.skip_default else [("Leicestershire (default)", default)]
    if args.lancashire is not None:
        todo.append(("Lancashire (bench SYNTHETIC demand)", lancashire_problem(args.lancashire)))
    for spec in args.scenario:
        name, _, path = spec.partition("=")
        todo.append((name, scenario_problem(Path(path or name))))
    rows: list[dict[str, object]] = []
    if not args.skip_instances:
        for name, problem in todo:
            rows += instance_rows(name, problem, methods=methods, seed=scenario.seed, time_limit_s=args.time_limit,
                                  bound_s=args.bound_s, ladder_s=args.ladder_s)
    result["instances"] = rows
    if args.seeds > 0:
        result["seeds"] = seed_table(default, seeds=[*range(1, args.seeds + 1), scenario.seed], methods=methods,
                                     time_limit_s=args.seed_limit,
                                     bound=certified_bound(default, seconds=args.bound_s, ladder_s=args.ladder_s))
    limits = [float(x) for x in args.cli_limits.split(",") if x.strip()]
    if limits:
        result["cli"] = cli_limits(limits)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
