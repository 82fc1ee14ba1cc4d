"""The data build's report and helpers about areas: names, the councils that can be built,
and LSOA membership for councils created or renamed since 2011."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from zoning.databuild import geometry as geo
from zoning.databuild import sources as src
from zoning.databuild.calibration import LineFit
from zoning.databuild.sources import SourceWheels
from zoning.errors import DataError

log = logging.getLogger("zoning.databuild")


@dataclass(frozen=True)
class AreaBuildReport:
    """Counts per output and the paths written by :func:`build_area`."""

    area_code: str
    context_codes: tuple[str, ...]
    postcodes_by_area: Mapping[str, int]
    postcodes_excluded_no_coords: int
    positional_quality_90: int
    lsoa_source_counts: Mapping[str, int]
    lookup_terminated_only: int
    lookup_other_district: int
    large_user_postcodes: int
    wards_in_area: int
    lsoas_by_area: Mapping[str, int]
    lsoa_components_in_area: int
    invalid_polygons_repaired: int
    districts: tuple[str, ...]
    pop_65_plus_by_area: Mapping[str, float]
    travel_pairs: int
    travel_fit: LineFit
    zones_written: int
    area_name: str = ""
    districts_from_postcodes: tuple[str, ...] = ()  # created/renamed since 2011: LSOAs from postcodes
    paths: tuple[Path, ...] = field(default_factory=tuple)
    seconds: float = 0.0

    def describe(self) -> list[str]:
        """Readable lines for the command line (not a repr)."""
        f = self.travel_fit
        area_lsoas = self.lsoas_by_area.get(self.area_code, 0)
        lines = [
            f"{self.area_name or self.area_code} ({self.area_code}): {self.postcodes_by_area.get(self.area_code, 0):,} "
            f"postcodes, {area_lsoas:,} LSOAs in {self.lsoa_components_in_area} piece(s), {self.wards_in_area} wards, "
            f"65+ population {self.pop_65_plus_by_area.get(self.area_code, 0):,.0f}",
            "context (providers may sit there): " + (", ".join(
                f"{c} ({self.postcodes_by_area.get(c, 0):,} postcodes)" for c in self.context_codes) or "none"),
            f"districts: {', '.join(self.districts)}",
            f"travel fit: minutes = {f.intercept_min:.2f} + {f.slope_min_per_km:.3f} x km (R2 {f.r2:.3f}, RMSE "
            f"{f.rmse_min:.2f} min, {f.n:,} LSOA-hospital pairs)" if f.n else
            f"travel fit: none possible (no LSOA-hospital pairs under 40 km); typical coefficients {f.intercept_min:.2f} "
            f"+ {f.slope_min_per_km:.3f} x km",
        ]
        if self.districts_from_postcodes:
            lines.append("LSOAs taken from the postcodes' current district codes (Code-Point Open April 2025; no LSOA "
                         f"2011 name matches these councils): {', '.join(self.districts_from_postcodes)}")
        if self.zones_written:
            lines.append(f"approximate current zones: {self.zones_written} rows")
        lines.append(f"{len(self.paths)} files written in {self.seconds:.1f} s")
        return lines


def area_name(areas: Sequence[str], codelist: Mapping[str, str]) -> str:
    """``"Leicester and Leicestershire"``: the councils' names from the code list."""
    names = [src.clean_name(codelist.get(a, a)) for a in areas]
    names = [n.removeprefix("City of ").removeprefix("County of ") if n not in ("City of London",) else n
             for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def lsoas_from_postcodes(
    unmatched: Sequence[geo.District], cpo: pd.DataFrame, lookup: src.LookupResult
) -> dict[str, geo.District]:
    """LSOA -> district for districts no LSOA name matches (created or renamed since 2011):
    an LSOA belongs to the district holding most of its live postcodes (ONS lookup LSOA,
    Code-Point Open April 2025 district code)."""
    codes = {d.code: d for d in unmatched}
    mine = cpo[["postcode", "district_code"]].merge(lookup.rows[["postcode", "lsoa11cd"]], on="postcode")
    mine = mine[mine["district_code"].isin(codes)]
    counts = mine.groupby(["lsoa11cd", "district_code"]).size().rename("n").reset_index()
    totals = lookup.lsoa_live_postcodes if lookup.lsoa_live_postcodes is not None else counts.groupby("lsoa11cd")["n"].sum()
    counts["share"] = counts["n"] / counts["lsoa11cd"].map(totals).fillna(counts["n"]).clip(lower=1)
    counts = counts.sort_values(["lsoa11cd", "share"], ascending=[True, False]).drop_duplicates("lsoa11cd")
    chosen = counts[counts["share"] > 0.5]
    out = {str(r.lsoa11cd): codes[str(r.district_code)] for r in chosen.itertuples()}
    for d in unmatched:
        n = sum(1 for v in out.values() if v.code == d.code)
        log.warning(
            "district %s %r: no LSOA 2011 name matches it (created or renamed since 2011); its %d LSOAs were taken "
            "from its postcodes' current district codes (Code-Point Open April 2025): an LSOA belongs to it when "
            "most of its live postcodes do", d.code, d.name, n,
        )
        if n == 0:
            raise DataError(f"district {d.code} {d.name!r}: no LSOA holds a majority of its postcodes; cannot build it")
    return out


AREA_KINDS = {"E10": "shire county", "E06": "unitary", "E08": "metropolitan borough", "E09": "London borough",
              "E07": "shire district"}


def buildable_areas(wheels: SourceWheels, *, districts: bool = False) -> list[tuple[str, str, str]]:
    """(code, name, kind) of every council in Code-Point Open's code list with adult social care
    duties (counties, unitaries, metropolitan and London boroughs; ``districts`` adds E07)."""
    cpo_zip = src.open_codepoint(wheels)
    try:
        codelist = src.read_codelist(cpo_zip, wheel=wheels.geocode)
    finally:
        cpo_zip.close()
    kinds = {k: v for k, v in AREA_KINDS.items() if districts or k != "E07"}
    rows = [(c, src.clean_name(n), kinds[c[:3]]) for c, n in codelist.items() if c[:3] in kinds]
    return sorted(rows, key=lambda r: (list(kinds).index(r[0][:3]), r[1]))
