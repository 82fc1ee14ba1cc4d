"""Postcode normalisation and the reference postcode table built by `carezones data build`."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from zoning.errors import DataError

log = logging.getLogger(__name__)

_CLEAN = re.compile(r"[^A-Z0-9]")
_SHAPE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")

REFERENCE_COLUMNS = (
    "postcode", "easting", "northing", "district_code", "district_name", "ward_code",
    "ward_name", "area_code", "in_area", "lsoa11cd", "lsoa_source", "large_user",
)


def normalise_postcode(raw: object) -> str | None:
    """``" le11  3tu "`` -> ``"LE11 3TU"``; ``None`` when it cannot be a UK postcode."""
    if raw is None or (isinstance(raw, float) and pd.isna(raw)):
        return None
    text = _CLEAN.sub("", str(raw).upper())
    if not _SHAPE.match(text):
        return None
    return f"{text[:-3]} {text[-3:]}"


def load_reference_postcodes(path: Path) -> pd.DataFrame:
    """The postcode table: one row per live postcode, indexed by normalised postcode."""
    if not path.is_file():
        raise DataError(
            f"postcode data not found: {path}. Build it with `carezones data build --area <code>`."
        )
    frame = pd.read_csv(path, dtype={"postcode": str, "ward_code": str, "lsoa11cd": str}, keep_default_na=False)
    missing = [c for c in REFERENCE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing columns {missing}; expected {list(REFERENCE_COLUMNS)}. "
            "Rebuild it with `carezones data build`."
        )
    if frame["postcode"].duplicated().any():
        dups = frame.loc[frame["postcode"].duplicated(), "postcode"].head(5).tolist()
        raise DataError(f"{path}: duplicate postcodes, e.g. {dups}; rebuild the data")
    frame["in_area"] = frame["in_area"].astype(int).astype(bool)
    frame["large_user"] = frame["large_user"].astype(int).astype(bool)
    log.info("loaded %d reference postcodes (%d in area) from %s", len(frame), frame["in_area"].sum(), path.name)
    return frame.set_index("postcode", drop=False)
