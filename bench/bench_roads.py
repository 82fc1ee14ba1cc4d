"""Benchmark road travel times (issue 4). Prints measured figures; writes JSON with --json.

1. Gothenburg (real OSM export in the npm package geojson-path-finder 2.1.0; fetched once with
   `npm pack` into ~/.cache/carezones/npm unless --gothenburg points at the .tgz): build the
   drive network with zoning.roads.network, time a 2,000 x 2,000 node-to-node matrix, compare sampled
   pairs with networkx shortest_path_length on the saved osmnx graph (GraphML).
2. A SYNTHETIC county-size grid (60,000 nodes over a 60 x 60 km box): time a 17,000 x 50
   postcode-to-centre matrix (random points, snapped) and measure peak memory.
3. The straight-line fallback against the real LSOA -> hospital road times in data/travel.

Each case runs in a fresh process so that its peak RSS is its own.

    .venv/bin/python bench/bench_roads.py [--gothenburg FILE.tgz] [--sources 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

NPM_PACKAGE = "geojson-path-finder@2.1.0"
CACHE = Path.home() / ".cache" / "carezones" / "npm"


def gothenburg_tgz(given: Path | None) -> Path:
    if given is not None:
        return given
    target = CACHE / "geojson-path-finder-2.1.0.tgz"
    if not target.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", NPM_PACKAGE, "--pack-destination", str(CACHE)], check=True,
                       stdout=subprocess.DEVNULL)
    return target


def geojson_to_osm_xml(tgz: Path, out: Path) -> dict[str, Any]:
    """The package's test/large-network.json (an overpass-turbo GeoJSON export: one LineString per
    OSM way, junctions at shared coordinates) as OSM XML: one node per distinct coordinate."""
    import osmium
    import osmium.osm.mutable as mutable

    with tarfile.open(tgz) as tar:
        member = tar.extractfile("package/test/large-network.json")
        assert member is not None
        data = json.load(member)
    ids: dict[tuple[float, float], int] = {}
    ways = []
    for k, feature in enumerate(data["features"]):
        geom = feature["geometry"]
        if geom["type"] != "LineString":
            continue
        refs = [ids.setdefault((round(x, 7), round(y, 7)), len(ids) + 1) for x, y in geom["coordinates"]]
        tags = {key: str(v) for key, v in (feature.get("properties") or {}).items() if not key.startswith("@")}
        way_id = int(str(feature.get("id", f"way/{k + 1}")).split("/")[-1])
        ways.append(mutable.Way(id=way_id, version=1, nodes=refs, tags=tags))
    with osmium.SimpleWriter(str(out), overwrite=True) as writer:
        for (x, y), node_id in ids.items():
            writer.add_node(mutable.Node(id=node_id, version=1, location=(x, y)))
        for way in ways:
            writer.add_way(way)
    return {"osm_export_timestamp": data.get("timestamp", ""), "features": len(data["features"])}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case_gothenburg(tgz: str, n_points: int, n_sources: int) -> dict[str, Any]:
    import networkx as nx

    from zoning.roads.network import build_network, load_graphml, load_network
    from zoning.roads.speeds import DEFAULT_SPEED_FACTORS
    from zoning.travel import RoadTravel

    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "gothenburg.osm"
        info = geojson_to_osm_xml(Path(tgz), xml)
        t0 = time.perf_counter()
        report = build_network(out_dir=Path(tmp), name="gothenburg", osm=xml)
        build_s = time.perf_counter() - t0
        net = load_network(report.paths["routing"])
        graph = load_graphml(report.paths["graphml"])
    rng = np.random.default_rng(4)
    o = rng.choice(net.n_nodes, size=n_points, replace=n_points > net.n_nodes)
    d = rng.choice(net.n_nodes, size=n_points, replace=n_points > net.n_nodes)
    travel = RoadTravel(net, cache_dir=None, workers=2)
    c0, t0 = time.process_time(), time.perf_counter()
    matrix = travel.minutes(net.node_xy[o], net.node_xy[d])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # networkx on the saved osmnx graph, weights recomputed from its own edge attributes
    for _u, _v, data in graph.edges(data=True):
        kph = float(data["limit_kph"]) * DEFAULT_SPEED_FACTORS[data["road_class"]]
        data["care_min"] = float(data["length"]) / 1000.0 / kph * 60.0
    sources = rng.choice(n_points, size=n_sources, replace=False)
    osmid = net.node_osmid
    t1 = time.perf_counter()
    diffs = []
    for i in sources:  # networkx single-source Dijkstra, read at the sampled origin's 2,000 destinations
        lengths = nx.shortest_path_length(graph, source=int(osmid[o[i]]), weight="care_min")
        theirs = np.array([lengths[int(osmid[j])] for j in d])
        diffs.append(np.abs(matrix[i] - theirs))
    nx_s = time.perf_counter() - t1
    diff_s = float(np.max(diffs) * 60.0)
    n_pairs = n_sources * n_points
    return {
        "source": f"npm {NPM_PACKAGE} test/large-network.json (OSM export {info['osm_export_timestamp']}, ODbL)",
        "build_s": build_s, "nodes": net.n_nodes, "edges": net.n_edges,
        "nodes_dropped_by_scc": net.meta["nodes_dropped_by_scc"], "maxspeed": net.meta["maxspeed"],
        "matrix": f"{n_points} x {n_points}", "matrix_wall_s": wall, "matrix_cpu_s": cpu,
        "pairs_checked": n_pairs, "max_abs_diff_vs_networkx_s": diff_s,
        "identical_to_the_second": diff_s < 0.5, "networkx_s_per_source": nx_s / n_sources,
        "networkx_estimated_full_matrix_s": nx_s / n_sources * n_points,
        "mean_minutes": float(matrix.mean()), "peak_rss_mib": _peak_mib(),
    }


def case_county(n_postcodes: int, n_centres: int) -> dict[str, Any]:
    from zoning.roads.synthetic_grid import grid_network
    from zoning.travel import RoadTravel

    bounds = (430_000.0, 280_000.0, 490_000.0, 340_000.0)
    t0 = time.perf_counter()
    net = grid_network(bounds=bounds, spacing_m=245.0, seed=1)
    gen_s = time.perf_counter() - t0
    rng = np.random.default_rng(5)
    lo, hi = np.array(bounds[:2]), np.array(bounds[2:])
    postcodes = lo + rng.random((n_postcodes, 2)) * (hi - lo)
    centres = lo + rng.random((n_centres, 2)) * (hi - lo)
    with tempfile.TemporaryDirectory() as tmp:
        travel = RoadTravel(net, cache_dir=Path(tmp), workers=2)
        c0, t0 = time.process_time(), time.perf_counter()
        matrix = travel.minutes(postcodes, centres)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        t1 = time.perf_counter()
        again = travel.minutes(postcodes, centres)
        cached_s = time.perf_counter() - t1
    return {
        "network": net.label(), "generate_s": gen_s, "nodes": net.n_nodes, "edges": net.n_edges,
        "matrix": f"{n_postcodes} x {n_centres}", "matrix_wall_s": wall, "matrix_cpu_s": cpu,
        "cache_hit_s": cached_s, "cache_identical": bool(np.array_equal(matrix, again)),
        "finite": bool(np.isfinite(matrix).all()), "mean_minutes": float(matrix.mean()),
        "peak_rss_mib": _peak_mib(),
    }


def case_straight_line() -> dict[str, Any]:
    import pandas as pd

    from zoning.databuild.calibration import fit_line
    from zoning.scenario import TravelOptions

    t = TravelOptions()
    real = pd.read_csv(REPO / "data" / "travel" / "E10000018_lsoa_hospital_times.csv")
    pred = t.intercept_min + t.min_per_km * real["km_straight"]
    err = pred - real["road_minutes"]
    bands = {}
    for lo, hi in ((0, 10), (10, 20), (20, 40)):
        sel = (real["km_straight"] >= lo) & (real["km_straight"] < hi)
        bands[f"{lo}-{hi} km"] = {"n": int(sel.sum()), "rmse_min": float(np.sqrt((err[sel] ** 2).mean())),
                                  "bias_min": float(err[sel].mean())}
    fit = fit_line(real["km_straight"], real["road_minutes"])
    return {"pairs": len(real), "model": f"{t.intercept_min} + {t.min_per_km} x km", "rmse_min": float(np.sqrt((err**2).mean())),
            "bias_min": float(err.mean()), "p90_abs_err_min": float(np.percentile(err.abs(), 90)),
            "r2_refit": fit.r2, "bands": bands}


def _run(fn: Any, *args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        result: dict[str, Any] = pool.submit(fn, *args).result()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gothenburg", type=Path, default=None, help="geojson-path-finder-2.1.0.tgz")
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--sources", type=int, default=20, help="origins checked against networkx (x all destinations)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    out = sys.stdout.write
    out(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}\n")
    figures: dict[str, Any] = {"cores": os.cpu_count(), "load_average_before": os.getloadavg()[0]}
    g = _run(case_gothenburg, str(gothenburg_tgz(args.gothenburg)), args.points, args.sources)
    figures["gothenburg"] = g
    out(f"Gothenburg drive graph: {g['nodes']:,} nodes, {g['edges']:,} edges (built in {g['build_s']:.1f} s; "
        f"{g['nodes_dropped_by_scc']:,} nodes outside the largest SCC dropped)\n"
        f"  {g['matrix']} matrix: {g['matrix_wall_s']:.2f} s wall, {g['matrix_cpu_s']:.2f} s CPU "
        f"(target < 5 s); peak RSS {g['peak_rss_mib']:,.0f} MiB\n"
        f"  vs networkx on {g['pairs_checked']} sampled pairs: max |diff| {g['max_abs_diff_vs_networkx_s']:.2e} s "
        f"(identical to the second: {g['identical_to_the_second']}); networkx {g['networkx_s_per_source']:.2f} s "
        f"per origin, ~{g['networkx_estimated_full_matrix_s']:,.0f} s for the full matrix\n")
    c = _run(case_county, 17_000, 50)
    figures["county_synthetic"] = c
    out(f"SYNTHETIC county grid: {c['nodes']:,} nodes, {c['edges']:,} edges\n"
        f"  {c['matrix']} matrix: {c['matrix_wall_s']:.2f} s wall, {c['matrix_cpu_s']:.2f} s CPU (target < 60 s); "
        f"peak RSS {c['peak_rss_mib']:,.0f} MiB (target < 2,048); cache hit {c['cache_hit_s']:.3f} s, "
        f"identical: {c['cache_identical']}\n")
    s = case_straight_line()
    figures["straight_line_vs_real_road_times"] = s
    out(f"straight-line fallback ({s['model']}) vs {s['pairs']:,} real LSOA->hospital road times: "
        f"RMSE {s['rmse_min']:.2f} min, bias {s['bias_min']:+.2f} min, 90% within {s['p90_abs_err_min']:.1f} min; "
        + "; ".join(f"{k}: RMSE {v['rmse_min']:.2f}, bias {v['bias_min']:+.2f} (n={v['n']})" for k, v in s["bands"].items())
        + "\n")
    figures["load_average_after"] = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
