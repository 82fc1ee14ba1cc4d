"""Pieces in a real run: the Melton extract with one LSOA cut off from the rest (its neighbours
moved out of the area) gets a plan through an added link, or makes it a zone of its own."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from tests.conftest import write_scenario
from zoning.pipeline import plan_zones
from zoning.publish.writers import write_outputs
from zoning.scenario import load_scenario
from zoning.units import rook_edges


def _cut_off_one_lsoa(folder: Path) -> str:
    """Move the neighbours of one Melton LSOA out of the area; return the island's code."""
    lsoa = gpd.read_file(folder / "lsoa.geojson")
    area = lsoa[lsoa["in_area"] == 1].to_crs(27700).reset_index(drop=True)
    edges = rook_edges(area.geometry)
    degree = pd.Series(list(edges[:, 0]) + list(edges[:, 1])).value_counts()
    island = int(degree.sort_values(kind="stable").index[0])  # the unit with fewest neighbours
    neighbours = {int(b) for a, b in edges if a == island} | {int(a) for a, b in edges if b == island}
    moved = set(area.loc[sorted(neighbours), "lsoa11cd"])
    lsoa.loc[lsoa["lsoa11cd"].isin(moved), "in_area"] = 0
    lsoa.to_file(folder / "lsoa.geojson", driver="GeoJSON")
    pcs = pd.read_csv(folder / "postcodes.csv", dtype=str, keep_default_na=False)
    pcs.loc[pcs["lsoa11cd"].isin(moved), "in_area"] = "0"
    pcs.to_csv(folder / "postcodes.csv", index=False)
    return str(area.at[island, "lsoa11cd"])


@pytest.fixture
def island_folder(melton_copy: Path) -> tuple[Path, str]:
    return melton_copy, _cut_off_one_lsoa(melton_copy)


def test_a_cut_off_piece_is_joined_and_listed(island_folder: tuple[Path, str], tmp_path: Path) -> None:
    folder, island = island_folder
    scenario = load_scenario(write_scenario(folder, on_unmatched="exclude", tolerance=0.2))
    plan = plan_zones(scenario)
    assert plan.pieces is not None and plan.pieces.n_pieces >= 2
    assert any(island in p.units for p in plan.pieces.pieces)
    assert len(plan.pieces.links) == plan.pieces.n_pieces - 1
    assert all(c.passed for c in plan.checks)
    write_outputs(plan, tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    listed = summary["constraints"]["pieces"]
    assert [k["a"] for k in listed["links"]] == [k.a for k in plan.pieces.links]
    assert "Separate pieces" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")


def test_a_piece_can_be_a_zone_of_its_own(island_folder: tuple[Path, str]) -> None:
    folder, island = island_folder
    extra = f'[pieces]\nown_zone = ["{island}"]\n'
    plan = plan_zones(load_scenario(write_scenario(folder, on_unmatched="exclude", tolerance=0.2, extra=extra)))
    piece = next(p for p in plan.pieces.pieces if island in p.units)
    own = plan.unit_zone[[plan.units.index()[u] for u in piece.units]]
    assert len(set(own.tolist())) == 1
    others = [u for u in plan.units.ids if u not in piece.units]
    zone = int(own[0])
    demand_outside = [u for u in others if plan.unit_zone[plan.units.index()[u]] == zone
                      and plan.postcodes.loc[plan.postcodes["lsoa11cd"] == u, "hours_per_week"].sum() > 0]
    assert demand_outside == []  # the zone holds the piece and nothing else with demand
    assert all(c.passed for c in plan.checks)
