"""Whether *any* plan exists: a free-centre feasibility MILP with exact (flow) contiguity.

The design solves fixed-centre models; a fixed-centre model that is infeasible proves nothing
about the problem (other centres may work, and its shortest-path contiguity admits only
zones "star-shaped" around their centre). This model decides the question for the whole
problem, so "no plan is possible" is said only when a solver proves it.

Formulation (the root of each zone is its centre, so the constraints tied to centres are exact)
-----------------------------------------------------------------------------------------------
Variables: ``x_iz`` in {0,1} unit ``i`` in zone ``z``; ``r_iz`` in {0,1} unit ``i`` is the root
of zone ``z``; ``f_ijz >= 0`` flow on arc ``(i, j)`` of the adjacency graph inside zone ``z``.
Objective: none (0): any feasible plan will do.

  (1) ``assign_i``:   ``sum_z x_iz = 1``
  (2) ``root_z``:     ``sum_i r_iz = 1``,  ``r_iz <= x_iz``
  (3) ``load_min_z``, ``load_max_z``: ``lower_z <= sum_i d_i x_iz <= upper_z`` (and every row)
  (4) ``arc_ij_z``:   ``f_ijz <= (n - 1) x_iz``,  ``f_ijz <= (n - 1) x_jz``
  (5) ``flow_i_z``:   ``sum_j f_jiz - sum_j f_ijz >= x_iz - n r_iz``
  (6) locks ``x_{i, pin(i)} = 1``; kept-whole groups share a zone.
  (7) travel limit ``x_iz <= sum_{j: reach_ij <= limit} r_jz`` (exempt units aside); candidate
      centres ``r_jz = 0`` off the candidates; capacity in reach ``sum_i d_i x_iz <= sum_j cap_j r_jz``;
      continuity ``sum_{i,z} stay_iz x_iz >= sum(stay) - max_moved``.
  (8) capacity balance (:mod:`optimiser.capacity_flow`), with ``f_bz >= 0`` the capacity of branch
      ``b`` given to zone ``z``: ``flow_reach_b_z``: ``f_bz <= cap_b sum_{j : b reaches j} r_jz`` (only
      to a zone whose centre it reaches), ``flow_out_b``: ``sum_z f_bz <= cap_b``, ``flow_cover_z``:
      ``sum_b f_bz >= margin sum_i d_i x_iz``.

(4)-(5) are the single-commodity flow contiguity of Shirabe (2009): every non-root member
absorbs one unit of flow that can only travel through members, from the root. Exact for
contiguity, but weak: used only to settle feasibility, never to optimise.
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

#: Families of :mod:`optimiser.families` whose rows :func:`feasibility_model` writes (and can leave out
#: when explaining an infeasibility); the others (centre candidates) are always kept.
FEASIBILITY_FAMILIES = ("balance", "rows", "pins", "together", "contiguity", "travel_limit", "centre_capacity",
                        "capacity_flow", "continuity")


@dataclass(frozen=True)
class FeasibilityOutcome:
    report: SolverReport
    labels: NDArray[np.int64] | None  # a plan, when the solver found one
    centres: tuple[int, ...] | None = None  # its zones' roots (centres that keep every constraint)


def feasibility_model(
    problem: DistrictingProblem, *, relax: frozenset[str] = frozenset()
) -> tuple[pulp.LpProblem, dict[tuple[int, int], pulp.LpVariable], dict[tuple[int, int], pulp.LpVariable]]:
    """The model of the module docstring (``relax`` leaves families out): model, x, r."""
    n, k = problem.n_units, problem.n_zones
    model = pulp.LpProblem("feasibility", pulp.LpMinimize)
    x = {(i, z): model.add_variable(f"x_{i}_{z}", cat=pulp.LpBinary) for i in range(n) for z in range(k)}
    model += pulp.lpSum([])  # feasibility: no objective
    for i in range(n):
        model += pulp.lpSum(x[i, z] for z in range(k)) == 1, f"assign_{i}"
    lower, upper = problem.zone_bounds()
    for z in range(k):
        load = pulp.lpSum(float(problem.demand[i]) * x[i, z] for i in range(n))
        if "balance" not in relax:
            model += load >= float(lower[z]), f"load_min_{z}"
            model += load <= float(upper[z]), f"load_max_{z}"
        if "rows" not in relax:
            for row in problem.rows:
                total = pulp.lpSum(float(row.amount[i]) * x[i, z] for i in range(n) if row.amount[i] != 0)
                if np.isfinite(row.lower[z]):
                    model += total >= float(row.lower[z]), f"{row.name}_min_{z}"
                if np.isfinite(row.upper[z]):
                    model += total <= float(row.upper[z]), f"{row.name}_max_{z}"
    _locks(model, problem, x, relax)
    r = {(i, z): model.add_variable(f"r_{i}_{z}", cat=pulp.LpBinary) for i in range(n) for z in range(k)}
    for z in range(k):
        model += pulp.lpSum(r[i, z] for i in range(n)) == 1, f"root_{z}"
        for i in range(n):
            model += r[i, z] <= x[i, z], f"root_member_{i}_{z}"
    if "contiguity" not in relax:
        _flow_contiguity(model, problem, x, r)
    _centre_families(model, problem, x, r, relax)
    return model, x, r


def _centre_families(model: pulp.LpProblem, problem: DistrictingProblem, x: dict[tuple[int, int], pulp.LpVariable],
                     r: dict[tuple[int, int], pulp.LpVariable], relax: frozenset[str]) -> None:
    """(7): the constraints tied to a zone's centre (its root) and the continuity cap."""
    n, k = problem.n_units, problem.n_zones
    if problem.reach is not None and problem.reach_limit is not None and "travel_limit" not in relax:
        exempt = np.zeros(n, bool) if problem.reach_exempt is None else np.asarray(problem.reach_exempt, bool)
        near = np.asarray(problem.reach) <= problem.reach_limit + 1e-9
        for i in np.flatnonzero(~exempt).tolist():
            js = np.flatnonzero(near[i]).tolist()
            for z in range(k):
                model += x[i, z] <= pulp.lpSum(r[j, z] for j in js), f"reach_{i}_{z}"
    if problem.centre_candidates is not None:
        for j in np.flatnonzero(~np.asarray(problem.centre_candidates, bool)).tolist():
            for z in range(k):
                model += r[j, z] == 0, f"not_candidate_{j}_{z}"
    if problem.centre_capacity is not None and "centre_capacity" not in relax:
        cap = np.asarray(problem.centre_capacity, float)
        for z in range(k):
            model += (pulp.lpSum(float(problem.demand[i]) * x[i, z] for i in range(n))
                      <= pulp.lpSum(float(cap[j]) * r[j, z] for j in range(n))), f"centre_capacity_{z}"
    if problem.branches is not None and "capacity_flow" not in relax:
        _capacity_flow(model, problem, x, r)
    if problem.stay is not None and problem.max_moved is not None and "continuity" not in relax:
        kept = pulp.lpSum(float(problem.stay[i, z]) * x[i, z] for i in range(n) for z in range(k)
                          if problem.stay[i, z] > 0)
        model += kept >= float(problem.stay.sum() - problem.max_moved), "continuity_max_moved"


def _capacity_flow(model: pulp.LpProblem, problem: DistrictingProblem, x: dict[tuple[int, int], pulp.LpVariable],
                   r: dict[tuple[int, int], pulp.LpVariable]) -> None:
    """(8): each branch's capacity, counted once, flows to zones whose centre (root) it reaches."""
    br = problem.branches
    assert br is not None
    n, k = problem.n_units, problem.n_zones
    reach = br.in_reach()
    given: list[list[pulp.LpVariable]] = [[] for _ in range(k)]
    for b in np.flatnonzero(np.asarray(br.capacity) > 0).tolist():
        cap = float(br.capacity[b])
        js = np.flatnonzero(reach[b]).tolist()
        if not js:
            continue
        out = []
        for z in range(k):
            f = model.add_variable(f"flow_{b}_{z}", lowBound=0)
            model += f <= cap * pulp.lpSum(r[j, z] for j in js), f"flow_reach_{b}_{z}"
            out.append(f)
            given[z].append(f)
        model += pulp.lpSum(out) <= cap, f"flow_out_{b}"
    for z in range(k):
        need = pulp.lpSum(float(br.margin * problem.demand[i]) * x[i, z] for i in range(n) if problem.demand[i] > 0)
        model += pulp.lpSum(given[z]) >= need, f"flow_cover_{z}"


def _locks(model: pulp.LpProblem, problem: DistrictingProblem, x: dict[tuple[int, int], pulp.LpVariable],
           relax: frozenset[str]) -> None:
    """(6): locked units and kept-whole groups."""
    if problem.pinned is not None and "pins" not in relax:
        for i, z in enumerate(np.asarray(problem.pinned).tolist()):
            if z >= 0:
                model += x[i, z] == 1, f"pin_{i}"
    if "together" not in relax:
        for gi, group in enumerate(problem.together):
            head = int(group[0])
            for u in [int(v) for v in group[1:]]:
                for z in range(problem.n_zones):
                    model += x[head, z] - x[u, z] == 0, f"together_{gi}_{u}_{z}"


def _flow_contiguity(model: pulp.LpProblem, problem: DistrictingProblem, x: dict[tuple[int, int], pulp.LpVariable],
                     r: dict[tuple[int, int], pulp.LpVariable]) -> None:
    n, k = problem.n_units, problem.n_zones
    arcs = [(int(a), int(b)) for a, b in problem.edges] + [(int(b), int(a)) for a, b in problem.edges]
    for z in range(k):
        inflow: list[list[pulp.LpVariable]] = [[] for _ in range(n)]
        outflow: list[list[pulp.LpVariable]] = [[] for _ in range(n)]
        for i, j in arcs:
            f = model.add_variable(f"f_{i}_{j}_{z}", lowBound=0)
            model += f <= (n - 1) * x[i, z], f"arc_out_{i}_{j}_{z}"
            model += f <= (n - 1) * x[j, z], f"arc_in_{i}_{j}_{z}"
            outflow[i].append(f)
            inflow[j].append(f)
        for i in range(n):
            model += pulp.lpSum(inflow[i]) - pulp.lpSum(outflow[i]) >= x[i, z] - n * r[i, z], f"flow_{i}_{z}"


def find_any_plan(
    problem: DistrictingProblem, *, solver: str, time_limit_s: float, relax: frozenset[str] = frozenset()
) -> FeasibilityOutcome:
    """Solve the feasibility model: a plan, a proof that none exists (status infeasible), or neither."""
    model, x, r = feasibility_model(problem, relax=relax)
    report = run_solver(model, solver=solver, time_limit_s=time_limit_s, threads=1, seed=0, mip_rel_gap=1.0)
    labels, centres = None, None
    if report.status.has_solution:
        values = np.zeros((problem.n_units, problem.n_zones))
        roots = np.zeros((problem.n_units, problem.n_zones))
        for (i, z), var in x.items():
            values[i, z] = var.varValue or 0.0
            roots[i, z] = r[i, z].varValue or 0.0
        labels = values.argmax(axis=1).astype(np.int64)
        centres = tuple(int(c) for c in roots.argmax(axis=0))
    log.info("feasibility model (%s relaxed): %s", ", ".join(sorted(relax)) or "nothing", report.status.value)
    return FeasibilityOutcome(report=report, labels=labels, centres=centres)


def explain_with_feasibility(problem: DistrictingProblem, *, solver: str, time_limit_s: float) -> list[str]:
    """Families whose removal alone makes the whole problem feasible (each proved by a solve);
    the families and their hints come from the registry (:mod:`optimiser.families`)."""
    from optimiser.families import present_families

    present = [f for f in present_families(problem) if f.name in FEASIBILITY_FAMILIES and f.may_bind(problem)]
    per = max(1.0, time_limit_s / max(len(present), 1))
    found = [
        f"leaving out the {family.name.replace('_', ' ')} constraints gives a plan: {family.hint}"
        for family in present
        if find_any_plan(problem, solver=solver, time_limit_s=per, relax=frozenset({family.name})).labels is not None
    ]
    names = [f.name for f in present]
    return found or [
        "no single family of constraints is to blame on its own (" + ", ".join(names)
        + "): loosen several, starting with the balance tolerance"
    ]
