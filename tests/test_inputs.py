"""Input validation: every problem named with its row, nothing dropped silently, inputs untouched."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import file_digest
from zoning.errors import InputError
from zoning.inputs import parse_hours, read_current_zones, read_demand, read_providers
from zoning.postcodes import load_reference_postcodes, normalise_postcode


@pytest.fixture(scope="module")
def reference(melton_dir: Path) -> pd.DataFrame:
    return load_reference_postcodes(melton_dir / "postcodes.csv")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" le13  0aa ", "LE13 0AA"), ("LE130AA", "LE13 0AA"), ("ng13 0aa", "NG13 0AA"), ("LE1 1AA", "LE1 1AA"),
     ("EC1A 1BB", "EC1A 1BB"), ("LE13", None), ("", None), (None, None), ("12345", None)],
)
def test_normalise_postcode(raw: object, expected: str | None) -> None:
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [("7.5", 7.5), ("1,234", 1234.0), (" 12 ", 12.0), ("0", 0.0),
                                               ("-3", -3.0), ("abc", None), ("", None), ("1,23", None), ("7,5", None)])
def test_parse_hours(raw: str, expected: float | None) -> None:
    assert parse_hours(raw) == expected


def test_messy_but_valid_demand_is_read(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "d.csv"
    path.write_text("\ufeffPostcode , Hours Per Week,Cohort\n le13 0aa ,\"1,234\",Adults\nNG130AA,7.5,live-in\n"
                    "LE13 0AA,2,\n", encoding="utf-8")
    demand, excluded = read_demand(path, reference)
    assert demand["postcode"].tolist() == ["LE13 0AA", "NG13 0AA", "LE13 0AA"]
    assert demand["hours_per_week"].tolist() == [1234.0, 7.5, 2.0]
    assert demand["cohort"].tolist() == ["adults", "live_in", "adults"]
    assert demand["row"].tolist() == [2, 3, 4]
    assert excluded.rows == 0


def test_every_bad_row_is_named_in_one_error(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "d.csv"
    path.write_text("postcode,hours_per_week,cohort\nLE13 0AA,lots,adults\nLE13 0AA,-2,adults\n"
                    "NOT A PC,3,adults\nLE13 0AA,3,aliens\nLE13 0AA,4,adults\n", encoding="utf-8")
    before = file_digest(path)
    with pytest.raises(InputError) as info:
        read_demand(path, reference)
    message = str(info.value)
    assert "4 problem(s)" in message
    for fragment in ("row 2: hours_per_week 'lots' is not a number", "row 3: hours_per_week '-2' is negative",
                     "row 4: postcode 'NOT A PC' is not a valid UK postcode", "row 5: cohort 'aliens'"):
        assert fragment in message
    assert str(path) in message
    assert file_digest(path) == before


def test_unknown_and_out_of_area_postcodes_stop_the_run_with_their_hours(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "d.csv"
    path.write_text("postcode,hours_per_week\nLE13 0AA,5\nZZ99 9ZZ,6.5\nLE1 1AA,3\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_demand(path, reference)
    message = str(info.value)
    assert "row 3: postcode ZZ99 9ZZ is not in the postcode data" in message and "(6.5 hours/week)" in message
    assert "row 4: postcode LE1 1AA is outside the area (a live postcode in Leicester)" in message
    assert "9.5 hours/week do not match" in message
    assert 'on_unmatched = "exclude"' in message


def test_excluded_rows_are_counted_not_lost(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "d.csv"
    path.write_text("postcode,hours_per_week\nLE13 0AA,5\nZZ99 9ZZ,6.5\n", encoding="utf-8")
    demand, excluded = read_demand(path, reference, on_unmatched="exclude")
    assert len(demand) == 1
    assert (excluded.rows, excluded.hours) == (1, 6.5)
    assert "row 3" in excluded.examples[0]


def test_missing_columns_are_named(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "d.csv"
    path.write_text("where,hours\nLE13 0AA,5\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"missing column\(s\) \['postcode', 'hours_per_week'\]; found \['where', 'hours'\]"):
        read_demand(path, reference)


def test_xlsx_demand_is_read(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "d.xlsx"
    pd.DataFrame({"postcode": ["le13 0aa"], "hours_per_week": [3.25]}).to_excel(path, index=False)
    demand, _ = read_demand(path, reference)
    assert demand["hours_per_week"].tolist() == [3.25]


def test_provider_problems_are_all_reported(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "p.csv"
    path.write_text("provider_id,name,postcode,capacity_hours_per_week\nA,One,LE13 0AA,100\nA,Two,LE13 0AA,x\n"
                    "B,Three,ZZ99 9ZZ,10\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_providers(path, reference)
    message = str(info.value)
    assert "row 3: provider_id 'A' repeats row 2" in message
    assert "row 3: capacity_hours_per_week 'x'" in message
    assert "row 4: postcode ZZ99 9ZZ is not in the postcode data" in message


def test_current_zones_must_cover_every_ward(tmp_path: Path, melton_dir: Path, reference: pd.DataFrame) -> None:
    zones = pd.read_csv(melton_dir / "zones.csv", dtype=str)
    dropped = zones.iloc[0]
    path = tmp_path / "z.csv"
    zones.iloc[1:].to_csv(path, index=False)
    with pytest.raises(InputError, match=rf"{dropped['ward_code']} \({dropped['ward_name']}\) has no zone"):
        read_current_zones(path, reference, key="ward_code")
    full = read_current_zones(melton_dir / "zones.csv", reference, key="ward_code")
    assert full.notna().all() and len(full) == int(reference["in_area"].sum())


def test_current_zones_from_a_polygon_file(tmp_path: Path, melton_dir: Path, reference: pd.DataFrame) -> None:
    import geopandas as gpd

    lsoa = gpd.read_file(melton_dir / "lsoa.geojson")
    lsoa = lsoa[lsoa["in_area"] == 1]
    lsoa["zone"] = ["north" if y > 325_000 else "south" for y in lsoa.to_crs(27700).geometry.centroid.y]
    path = tmp_path / "zones.gpkg"
    lsoa.dissolve(by="zone", as_index=False)[["zone", "geometry"]].to_crs(27700).to_file(path)
    zones = read_current_zones(path, reference, key="polygon")
    assert zones.notna().all() and set(zones) == {"north", "south"}
    ref = reference[reference["in_area"]]
    by_lsoa = dict(zip(lsoa["lsoa11cd"], lsoa["zone"], strict=True))
    agree = (ref["lsoa11cd"].map(by_lsoa) == zones.reindex(ref.index)).mean()
    assert agree > 0.9  # generalised polygons: most postcodes fall in their own LSOA's zone

    no_crs = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame({"zone": ["a"]}, geometry=[lsoa.to_crs(27700).union_all()], crs=None).to_file(no_crs)
    with pytest.raises(InputError, match="has no CRS"):
        read_current_zones(no_crs, reference, key="polygon")


def test_numbers_must_be_finite_and_sane() -> None:
    assert parse_hours("1" * 400) is None
    assert parse_hours("inf") is None and parse_hours("NaN") is None
    assert parse_hours("9" * 9) is None  # more than 10^7 hours in one cell


@pytest.mark.parametrize("header", ["postcode,hours_per_week,Hours Per Week", "postcode,hours_per_week,hours_per_week"])
def test_repeated_column_names_are_refused(tmp_path: Path, reference: pd.DataFrame, header: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text(f"{header}\nLE13 0AA,1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="column names repeat"):
        read_demand(path, reference)


def test_postcode_keyed_current_zones_name_bad_rows(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "z.csv"
    path.write_text("postcode,zone\nLE13 0AA,a\nnonsense,b\n,c\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 3: postcode 'nonsense' is not valid"):
        read_current_zones(path, reference, key="postcode")
