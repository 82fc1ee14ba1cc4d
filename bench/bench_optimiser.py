"""Benchmark carezones against a certified lower bound and against open peers, on one instance.

All methods run in this one process on the default scenario's LSOA problem (Leicestershire:
396 units, 14 zones, +/-10% balance, SYNTHETIC demand) and are scored by the SAME objective:
for a partition, each zone is served from its best member unit (medoid) and the objective is
the demand-weighted travel, sum_i d_i * cost[i, centre(zone(i))] in hour-minutes per week.

Rows:
  carezones design_zones with a 30 s, 60 s and the scenario's default (150 s) budget;
  carezones 60 s + contiguity-preserving local search (optimiser.local_search);
  the certified Lagrangian lower bound (optimiser.bounds) and objective / bound;
  PySAL spopt RegionKMeansHeuristic, SKATER and AZP on unit coordinates (they ignore balance);
  a GerryChain ReCom chain (1,000 steps, +/-10% balance, fixed seed; best plan seen);
  today's APPROXIMATE 14 zones (each LSOA in its majority current zone).

    .venv/bin/python bench/bench_optimiser.py [--json PATH] [--recom-steps N] [--skip-default]

Needs the `bench` extra: pip install -e '.[bench]'. Timings are wall-clock on a shared 2-core
machine: other work on the machine inflates them.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.instance import build_instance  # noqa: E402
from optimiser.bounds import lagrangian_bound  # noqa: E402
from optimiser.checks import is_contiguous  # noqa: E402
from optimiser.districting import best_centres, design_zones, plan_objective  # noqa: E402
from optimiser.local_search import ResourceBounds, local_search  # noqa: E402
from optimiser.problem import DistrictingProblem  # noqa: E402
from zoning.scenario import load_scenario  # noqa: E402


@dataclass
class Row:
    method: str
    objective: float | None
    bound: float | None
    ratio: float | None
    max_load: float | None
    min_load: float | None
    max_min: float | None
    balanced: bool | None  # every zone within +/- tolerance of the mean
    contiguous: bool | None
    seconds: float
    note: str = ""


def score(problem: DistrictingProblem, labels: np.ndarray, method: str, seconds: float, note: str = "",
          centres: tuple[int, ...] | None = None) -> Row:
    """The common objective (best medoid per zone unless centres are given) and plan checks."""
    labels = np.unique(np.asarray(labels), return_inverse=True)[1].astype(np.int64)
    k = int(labels.max()) + 1
    centres = best_centres(problem, labels) if centres is None else centres
    obj = plan_objective(problem, labels, centres)
    loads = np.bincount(labels, weights=problem.demand, minlength=k)
    lower, upper = problem.load_bounds
    slack = 1e-6 * upper
    if k != problem.n_zones:
        note = (note + f"; {k} zones").lstrip("; ")
    return Row(
        method=method, objective=obj, bound=None, ratio=None, max_load=float(loads.max()),
        min_load=float(loads.min()), max_min=float(loads.max() / max(loads.min(), 1e-9)),
        balanced=bool(np.all(loads >= lower - slack) and np.all(loads <= upper + slack)),
        contiguous=is_contiguous(labels, problem.edges).passed, seconds=seconds, note=note,
    )


def run_spopt(problem: DistrictingProblem, points: np.ndarray, seed: int) -> list[Row]:
    import geopandas as gpd
    import libpysal
    from spopt.region import AZP, RegionKMeansHeuristic, Skater

    neighbours: dict[int, list[int]] = {i: [] for i in range(problem.n_units)}
    for a, b in problem.edges.tolist():
        neighbours[a].append(b)
        neighbours[b].append(a)
    w = libpysal.weights.W(neighbours, silence_warnings=True)
    xy = (points - points.mean(axis=0)) / 1000.0  # km; same scale on both axes
    frame = gpd.GeoDataFrame({"x": xy[:, 0], "y": xy[:, 1]}, geometry=gpd.points_from_xy(points[:, 0], points[:, 1]))
    rows = []
    k = problem.n_zones
    t = time.perf_counter()
    rkm = RegionKMeansHeuristic(xy, k, w, seed=seed)
    rkm.solve()
    rows.append(score(problem, rkm.labels_, "spopt RegionKMeansHeuristic", time.perf_counter() - t,
                      "coordinates; no balance"))
    t = time.perf_counter()
    sk = Skater(frame, w, ["x", "y"], n_clusters=k)
    sk.solve()
    rows.append(score(problem, sk.labels_, "spopt SKATER", time.perf_counter() - t, "coordinates; no balance"))
    t = time.perf_counter()
    azp = AZP(frame, w, ["x", "y"], n_clusters=k, random_state=seed)
    azp.solve()
    rows.append(score(problem, azp.labels_, "spopt AZP", time.perf_counter() - t, "coordinates; no balance"))
    return rows


def run_recom(problem: DistrictingProblem, *, steps: int, seed: int) -> Row:
    from functools import partial

    import networkx as nx
    from gerrychain import Graph, MarkovChain, Partition
    from gerrychain.accept import always_accept
    from gerrychain.constraints import within_percent_of_ideal_population
    from gerrychain.partition.initial_partition_generators import recursive_tree_part
    from gerrychain.proposals import recom
    from gerrychain.updaters import Tally

    t = time.perf_counter()
    g = nx.Graph()
    g.add_nodes_from((i, {"population": float(problem.demand[i])}) for i in range(problem.n_units))
    g.add_edges_from(map(tuple, problem.edges.tolist()))
    graph = Graph.from_networkx(g)
    ideal = problem.total_demand / problem.n_zones
    tol = problem.tolerance
    start = recursive_tree_part(graph, range(problem.n_zones), ideal, "population", tol * 0.9, rng=random.Random(seed))
    part = Partition(graph, start, updaters={"population": Tally("population", alias="population")})
    chain = MarkovChain(
        partial(recom, pop_col="population", pop_target=ideal, epsilon=tol * 0.9),
        [within_percent_of_ideal_population(part, tol)], always_accept, part, steps, rng=seed,
    )
    best_obj, best_labels = np.inf, None
    for state in chain:
        labels = np.array([state.assignment[i] for i in range(problem.n_units)], dtype=np.int64)
        labels = np.unique(labels, return_inverse=True)[1]
        obj = plan_objective(problem, labels, best_centres(problem, labels))
        if obj < best_obj:
            best_obj, best_labels = obj, labels
    assert best_labels is not None
    return score(problem, best_labels, f"GerryChain ReCom ({steps} steps)", time.perf_counter() - t,
                 f"best of {steps} states; epsilon {0.9 * tol:.2f} proposals, ±{tol:.0%} constraint; seed {seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--recom-steps", type=int, default=1000)
    parser.add_argument("--skip-default", action="store_true", help="skip the 150 s run and today's zones")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    out = sys.stdout.write
    scenario = load_scenario(args.scenario)
    seed = scenario.seed
    inst = build_instance(scenario)
    problem = inst.problem
    m = scenario.model
    out(f"instance: {scenario.name}, {problem.n_units} units, {problem.n_zones} zones, ±{problem.tolerance:.0%}, "
        f"demand {problem.total_demand:,.1f} h/week (SYNTHETIC)\n")
    rows: list[Row] = []
    results = {}
    for budget in (30.0, 60.0):
        t = time.perf_counter()
        res = design_zones(problem, solver=m.solver, time_limit_s=budget, seed=seed, max_rounds=m.max_rounds,
                           threads=m.threads, mip_rel_gap=m.mip_rel_gap)
        secs = time.perf_counter() - t
        results[budget] = (res, secs)
        rows.append(score(problem, res.labels, f"carezones design_zones ({budget:.0f} s budget)", secs,
                          f"{len(res.rounds)} rounds", centres=res.centres))
        out(f"  done: {rows[-1].method} {rows[-1].objective:,.1f} in {secs:.1f} s\n")
    balance = ResourceBounds.balance(problem.demand, n_zones=problem.n_zones, tolerance=problem.tolerance)
    for budget, (res, secs) in results.items():
        t = time.perf_counter()
        ls = local_search(res.labels, weights=problem.demand, cost=problem.cost, edges=problem.edges,
                          bounds=balance, centres=res.centres)
        rows.append(score(problem, ls.labels, f"carezones {budget:.0f} s + local search", secs + time.perf_counter() - t,
                          f"{ls.moves} moves, {ls.swaps} swaps, {ls.recentres} re-centrings in {ls.seconds:.2f} s",
                          centres=ls.centres))
    plan = None
    if not args.skip_default:
        from zoning.pipeline import plan_zones

        t = time.perf_counter()
        plan = plan_zones(scenario)
        secs = time.perf_counter() - t
        index = {u: i for i, u in enumerate(inst.units.ids)}
        labels = np.empty(problem.n_units, dtype=np.int64)
        for u, z in zip(plan.units.ids, plan.unit_zone, strict=True):
            labels[index[u]] = z
        rows.append(score(problem, labels, f"carezones plan_zones (default {m.time_limit_s:.0f} s budget)", secs,
                          f"{len(plan.result.rounds)} rounds; whole pipeline time"))
        cur = plan.unit_current_zone.reindex(list(inst.units.ids))
        names = sorted(cur.unique())
        cur_labels = cur.map({z: k for k, z in enumerate(names)}).to_numpy(np.int64)
        cm = plan.current_metrics
        rows.append(score(problem, cur_labels, "today's zones (APPROXIMATE)", 0.0,
                          f"LSOA majority zone; postcode-level mean travel {cm.mean_travel_min:.3f} min, "
                          f"loads {cm.min_zone_hours:,.0f}-{cm.max_zone_hours:,.0f}"))
    best = min(r.objective for r in rows if r.objective is not None and r.balanced and r.contiguous)
    bound = lagrangian_bound(problem.demand, problem.cost, n_zones=problem.n_zones, lower=problem.load_bounds[0],
                             upper=problem.load_bounds[1], target=best, max_iter=1500, time_limit_s=90)
    out(f"certified lower bound: {bound.value:,.1f} ({bound.method}; {bound.iterations} iterations, "
        f"{bound.seconds:.1f} s; covers {bound.scope})\n")
    for r in rows:
        if r.method.startswith("carezones") and r.objective is not None:
            r.bound, r.ratio = bound.value, r.objective / bound.value
    rows.append(Row("certified lower bound (Lagrangian)", None, bound.value, None, None, None, None, None, None,
                    bound.seconds, f"{bound.iterations} iterations; {bound.scope}"))
    rows.extend(run_spopt(problem, inst.units.points, seed))
    rows.append(run_recom(problem, steps=args.recom_steps, seed=seed))
    for r in rows:
        if r.objective is not None and r.ratio is None:
            r.ratio = r.objective / bound.value
    print_table(rows, out)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out(f"peak RSS: {peak_mib:,.0f} MiB\n")
    if args.json:
        args.json.write_text(json.dumps({
            "scenario": scenario.name, "units": problem.n_units, "zones": problem.n_zones,
            "tolerance": problem.tolerance, "total_demand_hours": problem.total_demand,
            "objective": "sum of demand x minutes to the zone's best medoid (hour-minutes/week)",
            "bound": {"value": bound.value, "method": bound.method, "iterations": bound.iterations,
                      "seconds": bound.seconds, "scope": bound.scope},
            "methods": [asdict(r) for r in rows], "peak_rss_mib": peak_mib,
        }, indent=2) + "\n")


def print_table(rows: list[Row], out: object) -> None:
    write = out  # type: ignore[assignment]
    header = f"{'method':48s} {'objective':>12s} {'/bound':>7s} {'max load':>9s} {'min load':>9s} {'max/min':>7s} " \
             f"{'±tol':>5s} {'contig':>6s} {'seconds':>8s}  note\n"
    write(header)  # type: ignore[operator]
    write("-" * (len(header) + 20) + "\n")  # type: ignore[operator]

    def f(v: float | None, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    for r in rows:
        obj = f(r.objective, ",.1f") if r.objective is not None else f(r.bound, ",.1f")
        write(  # type: ignore[operator]
            f"{r.method:48s} {obj:>12s} {f(r.ratio, '.4f'):>7s} {f(r.max_load, ',.0f'):>9s} "
            f"{f(r.min_load, ',.0f'):>9s} {f(r.max_min, '.2f'):>7s} "
            f"{'-' if r.balanced is None else ('yes' if r.balanced else 'NO'):>5s} "
            f"{'-' if r.contiguous is None else ('yes' if r.contiguous else 'NO'):>6s} {r.seconds:8.1f}  {r.note}\n"
        )


if __name__ == "__main__":
    main()
