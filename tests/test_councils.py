"""Any English council: the build's area helpers, `init` on the tiny fixture wheels, towns and
zone names from the data, synthetic stand-ins for any area.

The fixture wheels are those of tests/test_databuild.py (no network, a second or two)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.test_databuild import AREA, GAMMA, make_wheels
from zoning.databuild import geometry as geo
from zoning.databuild import sources as src
from zoning.databuild.areas import lsoas_from_postcodes
from zoning.databuild.build import build_area
from zoning.databuild.docs import readme_path
from zoning.databuild.init import init_area, scenario_name, suggest_zones
from zoning.databuild.synthetic import COHORTS, cohort_mix
from zoning.errors import ScenarioError
from zoning.places import Town, find_towns, name_zones
from zoning.scenario import load_scenario


def test_renamed_district_found_by_its_2011_name_and_new_unitary_left_to_postcodes() -> None:
    unmatched: list[geo.District] = []
    found = geo.resolve_district_names(
        {"E07000112": ("E10000016", True), "E06000063": ("E06000063", True)},
        codelist={"E07000112": "Folkestone and Hythe District", "E06000063": "Cumberland"},
        age_names={}, lsoa_prefixes={"Shepway", "Allerdale", "Copeland"}, unmatched=unmatched,
    )
    assert [(d.code, d.name, d.display) for d in found] == [("E07000112", "Shepway", "Folkestone and Hythe")]
    assert [(d.code, d.name) for d in unmatched] == [("E06000063", "Cumberland")]
    with pytest.raises(Exception, match="Cannot find the LSOAs"):
        geo.resolve_district_names({"E06000063": ("E06000063", True)}, codelist={"E06000063": "Cumberland"},
                                   age_names={}, lsoa_prefixes={"Allerdale"})


def test_lsoa_membership_from_postcodes_takes_the_majority() -> None:
    new = geo.District(code="E06000063", name="Cumberland", area_code="E06000063", in_area=True)
    cpo = pd.DataFrame({"postcode": ["A1 1AA", "A1 1AB", "A1 1AC", "B1 1AA"],
                        "district_code": ["E06000063"] * 4})
    rows = pd.DataFrame({"postcode": ["A1 1AA", "A1 1AB", "A1 1AC", "B1 1AA"],
                         "lsoa11cd": ["E01000001", "E01000001", "E01000002", "E01000003"], "large_user": 0})
    # E01000002 holds 1 of our postcodes out of 5 live ones: another district's LSOA
    live = pd.Series({"E01000001": 2, "E01000002": 5, "E01000003": 1})
    got = lsoas_from_postcodes([new], cpo, src.LookupResult(rows=rows, terminated_only=0, lsoa_live_postcodes=live))
    assert sorted(got) == ["E01000001", "E01000003"] and got["E01000001"] is new


def test_neighbours_found_from_the_postcodes(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path)
    cpo = src.open_codepoint(wheels)
    near = src.neighbour_codes(cpo, wheel=wheels.geocode, area_codes=[AREA], min_postcodes=1)
    assert near == [(GAMMA, 1)]  # the 'Other' district's postcode is 12 km away
    assert src.neighbour_codes(cpo, wheel=wheels.geocode, area_codes=[AREA], min_postcodes=2) == []


def test_two_councils_as_one_area_never_overwrite_another_areas_readme(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path)
    out = tmp_path / "data"
    build_area(AREA, context_codes=(), out_dir=out, wheels=wheels)
    first = (out / "postcodes" / "README.md").read_text(encoding="utf-8")
    report = build_area([AREA, GAMMA], context_codes=(), out_dir=out, wheels=wheels)
    key = f"{AREA}+{GAMMA}"
    assert report.area_code == key and report.area_name == "Testshire and Gamma"
    assert (out / "postcodes" / "README.md").read_text(encoding="utf-8") == first
    assert (out / "postcodes" / f"{key}_README.md").is_file()
    pcs = pd.read_csv(out / "postcodes" / f"{key}_postcodes.csv", dtype=str)
    assert set(pcs["in_area"]) == {"1"} and set(pcs["area_code"]) == {key}
    assert report.lsoas_by_area == {key: 4}
    assert readme_path(out / "postcodes", AREA) == out / "postcodes" / "README.md"
    assert any("Testshire and Gamma" in line for line in report.describe())


def test_init_writes_a_scenario_that_loads_with_the_areas_own_fit(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path)
    report = init_area([AREA], out_dir=tmp_path / "area", wheels=wheels, context_codes=[GAMMA])
    raw = tomllib.loads(report.scenario.read_text(encoding="utf-8"))
    assert "current_zones" not in raw  # optional: only a commented template
    fit = report.build.travel_fit
    if 0.5 <= fit.slope_min_per_km <= 2.0:
        assert raw["travel"]["min_per_km"] == pytest.approx(fit.slope_min_per_km, abs=1e-3)
    else:  # an implausible fit is replaced, and the file says why
        assert "not plausible" in report.scenario.read_text(encoding="utf-8")
    scenario = load_scenario(report.scenario)
    assert scenario.current_zones is None and scenario.area_code == AREA
    assert scenario.model.zones == report.zones == 2
    assert "Leicester" not in report.scenario.read_text(encoding="utf-8")
    assert (tmp_path / "area" / "data" / "synthetic" / f"{AREA}_providers.csv").is_file()
    again = init_area([AREA], out_dir=tmp_path / "area", wheels=wheels, context_codes=[GAMMA], zones=2)
    assert again.scenario == report.scenario  # the same area may be set up again in its folder
    with pytest.raises(ScenarioError, match="another --dir"):
        init_area([GAMMA], out_dir=tmp_path / "area", wheels=wheels, context_codes=())


def test_suggested_zones_follow_hours_and_units() -> None:
    assert suggest_zones(hours_per_week=29_400, n_units=396)[0] == 14
    assert suggest_zones(hours_per_week=64_000, n_units=872)[0] == 20  # capped
    k, reason = suggest_zones(hours_per_week=9_000, n_units=60)
    assert k == 2 and "LSOAs" in reason
    assert scenario_name("Bournemouth, Christchurch and Poole") == "bournemouth-christchurch-and-poole"


def test_childrens_share_is_a_parameter() -> None:
    mix = cohort_mix(children_share=0.25)
    assert mix["children"][0] == 0.25
    assert sum(v[0] for v in mix.values()) == pytest.approx(1.0)
    assert mix["adults"][0] / mix["chc"][0] == pytest.approx(COHORTS["adults"][0] / COHORTS["chc"][0])
    with pytest.raises(ValueError):
        cohort_mix(children_share=1.0)


def _grid_town(x0: float, y0: float, n: int, ward: str, district: str, prefix: str) -> pd.DataFrame:
    """``n`` x ``n`` postcodes 100 m apart."""
    xs, ys = np.meshgrid(np.arange(n) * 100.0 + x0, np.arange(n) * 100.0 + y0)
    return pd.DataFrame({"postcode": [f"{prefix}{i:04d}" for i in range(n * n)], "easting": xs.ravel(),
                         "northing": ys.ravel(), "ward_name": ward, "district_name": district, "large_user": False})


def test_towns_are_dense_clusters_named_from_their_wards() -> None:
    big = _grid_town(0, 0, 12, "Bigtown East", "Shire", "A")
    big.loc[big.index % 2 == 0, "ward_name"] = "Bigtown West"
    small = _grid_town(20_000, 0, 8, "Littleham", "Shire", "B")
    towns = find_towns(pd.concat([big, small]), min_density=20)
    assert [t.name for t in towns] == ["Bigtown", "Littleham"]
    assert towns[0].postcodes == 144


def test_zone_names_from_the_largest_town_with_compass_suffixes() -> None:
    big = _grid_town(0, 0, 12, "Bigtown East", "Shire", "A")
    small = _grid_town(20_000, 0, 8, "Littleham", "Shire", "B")
    rural = _grid_town(40_000, 0, 2, "Farfield", "Shire", "C")
    pcs = pd.concat([big, small, rural], ignore_index=True)
    # zone 0: Littleham; zone 1: the north of Bigtown; zone 2: its south; zone 3: Farfield (no town)
    pcs["z"] = np.select([pcs["easting"] >= 40_000, pcs["easting"] >= 20_000, pcs["northing"] >= 600], [3, 0, 1], 2)
    north, south = pcs.loc[pcs["z"] == 1, "postcode"].iloc[0], pcs.loc[pcs["z"] == 2, "postcode"].iloc[0]
    towns = [Town("Bigtown", "Shire", 0, 900, 80, north, "Bigtown"), Town("Littleham", "Shire", 20_300, 300, 64,
             "B0010", "Littleham"), Town("Bigtown 2", "Shire", 0, 100, 60, south, "Bigtown")]
    names = name_zones(pcs, zone_column="z", n_zones=4, towns=towns)
    assert names == ["Littleham", "Bigtown North", "Bigtown South", "Farfield"]
    # the name follows the zone's towns, not its centre: the same towns give the same names
    assert name_zones(pcs.sample(frac=1, random_state=1), zone_column="z", n_zones=4, towns=towns) == names


def _named_wheels(tmp: Path) -> Path:
    """The fixture wheels under the file names `fetch_wheels` looks for."""
    wheels = make_wheels(tmp)
    folder = tmp / "wheels"
    folder.mkdir()
    for key, (_dist, _version, prefix) in src.WHEEL_SPECS.items():
        (folder / f"{prefix}-py3-none-any.whl").write_bytes(wheels.path_for(key).read_bytes())
    return folder


def test_cli_context_as_the_readme_writes_it_and_a_readable_summary(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from zoning.cli import app

    wheels = _named_wheels(tmp_path)
    runner = CliRunner()
    # `--context A B`: B is read as a context code too (the fixture's 'Other' district has no LSOA: exit 4)
    res = runner.invoke(app, ["data", "build", "--area", AREA, "--context", GAMMA, "E07000999", "--out",
                              str(tmp_path / "d"), "--wheel-dir", str(wheels)])
    assert res.exit_code == 4 and "E07000999 'Other': no LSOA holds a majority" in res.output
    res = runner.invoke(app, ["data", "build", "--area", AREA, "--context", GAMMA, "--out", str(tmp_path / "d"),
                              "--wheel-dir", str(wheels)])
    assert res.exit_code == 0, res.output
    assert "AreaBuildReport(" not in res.output and "travel fit: minutes =" in res.output
    assert f"context (providers may sit there): {GAMMA} (1 postcodes)" in res.output
    res = runner.invoke(app, ["init", "--area", AREA, "--dir", str(tmp_path / "i"), "--wheel-dir", str(wheels),
                              "--zones", "2"])
    assert res.exit_code == 0, res.output
    assert f"next: carezones run {tmp_path / 'i' / 'scenario.toml'}" in res.output.replace("\n", "")
    res = runner.invoke(app, ["data", "areas", "--wheel-dir", str(wheels)])
    assert res.exit_code == 0 and "E10000099" in res.output and "shire county" in res.output
