"""Benchmark the default Leicestershire design: wall time by stage, solver rounds, gap, peak
memory, and determinism (two runs, same plan). Prints measured figures; writes JSON with --json.

    .venv/bin/python bench/bench_default.py [--scenario FILE] [--solver highs|cbc] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zoning.pipeline import plan_zones  # noqa: E402
from zoning.scenario import load_scenario  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument("--solver", choices=["highs", "cbc"], default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario).with_overrides(solver=args.solver)
    runs = []
    for attempt in (1, 2):
        start = time.perf_counter()
        plan = plan_zones(scenario)
        wall = time.perf_counter() - start
        r = plan.result
        runs.append((plan, wall))
        out = sys.stdout.write
        out(f"run {attempt}: {wall:.1f} s wall ({', '.join(f'{k} {v:.1f}' for k, v in plan.timings.items())})\n")
        for x in r.rounds:
            gap = "n/a" if x.gap is None else f"{100 * x.gap:.4f}%"
            out(f"  round {x.round}: {x.status:9s} objective {x.objective or float('nan'):12,.1f}  gap {gap:>9s}  {x.seconds:6.1f} s\n")
        out(f"  best: {r.report.status.value}, objective {r.objective:,.1f}, bound {r.report.best_bound or float('nan'):,.1f} "
            f"(for its centres), mean travel {plan.metrics.mean_travel_min:.3f} min vs current "
            f"{plan.current_metrics.mean_travel_min:.3f}; loads {plan.metrics.min_zone_hours:,.0f}-"
            f"{plan.metrics.max_zone_hours:,.0f} h/week\n")
    same = bool(np.array_equal(runs[0][0].unit_zone, runs[1][0].unit_zone))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    sys.stdout.write(f"deterministic (same plan twice): {same}\npeak RSS: {peak_mib:,.0f} MiB\n")
    if args.json:
        plan, wall = runs[0]
        r = plan.result
        args.json.write_text(json.dumps({
            "scenario": scenario.name, "units": plan.units.n, "zones": scenario.model.zones,
            "solver": r.report.solver, "status": r.report.status.value, "objective": r.objective,
            "bound_for_centres": r.report.best_bound, "gap_for_centres": r.report.gap,
            "rounds": len(r.rounds), "wall_s": [w for _, w in runs], "timings_s": plan.timings,
            "mean_travel_min": plan.metrics.mean_travel_min,
            "current_mean_travel_min": plan.current_metrics.mean_travel_min,
            "max_min_ratio": plan.metrics.max_min_ratio, "deterministic": same, "peak_rss_mib": peak_mib,
        }, indent=2) + "\n")


if __name__ == "__main__":
    main()
