"""Price bands: the density rule on hand-made points with known answers, user files, and a
plausibility check on the real Leicestershire postcodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from tests.conftest import DATA
from zoning.bands import band_rates, classify_bands, density_bands, postcode_density, read_band_file
from zoning.errors import InputError
from zoning.postcodes import load_reference_postcodes
from zoning.scenario import BandOptions


def _points(xy: list[tuple[float, float]], *, large: list[bool] | None = None) -> pd.DataFrame:
    names = [f"AB1 {i}AA" for i in range(len(xy))]
    return pd.DataFrame(
        {"easting": [p[0] for p in xy], "northing": [p[1] for p in xy],
         "large_user": large if large is not None else [False] * len(xy), "lsoa11cd": "E01000001", "in_area": True},
        index=pd.Index(names, name="postcode"),
    )


def test_density_counts_residential_neighbours_within_the_radius() -> None:
    # a cluster of 5 homes within 100 m, one large user among them, and a home 5 km away
    frame = _points([(0, 0), (50, 0), (0, 50), (60, 60), (30, 30), (5000, 0)],
                    large=[False, False, False, False, True, False])
    density = postcode_density(frame, radius_m=1000)
    assert density.tolist() == [4, 4, 4, 4, 4, 1]  # the large user is counted by none


def test_thresholds_give_the_four_bands() -> None:
    options = BandOptions(urban_min=100, fringe_min=40, rural_min=10)
    density = pd.Series([250, 100, 99, 40, 39, 10, 9, 1])
    assert density_bands(density, options=options).tolist() == [
        "urban", "urban", "fringe", "fringe", "rural", "rural", "isolated", "isolated"]


def test_thresholds_must_fall_and_rates_cover_every_band() -> None:
    with pytest.raises(ValidationError, match="urban_min > fringe_min > rural_min"):
        BandOptions(urban_min=10, fringe_min=40, rural_min=5)
    with pytest.raises(ValidationError, match="missing \\['isolated'\\]"):
        BandOptions(rates={"urban": 20.0, "fringe": 21.0, "rural": 22.0})
    assert band_rates(BandOptions()) == {"urban": 21.5, "fringe": 22.5, "rural": 24.0, "isolated": 26.0}


def test_user_band_file_by_postcode_and_lsoa(tmp_path: Path) -> None:
    frame = _points([(0, 0), (10, 0)])
    by_pc = tmp_path / "bands.csv"
    by_pc.write_text("postcode,band\nab10aa,Rural\nAB1 1AA,isolated\n", encoding="utf-8")
    assert read_band_file(by_pc, frame, key="postcode").tolist() == ["rural", "isolated"]
    by_lsoa = tmp_path / "lsoa.csv"
    by_lsoa.write_text("lsoa11cd,band\nE01000001,fringe\n", encoding="utf-8")
    options = BandOptions(path=by_lsoa, key="lsoa11cd")
    assert classify_bands(frame, options=options).tolist() == ["fringe", "fringe"]


def test_user_band_file_problems_reported_together(tmp_path: Path) -> None:
    frame = _points([(0, 0), (10, 0), (20, 0)])
    bad = tmp_path / "bands.csv"
    bad.write_text("postcode,band\nAB1 0AA,suburban\nAB1 0AA,urban\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_band_file(bad, frame, key="postcode")
    assert "row 2, column band: 'suburban'" in str(err.value) and "row 3, column postcode" in str(err.value)
    partial = tmp_path / "partial.csv"
    partial.write_text("postcode,band\nAB1 0AA,urban\n", encoding="utf-8")
    with pytest.raises(InputError, match="covers 1 of 3 in-area postcodes; missing postcode values include AB1 1AA"):
        read_band_file(partial, frame, key="postcode")


@pytest.fixture(scope="module")
def leicestershire_bands() -> pd.DataFrame:
    ref = load_reference_postcodes(DATA / "postcodes" / "E10000018_postcodes.csv")
    ref["band"] = classify_bands(ref, options=BandOptions())
    return ref[ref["in_area"]]


@pytest.mark.parametrize("ward", ["Loughborough", "Hinckley", "Coalville", "Wigston", "Market Harborough"])
def test_towns_are_mostly_urban(leicestershire_bands: pd.DataFrame, ward: str) -> None:
    town = leicestershire_bands[leicestershire_bands["ward_name"].str.startswith(ward)]
    assert len(town) > 100
    assert (town["band"] == "urban").mean() > 0.75


@pytest.mark.parametrize("ward", ["Nevill", "Billesdon & Tilton", "Dunton", "Misterton"])
def test_harborough_villages_are_rural_or_isolated(leicestershire_bands: pd.DataFrame, ward: str) -> None:
    area = leicestershire_bands[leicestershire_bands["ward_name"] == ward]
    assert len(area) > 50
    assert area["band"].isin(["rural", "isolated"]).mean() > 0.7


def test_every_band_is_used_and_urban_is_the_largest(leicestershire_bands: pd.DataFrame) -> None:
    counts = leicestershire_bands["band"].value_counts()
    assert set(counts.index) == {"urban", "fringe", "rural", "isolated"}
    assert counts.idxmax() == "urban" and counts["isolated"] == counts.min()
    assert np.isclose(counts.sum(), len(leicestershire_bands))
