"""Postcode-level units in `carezones run` (issue 12): the whole command, measured.

Runs ``carezones run`` on ``scenarios/leicestershire-postcodes.toml`` (the default at
``[units] level = "postcode"``: LSOA design, then refinement over ~16,200 postcode cells, a
lower bound over postcode units, every output from the cells) in a child process and prints

- wall per stage (from the run's ``summary.json`` ``timings_s``) and the whole command's wall;
- the plan's objective, the postcode-level lower bound, their ratio and the bound's scope;
- every named check; zone loads;
- peak memory of the run (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``: the largest child,
  which covers the run and the bound processes it starts).

Targets (issue 12): whole run <= 3 min, plan <= 1.01 x its bound, peak memory < 4 GiB.

    .venv/bin/python bench/bench_postcodes.py [--scenario FILE] [--json PATH]

Demand and providers are SYNTHETIC.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", type=Path, default=REPO / "scenarios" / "leicestershire-postcodes.toml")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    args = parser.parse_args()
    out = sys.stdout.write
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp) / "run"
        command = [str(Path(sys.executable).parent / "carezones"), "run", str(args.scenario), "--out", str(folder)]
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if done.returncode != 0:
            out(done.stdout[-3000:] + done.stderr[-3000:])
            raise SystemExit(f"carezones run exited {done.returncode}")
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        pcs_rows = sum(1 for _ in (folder / "postcode_zones.csv").open(encoding="utf-8")) - 1
    solver, units, plan = summary["solver"], summary["units"], summary["plan"]
    bound = solver.get("certified_lower_bound")
    objective = float(solver["plan_objective"])
    ratio = objective / bound if bound else None
    timings = summary["timings_s"]
    checks = summary["checks"]
    out(f"scenario {args.scenario.name}: units {units['level']} ({units['kind']}), {units['count']:,} units, "
        f"{units['adjacencies']:,} adjacencies; lookup rows {pcs_rows:,}\n")
    out("stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + "\n")
    out(f"whole run {wall:.1f} s (target <= 180 s); peak memory {peak_mib:,.0f} MiB (target < 4,096 MiB)\n")
    out(f"objective {objective:,.1f}; bound {bound:,.1f}; plan / bound {ratio:.4f} (target <= 1.01)\n"
        if bound else f"objective {objective:,.1f}; no bound\n")
    out(f"bound: {solver.get('certified_bound_method')}; covers {solver.get('certified_bound_scope')}\n")
    out(f"zones {plan['zones']}, loads {plan['min_zone_hours']:,.1f}-{plan['max_zone_hours']:,.1f} h/week of "
        f"{plan['total_hours']:,.1f}; mean travel {plan['mean_travel_min']:.3f} min\n")
    out("checks: " + ", ".join(f"{c['name']} {'ok' if c['passed'] else 'FAILED'}" for c in checks) + "\n")
    if args.json:
        args.json.write_text(json.dumps({
            "scenario": args.scenario.name, "wall_s": wall, "peak_rss_mib": peak_mib, "timings_s": timings,
            "units": units, "lookup_rows": pcs_rows, "objective": objective, "bound": bound, "ratio": ratio,
            "bound_scope": solver.get("certified_bound_scope"), "checks": {c["name"]: c["passed"] for c in checks},
            "plan": plan,
        }, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
