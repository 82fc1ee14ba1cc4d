"""Benchmark capacity balance (``[capacity] rule = "flow"``, issue 15): each scenario solved with
the family and without it (``rule = "none"``), side by side in one run.

Per plan: demand-weighted mean travel (min), objective, largest / smallest zone (h/week), the
range of demand / allocated capacity (allocation: branch capacity within reach_min of the zone
centre, each branch counted once, as much as a max-flow can give; "inf" = a zone nothing
reaches), zones short of margin x demand, and design + solve time. When the default reach
gives no plan for a council, the refusal is printed and the flow is tried again at 30 min.

Areas: the Leicestershire default, and two councils built with ``carezones data build``
(``--council CODE ZONES DATA_DIR``, default Wiltshire E06000054 with 8 zones and the Isle of
Wight E06000046 with 4). ``carezones data synthetic`` only knows Leicestershire's towns, and
``carezones init`` has not landed, so their SYNTHETIC demand comes from
:func:`zoning.databuild.synthetic.synthetic_demand` (65+ population, same seed) and their
SYNTHETIC branches sit at the densest postcode of the most populous wards with ~115% of demand
as capacity; their "current zones" are easting stripes (a placeholder: only the plans matter).

    .venv/bin/python bench/bench_capacity.py [--council CODE ZONES DATA_DIR ...] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from optimiser.capacity_flow import max_cover  # noqa: E402
from optimiser.problem import BranchCapacity  # noqa: E402
from zoning.databuild.synthetic import CAPACITY_MARGIN, DEFAULT_SEED, synthetic_demand  # noqa: E402
from zoning.errors import SolveError  # noqa: E402
from zoning.pipeline import plan_zones  # noqa: E402
from zoning.plan import ZonePlan  # noqa: E402
from zoning.postcodes import load_reference_postcodes  # noqa: E402
from zoning.prepare import prepare_problem  # noqa: E402
from zoning.scenario import DEFAULT_SCENARIO, Scenario, load_scenario  # noqa: E402

COUNCILS = (("E06000054", 8, "/tmp/reg/councils/E06000054"), ("E06000046", 4, "/tmp/reg/councils/E06000046"))


def council_scenario(code: str, zones: int, data: Path, out: Path) -> Path:
    """Write SYNTHETIC demand, providers and placeholder current zones for a built area, and a
    scenario (rule 'flow', the defaults) over them; returns the scenario path."""
    postcodes = load_reference_postcodes(data / "postcodes" / f"{code}_postcodes.csv").reset_index(drop=True)
    population = pd.read_csv(data / "population" / f"{code}_population.csv")
    demand = synthetic_demand(postcodes, population, seed=DEFAULT_SEED)
    demand.to_csv(out / "demand.csv", index=False, float_format="%.2f")
    homes = postcodes[postcodes["in_area"] & ~postcodes["large_user"]]
    n_branches = max(zones * 3, len(demand) // 30)
    wards = homes.groupby("ward_code").size().sort_values(ascending=False).head(n_branches).index
    picks = []
    for ward in sorted(wards):
        pool = homes[homes["ward_code"] == ward]
        xy = pool[["easting", "northing"]].to_numpy(float)
        centre = xy.mean(axis=0)
        picks.append(pool["postcode"].iloc[int(np.argmin(np.hypot(*(xy - centre).T)))])
    rng = np.random.default_rng(DEFAULT_SEED + 1)
    weights = rng.gamma(2.0, 1.0, len(picks))
    capacity = np.maximum(np.round(weights / weights.sum() * CAPACITY_MARGIN * demand["hours_per_week"].sum() / 10) * 10, 40)
    pd.DataFrame({"provider_id": [f"SYNP{i + 1:03d}" for i in range(len(picks))],
                  "name": [f"Synthetic branch {i + 1} [synthetic]" for i in range(len(picks))],
                  "postcode": picks, "capacity_hours_per_week": capacity}).to_csv(out / "providers.csv", index=False)
    lsoas = homes.groupby("lsoa11cd")["easting"].mean().sort_values()
    stripes = np.minimum((np.arange(len(lsoas)) * zones) // len(lsoas), zones - 1)
    pd.DataFrame({"lsoa11cd": lsoas.index, "zone": [f"Stripe {s + 1}" for s in stripes]}).to_csv(out / "current.csv", index=False)
    path = out / f"{code}.toml"
    path.write_text(f'''name = "{code.lower()}"
title = "{code}: benchmark (SYNTHETIC demand and providers)"
area_code = "{code}"
area_name = "{code}"
seed = {DEFAULT_SEED}
[data]
postcodes = "{data}/postcodes/{code}_postcodes.csv"
boundaries = "{data}/boundaries/{code}_lsoa2011.geojson"
[demand]
path = "demand.csv"
synthetic = true
[providers]
path = "providers.csv"
synthetic = true
[current_zones]
path = "current.csv"
key = "lsoa11cd"
approximate = true
[model]
zones = {zones}
time_limit_s = 150
max_rounds = 12
''')
    return path


def measure(plan: ZonePlan, branches: BranchCapacity, seconds: float) -> dict[str, object]:
    """The figures of the module docstring for one plan (coverage by the same branches and reach)."""
    r = plan.result
    k = plan.scenario.model.zones
    demand = np.bincount(r.labels, weights=np.asarray(_unit_demand(plan)), minlength=k)
    reach = branches.in_reach()[:, list(r.centres)] & (branches.capacity[:, None] > 0)
    flow = max_cover(branches.capacity, reach, branches.margin * demand)
    allocated = flow.sum(axis=0)
    ratio = np.where(allocated > 0, demand / np.where(allocated > 0, allocated, 1), np.inf)
    short = int(np.sum(allocated < branches.margin * demand * (1 - 1e-6)))
    return {
        "mean_travel_min": plan.metrics.mean_travel_min, "objective": r.objective,
        "largest_zone_h": plan.metrics.max_zone_hours, "smallest_zone_h": plan.metrics.min_zone_hours,
        "demand_allocated_min": float(ratio.min()), "demand_allocated_max": float(ratio.max()),
        "zones_short": short, "design_s": float(plan.timings.get("solve_s", r.seconds)), "total_s": seconds,
        "status": r.report.status.value,
    }


def _unit_demand(plan: ZonePlan) -> np.ndarray:
    pcs = plan.postcodes
    return np.bincount(pcs["unit"].to_numpy(int), weights=pcs["hours_per_week"].to_numpy(float), minlength=plan.units.n)


def compare(area: str, scenario: Scenario, *, wider: float | None = None) -> dict[str, dict[str, object]]:
    """Solve ``scenario`` with the flow family, without it, and (``wider``) with a longer reach
    when the default reach gives no plan; print each row as it is measured."""
    flow = scenario if scenario.capacity.rule == "flow" else _with_rule(scenario, "flow")
    runs = [(f"flow {flow.capacity.reach_min:g} min", flow), ("none", _with_rule(flow, "none"))]
    out: dict[str, dict[str, object]] = {}
    while runs:
        label, sc = runs.pop(0)
        branches = prepare_problem(_with_rule(sc, "flow")).problem.branches
        assert branches is not None
        start = time.perf_counter()
        try:
            plan = plan_zones(sc)
        except SolveError as exc:
            out[label] = {"refused": str(exc)[:400], "total_s": time.perf_counter() - start}
            _row(area, label, out[label])
            if wider is not None and label.startswith("flow") and sc.capacity.reach_min < wider:
                runs.append((f"flow {wider:g} min", sc.model_copy(update={"capacity": sc.capacity.model_copy(
                    update={"reach_min": wider})})))
            continue
        out[label] = measure(plan, branches, time.perf_counter() - start)
        _row(area, label, out[label])
    return out


def _row(area: str, label: str, m: dict[str, object]) -> None:
    if "refused" in m:
        sys.stdout.write(f"{area:28s} {label:15s} no plan after {m['total_s']:.1f} s: {m['refused']}\n")
    else:
        rng = f"{m['demand_allocated_min']:.2f}-{m['demand_allocated_max']:.2f}"
        sys.stdout.write(
            f"{area:28s} {label:15s} {m['mean_travel_min']:10.2f} {m['objective']:12,.1f} {m['largest_zone_h']:10,.0f} "
            f"{m['smallest_zone_h']:10,.0f} {rng:>17s} {m['zones_short']:5d} {m['design_s']:8.1f} {m['total_s']:8.1f}\n"
        )
    sys.stdout.flush()


def _with_rule(scenario: Scenario, rule: str) -> Scenario:
    return scenario.model_copy(update={"capacity": scenario.capacity.model_copy(update={"rule": rule})})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--council", nargs=3, action="append", metavar=("CODE", "ZONES", "DATA_DIR"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    councils = [(c, int(z), d) for c, z, d in args.council] if args.council else list(COUNCILS)
    sys.stdout.write(f"{'area':28s} {'capacity rule':15s} {'travel min':>10s} {'objective':>12s} {'largest h':>10s} "
                     f"{'smallest h':>10s} {'demand/allocated':>17s} {'short':>5s} {'solve s':>8s} {'total s':>8s}\n")
    results: dict[str, dict[str, dict[str, object]]] = {}
    results["leicestershire (default)"] = compare("leicestershire (default)", load_scenario(DEFAULT_SCENARIO))
    with tempfile.TemporaryDirectory() as tmp:
        for code, zones, data in councils:
            if not (Path(data) / "postcodes" / f"{code}_postcodes.csv").is_file():
                sys.stdout.write(f"{code}: no built data in {data} (run carezones data build --area {code} --out {data})\n")
                continue
            folder = Path(tmp) / code
            folder.mkdir()
            area = f"{code} ({zones} zones)"
            results[area] = compare(area, load_scenario(council_scenario(code, zones, Path(data), folder)), wider=30.0)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
