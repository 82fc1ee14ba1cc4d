"""Price bands: urban / fringe / rural / isolated, per postcode, and their hourly rates.

Councils pay higher hourly rates where care workers drive further between visits. No
rural-urban classification is available offline, so the default rule is a density proxy
computed from OS Code-Point Open alone:

    n = residential postcodes (``large_user`` false) within ``radius_m`` (default 1 km) of
    the postcode, counting postcodes outside the area too (so a border town is not "rural"
    because its neighbours lie across the boundary), the postcode itself included.

    urban     n >= urban_min   (default 100)
    fringe    n >= fringe_min  (default 40)
    rural     n >= rural_min   (default 10)
    isolated  otherwise

A postcode holds about 15 addresses, so 100 postcodes within 1 km (3.14 km²) is roughly
480 households per km². On Leicestershire (2025 postcodes) the rule gives 10,041 urban,
3,316 fringe, 2,375 rural and 1,177 isolated postcodes; the medians of ``n`` are 202
(Loughborough wards), 229 (Hinckley), 211 (Coalville), 192 (Market Harborough) against 12
(Nevill), 9 (Billesdon & Tilton) and 10 (Dunton) in rural Harborough.

A council with its own banding supplies a CSV (``postcode,band`` or ``lsoa11cd,band``) through
the scenario's ``[bands]`` section instead. The default hourly rates are ILLUSTRATIVE.

:func:`classify_bands` is the plain entry point (also for a cost objective):
``classify_bands(postcodes, options=scenario.bands)`` -> ``pd.Series`` of band names indexed
by postcode; :func:`band_rates` gives the hourly rate per band.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from zoning.errors import InputError
from zoning.inputs import read_table
from zoning.postcodes import normalise_postcode
from zoning.scenario import BAND_NAMES, BandOptions

__all__ = ["BAND_NAMES", "band_rates", "classify_bands", "density_bands", "postcode_density", "read_band_file"]

log = logging.getLogger(__name__)


def postcode_density(postcodes: pd.DataFrame, *, radius_m: float) -> pd.Series:
    """Residential postcodes within ``radius_m`` of each postcode (itself included if residential).

    ``postcodes`` needs ``easting``, ``northing`` (EPSG:27700 metres) and ``large_user``;
    the result has the same index.
    """
    missing = [c for c in ("easting", "northing", "large_user") if c not in postcodes.columns]
    if missing:
        raise ValueError(f"postcode_density: expected columns {missing}; received {list(postcodes.columns)}")
    xy = postcodes[["easting", "northing"]].to_numpy(float)
    homes = xy[~postcodes["large_user"].astype(bool).to_numpy()]
    if len(homes) == 0:
        return pd.Series(0, index=postcodes.index, dtype=np.int64)
    counts = cKDTree(homes).query_ball_point(xy, r=radius_m, return_length=True)
    return pd.Series(np.asarray(counts, dtype=np.int64), index=postcodes.index, name="postcodes_within_radius")


def density_bands(density: pd.Series, *, options: BandOptions) -> pd.Series:
    """Apply the thresholds of ``options`` to a density series (see the module docstring)."""
    n = density.to_numpy()
    band = np.select(
        [n >= options.urban_min, n >= options.fringe_min, n >= options.rural_min],
        list(BAND_NAMES[:3]),
        default=BAND_NAMES[3],
    )
    return pd.Series(band, index=density.index, name="band")


def read_band_file(path: Path, postcodes: pd.DataFrame, *, key: str) -> pd.Series:
    """User-supplied bands: CSV ``postcode,band`` or ``lsoa11cd,band`` -> band per postcode.

    Every problem is reported together (row as a spreadsheet shows it, column, value, why).
    In-area postcodes the file does not cover raise too (a partial banding would silently
    price some clients at the wrong rate); postcodes outside the area may be left out.
    """
    table = read_table(path)  # the same encodings and header normalisation as every input
    need = [key, "band"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise InputError(path, [f"expected columns {need}; received {list(table.columns)}"],
                         hint=f"a CSV with a header '{key},band'")
    problems: list[str] = []
    table["band"] = table["band"].str.strip().str.lower()
    for i, value in table.loc[~table["band"].isin(BAND_NAMES), "band"].items():
        problems.append(f"row {int(i) + 2}, column band: {value!r} is not one of {list(BAND_NAMES)}")
    if key == "postcode":
        table["key"] = table["postcode"].map(normalise_postcode)
        target = pd.Series(postcodes.index, index=postcodes.index)
    else:
        table["key"] = table["lsoa11cd"].str.strip().str.upper()
        target = postcodes["lsoa11cd"]
    for i, value in table.loc[table["key"].duplicated(keep="first"), key].items():
        problems.append(f"row {int(i) + 2}, column {key}: {value!r} appears more than once")
    if problems:
        raise InputError(path, problems, hint=f"one row per {key} with a band from {list(BAND_NAMES)}")
    lookup = table.drop_duplicates("key").set_index("key")["band"]
    bands = target.map(lookup)
    required = postcodes["in_area"].astype(bool) if "in_area" in postcodes.columns else pd.Series(True, index=bands.index)
    uncovered = bands.isna() & required
    if uncovered.any():
        examples = ", ".join(sorted(map(str, target[uncovered].unique()))[:10])
        raise InputError(
            path,
            [f"the bands file covers {int((~uncovered & required).sum()):,} of {int(required.sum()):,} "
             f"in-area postcodes; missing {key} values include {examples}"],
            hint=f"give every {key} of the area a band",
        )
    return bands.rename("band")


def classify_bands(postcodes: pd.DataFrame, *, options: BandOptions) -> pd.Series:
    """Band per postcode (index as ``postcodes``): from ``options.path`` if given, else by density.

    ``postcodes`` is the reference table (``easting``, ``northing``, ``large_user``,
    ``lsoa11cd``); pass every postcode, not only the area's, so that densities at the
    boundary count the neighbours across it.
    """
    if options.path is not None:
        bands = read_band_file(options.path, postcodes, key=options.key)
        source = f"file {options.path.name}"
    else:
        bands = density_bands(postcode_density(postcodes, radius_m=options.radius_m), options=options)
        source = f"density rule ({options.radius_m:g} m)"
    counts = bands.value_counts().reindex(list(BAND_NAMES)).fillna(0).astype(int)
    log.info("price bands from %s: %s", source, ", ".join(f"{b} {n:,}" for b, n in counts.items()))
    return bands


def band_rates(options: BandOptions) -> dict[str, float]:
    """Hourly rate (GBP) per band, in band order."""
    return {band: float(options.rates[band]) for band in BAND_NAMES}  # type: ignore[index]
