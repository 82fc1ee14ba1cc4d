"""Table rows and list items for the report template, formatted for one output format.

Built from the typed summary only; text from the inputs passes through the format's ``t``.
Kept apart from :mod:`maps.report` so that the template (``maps/templates/report.j2``) reads
as the report's prose and layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from maps.escape import format_number
from maps.headline import Headline
from maps.summary_types import Pieces, Summary


class Format(Protocol):
    def t(self, value: object) -> str: ...


def n(value: object, spec: str = ",.0f", missing: str = "n/a") -> str:
    """A number formatted with ``spec``; ``missing`` for None / NaN / text (template and rows)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return missing
    if not math.isfinite(number):
        return missing
    return format(int(round(number)), spec) if spec.endswith("d") else format_number(number, spec)  # no "-0.00"


_n = n


@dataclass(frozen=True)
class ReportRows:
    moves: list[list[str]]
    zones: list[list[str]]
    zone_flags: list[bool]
    zone_changes: list[list[str]]
    current: list[list[str]]
    bands: list[list[str]]
    checks: list[str]
    constraints: list[str]
    caveats: list[str]
    shortfall_list: str
    allocation: list[list[str]]  # rule "flow": capacity allocated to each zone (empty otherwise)
    notes: str  # the SYNTHETIC / APPROXIMATE / privacy caveats as sentences, for the top of page 1


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _ratio(value: float | None) -> str:
    return "no branch" if value is None else _n(value, ".2f")


def report_rows(s: Summary, h: Headline, f: Format) -> ReportRows:
    short = {x.zone for x in h.shortfalls}
    zones = [
        [f.t(z["zone"]) + (" ⚠" if z["zone"] in short else ""), f.t(z["zone_name"]), _n(z["hours_per_week"]),
         _n(z["load_vs_mean_pct"], "+.1f") + "%", _n(z["capacity_hours_per_week"]), _n(z["n_branches"], "d"),
         _ratio(z["demand_capacity_ratio"]) + (" shortfall" if z["zone"] in short else ""),
         _n(z["mean_travel_min"], ".1f"), _n(z["demand_rows"], ",.0f", "suppressed")]
        for z in s["zones"]
    ]
    current = [
        [f.t(z["zone"]), _n(z["hours_per_week"]), _n(z["load_vs_mean_pct"], "+.1f") + "%",
         _n(z["capacity_hours_per_week"]), _n(z["n_branches"], "d"), _ratio(z["demand_capacity_ratio"]),
         _n(z["mean_travel_min"], ".1f"), _n(z["demand_rows"], ",.0f", "suppressed")]
        for z in s["current_zones"]
    ] if s["current"] else []
    rates = s["bands"]["rates"]
    return ReportRows(
        moves=[[f.t(m["from_current_zone"]), f.t(m["to_proposed_zone"]), _n(m["hours_per_week"], missing="suppressed"),
                _n(m["demand_rows"], ",.0f", "suppressed"), _n(m["postcodes"], ",.0f", "suppressed")]
               for m in s["moves"]],
        zones=zones, zone_flags=[z["zone"] in short for z in s["zones"]],
        zone_changes=[[f.t(z["zone"]), f.t(z["band_mix"]), f.t(z["change"])] for z in s["zones"]],
        current=current,
        bands=[[f.t(b["band"]), _n(rates.get(b["band"]), ",.2f"), _n(b["postcodes"]),
                _n(b["clients"], ",.0f", "suppressed"), _n(b["hours_per_week"], ",.0f", "suppressed")]
               for b in s["bands"]["table"]],
        checks=[f"{'PASS' if c['passed'] else 'FAIL'} {f.t(c['name'])}: {f.t(c['detail'])}" for c in s["checks"]],
        constraints=_constraints(s, f),
        caveats=_caveats(s, h, f),
        notes=" ".join(f.t(_sentence(x)) for x in [*s["provenance"]["notes"],
                                                    *([s["privacy"]["rule"]] if s["privacy"]["client_level"] else [])]),
        allocation=_allocation(s, f),
        shortfall_list=", ".join(f"{f.t(x.zone)} {f.t(x.zone_name)} ({_ratio(x.demand_capacity_ratio)})"
                                 for x in h.shortfalls),
    )


def _allocation(s: Summary, f: Format) -> list[list[str]]:
    """Capacity allocated to each proposed zone (rule "flow"): demand, need, allocation, its branches."""
    alloc = s["constraints"]["capacity_allocation"]
    if alloc is None:
        return []
    rows = []
    for z in alloc["zones"]:
        short = z["shortfall_hours_per_week"]
        top = sorted(z["from_branches"].items(), key=lambda kv: -kv[1])
        branches = ", ".join(f"{f.t(b)} {_n(h)}" for b, h in top[:4]) + (f" and {len(top) - 4} more" if len(top) > 4 else "")
        rows.append([f.t(z["zone"]) + (" ⚠" if short > 1e-6 else ""), _n(z["demand_hours_per_week"]),
                     _n(z["need_hours_per_week"]), _n(z["allocated_hours_per_week"]), _ratio(z["demand_allocated_ratio"]),
                     f"short by {_n(short)}" if short > 1e-6 else "covered", branches or "none"])
    return rows


def _constraints(s: Summary, f: Format) -> list[str]:
    con = s["constraints"]
    cap = con["capacity"]
    if cap["rule"] == "none":
        rule = "reported, not imposed"
    elif cap["rule"] == "flow":
        rule = (f"capacity allocated to each zone must cover {_n(cap['margin'], 'g')} × its demand, from branches "
                f"within {_n(cap['reach_min'], 'g')} min of the zone centre, each branch's capacity shared between "
                "zones and counted once")
    else:
        rule = (f"capacity must cover {_n(cap['margin'], 'g')} × demand"
                + (f" within {_n(cap['radius_min'], 'g')} min of the zone centre" if cap["radius_min"]
                   else " inside the zone"))
    lines = [f"Provider capacity: rule {f.t(cap['rule'])} ({rule}); centres {f.t(cap['centres'])}; highest "
             f"demand ÷ capacity {_n(cap['max_demand_capacity_ratio'], '.2f')}."]
    if con["min_zone_hours"]:
        lines.append(f"Minimum viable zone: {_n(con['min_zone_hours'])} hours/week.")
    for cohort, bounds in con["cohorts"].items():
        lines.append(f"Cohort {f.t(cohort)} per zone: "
                     + ", ".join(f"{f.t(k)} {_n(v, 'g')}" for k, v in bounds.items() if v is not None) + ".")
    if con["named_zones"]:
        lines.append(f"Named zones: {', '.join(f.t(z) for z in con['named_zones'])}; {con['locked_units']} LSOA(s) "
                     "locked to their zone.")
    if con["kept_whole"]:
        lines.append(f"Kept whole: {', '.join(f.t(z) for z in con['kept_whole'])}.")
    if con["travel_limit_min"] is not None:
        lines.append(f"Travel limit: {_n(con['travel_limit_min'], 'g')} min to the zone centre; "
                     f"{con['isolated_postcodes']} isolated postcode(s) ({_n(con['isolated_hours_per_week'], 'g')} "
                     "hours/week) beyond it from every possible centre are exempt and listed in summary.json.")
    if con["continuity"]:
        lines.append("Continuity with today's zones: " + ", ".join(
            f"{f.t(k)} {_n(v, 'g')}" for k, v in con["continuity"].items() if v is not None) + ".")
    lines += [f"{f.t(note)}." for note in con["notes"]]
    lines += _pieces(con.get("pieces"), f)
    return lines or ["No commissioning constraints beyond balance and contiguity."]


def _pieces(pieces: Pieces | None, f: Format) -> list[str]:
    """Separate pieces of the adjacency (islands, estuaries) and every link added to join them."""
    if not pieces or (pieces["pieces_before_joining"] <= 1 and not pieces["links"]):
        return []
    lines = [f"Separate pieces: the LSOAs' shared boundaries form {pieces['pieces_before_joining']} piece(s) (main "
             f"piece {pieces['main_piece_units']} LSOAs); {len(pieces['links'])} link(s) added so zones can cross "
             "the water."]
    for p in pieces["pieces"]:
        road = "; no road reaches it (joined by the nearest gap)" if p["road_reached"] is False else ""
        own = "; a zone of its own" if p["own_zone"] else ""
        label = f"{f.t(p['name'])}: " if p["name"] else ""
        units = ", ".join(p["units"][:4]) + (" ..." if len(p["units"]) > 4 else "")
        lines.append(f"Piece {label}{len(p['units'])} LSOA(s) ({f.t(units)}), {_n(p['hours_per_week'], ',.1f')} "
                     f"hours/week{road}{own}.")
    for k in pieces["links"]:
        note = f"; {f.t(k['note'])}" if k["note"] else ""
        lines.append(f"Link {f.t(k['a'])} – {f.t(k['b'])}: {_n(k['gap_km'], '.2f')} km gap, {_n(k['minutes'], '.1f')} "
                     f"min ({f.t(k['how'])}){note}.")
    return lines


def _caveats(s: Summary, h: Headline, f: Format) -> list[str]:
    out = [f.t(note) for note in s["provenance"]["notes"]]
    if s["privacy"]["client_level"]:
        out.append(f"Personal data: {f.t(s['privacy']['rule'])}")
    if h.rates_status == "illustrative":
        out.append("Pounds use carezones' illustrative band rates, not the council's: set [bands] rates in the "
                   "scenario to use real prices.")
    out.append("Travel is to each zone's centre, one journey per hour of care: a measure for comparing plans, "
               "not a rota. " + f.t(s["travel_model"]) + ".")
    if s["constraints"]["capacity_allocation"] is not None:
        out.append("Provider capacity is allocated to zones from the branches that can reach each zone's centre, "
                   "each branch's hours counted once; the allocation is a feasible share-out, not a contract.")
    else:
        out.append("Provider capacity counts each branch towards the zone containing it; a shortfall means the zone "
                   "relies on recruitment or on branches elsewhere.")
    return out
