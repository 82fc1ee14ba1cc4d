"""Issue 12 benchmark: how much of the bracket (plan ÷ certified bound) is the bound.

For each instance: the certified Lagrangian bound without and with the capacity balance
(``optimiser.bounds.problem_bound``) after ``--short`` seconds (the default ``certify_s``) and
after ``--long`` seconds (what a county run gets when the bound runs as long as the design),
and the LP relaxation of the same model (assignment, balance, K centres, capacity flow) solved
by HiGHS — the value the Lagrangian converges towards (it can exceed it: the choice of K
centres stays integral in the Lagrangian). With ``--plan OBJ`` (a plan's objective, e.g. from
``carezones run``'s summary.json) the bracket is split into plan-vs-LP and LP-vs-bound parts.

    .venv/bin/python bench/bench_bound.py [--scenario PATH ...] [--plan OBJ ...] [--no-lp]

Instances default to the shipped Leicestershire scenario. The LP has n² + n² rows; on 2 cores
it takes about 100 s at 396 units (use --no-lp beyond ~600 units).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.instance import build_instance  # noqa: E402
from optimiser.bounds import problem_bound  # noqa: E402
from optimiser.problem import DistrictingProblem  # noqa: E402
from zoning.scenario import load_scenario  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
out = sys.stdout.write


def lp_relaxation(p: DistrictingProblem, *, centres_integral_s: float = 0.0, all_integral: bool = False
                  ) -> tuple[float, float]:
    """(value, seconds) of the LP relaxation of the bounded model, with capacity flow if any.
    With ``centres_integral_s`` > 0 the centres (``x_jj``) are binary (every ``x`` with
    ``all_integral``) and HiGHS's MIP bound after that many seconds is returned: still a valid
    bound (contiguity is left out; without ``all_integral`` units may split between zones)."""
    import highspy

    t0 = time.perf_counter()
    n, k, d = p.n_units, p.n_zones, p.demand
    lo, hi = p.zone_bounds()
    low, up = float(lo.min()), float(hi.max())
    nx = n * n
    ii, jj = np.repeat(np.arange(n), n), np.tile(np.arange(n), n)
    x = ii * n + jj
    diag = np.arange(n) * (n + 1)
    rows, cols, vals, rlo, rhi = [ii], [x], [np.ones(nx)], [np.ones(n)], [np.ones(n)]  # every unit in one zone
    r = n
    off = ii != jj  # x_ij <= x_jj
    m = int(off.sum())
    rows += [r + np.arange(m), r + np.arange(m)]
    cols += [x[off], jj[off] * (n + 1)]
    vals += [np.ones(m), -np.ones(m)]
    rlo.append(np.full(m, -np.inf))
    rhi.append(np.zeros(m))
    r += m
    for bound, (bl, bh) in ((low, (0.0, np.inf)), (up, (-np.inf, 0.0))):  # L x_jj <= load_j <= U x_jj
        rows += [r + jj, r + np.arange(n)]
        cols += [x, diag]
        vals += [d[ii], -bound * np.ones(n)]
        rlo.append(np.full(n, bl))
        rhi.append(np.full(n, bh))
        r += n
    rows.append(np.full(n, r))
    cols.append(diag)
    vals.append(np.ones(n))
    rlo.append(np.array([k], float))
    rhi.append(np.array([k], float))
    r += 1
    nf = 0
    if p.branches is not None:
        br = p.branches
        bj = np.argwhere(br.in_reach())
        nf = len(bj)
        f = nx + np.arange(nf)
        rows.append(r + bj[:, 0])  # each branch's capacity counted once
        cols.append(f)
        vals.append(np.ones(nf))
        rlo.append(np.full(br.capacity.size, -np.inf))
        rhi.append(np.asarray(br.capacity, float))
        r += br.capacity.size
        rows += [r + bj[:, 1], r + jj]  # every zone covered at its margin
        cols += [f, x]
        vals += [np.ones(nf), -br.margin * d[ii]]
        rlo.append(np.zeros(n))
        rhi.append(np.full(n, np.inf))
        r += n
    a = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, nx + nf))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = nx + nf, r
    lp.col_cost_ = np.concatenate([(d[:, None] * p.cost).ravel(), np.zeros(nf)])
    lp.col_lower_ = np.zeros(nx + nf)
    lp.col_upper_ = np.concatenate([np.ones(nx), np.full(nf, np.inf)])
    lp.row_lower_, lp.row_upper_ = np.concatenate(rlo), np.concatenate(rhi)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    if centres_integral_s > 0:
        integrality = np.zeros(nx + nf, dtype=np.int32)
        integrality[diag] = 1
        if all_integral:
            integrality[:nx] = 1
        lp.integrality_ = [highspy.HighsVarType(int(v)) for v in integrality]
        h.setOptionValue("time_limit", centres_integral_s)
    h.passModel(lp)
    h.run()
    if centres_integral_s > 0:
        return float(h.getInfo().mip_dual_bound), time.perf_counter() - t0
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"LP relaxation: {h.modelStatusToString(h.getModelStatus())}")
    return float(h.getInfo().objective_function_value), time.perf_counter() - t0


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
    args = ap.parse_args()
    scenarios = args.scenario or [REPO / "scenarios" / "leicestershire.toml"]
    plans = args.plan or []
    one, five, _ = os.getloadavg()
    out(f"bound benchmark, 2 cores, load {one:.1f}/{five:.1f}\n")
    for i, path in enumerate(scenarios):
        p = build_instance(load_scenario(path)).problem
        out(f"\n{path.name}: {p.n_units} units, {p.n_zones} zones, capacity balance {'on' if p.branches else 'off'}\n")
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
