"""The whole problem solved exactly on small instances: free centres, exact (flow) contiguity.

Formulation (zones interchangeable: no locks, no per-zone targets or rows, no continuity)
----------------------------------------------------------------------------------------
Variables: ``w_ij`` in {0,1}, unit ``i`` in the zone centred at unit ``j`` (``w_jj = y_j``: ``j``
is a centre); ``f^j_uv >= 0`` flow from centre ``j`` on arc ``(u, v)`` of the adjacency graph.

Minimise ``sum_ij d_i c_ij w_ij``  (demand-weighted travel to the zone centre: the design's objective)

  (1) ``assign_i``:       ``sum_j w_ij = 1``
  (2) ``open_i_j``:       ``w_ij <= w_jj``
  (3) ``zones``:          ``sum_j w_jj = K``
  (4) ``load_min_j``, ``load_max_j``: ``L w_jj <= sum_i d_i w_ij <= U w_jj``
  (5) ``arc_u_v_j``:      ``f^j_uv <= (n - 1) w_uj``,  ``f^j_uv <= (n - 1) w_vj``
  (6) ``flow_i_j``:       ``sum_u f^j_ui - sum_v f^j_iv >= w_ij``  for ``i != j``
  (7) travel limit / candidate centres / capacity in reach: ``w_ij = 0`` beyond the limit
      (exempt units aside), ``w_jj = 0`` off the candidates, ``sum_i d_i w_ij <= cap_j w_jj``.

(5)-(6) make every member of a zone receive one unit of flow from its centre through members:
each zone is connected, and every connected zone is allowed (no star-shape restriction), so
the solver's optimum is the optimum over every balanced contiguous plan with any centres, and
its bound is a bound for all of them. The model has ``n^2 (1 + 2 e / n)`` variables, so it is
used only for small problems (:data:`MAX_UNITS`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pulp
from numpy.typing import NDArray

from optimiser.problem import DistrictingProblem
from optimiser.solve import SolverReport, run_solver

log = logging.getLogger(__name__)

#: problems up to this many units are solved by the exact model when the design allows it
MAX_UNITS = 24


@dataclass(frozen=True)
class ExactOutcome:
    report: SolverReport
    labels: NDArray[np.int64] | None
    centres: tuple[int, ...] | None


def exact_applicable(problem: DistrictingProblem) -> bool:
    """Small enough, and zones interchangeable (the model indexes zones by their centre)."""
    lo, hi = problem.zone_bounds()
    return (
        problem.n_units <= MAX_UNITS and problem.pinned is None and not problem.rows and not problem.together
        and problem.stay is None and problem.branches is None and bool(np.ptp(lo) == 0 and np.ptp(hi) == 0)
    )


def solve_exact(
    problem: DistrictingProblem, *, solver: str, time_limit_s: float, start: tuple[NDArray[np.int64], tuple[int, ...]]
    | None = None, mip_rel_gap: float = 1e-6,
) -> ExactOutcome:
    """Solve the model of the module docstring (``start``: labels and centres as a MIP start)."""
    n, k = problem.n_units, problem.n_zones
    lo, hi = problem.zone_bounds()
    model = pulp.LpProblem("exact", pulp.LpMinimize)
    ok = np.ones((n, n), dtype=bool)
    if problem.reach is not None and problem.reach_limit is not None:
        ok &= np.asarray(problem.reach) <= problem.reach_limit + 1e-9
        if problem.reach_exempt is not None:
            ok[np.asarray(problem.reach_exempt, bool)] = True
    np.fill_diagonal(ok, True)
    cand = np.ones(n, bool) if problem.centre_candidates is None else np.asarray(problem.centre_candidates, bool)
    w = {(i, j): model.add_variable(f"w_{i}_{j}", cat=pulp.LpBinary)
         for j in np.flatnonzero(cand).tolist() for i in range(n) if ok[i, j]}
    model += pulp.lpSum(float(problem.demand[i] * problem.cost[i, j]) * v for (i, j), v in w.items())
    by_unit: list[list[pulp.LpVariable]] = [[] for _ in range(n)]
    by_centre: dict[int, list[tuple[int, pulp.LpVariable]]] = {}
    for (i, j), v in w.items():
        by_unit[i].append(v)
        by_centre.setdefault(j, []).append((i, v))
    for i in range(n):
        model += pulp.lpSum(by_unit[i]) == 1, f"assign_{i}"
    model += pulp.lpSum(w[j, j] for j in by_centre) == k, "zones"
    arcs = [(int(a), int(b)) for a, b in problem.edges] + [(int(b), int(a)) for a, b in problem.edges]
    cap = None if problem.centre_capacity is None else np.asarray(problem.centre_capacity, float)
    for j, members in by_centre.items():
        y = w[j, j]
        load = pulp.lpSum(float(problem.demand[i]) * v for i, v in members)
        model += load >= float(lo[0]) * y, f"load_min_{j}"
        model += load <= float(hi[0] if cap is None else min(hi[0], cap[j])) * y, f"load_max_{j}"
        inflow: list[list[pulp.LpVariable]] = [[] for _ in range(n)]
        outflow: list[list[pulp.LpVariable]] = [[] for _ in range(n)]
        for u, v in arcs:
            if (u, j) not in w or (v, j) not in w:
                continue
            f = model.add_variable(f"f_{u}_{v}_{j}", lowBound=0)
            model += f <= (n - 1) * w[u, j], f"arc_out_{u}_{v}_{j}"
            model += f <= (n - 1) * w[v, j], f"arc_in_{u}_{v}_{j}"
            outflow[u].append(f)
            inflow[v].append(f)
        for i, v in members:
            if i != j:
                model += v <= y, f"open_{i}_{j}"
                model += pulp.lpSum(inflow[i]) - pulp.lpSum(outflow[i]) >= v, f"flow_{i}_{j}"
    if start is not None:
        labels, centres = start
        for (i, j), v in w.items():
            v.setInitialValue(1.0 if centres[int(labels[i])] == j else 0.0)
    report = run_solver(model, solver=solver, time_limit_s=time_limit_s, threads=1, seed=0, mip_rel_gap=mip_rel_gap,
                        use_start=start is not None)
    if not report.status.has_solution:
        return ExactOutcome(report, None, None)
    chosen = sorted(j for j in by_centre if (w[j, j].varValue or 0) > 0.5)
    zone_of = {j: z for z, j in enumerate(chosen)}
    out = np.full(n, -1, dtype=np.int64)
    for (i, j), v in w.items():
        if (v.varValue or 0) > 0.5:
            out[i] = zone_of[j]
    log.info("exact free-centre model: %s, objective %s", report.status.value, report.objective)
    return ExactOutcome(report, out, tuple(chosen))
