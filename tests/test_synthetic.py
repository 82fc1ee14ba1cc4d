"""The synthetic default is reproducible and built from the real structure it claims."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.conftest import DATA, file_digest
from zoning.databuild.synthetic import PREVALENCE_65_PLUS, build_synthetic


def test_same_seed_regenerates_the_committed_files(tmp_path: Path) -> None:
    files = build_synthetic(
        postcodes_path=DATA / "postcodes" / "E10000018_postcodes.csv",
        population_path=DATA / "population" / "E10000018_population.csv",
        out_dir=tmp_path, area_code="E10000018",
    )
    assert file_digest(files.demand) == file_digest(DATA / "synthetic" / "E10000018_demand.csv")
    assert file_digest(files.providers) == file_digest(DATA / "synthetic" / "E10000018_providers.csv")
    assert files.branches == 86


def test_demand_follows_district_65_plus_population() -> None:
    demand = pd.read_csv(DATA / "synthetic" / "E10000018_demand.csv")
    pcs = pd.read_csv(DATA / "postcodes" / "E10000018_postcodes.csv", usecols=["postcode", "district_name", "in_area", "large_user"])
    pop = pd.read_csv(DATA / "population" / "E10000018_population.csv").set_index("district_name")
    joined = demand.merge(pcs, on="postcode", how="left")
    assert joined["in_area"].eq(1).all() and joined["large_user"].eq(0).all()
    per_district = joined.groupby("district_name").size()
    expected = (PREVALENCE_65_PLUS * pop.loc[per_district.index, "pop_65_plus"]).round()
    assert (per_district - expected).abs().max() <= 1
    assert set(demand["cohort"]) == {"adults", "children", "chc", "live_in"}
    assert demand["hours_per_week"].between(1.75, 140).all()
    providers = pd.read_csv(DATA / "synthetic" / "E10000018_providers.csv")
    assert providers["name"].str.endswith("[synthetic]").all()
    ratio = providers["capacity_hours_per_week"].sum() / demand["hours_per_week"].sum()
    assert 1.05 < ratio < 1.25
