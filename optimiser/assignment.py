"""Balanced, contiguous assignment of units to fixed zone centres (a MILP in PuLP).

Formulation
-----------
Sets: units ``i, k`` in ``U`` (n of them); zones ``z`` in ``Z`` (K of them), zone ``z`` centred
at unit ``c_z``; ``N(i)`` the rook neighbours of ``i``.

Data: ``d_i`` demand (hours/week); ``t_{ij}`` travel minutes from unit ``i`` to a centre at
unit ``j``; ``g_z(i)`` the shortest-path length from ``c_z`` to ``i`` through the adjacency
graph; ``L, U`` = ``(1 -/+ tau) * sum(d) / K``.

Variables: ``x_{iz}`` in {0, 1}, 1 when unit ``i`` belongs to zone ``z``.

Minimise  ``sum_{i,z} d_i * t_{i c_z} * x_{iz}``   (demand-weighted travel to the zone centre)

subject to
  (1) ``assign_i``:      ``sum_z x_{iz} = 1``                                  every unit once
  (2) ``centre_z``:      ``x_{c_z z} = 1``                                    the centre is in its zone
  (3) ``load_min_z``:    ``sum_i d_i x_{iz} >= L``                             balance (lower)
  (4) ``load_max_z``:    ``sum_i d_i x_{iz} <= U``                             balance (upper)
  (5) ``contig_i_z``:    ``x_{iz} <= sum_{k in N(i), g_z(k) < g_z(i)} x_{kz}``  for ``i != c_z``

(5) is the shortest-path contiguity condition (Zoltners & Sinha 1983; Mehrotra, Johnson &
Nemhauser 1998; Oehrlein & Haunert 2017): a unit joins a zone only together with a neighbour
that is strictly closer to the zone's centre, so every member reaches the centre through
members and each zone is connected. It is compact (one row per unit and zone) and tighter
than flow formulations, at the price of excluding contiguous zones that are not "star-shaped"
with respect to ``g``. Units with no closer neighbour cannot join ``z`` (``x_{iz}`` is not
created).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pulp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from optimiser.problem import DistrictingProblem
from optimiser.solve import SolverReport, run_solver


@dataclass(frozen=True)
class AssignmentOutcome:
    """One fixed-centre solve: the solver's verdict and, if it found one, the plan."""

    centres: tuple[int, ...]
    report: SolverReport
    labels: NDArray[np.int64] | None  # None when the solver found no plan


def shortest_path_lengths(problem: DistrictingProblem, centres: Sequence[int]) -> NDArray[np.float64]:
    """(K, n) shortest-path lengths from each centre through the adjacency graph."""
    graph = problem.adjacency_matrix().tocsr()
    return np.asarray(dijkstra(graph, directed=False, indices=list(centres)))


def build_assignment_model(
    problem: DistrictingProblem, centres: Sequence[int], *, name: str = "assignment"
) -> tuple[pulp.LpProblem, dict[tuple[int, int], pulp.LpVariable]]:
    """The MILP of the module docstring for the given centres (one per zone)."""
    if len(centres) != problem.n_zones or len(set(centres)) != problem.n_zones:
        raise ValueError(f"need {problem.n_zones} distinct centres, got {list(centres)}")
    n, k = problem.n_units, problem.n_zones
    g = shortest_path_lengths(problem, centres)
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in problem.edges:
        neighbours[int(a)].append(int(b))
        neighbours[int(b)].append(int(a))

    model = pulp.LpProblem(name, pulp.LpMinimize)
    x: dict[tuple[int, int], pulp.LpVariable] = {}
    closer: dict[tuple[int, int], list[int]] = {}
    for z, c in enumerate(centres):
        for i in range(n):
            if i == c:
                x[i, z] = model.add_variable(f"x_{problem.label(i)}_{z}", cat=pulp.LpBinary)
                continue
            if not np.isfinite(g[z, i]):
                continue
            preds = [j for j in neighbours[i] if g[z, j] < g[z, i]]
            if preds:
                closer[i, z] = preds
                x[i, z] = model.add_variable(f"x_{problem.label(i)}_{z}", cat=pulp.LpBinary)

    model += pulp.lpSum(
        float(problem.demand[i] * problem.cost[i, centres[z]]) * var for (i, z), var in x.items()
    )
    by_unit: list[list[pulp.LpVariable]] = [[] for _ in range(n)]
    by_zone: list[list[tuple[int, pulp.LpVariable]]] = [[] for _ in range(k)]
    for (i, z), var in x.items():
        by_unit[i].append(var)
        by_zone[z].append((i, var))
    for i in range(n):
        model += pulp.lpSum(by_unit[i]) == 1, f"assign_{problem.label(i)}"
    lower, upper = problem.load_bounds
    for z, c in enumerate(centres):
        model += x[c, z] == 1, f"centre_{z}"
        load = pulp.lpSum(float(problem.demand[i]) * var for i, var in by_zone[z])
        model += load >= lower, f"load_min_{z}"
        model += load <= upper, f"load_max_{z}"
    for (i, z), preds in closer.items():
        model += (
            x[i, z] <= pulp.lpSum(x[j, z] for j in preds if (j, z) in x),
            f"contig_{problem.label(i)}_{z}",
        )
    return model, x


def solve_assignment(
    problem: DistrictingProblem,
    centres: Sequence[int],
    *,
    solver: str,
    time_limit_s: float,
    seed: int = 0,
    threads: int = 1,
    mip_rel_gap: float = 1e-4,
    start_labels: NDArray[np.int64] | None = None,
) -> AssignmentOutcome:
    """Solve the fixed-centre model; ``start_labels`` (if given) is offered as a MIP start."""
    model, x = build_assignment_model(problem, centres)
    use_start = start_labels is not None
    if start_labels is not None:
        for (i, z), var in x.items():
            var.setInitialValue(1.0 if int(start_labels[i]) == z else 0.0)
    report = run_solver(
        model,
        solver=solver,
        time_limit_s=time_limit_s,
        threads=threads,
        seed=seed,
        mip_rel_gap=mip_rel_gap,
        use_start=use_start,
    )
    labels = None
    if report.status.has_solution:
        values = np.zeros((problem.n_units, problem.n_zones))
        for (i, z), var in x.items():
            values[i, z] = var.varValue or 0.0
        labels = values.argmax(axis=1).astype(np.int64)  # argmax: robust to 1e-10 noise
    return AssignmentOutcome(centres=tuple(int(c) for c in centres), report=report, labels=labels)
