"""Provider capacity that can reach a zone, shared between zones, never counted twice.

The ``capacity_flow`` family (one entry in :mod:`optimiser.families`). Each branch's weekly
capacity flows to the zones whose centre it can reach; a zone is covered when the capacity
flowing to it is at least ``margin`` times its demand.

Formulation (rows added to the fixed-centre MILP of :mod:`optimiser.assignment`)
--------------------------------------------------------------------------------
Sets: branches ``b`` in ``B``; zones ``z`` with centre unit ``c_z`` (fixed in each round);
``R(z) = {b : t_{b c_z} <= reach_min}`` the branches within reach of the zone's centre.

Data: ``cap_b`` hours/week of branch ``b``; ``m`` the margin; ``d_i`` demand; ``t_{bj}`` travel
minutes from branch ``b`` to a centre at unit ``j`` (the scenario's travel model).

Variables: ``f_{bz} >= 0`` (continuous) for ``b in R(z)``: hours/week of branch ``b``'s
capacity allocated to zone ``z``.

  (6) ``flow_out_b``:    ``sum_{z : b in R(z)} f_{bz} <= cap_b``              shared, counted once
  (7) ``flow_cover_z``:  ``sum_{b in R(z)} f_{bz} - m sum_i d_i x_{iz} >= 0``  every zone covered

The objective is unchanged. Both rows are linear because the centres are fixed while the MILP
is solved; :mod:`optimiser.districting` re-centres between rounds, rebuilding ``R(z)``.
Reach is measured from the zone's **centre** (not from each of its units): the centre is
where the zone is anchored, the rule stays linear, and with a travel limit
(``reach``/``reach_limit``) the branch-to-client distance is bounded by the sum of the two.

The reported allocation (:func:`allocate`) re-solves (6)-(7) for the final plan as a linear
programme minimising ``sum f_{bz} t_{b c_z}`` (capacity nearest the centre first): the MILP's
own ``f`` is any feasible flow, this one is reproducible and reads naturally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pulp
from numpy.typing import NDArray
from scipy.optimize import linprog

from optimiser.checks import Check, allocations_within_capacity, zones_covered
from optimiser.problem import BranchCapacity, DistrictingProblem


@dataclass(frozen=True)
class Allocation:
    """Branch capacity allocated to the zones of one plan."""

    hours: NDArray[np.float64]  # (B, K) hours/week of branch b allocated to zone z
    need: NDArray[np.float64]  # (K,) margin x zone demand
    capacity: NDArray[np.float64]  # (B,)
    reachable: NDArray[np.bool_]  # (B, K) branch b reaches zone z's centre

    @property
    def allocated(self) -> NDArray[np.float64]:
        """(K,) capacity allocated to each zone."""
        return np.asarray(self.hours.sum(axis=0), dtype=np.float64)


def _branches(problem: DistrictingProblem) -> BranchCapacity:
    assert problem.branches is not None, "the capacity_flow family needs problem.branches"
    return problem.branches


def add_flow_rows(
    model: pulp.LpProblem, problem: DistrictingProblem, x: dict[tuple[int, int], pulp.LpVariable], centres: list[int]
) -> None:
    """Rows (6) and (7) of the module docstring for the given centres."""
    br = _branches(problem)
    reach = br.in_reach()[:, centres]  # (B, K)
    f = {
        (b, z): model.add_variable(f"flow_{b}_{z}", lowBound=0)
        for b, z in zip(*np.nonzero(reach), strict=True) if br.capacity[b] > 0
    }
    by_branch: dict[int, list[pulp.LpVariable]] = {}
    by_zone: dict[int, list[pulp.LpVariable]] = {z: [] for z in range(problem.n_zones)}
    for (b, z), var in f.items():
        by_branch.setdefault(int(b), []).append(var)
        by_zone[int(z)].append(var)
    needs: dict[int, list[tuple[pulp.LpVariable, float]]] = {z: [] for z in range(problem.n_zones)}
    for (i, z), var in x.items():  # one pass over x (per zone, it was a third of a small model's build)
        needs[z].append((var, -float(br.margin * problem.demand[i])))
    for b, vars_ in sorted(by_branch.items()):
        model += pulp.LpAffineExpression([(v, 1.0) for v in vars_]) <= float(br.capacity[b]), f"flow_out_{b}"
    for z in range(problem.n_zones):
        cover = pulp.LpAffineExpression([(v, 1.0) for v in by_zone[z]] + needs[z])
        model += cover >= 0, f"flow_cover_{z}"


def flow_start(model: pulp.LpProblem, problem: DistrictingProblem, labels: NDArray[np.int64], centres: list[int]) -> None:
    """Initial values of ``flow_b_z`` for a MIP start from ``labels``: its allocation when one
    covers every zone at these centres (else the start stays partial and the solver repairs it)."""
    alloc = allocate(problem, labels, centres)
    if alloc is None:
        return
    variables = model.variablesDict()
    for b, z in np.argwhere(alloc.hours > 0):
        var = variables.get(f"flow_{b}_{z}")
        if var is not None:
            var.setInitialValue(float(alloc.hours[b, z]))


def allocate(problem: DistrictingProblem, labels: NDArray[np.int64], centres: Sequence[int]) -> Allocation | None:
    """The allocation of the module docstring for a plan, or None when no flow covers every zone."""
    br = _branches(problem)
    k = problem.n_zones
    need = br.margin * np.bincount(np.asarray(labels), weights=problem.demand, minlength=k).astype(np.float64)
    reach = br.in_reach()[:, list(centres)] & (br.capacity[:, None] > 0)
    pairs = np.argwhere(reach)  # (p, 2): branch, zone
    empty = np.zeros((br.capacity.size, k))
    if pairs.size == 0:
        return Allocation(empty, need, br.capacity, reach) if not np.any(need > 0) else None
    n_var = len(pairs)
    cols = np.arange(n_var)
    a_ub = np.zeros((br.capacity.size + k, n_var))
    a_ub[pairs[:, 0], cols] = 1.0  # (6) sum_z f_bz <= cap_b
    a_ub[br.capacity.size + pairs[:, 1], cols] = -1.0  # (7) -sum_b f_bz <= -need_z
    b_ub = np.r_[br.capacity, -need]
    cost = br.minutes[pairs[:, 0], np.asarray(centres)[pairs[:, 1]]]
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if res.status != 0:
        return None
    hours = empty.copy()
    hours[pairs[:, 0], pairs[:, 1]] = np.maximum(res.x, 0.0)
    return Allocation(hours, need, br.capacity, reach)


def flow_checks(problem: DistrictingProblem, labels: NDArray[np.int64], centres: Sequence[int],
                zone_names: Sequence[str] = ()) -> list[Check]:
    """The family's named checks: an allocation exists, no branch gives more than its capacity,
    every zone is covered at its margin, and only from branches in reach of its centre."""
    alloc = allocate(problem, labels, centres)
    if alloc is None:
        br = _branches(problem)
        return [Check("zones_covered_at_margin", False,
                      f"no allocation of branch capacity within {br.reach_min:g} min of the zone centres covers "
                      f"every zone at {br.margin:g} x its demand")]
    outside = alloc.hours[~alloc.reachable]
    return [
        allocations_within_capacity(alloc.hours, alloc.capacity),
        zones_covered(alloc.hours, alloc.need, zone_names=zone_names),
        Check("allocations_within_reach", bool(np.all(outside <= 1e-9)),
              "every allocation from a branch within reach of the zone centre" if np.all(outside <= 1e-9)
              else f"{float(outside.sum()):,.1f} hours allocated from branches out of reach"),
    ]


def possible_centres(problem: DistrictingProblem) -> NDArray[np.bool_]:
    """(n,) units that may centre a zone under the family: capacity in reach of at least
    ``margin x`` the smallest zone minimum (a necessary condition, so no plan is excluded)."""
    br = _branches(problem)
    lower, _ = problem.zone_bounds()
    return np.asarray(br.capacity_in_reach() >= br.margin * max(float(lower.min()), 0.0) - 1e-9)


def max_cover(
    capacity: NDArray[np.float64], reach: NDArray[np.bool_], need: NDArray[np.float64]
) -> NDArray[np.float64]:
    """(B, K) a flow maximising the covered need: ``sum_z f_bz <= cap_b``, ``sum_b f_bz <= need_z``
    over the pairs in ``reach`` (branches x zones). Measures any plan, with the family or not."""
    b_n, k = reach.shape
    pairs = np.argwhere(reach)
    flow = np.zeros((b_n, k))
    if pairs.size == 0:
        return flow
    cols = np.arange(len(pairs))
    a_ub = np.zeros((b_n + k, len(pairs)))
    a_ub[pairs[:, 0], cols] = 1.0
    a_ub[b_n + pairs[:, 1], cols] = 1.0
    res = linprog(-np.ones(len(pairs)), A_ub=a_ub, b_ub=np.r_[capacity, need], bounds=(0, None), method="highs")
    if res.status == 0:
        flow[pairs[:, 0], pairs[:, 1]] = np.maximum(res.x, 0.0)
    return flow


def uncovered(branches: BranchCapacity, centres: Sequence[int], loads: NDArray[np.float64]) -> NDArray[np.float64]:
    """(K,) hours/week of each zone's ``margin x load`` that no allocation of the capacity of the
    branches reaching its centre covers (:func:`max_cover`)."""
    need = np.asarray(branches.margin * loads, dtype=np.float64)
    reach = branches.in_reach()[:, list(centres)] & (branches.capacity[:, None] > 0)
    return np.asarray(np.maximum(need - max_cover(branches.capacity, reach, need).sum(axis=0), 0.0),
                      dtype=np.float64)


def covering_centres(
    problem: DistrictingProblem, centres: Sequence[int], *, fixed: frozenset[int] = frozenset(), max_steps: int = 60
) -> tuple[int, ...]:
    """Move centres (of zones not in ``fixed``) until branch capacity in reach can cover a
    balanced zone at each, as far as a greedy step can: the zone with the largest uncovered
    need moves its centre to the unit with the most spare capacity in reach (among its
    ``2n / K`` nearest, else anywhere; nearest first among equals); a zone that cannot gain is
    left and the next is tried. A seeding heuristic for the MILP, which
    decides feasibility; centres that already cover are returned unchanged."""
    br = _branches(problem)
    n, k = problem.n_units, problem.n_zones
    lower, upper = problem.zone_bounds()
    need = br.margin * np.clip(problem.total_demand / k, lower, upper)
    reach = br.in_reach() & (br.capacity[:, None] > 0)
    ok = possible_centres(problem)
    if problem.centre_candidates is not None:
        ok = ok & np.asarray(problem.centre_candidates, dtype=bool)
    pinned = np.full(n, -1) if problem.pinned is None else np.asarray(problem.pinned)
    out = [int(c) for c in centres]
    span = max(8, 2 * n // k)
    stuck: set[int] = set()
    for _ in range(max_steps):
        flow = max_cover(br.capacity, reach[:, out], need)
        deficit = need - flow.sum(axis=0)
        free = [z for z in range(k) if z not in fixed and z not in stuck
                and deficit[z] > 1e-6 * max(float(need[z]), 1.0)]
        if not free:
            break
        z = max(free, key=lambda zz: (deficit[zz], -zz))
        spare = br.capacity - (flow.sum(axis=1) - flow[:, z])  # what the other zones leave
        order = np.argsort(problem.cost[out[z]], kind="stable")  # nearest first among equals
        moved = False
        for near in (order[:span], order):  # nearby first, then anywhere
            near = np.array([j for j in near if ok[j] and pinned[j] in (-1, z) and (j == out[z] or j not in out)],
                            dtype=np.int64)
            if near.size == 0:
                continue
            gets = np.minimum(spare @ reach[:, near], need[z])
            best = int(near[int(np.argmax(gets))])
            if gets.max() > flow[:, z].sum() + 1e-9 and best != out[z]:
                out[z], moved = best, True
                break
        if not moved:
            stuck.add(z)
    return tuple(out)
