"""The numeric core on hand-made cases whose optimum is known."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pulp
import pytest

from optimiser.assignment import solve_assignment
from optimiser.checks import all_assigned, is_contiguous, within_bounds, zone_loads
from optimiser.districting import best_centres, design_zones, plan_objective
from optimiser.errors import InfeasibleProblemError
from optimiser.problem import DistrictingProblem
from optimiser.solve import SolverReport, SolveStatus, run_solver
from tests.conftest import grid_problem


def test_path_of_four_splits_in_the_middle(path4: DistrictingProblem) -> None:
    res = design_zones(path4, solver="highs", time_limit_s=20)
    assert res.status is SolveStatus.OPTIMAL
    assert set(map(tuple, [np.flatnonzero(res.labels == z) for z in range(2)])) == {(0, 1), (2, 3)}
    assert res.objective == pytest.approx(2.0)  # each zone: one unit at its centre, one 1 km away
    assert res.report.best_bound == pytest.approx(2.0, abs=1e-6)
    assert res.report.gap == pytest.approx(0.0, abs=1e-6)


def test_contiguity_beats_a_cheaper_disconnected_plan() -> None:
    # Units 0-1-2-3 in a row; a fast road makes 0 and 3 nearly free to each other.
    # Without contiguity {0,3} + {1,2} costs 1.1; the best contiguous plan costs 2.
    cost = np.abs(np.subtract.outer(np.arange(4), np.arange(4))).astype(float)
    cost[0, 3] = cost[3, 0] = 0.1
    problem = DistrictingProblem(
        demand=np.ones(4), cost=cost, edges=np.array([(0, 1), (1, 2), (2, 3)]),
        n_zones=2, tolerance=0.0, edge_length=np.ones(3),
    )
    assert plan_objective(problem, np.array([0, 1, 1, 0]), (0, 1)) == pytest.approx(1.1)
    res = design_zones(problem, solver="highs", time_limit_s=20)
    assert is_contiguous(res.labels, problem.edges).passed
    assert res.objective == pytest.approx(2.0)


def test_balance_is_enforced_against_the_nearest_centre_plan() -> None:
    # 1x6 path with uneven demand: the only balanced contiguous split is {0,1,2} + {3,4,5}.
    demand = np.array([4.0, 2.0, 1.0, 1.0, 3.0, 3.0])
    problem = grid_problem(1, 6, n_zones=2, tolerance=0.0, demand=demand)
    res = design_zones(problem, solver="highs", time_limit_s=20)
    loads = zone_loads(res.labels, problem.demand, 2)
    assert sorted(loads.tolist()) == [7.0, 7.0]
    assert res.labels[0] == res.labels[1] == res.labels[2] != res.labels[3]
    lower, upper = problem.load_bounds
    assert within_bounds(loads, lower=lower, upper=upper).passed
    # the medoids, by hand (cost = distance): {0,1,2} with demand 4,2,1 costs 4 from unit 0,
    # 5 from 1, 10 from 2; {3,4,5} with demand 1,3,3 costs 9 from 3, 4 from 4, 5 from 5
    assert sorted(res.centres) == [0, 4]


def test_grid_plans_pass_every_named_check() -> None:
    rng = np.random.default_rng(7)
    problem = grid_problem(8, 8, n_zones=5, tolerance=0.1, demand=rng.gamma(2.0, 5.0, 64))
    res = design_zones(problem, solver="highs", time_limit_s=60, seed=3)
    lower, upper = problem.load_bounds
    assert all_assigned(res.labels, n_units=64, n_zones=5).passed
    assert is_contiguous(res.labels, problem.edges).passed
    assert within_bounds(res.loads, lower=lower, upper=upper).passed
    # the reported objective is the objective recomputed from the labels (an oracle)
    assert res.objective == pytest.approx(plan_objective(problem, res.labels, res.centres))
    assert res.report.objective == pytest.approx(res.objective, rel=1e-6)
    # each centre is the best medoid of its zone: no member serves the zone with less travel
    # (brute force over every member; the run ended because re-centring changed nothing)
    for z, centre in enumerate(res.centres):
        members = np.flatnonzero(res.labels == z)
        travel_from = problem.demand[members] @ problem.cost[np.ix_(members, members)]
        assert res.labels[centre] == z
        assert travel_from[list(members).index(centre)] == pytest.approx(travel_from.min(), rel=1e-12)


def test_same_seed_same_plan() -> None:
    rng = np.random.default_rng(11)
    problem = grid_problem(6, 6, n_zones=4, tolerance=0.1, demand=rng.gamma(2.0, 5.0, 36))
    a = design_zones(problem, solver="highs", time_limit_s=30, seed=5)
    b = design_zones(problem, solver="highs", time_limit_s=30, seed=5)
    assert np.array_equal(a.labels, b.labels)


def test_cbc_agrees_with_highs_on_a_small_case() -> None:
    problem = grid_problem(3, 4, n_zones=3, tolerance=0.0)
    centres = (0, 5, 11)
    h = solve_assignment(problem, centres, solver="highs", time_limit_s=20)
    c = solve_assignment(problem, centres, solver="cbc", time_limit_s=20)
    assert h.report.status is SolveStatus.OPTIMAL and c.report.status is SolveStatus.OPTIMAL
    assert c.report.objective == pytest.approx(h.report.objective, rel=1e-6)
    # CBC's log prints the bound to 6 significant figures (newer CBC builds, e.g. cbcbox for PuLP 4)
    assert c.report.best_bound <= c.report.objective + 1e-9
    assert c.report.best_bound == pytest.approx(c.report.objective, rel=1e-5)


def test_impossible_balance_is_diagnosed_with_numbers() -> None:
    problem = grid_problem(1, 4, n_zones=2, tolerance=0.1, demand=np.array([10.0, 1, 1, 1]))
    with pytest.raises(InfeasibleProblemError, match=r"alone has 10\.0 hours, more than the zone maximum 7\.2"):
        design_zones(problem, solver="highs", time_limit_s=10)


def test_disconnected_units_are_diagnosed() -> None:
    problem = DistrictingProblem(
        demand=np.ones(4), cost=np.ones((4, 4)) - np.eye(4), edges=np.array([(0, 1), (2, 3)]),
        n_zones=1, tolerance=0.5,
    )
    with pytest.raises(InfeasibleProblemError, match="2 separate pieces"):
        design_zones(problem, solver="highs", time_limit_s=10)


def test_solver_proven_infeasibility_is_reported_not_hidden() -> None:
    # Demand 1-1-3-1 on a path: halves of 3 exist ({2} and {0,1,3}) but not contiguously.
    problem = grid_problem(1, 4, n_zones=2, tolerance=0.0, demand=np.array([1.0, 1.0, 3.0, 1.0]))
    out = solve_assignment(problem, (0, 3), solver="highs", time_limit_s=10)
    assert out.report.status is SolveStatus.INFEASIBLE
    assert out.labels is None
    with pytest.raises(InfeasibleProblemError, match="proved it on the whole problem"):
        design_zones(problem, solver="highs", time_limit_s=20)


def _knapsack(n: int, *, maximise: bool = True) -> pulp.LpProblem:
    rng = np.random.default_rng(0)
    weights = rng.integers(1000, 2000, n)
    model = pulp.LpProblem("hard_knapsack", pulp.LpMaximize if maximise else pulp.LpMinimize)
    xs = [model.add_variable(f"x{i}", cat=pulp.LpBinary) for i in range(n)]
    sign = 1 if maximise else -1
    model += pulp.lpSum(sign * int(w) * x for w, x in zip(weights, xs, strict=True))
    model += pulp.lpSum(int(w) * x for w, x in zip(weights, xs, strict=True)) <= int(weights.sum() // 2) + 0.5, "cap"
    for i in range(0, n - 1, 2):  # parity-like side rows that defeat easy rounding
        model += 2 * xs[i] + 2 * xs[i + 1] <= 3, f"pair_{i}"
    return model


def _assert_consistent(rep: SolverReport, *, maximise: bool) -> None:
    """A verdict with a plan has a bound on the right side of its objective and the gap between them."""
    if rep.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        assert rep.objective is not None and rep.best_bound is not None and rep.gap is not None
        if maximise:
            assert rep.best_bound >= rep.objective - 1e-6 * abs(rep.objective)
        else:
            assert rep.best_bound <= rep.objective + 1e-6 * abs(rep.objective)
        assert rep.gap == pytest.approx(abs(rep.objective - rep.best_bound) / abs(rep.objective), rel=1e-9)
        if rep.status is SolveStatus.OPTIMAL:
            assert rep.gap <= 1e-4 + 1e-9
    else:
        assert rep.status in (SolveStatus.NO_SOLUTION,)


@pytest.mark.parametrize("maximise", [True, False])
@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_status_agrees_with_bound_and_gap(solver: str, maximise: bool) -> None:
    """Whatever the solver reaches in a tiny time limit, the verdict must be self-consistent."""
    rep = run_solver(_knapsack(60, maximise=maximise), solver=solver, time_limit_s=0.5)
    _assert_consistent(rep, maximise=maximise)
    assert rep.seconds < 30


@pytest.mark.parametrize("maximise", [True, False])
def test_a_time_limited_plan_reports_its_bound_and_gap(maximise: bool) -> None:
    """HiGHS stopped by its time limit on a hard knapsack: FEASIBLE, with the dual bound on the
    right side of the objective and the gap between them (not just "an objective exists")."""
    rep = run_solver(_knapsack(400, maximise=maximise), solver="highs", time_limit_s=0.05)
    if rep.status is SolveStatus.OPTIMAL:  # a much faster machine: nothing to test here
        pytest.skip("HiGHS proved optimality within 0.05 s")
    assert rep.status is SolveStatus.FEASIBLE, rep
    assert rep.gap is not None and rep.gap > 0
    _assert_consistent(rep, maximise=maximise)


def test_highs_prints_nothing_on_stdout() -> None:
    """The HiGHS banner ("Running HiGHS ...") is written by its constructor straight to file
    descriptor 1, once per process, so a fresh process shows it: nothing may reach stdout."""
    code = (
        "import numpy as np\n"
        "from optimiser.districting import design_zones\n"
        "from tests.conftest import grid_problem\n"
        "design_zones(grid_problem(2, 3, n_zones=2, tolerance=0.5), solver='highs', time_limit_s=10)\n"
        "print('done')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert out.stdout == "done\n", out.stdout


def test_unknown_solver_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"expected one of \['cbc', 'highs'\]"):
        run_solver(pulp.LpProblem("x"), solver="gurobi", time_limit_s=1)


def test_best_centres_is_the_weighted_medoid(path4: DistrictingProblem) -> None:
    labels = np.array([0, 0, 0, 1])
    assert best_centres(path4, labels) == (1, 3)


@pytest.mark.parametrize("maximise", [True, False])
@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_loose_gap_tolerance_reports_the_real_bound(solver: str, maximise: bool) -> None:
    """With a 5% tolerance the solver may stop early: the reported gap must be the real one
    (CBC prints its bound even when it calls the result optimal), in the model's own sense."""
    model = _knapsack(60, maximise=maximise)
    rep = run_solver(model, solver=solver, time_limit_s=20, mip_rel_gap=0.05)
    assert rep.objective is not None and rep.best_bound is not None
    assert (rep.objective > 0) == maximise  # values in the model's sense, not negated
    if maximise:
        assert rep.best_bound >= rep.objective - 1e-6  # an upper bound for a maximisation
    else:
        assert rep.best_bound <= rep.objective + 1e-6
    assert rep.gap == pytest.approx(abs(rep.best_bound - rep.objective) / abs(rep.objective))
    assert model.objective.value() == pytest.approx(rep.objective, rel=1e-9)


def test_zone_pieces_counts_what_the_per_zone_check_counts_on_random_graphs() -> None:
    import networkx as nx

    from optimiser.checks import zone_pieces

    def zone_components(labels: np.ndarray, edges: np.ndarray, zone: int) -> int:  # the oracle, one zone at a time
        g = nx.Graph()
        g.add_nodes_from(np.flatnonzero(labels == zone).tolist())
        g.add_edges_from((int(a), int(b)) for a, b in edges if labels[a] == zone and labels[b] == zone)
        return nx.number_connected_components(g)

    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(2, 40))
        edges = rng.integers(0, n, (int(rng.integers(0, 80)), 2))
        labels = rng.integers(0, 5, n)
        zones, counts = zone_pieces(labels, edges)
        assert zones.tolist() == sorted(set(labels.tolist()))
        assert counts.tolist() == [zone_components(labels, edges, int(z)) for z in zones]
    # two units of zone 0 joined only through a unit of zone 1: two pieces
    assert zone_pieces(np.array([0, 1, 0]), np.array([[0, 1], [1, 2]]))[1].tolist() == [2, 1]
