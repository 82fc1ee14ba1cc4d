"""Scenario files: validated, frozen, unknown keys refused, paths relative to the file."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from tests.conftest import write_scenario
from zoning.errors import ScenarioError
from zoning.scenario import DEFAULT_SCENARIO, load_scenario


def test_default_scenario_loads_with_absolute_paths() -> None:
    s = load_scenario()
    assert s.source == DEFAULT_SCENARIO
    assert s.model.zones == 14 and s.model.tolerance == pytest.approx(0.10) and s.model.solver == "highs"
    assert s.demand.path.is_absolute() and s.demand.path.is_file()
    assert s.demand.synthetic and s.providers.synthetic and s.current_zones.approximate


def test_unknown_keys_are_refused(melton_copy: Path) -> None:
    path = write_scenario(melton_copy, extra="colour = 'red'\n")
    with pytest.raises(ScenarioError, match=r"colour: Extra inputs are not permitted"):
        load_scenario(path)


def test_bad_values_are_all_reported(melton_copy: Path) -> None:
    path = write_scenario(melton_copy, zones=0, tolerance=1.5)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "model.zones" in str(info.value) and "model.tolerance" in str(info.value)


def test_missing_input_files_are_named(melton_copy: Path) -> None:
    path = write_scenario(melton_copy, demand="nope.csv")
    with pytest.raises(ScenarioError, match=r"demand.path: .*nope.csv"):
        load_scenario(path)


def test_scenario_is_frozen_and_overrides_are_validated(melton_dir: Path) -> None:
    s = load_scenario(melton_dir / "melton.toml")
    with pytest.raises(pydantic.ValidationError):
        s.model.zones = 5  # type: ignore[misc]
    t = s.with_overrides(zones=2, solver=None)
    assert (t.model.zones, s.model.zones) == (2, 3)
    with pytest.raises(ScenarioError, match="model.solver"):
        s.with_overrides(solver="gurobi")


def test_not_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(path)


@pytest.mark.parametrize("extra", ["seed = -1\n", "seed = 4294967296\n"])
def test_seed_out_of_range_is_refused(melton_copy: Path, extra: str) -> None:
    text = write_scenario(melton_copy).read_text(encoding="utf-8").replace("seed = 7\n", extra)
    path = melton_copy / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match="seed"):
        load_scenario(path)


def test_infinite_numbers_are_refused(melton_copy: Path) -> None:
    path = write_scenario(melton_copy)
    path.write_text(path.read_text(encoding="utf-8") + "\n[travel]\nmin_per_km = inf\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="travel.min_per_km"):
        load_scenario(path)


def test_a_variant_extends_its_base_and_changes_only_what_it_lists(tmp_path: Path) -> None:
    variant = tmp_path / "variant.toml"
    variant.write_text(
        f'extends = "{DEFAULT_SCENARIO.as_posix()}"\nname = "variant"\n[model]\nzones = 12\n[continuity]\nmax_moved_share = 0.3\n',
        encoding="utf-8",
    )
    s = load_scenario(variant)
    base = load_scenario()
    assert s.name == "variant" and s.model.zones == 12
    assert s.model.tolerance == base.model.tolerance and s.demand.path == base.demand.path  # merged, paths kept
    assert s.continuity is not None and s.continuity.max_moved_share == pytest.approx(0.3)


def test_shipped_variants_load() -> None:
    for name in ("leicestershire-continuity.toml", "leicestershire-commissioning.toml"):
        s = load_scenario(DEFAULT_SCENARIO.parent / name)
        assert s.demand.synthetic and s.name != "leicestershire"


def test_extends_loops_and_missing_bases_are_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text('extends = "b.toml"\n', encoding="utf-8")
    b.write_text('extends = "a.toml"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="loops back"):
        load_scenario(a)
    b.write_text('extends = "missing.toml"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"missing\.toml.*extended by"):
        load_scenario(a)


def test_option_errors_name_the_problem(melton_copy: Path) -> None:
    path = write_scenario(melton_copy)
    path.write_text(path.read_text(encoding="utf-8") + '\n[cohorts.teenagers]\nmin_hours = 3\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="teenagers"):
        load_scenario(path)
    path = write_scenario(melton_copy)
    path.write_text(path.read_text(encoding="utf-8") + '\n[capacity]\nhubs = ["P1"]\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="one hub per zone"):
        load_scenario(path)
