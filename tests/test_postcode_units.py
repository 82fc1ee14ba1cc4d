"""Postcode-level units (``[units] level = "postcode"``): Voronoi adjacency on hand-made cases,
the refinement's invariants, scenario validation, and the Melton extract end to end."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from optimiser.capacity_flow import flow_checks
from optimiser.checks import is_contiguous
from optimiser.problem import BranchCapacity, DistrictingProblem
from optimiser.refine import refine_plan
from optimiser.repair import mend_pieces
from optimiser.resources import DenseCost, ResourceBounds
from tests.conftest import write_scenario
from zoning.errors import ScenarioError
from zoning.pipeline import ZonePlan, plan_zones
from zoning.postcode_units import build_postcode_units, voronoi_edges
from zoning.publish.writers import write_outputs
from zoning.scenario import load_scenario

UNITS = '[units]\nlevel = "postcode"\n'


def _grid(rows: int, cols: int, spacing: float = 100.0) -> np.ndarray:
    return np.array([(c * spacing, r * spacing) for r in range(rows) for c in range(cols)], dtype=float)


def test_voronoi_cells_of_a_3x3_grid_are_rook_neighbours() -> None:
    xy = _grid(3, 3)
    outline = box(-50, -50, 250, 250)
    cells, edges, links = voronoi_edges(xy, outline)
    expected = {(0, 1), (1, 2), (3, 4), (4, 5), (6, 7), (7, 8), (0, 3), (3, 6), (1, 4), (4, 7), (2, 5), (5, 8)}
    assert {tuple(e) for e in edges.tolist()} == expected  # diagonal cells meet at a point only: not neighbours
    assert links == 0
    assert shapely.area(cells.to_numpy()).sum() == pytest.approx(300 * 300)
    for i, cell in enumerate(cells):  # each cell holds its own point
        assert cell.contains(shapely.Point(xy[i]))


def test_cells_cut_off_by_the_outline_are_linked_to_their_nearest_unit() -> None:
    xy = np.array([[0, 0], [100, 0], [1000, 0]], dtype=float)
    outline = shapely.union(box(-50, -50, 150, 50), box(950, -50, 1050, 50))  # two islands
    _, edges, links = voronoi_edges(xy, outline)
    assert links == 1
    assert {tuple(e) for e in edges.tolist()} == {(0, 1), (1, 2)}  # the island joins the nearest unit


def test_postcodes_sharing_a_point_are_one_unit(tmp_path: Path) -> None:
    area = pd.DataFrame({
        "easting": [0.0, 0.0, 100.0, 200.0], "northing": [0.0, 0.0, 0.0, 0.0],
        "lsoa11cd": ["E01A", "E01A", "E01A", "E01B"], "district_name": ["D"] * 4, "district_code": ["E07X"] * 4,
    }, index=pd.Index(["AB1 2CD", "AB1 2CE", "AB1 3AA", "AB1 4ZZ"], name="postcode"))
    boundaries = gpd.GeoDataFrame({"lsoa11cd": ["E01A", "E01B"], "lsoa11nm": ["A 001A", "A 001B"],
                                   "district_name": ["D", "D"], "in_area": [1, 1]},
                                  geometry=[box(-50, -50, 150, 50), box(150, -50, 250, 50)], crs=27700)
    built = build_postcode_units(area, boundaries, outline_path=None)
    assert built.units.ids == ("AB1 2CD+1", "AB1 3AA", "AB1 4ZZ")
    assert built.unit_of_postcode.tolist() == [0, 0, 1, 2]
    assert built.units.polygons["lsoa11cd"].tolist() == ["E01A", "E01A", "E01B"]
    assert {tuple(e) for e in built.units.edges.tolist()} == {(0, 1), (1, 2)}
    assert built.units.polygons.geometry.area.sum() == pytest.approx(300 * 100)


def test_mend_gives_detached_pieces_to_a_neighbouring_zone() -> None:
    # a 1 x 5 path: zone 0 = {0, 1, 3}, zone 1 = {2, 4}: unit 3 is cut off from zone 0, unit 4 from zone 1
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4]])
    labels, moved = mend_pieces(np.array([0, 0, 1, 0, 1]), edges, np.ones(5), 2)
    assert is_contiguous(labels, edges).passed and moved >= 1
    assert labels[0] == labels[1] == 0 and labels[2] == 1


def _grid_problem(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xy = _grid(rows, cols, 1.0)
    cost = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    edges = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    edges += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    return xy, cost, np.array(edges)


def test_refine_keeps_balance_and_contiguity_and_never_worsens() -> None:
    xy, cost, edges = _grid_problem(6, 6)
    demand = np.ones(36)
    start = (xy[:, 0] >= 1).astype(np.int64)  # column 0 vs the rest: far out of balance
    bounds = ResourceBounds.balance(demand, n_zones=2, tolerance=0.0)
    res = refine_plan(start, weights=demand, cost=DenseCost(cost), edges=edges, bounds=bounds, time_limit_s=20)
    assert is_contiguous(res.labels, edges).passed
    assert np.bincount(res.labels, minlength=2).tolist() == [18, 18]
    assert res.rebalanced_units > 0
    assert res.objective <= res.start_objective + 1e-9
    assert all(res.labels[c] == z for z, c in enumerate(res.centres))
    again = refine_plan(start, weights=demand, cost=DenseCost(cost), edges=edges, bounds=bounds, time_limit_s=20)
    assert np.array_equal(again.labels, res.labels)  # seeded: the same plan twice


def test_refine_keeps_the_capacity_flow_family() -> None:
    xy, cost, edges = _grid_problem(6, 6)
    demand = np.ones(36)
    # two branches at opposite corners, each reaching only the units within 3.5 of it
    branch_xy = np.array([[0.0, 0.0], [5.0, 5.0]])
    minutes = np.hypot(branch_xy[:, None, 0] - xy[None, :, 0], branch_xy[:, None, 1] - xy[None, :, 1])
    branches = BranchCapacity(capacity=np.array([19.0, 19.0]), minutes=minutes, reach_min=3.5, margin=1.0)
    problem = DistrictingProblem(demand=demand, cost=cost, edges=edges, n_zones=2, tolerance=0.1, branches=branches)
    start = (xy[:, 0] + xy[:, 1] >= 5).astype(np.int64)  # the anti-diagonal split: 15 / 21 units
    bounds = ResourceBounds.balance(demand, n_zones=2, tolerance=0.1)
    res = refine_plan(start, weights=demand, cost=DenseCost(cost), edges=edges, bounds=bounds,
                      centres=(0, 35), branches=branches, time_limit_s=20)
    assert is_contiguous(res.labels, edges).passed
    assert all(c.passed for c in flow_checks(problem, res.labels, res.centres))
    assert res.flow is not None and np.all(res.flow.sum(axis=1) <= branches.capacity + 1e-9)
    assert res.kicks > 0  # the perturbations ran, and every plan they kept meets the family
    assert res.objective == pytest.approx(float(np.sum(demand * cost[np.arange(36), np.asarray(res.centres)[res.labels]])))


def test_unknown_units_level_is_refused_with_the_allowed_values(melton_copy: Path) -> None:
    path = write_scenario(melton_copy, extra='[units]\nlevel = "ward"\n')
    with pytest.raises(ScenarioError, match=r"units.level.*'lsoa' or 'postcode'") as info:
        load_scenario(path)
    assert info.value.exit_code == 2


def test_postcode_level_refuses_a_family_its_refinement_does_not_keep(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    import optimiser.families as families
    from zoning.postcode_plan import refuse_unrefined

    _, cost, edges = _grid_problem(2, 2)
    problem = DistrictingProblem(demand=np.ones(4), cost=cost, edges=edges, n_zones=2, tolerance=0.5,
                                 reach=cost, reach_limit=2.0, pinned=np.array([0, -1, -1, 1]))
    refuse_unrefined(problem, where="x.toml")  # every family it carries is kept at postcode level
    monkeypatch.setattr(families, "FAMILY_LIST", tuple(
        replace(f, refine=False) if f.name == "travel_limit" else f for f in families.FAMILY_LIST))
    with pytest.raises(ScenarioError, match=r'x.toml: \[units\] level = "postcode" cannot keep the constraint '
                       r"famil\(ies\) travel_limit yet") as info:
        refuse_unrefined(problem, where="x.toml")
    assert info.value.exit_code == 2 and 'level = "lsoa"' in str(info.value)


def test_the_shipped_postcode_variant_loads_and_is_accepted() -> None:
    from zoning.scenario import DEFAULT_SCENARIO

    s = load_scenario(DEFAULT_SCENARIO.parent / "leicestershire-postcodes.toml")
    assert s.units.level == "postcode" and s.capacity.rule == "flow" and s.demand.synthetic
    assert load_scenario(DEFAULT_SCENARIO).units.level == "lsoa"  # the default stays at LSOA level


@pytest.fixture(scope="module")
def postcode_run(melton_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ZonePlan, dict[str, Path], Path]:
    folder = tmp_path_factory.mktemp("melton_pc")
    for f in melton_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    path = write_scenario(folder, extra=UNITS + "bound_s = 10\n[capacity]\nrule = \"flow\"\nreach_min = 30\n"
                          "margin = 0.5\n")
    plan = plan_zones(load_scenario(path))
    return plan, write_outputs(plan, folder / "out"), folder


def test_melton_at_postcode_level_end_to_end(postcode_run: tuple[ZonePlan, dict[str, Path], Path]) -> None:
    plan, paths, folder = postcode_run
    n_pc = len(plan.postcodes)
    assert plan.units.n > 300 and plan.units.n <= n_pc  # cells, not LSOAs
    assert all(c.passed for c in plan.checks), [c for c in plan.checks if not c.passed]
    assert {c.name for c in plan.checks} >= {"is_contiguous", "zones_covered_at_margin", "within_bounds"}
    # zones contiguous on the cell adjacency
    assert is_contiguous(plan.unit_zone, plan.units.edges).passed
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert summary["units"]["level"] == "postcode" and summary["units"]["count"] == plan.units.n
    # the lookup: every in-area postcode once, in the zone of its cell
    lookup = pd.read_csv(paths["postcodes"], dtype={"postcode": str}).set_index("postcode")
    assert lookup.index.is_unique and set(lookup.index) == set(plan.postcodes.index)
    cell_zone = plan.zones["zone"].to_numpy()[plan.unit_zone[plan.postcodes["unit"].to_numpy()]]
    assert (lookup.loc[plan.postcodes.index, "proposed_zone"].to_numpy() == cell_zone).all()
    # demand never dropped: every demand postcode assigned, zone hours add up to the input
    demand = pd.read_csv(folder / "demand.csv", dtype={"postcode": str})
    assert demand["postcode"].isin(lookup.index).all()
    assert sum(z["hours_per_week"] for z in summary["zones"]) == pytest.approx(demand["hours_per_week"].sum())
    # the bound covers what it says, and lies below the plan
    assert plan.bound is not None and plan.bound.value <= plan.result.objective + 1e-6
    assert "postcode units" in plan.bound.scope and "candidates" in plan.bound.scope
    # outputs open: zone polygons are dissolved cells, the units layer is the cells
    zones = gpd.read_file(paths["zones"])
    assert len(zones) == plan.metrics.zones
    cells = gpd.read_file(paths["gpkg"], layer="units")
    assert len(cells) == plan.units.n and cells["unit_id"].is_unique
    assert cells["postcodes"].sum() == n_pc  # each postcode in one cell (hours per cell are suppressed:
    assert cells["suppressed"].any()  # the demand is client by client, and most cells hold few clients)
    area = plan.units.polygons.geometry.area.sum()
    assert gpd.read_file(paths["gpkg"], layer="zones").geometry.area.sum() == pytest.approx(area, rel=1e-6)


def test_locks_and_kept_whole_wards_hold_at_postcode_level(melton_dir: Path, tmp_path: Path) -> None:
    # a ward locked to a named zone and another kept whole: both hold for every postcode cell
    for f in melton_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    pcs = pd.read_csv(tmp_path / "postcodes.csv", dtype=str)
    wards = pcs.loc[pcs["in_area"] == "1", "ward_code"].value_counts().index
    locked, whole = str(wards[0]), str(wards[1])
    path = write_scenario(tmp_path, extra=UNITS + "refine_s = 8\nbound_s = 3\n"
                          f"[[zone]]\nname = \"Locked <i>zone</i>\"\nlock_wards = [\"{locked}\"]\n"
                          f"[[keep_whole]]\nname = \"whole\"\nwards = [\"{whole}\"]\n")
    scenario = load_scenario(path)
    plan = plan_zones(scenario)
    assert all(c.passed for c in plan.checks), [c for c in plan.checks if not c.passed]
    assert plan.result.labels.size == plan.units.n  # designed over the cells
    names = plan.zones["zone_name"].to_numpy()
    zone_of_pc = names[plan.unit_zone[plan.postcodes["unit"].to_numpy()]]
    lsoa_of = plan.postcodes["lsoa_unit"].to_numpy()
    in_ward = plan.postcodes["ward_code"].to_numpy()
    locked_lsoas = np.unique(lsoa_of[in_ward == locked])  # a lock holds the LSOAs of the ward's postcodes
    assert set(zone_of_pc[np.isin(lsoa_of, locked_lsoas)]) == {"Locked <i>zone</i>"}
    whole_lsoas = np.unique(lsoa_of[in_ward == whole])
    assert len(set(zone_of_pc[np.isin(lsoa_of, whole_lsoas)])) == 1


def test_a_declared_link_is_carried_to_the_nearest_cells_of_its_lsoas(melton_dir: Path, tmp_path: Path) -> None:
    for f in melton_dir.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    lsoa = gpd.read_file(tmp_path / "lsoa.geojson").to_crs(27700)
    lsoa = lsoa[lsoa["in_area"] == 1].reset_index(drop=True)
    far = int(lsoa.geometry.centroid.distance(lsoa.geometry.centroid[0]).idxmax())  # two LSOAs far apart
    a, b = str(lsoa.at[0, "lsoa11cd"]), str(lsoa.at[far, "lsoa11cd"])
    path = write_scenario(tmp_path, extra=UNITS + "refine_s = 3\nbound_s = 2\n"
                          f"[[link]]\na = \"{a}\"\nb = \"{b}\"\nnote = \"a ferry\"\n")
    scenario = load_scenario(path)
    plan = plan_zones(scenario)
    assert all(c.passed for c in plan.checks)
    lsoa_of = plan.postcodes.groupby("unit")["lsoa_unit"].first().reindex(range(plan.units.n)).to_numpy()
    ids = np.asarray(plan.postcodes.groupby("lsoa_unit")["lsoa11cd"].first().sort_index())
    side = {i: ids[lsoa_of[i]] for i in range(plan.units.n)}
    crossing = [(i, j) for i, j in plan.units.edges.tolist() if {side[i], side[j]} == {a, b}]
    assert len(crossing) == 1  # the LSOAs do not touch: the one edge is the carried link
    assert plan.options is not None and any("1 crossing(s)" in note for note in plan.options.notes)
