"""Issue 12 benchmark: how much of the bracket (plan ÷ certified bound) is the bound.

For each instance: the certified Lagrangian bound without and with the capacity balance
(``optimiser.bounds.problem_bound``) after ``--short`` seconds (the default ``certify_s``) and
after ``--long`` seconds (what a county run gets when the bound runs as long as the design),
and the LP relaxation of the same model (assignment, balance, K centres, capacity flow) solved
by HiGHS — the value the Lagrangian converges towards (it can exceed it: the choice of K
centres stays integral in the Lagrangian). With ``--plan OBJ`` (a plan's objective, e.g. from
``carezones run``'s summary.json) the bracket is split into plan-vs-LP and LP-vs-bound parts.

    .venv/bin/python bench/bench_bound.py [--scenario PATH ...] [--plan OBJ ...] [--no-lp] [--fix-s S]
    .venv/bin/python bench/bench_bound.py --ladder-only --ladder 15 --ladder 30 --ladder 45 [--plan OBJ]
    .venv/bin/python bench/bench_bound.py --compare [--problem kent12.pkl] [--scenario PATH]

``--compare``: the Lagrangian with every knapsack solved each iteration (``lazy=False``, the
method before) and with the lazy evaluation (the default), alternating on the same machine:
iterations/s, the value after 20 s and 60 s (``--at``), and the converged value and seconds.
``--problem`` adds a pickled ``DistrictingProblem`` (e.g. a county built once).

``--ladder S`` (repeatable): the target ladder the run's second process climbs after the
Lagrangian (``optimiser.ladder.ladder_bound``), for S seconds, from one converged Lagrangian:
each target tried (ratio to LR, proved or not, seconds, cells left) and the bound reached, and
with ``--plan`` the bracket.

Instances default to the shipped Leicestershire scenario. The LP has about n² rows; on 2 cores
it takes about 150 s at 396 units (use --no-lp beyond ~600 units).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.instance import build_instance  # noqa: E402
from optimiser.bounds import problem_bound  # noqa: E402
from optimiser.centre_bound import fix_cells, reduced_bound  # noqa: E402
from optimiser.ladder import ladder_bound  # noqa: E402
from optimiser.problem import DistrictingProblem  # noqa: E402
from optimiser.seeding import centre_model  # noqa: E402
from optimiser.solve import stdout_to_stderr  # noqa: E402
from zoning.scenario import load_scenario  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
out = sys.stdout.write


def lp_relaxation(p: DistrictingProblem, *, centres_integral_s: float = 0.0, all_integral: bool = False
                  ) -> tuple[float, float]:
    """(value, seconds) of the LP relaxation of the bounded model, with capacity flow if any:
    :func:`optimiser.seeding.centre_model` with every unit a candidate centre. With
    ``centres_integral_s`` > 0 the centres are binary (every ``x`` with ``all_integral``) and
    HiGHS's MIP bound after that many seconds is returned: still a valid bound (contiguity is
    left out; without ``all_integral`` units may split between zones)."""
    import highspy

    t0 = time.perf_counter()
    binary = "none" if centres_integral_s <= 0 else ("all" if all_integral else "centres")
    lp = centre_model(p, np.arange(p.n_units), binary=binary)
    with stdout_to_stderr():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    if centres_integral_s > 0:
        h.setOptionValue("time_limit", centres_integral_s)
    h.passModel(lp)
    h.run()
    if centres_integral_s > 0:
        return float(h.getInfo().mip_dual_bound), time.perf_counter() - t0
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"LP relaxation: {h.modelStatusToString(h.getModelStatus())}")
    return float(h.getInfo().objective_function_value), time.perf_counter() - t0


def ladders(p: DistrictingProblem, seconds: list[float], plan: float | None) -> None:
    """The target ladder for each of ``seconds`` from one Lagrangian bound (as the run's child has it)."""
    lag = problem_bound(p, time_limit_s=120.0, max_iter=10_000)
    out(f"  Lagrangian (the child's, max 10,000 iterations): {lag.value:,.1f} after {lag.iterations} iterations "
        f"in {lag.seconds:.1f} s{'' if plan is None else f'; plan / LR {plan / lag.value:.5f}'}\n")
    for secs in seconds:
        ladder = ladder_bound(p, lag, time_limit_s=secs)
        out(f"  ladder, {secs:.0f} s:\n    target          / LR      status      s        cells  bound\n")
        for r in ladder.rungs:
            out(f"    {r.target:14,.1f}  {r.target / lag.value:.5f}  {r.status:10s} {r.seconds:6.1f}  {r.cells:9,d}  "
                f"{r.value:,.1f}\n")
        bracket = "" if plan is None else f"; plan / bound {plan / ladder.bound.value:.5f}"
        out(f"    bound {ladder.bound.value:,.1f} = LR x {ladder.bound.value / lag.value:.5f} after "
            f"{ladder.seconds:.1f} s{bracket}\n")


def load_problem(path: Path) -> DistrictingProblem:
    """A scenario's problem, or a pickled ``DistrictingProblem`` (``.pkl``)."""
    if path.suffix == ".pkl":
        with open(path, "rb") as f:
            problem: DistrictingProblem = pickle.load(f)
        return problem
    return build_instance(load_scenario(path)).problem


def compare(p: DistrictingProblem, at: list[float], limit_s: float, *, name: str) -> None:
    """Old (every knapsack) and new (lazy) Lagrangian side by side, alternating, one process."""
    out(f"\n{name}: {p.n_units} units, {p.n_zones} zones, capacity balance {'on' if p.branches else 'off'}\n")
    out("  method  horizon    value            iterations  seconds  it/s    load\n")
    for horizon in [*at, limit_s]:
        for lazy in (False, True):
            res = problem_bound(p, time_limit_s=horizon, max_iter=10**6, lazy=lazy)
            one, five, _ = os.getloadavg()
            label = f"{horizon:4.0f} s" if horizon < limit_s else "converged" if not res.time_limited else "limit"
            out(f"  {'lazy' if lazy else 'full':6s}  {label:9s}  {res.value:15,.2f}  {res.iterations:8d}  "
                f"{res.seconds:7.1f}  {res.iterations / res.seconds:6.1f}  {one:.1f}/{five:.1f}\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", type=Path, action="append", help="scenario file(s); default: the shipped one")
    ap.add_argument("--plan", type=float, action="append", help="a plan objective per scenario, to split the bracket")
    ap.add_argument("--short", type=float, default=20.0, help="seconds for the short bound (default 20)")
    ap.add_argument("--long", type=float, default=90.0, help="seconds for the long bound (default 90)")
    ap.add_argument("--no-lp", action="store_true", help="skip the LP relaxation")
    ap.add_argument("--mip-s", type=float, default=0.0,
                    help="also run HiGHS with binary centres for this many seconds and print its bound")
    ap.add_argument("--mip-all-s", type=float, default=0.0,
                    help="also run HiGHS with every assignment binary (contiguity still ignored) for this long")
    ap.add_argument("--fix-s", type=float, default=0.0,
                    help="with --plan: also the run's branch and bound over the centres on the cells reduced-cost "
                    "fixing leaves against the plan (optimiser.centre_bound), for at most this many seconds")
    ap.add_argument("--ladder", type=float, action="append", default=[],
                    help="seconds for the target ladder after the Lagrangian (repeatable: each from the same LR)")
    ap.add_argument("--ladder-only", action="store_true", help="only the Lagrangian and the ladder")
    ap.add_argument("--compare", action="store_true", help="only the Lagrangian, every knapsack vs lazy")
    ap.add_argument("--problem", type=Path, action="append", default=[], help="a pickled DistrictingProblem")
    ap.add_argument("--at", type=float, action="append", help="--compare: horizons in seconds (default 20, 60)")
    ap.add_argument("--limit", type=float, default=300.0, help="--compare: seconds for the converged run")
    args = ap.parse_args()
    scenarios = args.scenario or ([] if args.problem else [REPO / "scenarios" / "leicestershire.toml"])
    if args.compare:
        out(f"bound benchmark, old vs new, load {os.getloadavg()[0]:.1f}\n")
        for path in [*scenarios, *args.problem]:
            compare(load_problem(path), args.at or [20.0, 60.0], args.limit, name=path.name)
        return
    plans = args.plan or []
    one, five, _ = os.getloadavg()
    out(f"bound benchmark, 2 cores, load {one:.1f}/{five:.1f}\n")
    for i, path in enumerate(scenarios):
        p = build_instance(load_scenario(path)).problem
        out(f"\n{path.name}: {p.n_units} units, {p.n_zones} zones, capacity balance {'on' if p.branches else 'off'}\n")
        if args.ladder:
            ladders(p, args.ladder, plans[i] if i < len(plans) else None)
        if args.ladder_only:
            continue
        out("  bound                         value        iterations  seconds\n")
        found: dict[str, float] = {}
        for label, prob in (("without capacity", replace(p, branches=None)), ("with capacity", p)):
            if label == "with capacity" and p.branches is None:
                continue
            for secs in (args.short, args.long):
                res = problem_bound(prob, time_limit_s=secs, max_iter=10**6)
                found[f"{label} {secs:.0f}"] = res.value
                out(f"  Lagrangian {label:17s} {secs:4.0f} s  {res.value:14,.1f}  {res.iterations:8d}  "
                    f"{res.seconds:7.1f}\n")
        lp = None
        if not args.no_lp:
            lp, secs = lp_relaxation(p)
            out(f"  LP relaxation (HiGHS)           {lp:14,.1f}  {'':8s}  {secs:7.1f}\n")
        if args.mip_s > 0:
            mip, secs = lp_relaxation(p, centres_integral_s=args.mip_s)
            out(f"  HiGHS bound, binary centres     {mip:14,.1f}  {'':8s}  {secs:7.1f}\n")
            found["mip"] = mip
        if args.mip_all_s > 0:
            mip, secs = lp_relaxation(p, centres_integral_s=args.mip_all_s, all_integral=True)
            out(f"  HiGHS bound, all binary         {mip:14,.1f}  {'':8s}  {secs:7.1f}\n")
            found["mip_all"] = mip
        if i < len(plans) and args.fix_s > 0:  # what the run does when the plan stays > 2% above
            lag = problem_bound(p, time_limit_s=args.long, max_iter=10**6)
            fixing = fix_cells(p, lag, upper=plans[i])
            res = reduced_bound(p, lag, upper=plans[i], time_limit_s=args.fix_s, max_cells=10**7)
            found["fixed"] = res.value
            out(f"  B&B over centres, {fixing.cells:,} of {p.n_units ** 2:,} cells {res.value:14,.1f}  {'':8s}  "
                f"{res.seconds - lag.seconds:7.1f}\n")
        if i < len(plans):
            plan = plans[i]
            best = max(found.values())
            short = found.get(f"with capacity {args.short:.0f}", found[f"without capacity {args.short:.0f}"])
            out(f"  plan {plan:,.1f}: {100 * (plan / short - 1):.2f}% above the {args.short:.0f} s bound, "
                f"{100 * (plan / best - 1):.2f}% above the best bound\n")
            if lp is not None:
                out(f"  of the bracket to the best bound: plan vs LP {100 * (plan / lp - 1):.2f} points, "
                    f"LP vs bound {100 * (lp / best - 1):+.2f} points\n")


if __name__ == "__main__":
    main()
