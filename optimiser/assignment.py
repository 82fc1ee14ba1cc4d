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

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pulp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from optimiser.families import present_families, relaxed
from optimiser.problem import DistrictingProblem
from optimiser.solve import SolverReport, run_solver


@dataclass(frozen=True)
class AssignmentOutcome:
    """One fixed-centre solve: the solver's verdict and, if it found one, the plan."""

    centres: tuple[int, ...]
    report: SolverReport
    labels: NDArray[np.int64] | None  # None when the solver found no plan


def shortest_path_lengths(
    problem: DistrictingProblem, centres: Sequence[int], allowed: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """(K, n) shortest-path lengths from each centre through the adjacency graph, walking only
    through units allowed in that centre's zone (when ``allowed`` is given)."""
    if allowed is None or allowed.all():
        graph = problem.adjacency_matrix().tocsr()
        return np.asarray(dijkstra(graph, directed=False, indices=list(centres)))
    out = np.full((len(centres), problem.n_units), np.inf)
    for z, c in enumerate(centres):
        out[z] = dijkstra(problem.adjacency_within(allowed[:, z]), directed=False, indices=int(c))
    return out


def star_zones(problem: DistrictingProblem, centres: Sequence[int], labels: NDArray[np.int64],
               order: NDArray[np.float64], neighbours: list[list[int]] | None = None) -> NDArray[np.bool_]:
    """(K,) whether each zone of the plan ``labels`` meets (5) under ``order`` (one row per zone,
    ``g`` in the module docstring): every member other than the centre has a member neighbour
    strictly lower in ``order``."""
    neighbours = problem.neighbours() if neighbours is None else neighbours
    labels = np.asarray(labels, dtype=np.int64)
    out = np.zeros(len(centres), dtype=bool)
    for z, c in enumerate(centres):
        members = np.flatnonzero(labels == z)
        out[z] = bool(labels[int(c)] == z) and all(
            i == int(c) or (np.isfinite(order[z, i]) and any(
                labels[j] == z and order[z, j] < order[z, i] for j in neighbours[i])) for i in members)
    return out


def start_order(problem: DistrictingProblem, centres: Sequence[int], labels: NDArray[np.int64],
                g: NDArray[np.float64], allowed: NDArray[np.bool_]) -> NDArray[np.float64]:
    """The order (5) uses so that a MIP start ``labels`` meets it: ``g`` itself, except in the
    zones the start does not make star-shaped under ``g``, where the start's members are ordered
    by their distance to the centre through the start's zone instead (other units keep ``g``).

    (5) keeps every zone connected under any order in which the centre is lowest, since each
    member then has a strictly lower member neighbour, down to the centre. A contiguous plan need
    not be star-shaped under ``g``: the constructive starts and the local search make contiguous
    plans, and HiGHS rejects a start that breaks a single row (measured on Kent at 25 zones: 8
    rows of 23,711, so round 1 ran its 20 s cap from nothing and found no plan). Under this order
    the start is feasible, so each round begins from it; the model is unchanged where the start
    was star-shaped already."""
    neighbours = problem.neighbours()
    ok = star_zones(problem, centres, labels, g, neighbours)
    if ok.all():
        return g
    order = g.copy()
    labels = np.asarray(labels, dtype=np.int64)
    for z in np.flatnonzero(~ok):
        c = int(centres[int(z)])
        members = (labels == z) & allowed[:, z]
        members[c] = True
        inside = dijkstra(problem.adjacency_within(members), directed=False, indices=c)
        order[z, members] = inside[members]
    return order


def _variables(
    model: pulp.LpProblem,
    problem: DistrictingProblem,
    centres: list[int],
    allowed: NDArray[np.bool_],
    g: NDArray[np.float64] | None,
) -> tuple[dict[tuple[int, int], pulp.LpVariable], dict[tuple[int, int], list[int]]]:
    """x_{iz} for every unit that may join zone z, and its closer neighbours (contiguity)."""
    n = problem.n_units
    neighbours = problem.neighbours()
    x: dict[tuple[int, int], pulp.LpVariable] = {}
    closer: dict[tuple[int, int], list[int]] = {}
    for z, c in enumerate(centres):
        for i in range(n):
            if i != c and not allowed[i, z]:
                continue
            if i != c and g is not None:
                if not np.isfinite(g[z, i]):
                    continue
                preds = [j for j in neighbours[i] if g[z, j] < g[z, i]]
                if not preds:
                    continue
                closer[i, z] = preds
            x[i, z] = model.add_variable(f"x_{problem.label(i)}_{z}", cat=pulp.LpBinary)

    return x, closer


def _linear(terms: Iterable[tuple[pulp.LpVariable, float]]) -> pulp.LpAffineExpression:
    """``sum(coef * var)`` built in one step (each variable at most once): ``pulp.lpSum`` over
    products builds an expression per term, a third of a small solve's time on Kent's pairs."""
    return pulp.LpAffineExpression(list(terms))


def build_assignment_model(
    problem: DistrictingProblem,
    centres: Sequence[int],
    *,
    name: str = "assignment",
    relax: frozenset[str] = frozenset(),
    start_labels: NDArray[np.int64] | None = None,
) -> tuple[pulp.LpProblem, dict[tuple[int, int], pulp.LpVariable]]:
    """The MILP of the module docstring for the given centres (one per zone).

    ``relax`` names constraint families (see :data:`optimiser.families.FAMILIES`) to leave out;
    it is used only to diagnose infeasible problems. Families that write their own rows
    (``Family.rows``) add them after the rows of the module docstring. With ``start_labels``
    (a MIP start), (5) uses :func:`start_order`, under which the start meets it.
    """
    if len(centres) != problem.n_zones or len(set(centres)) != problem.n_zones:
        raise ValueError(f"need {problem.n_zones} distinct centres, got {list(centres)}")
    problem = relaxed(problem, relax)
    n, k = problem.n_units, problem.n_zones
    centres = [int(c) for c in centres]
    allowed = problem.allowed(centres)
    contiguity = "contiguity" not in relax
    g = shortest_path_lengths(problem, centres, allowed) if contiguity else None
    if g is not None and start_labels is not None:
        g = start_order(problem, centres, start_labels, g, allowed)

    model = pulp.LpProblem(name, pulp.LpMinimize)
    x, closer = _variables(model, problem, centres, allowed, g)

    # objective: travel, plus the continuity charge on demand that changes zone
    penalty = problem.moved_penalty if problem.stay is not None else 0.0
    coef: dict[tuple[int, int], float] = {
        (i, z): float(problem.demand[i] * problem.cost[i, centres[z]]) for (i, z) in x
    }
    if penalty:
        assert problem.stay is not None
        for (i, z) in x:
            coef[i, z] += penalty * float(problem.stay[i].sum() - problem.stay[i, z])
    model += _linear((x[key], c) for key, c in coef.items())

    by_unit: list[list[pulp.LpVariable]] = [[] for _ in range(n)]
    by_zone: list[list[tuple[int, pulp.LpVariable]]] = [[] for _ in range(k)]
    for (i, z), var in x.items():
        by_unit[i].append(var)
        by_zone[z].append((i, var))
    for i in range(n):
        model += _linear((var, 1.0) for var in by_unit[i]) == 1, f"assign_{problem.label(i)}"
    lower, upper = problem.zone_bounds()
    cap = problem.centre_capacity
    for z, c in enumerate(centres):
        model += x[c, z] == 1, f"centre_{z}"
        load = _linear((var, float(problem.demand[i])) for i, var in by_zone[z])
        if "balance" not in relax:
            model += load >= float(lower[z]), f"load_min_{z}"
            model += load <= float(upper[z]), f"load_max_{z}"
        if cap is not None:
            model += load <= float(cap[c]), f"centre_capacity_{z}"
    _side_constraints(model, problem, x, by_zone)
    for (i, z), preds in closer.items():
        terms = [(x[i, z], 1.0)] + [(x[j, z], -1.0) for j in preds if (j, z) in x]
        model += _linear(terms) <= 0, f"contig_{problem.label(i)}_{z}"
    for family in present_families(problem):
        if family.rows is not None:
            family.rows(model, problem, x, centres)
    return model, x


def _side_constraints(
    model: pulp.LpProblem,
    problem: DistrictingProblem,
    x: dict[tuple[int, int], pulp.LpVariable],
    by_zone: list[list[tuple[int, pulp.LpVariable]]],
) -> None:
    """Cohort/capacity rows, kept-whole groups and the continuity cap."""
    k = problem.n_zones
    for row in problem.rows:
        for z in range(k):
            total = _linear((var, float(row.amount[i])) for i, var in by_zone[z] if row.amount[i] != 0)
            if np.isfinite(row.lower[z]):
                model += total >= float(row.lower[z]), f"{row.name}_min_{z}"
            if np.isfinite(row.upper[z]):
                model += total <= float(row.upper[z]), f"{row.name}_max_{z}"
    for gi, group in enumerate(problem.together):
        members = [int(u) for u in group]
        for z in range(k):
            head = x.get((members[0], z))
            for j, u in enumerate(members[1:], start=1):
                var = x.get((u, z))
                if head is None and var is None:
                    continue
                lhs = head if head is not None else 0
                rhs = var if var is not None else 0
                model += lhs - rhs == 0, f"together_{gi}_{j}_{z}"
    if problem.stay is not None and problem.max_moved is not None:
        kept = pulp.lpSum(float(problem.stay[i, z]) * var for (i, z), var in x.items() if problem.stay[i, z] > 0)
        model += kept >= float(problem.stay.sum() - problem.max_moved), "continuity_max_moved"


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
    relax: frozenset[str] = frozenset(),
    limit_includes_build: bool = False,
    keep_start: bool = True,
) -> AssignmentOutcome:
    """Solve the fixed-centre model; ``start_labels`` (if given) is offered as a MIP start, and
    with ``keep_start`` (5) is ordered so that the start meets it (:func:`start_order`)."""
    built = time.perf_counter()
    model, x = build_assignment_model(problem, centres, relax=relax,
                                      start_labels=start_labels if keep_start else None)
    if limit_includes_build:  # the caller's limit covers building the model too
        time_limit_s = max(time_limit_s - (time.perf_counter() - built), 0.5)
    use_start = start_labels is not None
    if start_labels is not None:
        for (i, z), var in x.items():
            var.setInitialValue(1.0 if int(start_labels[i]) == z else 0.0)
        for family in present_families(relaxed(problem, relax)):
            if family.start is not None:  # the family's own variables, so the start is complete
                family.start(model, problem, start_labels, [int(c) for c in centres])
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
