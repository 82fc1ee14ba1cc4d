"""Postcode-level experiment: refine the LSOA plan's boundaries with postcodes as units.

Steps (all timed, one process):
  1. design 14 zones on LSOAs (design_zones, 60 s budget);
  2. postcode units: in-area postcodes grouped by coordinates (postcodes sharing a point are one
     unit); adjacency from their Voronoi cells clipped to the county outline (rook, shared
     boundary > 1 m); cells cut off by the clipping are linked to their nearest unit;
  3. start: every postcode unit takes its LSOA's zone; stray pieces (cells of a zone not
     touching the rest of it) join the neighbouring zone they share most boundary units with;
  4. contiguity-preserving local search (moves, swaps, re-centring) at postcode level, with
     costs computed on demand (no n x n matrix);
  5. a Lagrangian lower bound over the postcodes with demand plus candidate centres, which
     covers balanced plans whose centres lie among those candidates (see the printed scope).

    .venv/bin/python bench/bench_postcodes.py [--json PATH]

Prints time per stage and peak memory (targets: < 5 min, < 4 GiB). Demand is SYNTHETIC.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.instance import build_instance  # noqa: E402
from optimiser.bounds import lagrangian_bound  # noqa: E402
from optimiser.checks import is_contiguous  # noqa: E402
from optimiser.districting import design_zones  # noqa: E402
from optimiser.local_search import ResourceBounds, local_search, zones_connected  # noqa: E402
from optimiser.repair import repair_bounds  # noqa: E402
from zoning.scenario import load_scenario  # noqa: E402
from zoning.travel import TravelModel  # noqa: E402
from zoning.units import rook_edges  # noqa: E402


@dataclass(frozen=True)
class PointCost:
    """Travel minutes between unit points, computed block by block (never n x n)."""

    xy: NDArray[np.float64]
    travel: TravelModel

    def block(self, rows: NDArray[np.int64], cols: NDArray[np.int64]) -> NDArray[np.float64]:
        return self.travel.minutes(self.xy[rows], self.xy[cols])


def voronoi_edges(xy: NDArray[np.float64], outline: shapely.Geometry) -> tuple[NDArray[np.int64], int]:
    """Rook adjacency of Voronoi cells clipped to ``outline``; returns (edges, links added)."""
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=outline, ordered=True))
    cells = shapely.intersection(cells, outline)
    edges = rook_edges(gpd.GeoSeries(cells, crs=27700))
    n = xy.shape[0]
    added = 0
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    count, comp = connected_components(graph, directed=False)
    if count > 1:  # link every piece but the largest to its nearest unit in the largest
        main = int(np.bincount(comp).argmax())
        tree = cKDTree(xy[comp == main])
        main_ids = np.flatnonzero(comp == main)
        extra = []
        for c in range(count):
            if c == main:
                continue
            members = np.flatnonzero(comp == c)
            dist, near = tree.query(xy[members])
            k = int(np.argmin(dist))
            extra.append((int(members[k]), int(main_ids[near[k]])))
        edges = np.vstack([edges, np.sort(np.array(extra), axis=1)])
        added = len(extra)
    return edges.astype(np.int64), added


def repair(labels: NDArray[np.int64], edges: NDArray[np.int64], weights: NDArray[np.float64], k: int) -> tuple[NDArray[np.int64], int]:
    """Give each zone's detached pieces (all but its heaviest piece) to a neighbouring zone."""
    labels = labels.copy()
    n = labels.size
    moved = 0
    for _ in range(50):
        same = labels[edges[:, 0]] == labels[edges[:, 1]]
        e = edges[same]
        _, comp = connected_components(coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)), directed=False)
        weight = np.bincount(comp, weights=weights + 1e-9)
        keep = np.zeros(comp.max() + 1, dtype=bool)
        for z in range(k):
            pieces = np.unique(comp[labels == z])
            keep[pieces[np.argmax(weight[pieces])]] = True
        stray = ~keep[comp]
        if not stray.any():
            break
        cross = edges[labels[edges[:, 0]] != labels[edges[:, 1]]]
        for a, b in np.vstack([cross, cross[:, ::-1]]).tolist():
            if stray[a] and not stray[b]:
                piece = comp == comp[a]
                labels[piece] = labels[b]
                moved += int(piece.sum())
                stray[piece] = False
    return labels, moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--lsoa-budget-s", type=float, default=60.0)
    parser.add_argument("--bound-time-s", type=float, default=90.0)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    out = sys.stdout.write
    t0 = time.perf_counter()
    times: dict[str, float] = {}
    scenario = load_scenario(args.scenario)
    inst = build_instance(scenario)
    problem, m = inst.problem, scenario.model
    lsoa = design_zones(problem, solver=m.solver, time_limit_s=args.lsoa_budget_s, seed=scenario.seed,
                        max_rounds=m.max_rounds, threads=m.threads, mip_rel_gap=m.mip_rel_gap)
    times["lsoa_design_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    pcs = inst.postcodes
    groups = pcs.groupby(["easting", "northing"], sort=True)
    xy = np.array(list(groups.groups.keys()), dtype=float)
    hours = groups["hours_per_week"].sum().to_numpy(float)
    unit_of_point = groups["unit"].agg(lambda s: s.mode().iloc[0]).to_numpy(np.int64)
    outline_path = scenario.data.outline if getattr(scenario.data, "outline", None) else None
    if outline_path is None:
        raise SystemExit("the scenario names no county outline ([data] outline)")
    outline = gpd.read_file(outline_path).to_crs(27700).union_all()
    edges, linked = voronoi_edges(xy, outline)
    n = xy.shape[0]
    times["postcode_units_s"] = time.perf_counter() - t
    out(f"postcode units: {n:,} points for {len(pcs):,} postcodes, {len(edges):,} Voronoi adjacencies "
        f"({linked} links added for cells cut off by the outline); {int((hours > 0).sum()):,} with demand\n")

    t = time.perf_counter()
    k = problem.n_zones
    start, moved = repair(lsoa.labels[unit_of_point], edges, hours, k)
    bounds = ResourceBounds.balance(hours, n_zones=k, tolerance=problem.tolerance)
    loads = np.bincount(start, weights=hours, minlength=k)
    out(f"start from the LSOA plan: {moved} postcode units moved to mend detached pieces; loads "
        f"{loads.min():,.0f}-{loads.max():,.0f} (bounds {bounds.lower[0, 0]:,.0f}-{bounds.upper[0, 0]:,.0f}); "
        f"contiguous {zones_connected(start, edges, k)}\n")
    cost = PointCost(xy, inst.travel)
    before = start
    start = repair_bounds(start, weights=hours, cost=cost, edges=edges, bounds=bounds)
    loads = np.bincount(start, weights=hours, minlength=k)
    out(f"rebalanced: {int((before != start).sum())} postcode units moved; loads {loads.min():,.0f}-{loads.max():,.0f}\n")
    times["start_s"] = time.perf_counter() - t
    t = time.perf_counter()
    res = local_search(start, weights=hours, cost=cost, edges=edges, bounds=bounds, medoid_candidates=600)
    times["local_search_s"] = time.perf_counter() - t
    ok = is_contiguous(res.labels, edges).passed
    loads = np.bincount(res.labels, weights=hours, minlength=k)
    out(f"local search: {res.initial_objective:,.1f} -> {res.objective:,.1f} "
        f"({100 * (res.initial_objective - res.objective) / res.initial_objective:.2f}% less) in "
        f"{res.seconds:.1f} s: {res.moves} moves, {res.swaps} swaps, {res.recentres} re-centrings; "
        f"contiguous {ok}; loads {loads.min():,.0f}-{loads.max():,.0f}\n")

    t = time.perf_counter()
    rows = np.union1d(np.flatnonzero(hours > 0), np.asarray(res.centres))
    # warm start: the LSOA-level multipliers, shared out per hour of demand
    lo_l, up_l = problem.load_bounds
    lsoa_bound = lagrangian_bound(problem.demand, problem.cost, n_zones=k, lower=lo_l, upper=up_l,
                                  target=lsoa.objective, max_iter=1000, time_limit_s=40)
    per_hour = np.divide(lsoa_bound.multipliers, problem.demand, out=np.zeros(problem.n_units),
                         where=problem.demand > 0)
    lam0 = hours[rows] * per_hour[unit_of_point[rows]]
    block = cost.block(rows, rows)
    bound = lagrangian_bound(hours[rows], block, n_zones=k, lower=float(bounds.lower[0, 0]),
                             upper=float(bounds.upper[0, 0]), target=res.objective, max_iter=2000,
                             time_limit_s=args.bound_time_s, initial_multipliers=lam0,
                             initial_step=0.25)
    del block
    times["bound_s"] = time.perf_counter() - t
    scope = (f"balanced plans of these {n:,} postcode units (contiguous or not) whose centres lie among "
             f"{rows.size:,} candidates: the postcode points with demand and the plan's centres")
    out(f"LSOA-level bound (warm start only; not a bound for postcodes): {lsoa_bound.value:,.1f}\n")
    out(f"bound: {bound.value:,.1f} after {bound.iterations} iterations, {bound.seconds:.1f} s; plan/bound "
        f"{res.objective / bound.value:.4f}; covers {scope}\n")
    times["total_s"] = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out("times: " + ", ".join(f"{key} {v:.1f}" for key, v in times.items()) + f"; peak RSS {peak_mib:,.0f} MiB\n")
    if args.json:
        args.json.write_text(json.dumps({
            "postcode_units": n, "postcodes": len(pcs), "edges": len(edges), "links_added": linked,
            "repair_moved_units": moved, "lsoa_objective": lsoa.objective,
            "start_objective": res.initial_objective, "objective": res.objective, "moves": res.moves,
            "swaps": res.swaps, "recentres": res.recentres, "contiguous": ok,
            "max_load": float(loads.max()), "min_load": float(loads.min()), "bound": bound.value,
            "bound_iterations": bound.iterations, "bound_scope": scope, "ratio": res.objective / bound.value,
            "times_s": times, "peak_rss_mib": peak_mib,
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
