"""Property-based tests of the readers and the scenario loader: any byte string or random table
either loads (with every hour accounted for) or raises the project's own error, never another
exception."""

from __future__ import annotations

import csv
import io
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import write_scenario
from zoning.errors import InputError, ScenarioError
from zoning.inputs import read_current_zones, read_demand, read_providers
from zoning.postcodes import load_reference_postcodes
from zoning.scenario import load_scenario

FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def reference(melton_dir: Path) -> pd.DataFrame:
    return load_reference_postcodes(melton_dir / "postcodes.csv")


@contextmanager
def written(data: bytes, *, suffix: str = ".csv") -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(data)
        yield path


HEADERS = st.sampled_from([
    b"postcode,hours_per_week\n", b"Client Ref,Postcode,Hours Per Week,Cohort\n", b"\xef\xbb\xbfpostcode,hours_per_week,cohort\n",
    b"provider_id,name,postcode,capacity_hours_per_week\n", b"ward_code,zone\n", b"postcode,zone\n", b"",
])
#: a header our readers know followed by anything, or anything at all
ANY_BYTES = st.one_of(st.binary(max_size=400), st.tuples(HEADERS, st.binary(max_size=300)).map(lambda t: t[0] + t[1]))


@FUZZ
@given(data=ANY_BYTES)
def test_any_bytes_as_demand_load_or_raise_an_input_error(data: bytes, reference: pd.DataFrame) -> None:
    with written(data) as path:
        for on_unmatched in ("error", "exclude"):
            try:
                kept, excluded = read_demand(path, reference, on_unmatched=on_unmatched)
            except InputError:
                continue
            assert (kept["hours_per_week"] >= 0).all() and excluded.rows >= 0


@FUZZ
@given(data=ANY_BYTES)
def test_any_bytes_as_providers_load_or_raise_an_input_error(data: bytes, reference: pd.DataFrame) -> None:
    with written(data) as path:
        try:
            providers = read_providers(path, reference)
        except InputError:
            return
        assert (providers["capacity_hours_per_week"] >= 0).all() and providers["provider_id"].is_unique


@FUZZ
@given(data=ANY_BYTES, key=st.sampled_from(["ward_code", "postcode", "lsoa11cd"]))
def test_any_bytes_as_current_zones_load_or_raise_an_input_error(data: bytes, key: str, reference: pd.DataFrame) -> None:
    with written(data) as path:
        try:
            zones = read_current_zones(path, reference, key=key)
        except InputError:
            return
        assert zones.notna().all() and len(zones) == int(reference["in_area"].sum())


def _postcodes(reference: pd.DataFrame) -> st.SearchStrategy[str]:
    inside = reference.index[reference["in_area"]].tolist()[:300]
    outside = reference.index[~reference["in_area"]].tolist()[:50]
    spaced = [p.replace(" ", "").lower() for p in inside[:50]]
    return st.one_of(st.sampled_from(inside), st.sampled_from(outside), st.sampled_from(spaced),
                     st.sampled_from(["ZZ99 9ZZ", "EC1A 1BB", "", "LE13", "nonsense"]),
                     st.text(st.characters(codec="cp1252"), max_size=8))


HOURS = st.one_of(
    st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False).map(str),
    st.integers(min_value=1000, max_value=9_999_999).map(lambda n: f"{n:,}"),  # thousands separators
    st.sampled_from(["", "abc", "-3", "1e3", "nan", "inf", "7,5", "99999999"]),
)


@FUZZ
@given(data=st.data())
def test_a_random_demand_table_conserves_every_hour_or_raises(data: st.DataObject, reference: pd.DataFrame) -> None:
    rows = data.draw(st.lists(st.tuples(_postcodes(reference), HOURS,
                                        st.sampled_from(["adults", "Children", "", "live-in", "aliens"])),
                              min_size=0, max_size=25))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["Postcode", "Hours Per Week", "Cohort"])
    writer.writerows(rows)
    with written(text.getvalue().encode(data.draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])))) as path:
        try:
            kept, excluded = read_demand(path, reference, on_unmatched="exclude")
        except InputError as exc:
            assert exc.problems  # every refusal says why
            return
    total = math.fsum(float(h.replace(",", "")) for _, h, _ in rows)
    assert len(kept) + excluded.rows == len(rows)  # no row lost
    assert math.fsum(kept["hours_per_week"]) + excluded.hours == pytest.approx(total, rel=1e-12, abs=1e-9)


@pytest.fixture(scope="module")
def scenario_text(melton_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("fuzz-scenario")
    for name in ("postcodes.csv", "lsoa.geojson", "demand.csv", "providers.csv", "zones.csv"):
        (folder / name).symlink_to(melton_dir / name)
    path = write_scenario(folder)
    return path, path.read_text(encoding="utf-8")


@FUZZ
@given(data=st.binary(max_size=600))
def test_any_bytes_as_a_scenario_load_or_raise_a_scenario_error(data: bytes, scenario_text: tuple[Path, str]) -> None:
    path, _ = scenario_text
    fuzz = path.with_name("fuzz.toml")
    fuzz.write_bytes(data)
    try:
        load_scenario(fuzz)
    except ScenarioError:
        pass


VALUES = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True), st.text(max_size=12).map(repr),
                   st.sampled_from(["true", "[]", "{}", '"14"', "[1, 2]", '""', "-0.0", "1e400", "nan"]))


@FUZZ
@given(data=st.data())
def test_a_scenario_with_random_values_loads_or_raises_a_scenario_error(data: st.DataObject,
                                                                       scenario_text: tuple[Path, str]) -> None:
    path, text = scenario_text
    lines = text.splitlines()
    candidates = [i for i, line in enumerate(lines) if " = " in line]
    i = data.draw(st.sampled_from(candidates))
    value = data.draw(VALUES)
    key = lines[i].split(" = ", 1)[0]
    lines[i] = f"{key} = {value}"
    fuzz = path.with_name("fuzz.toml")
    fuzz.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        load_scenario(fuzz)
    except ScenarioError:
        pass
