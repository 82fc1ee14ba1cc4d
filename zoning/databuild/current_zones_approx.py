"""An APPROXIMATE reconstruction of a council's current home-care zones from district wards.

No official zone boundary file is available offline. Council papers only name the places
each zone contains (see ``councils.md``), so each ward of the area is given a zone by an
ordered rule table: the first rule whose district matches and whose ward-name pattern
matches wins. Every rule carries a short ``basis`` note that is written next to the ward.

The result is a reproducible, documented approximation, not the council's map. Rebuild with
:func:`write_current_zones` (called by ``carezones data build``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from zoning.atomic import write_text, write_with
from zoning.errors import DataError

log = logging.getLogger("zoning.databuild")

ZONE_COLUMNS = ["ward_code", "ward_name", "district_name", "zone", "basis"]


@dataclass(frozen=True)
class ZoneRule:
    """Wards of ``district`` whose name fully matches regex ``ward`` go to ``zone``."""

    district: str
    ward: str
    zone: str
    basis: str


def _r(district: str, ward: str, zone: str, basis: str) -> ZoneRule:
    return ZoneRule(district=district, ward=ward, zone=zone, basis=basis)


# Leicestershire (E10000018): 14 zones named in the council's market position statement.
# Ward names are Code-Point Open 2025 (Boundary-Line) names without the " Ward" suffix.
LEICESTERSHIRE_RULES: tuple[ZoneRule, ...] = (
    # Blaby
    _r("Blaby", r"Braunstone .*", "West Leicester", "Braunstone named in West Leicester"),
    _r("Blaby", r"Glenfield .*|Kirby Muxloe|Leicester Forest & Lubbesthorpe|Thorpe Astley.*",
       "West Leicester", "west-of-city suburb between Braunstone and Ratby/Groby (geography)"),
    _r("Blaby", r"Fosse Highcross", "Hinckley", "contains Sapcote, named in Hinckley"),
    _r("Blaby", r"Fosse Stoney Cove", "Hinckley", "contains Stoney Stanton, named in Hinckley"),
    _r("Blaby", r"Blaby|Countesthorpe|Narborough.*|North Whetstone|Cosby & South Whetstone",
       "South Leicestershire", "Narborough/Blaby/Countesthorpe/Whetstone named"),
    _r("Blaby", r".*", "South Leicestershire",
       "rest of Blaby district south of the city (Enderby, Glen Parva, Fosse Normanton)"),
    # Charnwood
    _r("Charnwood", r"Loughborough .*|Shepshed .*|Dishley, Hathern & Thorpe Acre",
       "Charnwood North", "Loughborough/Shepshed town wards"),
    _r("Charnwood", r"The Wolds", "Charnwood North", "Wolds villages north-east of Loughborough"),
    _r("Charnwood", r"Anstey", "West Leicester", "Anstey named in West Leicester"),
    _r("Charnwood", r"Forest Bradgate", "West Leicester",
       "Bradgate villages between Anstey and Markfield (geography)"),
    _r("Charnwood", r".*", "Charnwood South",
       "Soar/Wreake valley north of the city (Quorn, Barrow, Mountsorrel, Birstall, Syston)"),
    # Harborough
    _r("Harborough", r"Market Harborough-.*", "Market Harborough", "Market Harborough town"),
    _r("Harborough", r"Lutterworth .*", "Lutterworth", "Lutterworth town"),
    _r("Harborough", r"Glen", "Oadby and Wigston", "Great Glen named in Oadby and Wigston"),
    _r("Harborough", r"Fleckney", "Oadby and Wigston", "Fleckney named in Oadby and Wigston"),
    _r("Harborough", r"Kibworths", "Oadby and Wigston",
       "'Kilworth Harcourt' in the council's list read as Kibworth Harcourt (Kibworths ward)"),
    _r("Harborough", r"Broughton Astley.*", "Hinckley", "Broughton Astley named in Hinckley"),
    _r("Harborough", r".*", "Harborough rural", "rural Harborough district"),
    # Hinckley and Bosworth
    _r("Hinckley and Bosworth", r"Hinckley .*|Burbage .*|Earl Shilton|Barwell", "Hinckley",
       "Hinckley, Burbage, Earl Shilton, Barwell urban area"),
    _r("Hinckley and Bosworth", r"Groby|Ratby, Bagworth and Thornton|Markfield.*",
       "West Leicester", "Groby/Ratby/Markfield named in West Leicester"),
    _r("Hinckley and Bosworth", r".*", "West Leicestershire rural",
       "rural Bosworth (Market Bosworth, Desford, Newbold Verdon named)"),
    # Melton
    _r("Melton", r"Bottesford", "Bottesford", "Bottesford named (small town)"),
    _r("Melton", r".*", "Melton", "Melton Mowbray and villages (Asfordby, Harby named)"),
    # North West Leicestershire
    _r("North West Leicestershire", r"Castle Donington .*", "Castle Donington",
       "Castle Donington town"),
    _r("North West Leicestershire", r"Daleacre Hill", "Castle Donington",
       "Lockington-Hemington villages beside Castle Donington (geography)"),
    _r("North West Leicestershire", r"Kegworth", "Charnwood North",
       "Kegworth named in Charnwood North"),
    _r("North West Leicestershire", r"Long Whatton & Diseworth", "Charnwood North",
       "villages between Kegworth and Shepshed (geography)"),
    _r("North West Leicestershire", r".*", "Coalville and Ashby",
       "Coalville, Ashby, Ibstock, Measham and surrounding wards"),
    # Oadby and Wigston
    _r("Oadby and Wigston", r".*", "Oadby and Wigston", "Oadby and Wigston borough"),
)  # fmt: skip

RULE_TABLES: Mapping[str, tuple[ZoneRule, ...]] = {"E10000018": LEICESTERSHIRE_RULES}
EXPECTED_ZONES: Mapping[str, int] = {"E10000018": 14}


def wards_of(postcodes: pd.DataFrame) -> pd.DataFrame:
    """Distinct in-area wards (ward_code, ward_name, district_name) of a built postcodes table."""
    inside = postcodes[postcodes["in_area"].astype(int) == 1]
    wards = inside[["ward_code", "ward_name", "district_name"]].drop_duplicates()
    dup = wards["ward_code"].duplicated(keep=False)
    if dup.any():
        raise DataError(
            f"Ward codes with more than one name/district: {sorted(wards.loc[dup, 'ward_code'])}. "
            "Expected one name and district per ward. How to fix: rebuild the postcodes file."
        )
    return wards.sort_values(["district_name", "ward_name"]).reset_index(drop=True)


def assign_zones(wards: pd.DataFrame, rules: Sequence[ZoneRule]) -> pd.DataFrame:
    """Give every ward exactly one zone (first matching rule); report all unmatched wards."""
    zones: list[str] = []
    bases: list[str] = []
    used: set[int] = set()
    problems: list[str] = []
    for ward in wards.itertuples(index=False):
        hit = next(
            (
                (i, rule)
                for i, rule in enumerate(rules)
                if rule.district == ward.district_name and re.fullmatch(rule.ward, ward.ward_name)
            ),
            None,
        )
        if hit is None:
            problems.append(f"{ward.ward_code} {ward.ward_name!r} ({ward.district_name}): no rule")
            zones.append("")
            bases.append("")
            continue
        used.add(hit[0])
        zones.append(hit[1].zone)
        bases.append(hit[1].basis)
    if problems:
        raise DataError(
            "Some wards match no zone rule:\n  - " + "\n  - ".join(problems) + "\nHow to fix: "
            "add a rule (district, ward-name regex, zone, basis) to the rule table."
        )
    unused = [f"{r.district}: {r.ward}" for i, r in enumerate(rules) if i not in used]
    if unused:
        log.warning("zone rules matching no ward (stale ward names?): %s", unused)
    out = wards[["ward_code", "ward_name", "district_name"]].copy()
    out["zone"] = zones
    out["basis"] = bases
    return out[ZONE_COLUMNS]


def _readme(area_code: str, table: pd.DataFrame, rules: Sequence[ZoneRule]) -> str:
    counts = table.groupby("zone").size().sort_index()
    zone_lines = "\n".join(f"| {z} | {n} |" for z, n in counts.items())
    rule_lines = "\n".join(f"| {r.district} | `{r.ward}` | {r.zone} | {r.basis} |" for r in rules)
    return f"""# Current home-care zones — APPROXIMATE reconstruction

**This is an approximation, not the council's zone map.** No official zone boundary file is
available offline; the council's papers only name the places each of its 14 zones contains
(see `councils.md`). `{area_code}_current_zones_approx.csv` gives each of the area's
{len(table)} district wards (Code-Point Open 2025.2.0 ward codes and names) exactly one zone,
by the ordered rule table below (first match wins), with a short `basis` note per ward.

Rebuild: `carezones data build --area {area_code}` (rule table in
`zoning/current_zones_approx.py`).

Columns: `ward_code`, `ward_name`, `district_name`, `zone`, `basis`.

## Known approximations
- Real zones may split wards or follow parish lines; a ward here is wholly in one zone.
- Wards not named in the council's list are placed by district and geography (ward postcode
  centroids): e.g. Glenfield, Kirby Muxloe and Thorpe Astley join West Leicester; Daleacre
  Hill joins Castle Donington; Long Whatton & Diseworth joins Charnwood North; Thurnby &
  Houghton stays in Harborough rural although it borders Oadby.
- The council lists "Kilworth Harcourt" in Oadby and Wigston; it is read as Kibworth
  Harcourt (Kibworths ward, next to Fleckney and Great Glen). The Kilworths (Bosworth ward)
  stay in Harborough rural.
- Broughton Astley (Harborough district) is in Hinckley, as listed by the council.

## Wards per zone
| zone | wards |
|---|---|
{zone_lines}

## Rule table (ordered)
| district | ward name regex | zone | basis |
|---|---|---|---|
{rule_lines}

Ward names and codes: OS Code-Point Open 2025.2.0 code list. Contains OS data © Crown
copyright and database right 2025. Open Government Licence v3.
"""


def write_current_zones(
    postcodes: pd.DataFrame, *, area_code: str, out_dir: Path
) -> tuple[Path, int]:
    """Write ``<area>_current_zones_approx.csv`` and README.md into ``out_dir``."""
    rules = RULE_TABLES.get(area_code)
    if rules is None:
        raise DataError(
            f"No current-zone rule table for {area_code}; available: {sorted(RULE_TABLES)}. "
            "How to fix: add one to zoning/current_zones_approx.py."
        )
    table = assign_zones(wards_of(postcodes), rules)
    n_zones = table["zone"].nunique()
    expected = EXPECTED_ZONES.get(area_code)
    if expected is not None and n_zones != expected:
        raise DataError(
            f"{area_code}: the rule table gives {n_zones} zones; expected {expected}. "
            "How to fix: check the rule table covers every zone."
        )
    out_dir = Path(out_dir)
    path = out_dir / f"{area_code}_current_zones_approx.csv"
    write_with(path, lambda tmp: table.to_csv(tmp, index=False, lineterminator="\n"))
    write_text(out_dir / "README.md", _readme(area_code, table, rules))
    log.info("current zones (approx.): %d wards in %d zones -> %s", len(table), n_zones, path)
    return path, len(table)

