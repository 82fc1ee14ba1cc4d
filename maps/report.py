"""The Markdown report: headline figures, per-zone table, method, data and caveats.

Rendered from the run's ``summary.json`` content only, so the report and the summary can
never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from maps.escape import format_number
from maps.report_baseline import baseline_section_md


def md_text(value: object) -> str:
    """Text from inputs made safe for a Markdown table cell (no HTML, no column breaks)."""
    text = str(value).replace("\\", "\\\\")
    for ch in "`*_[]()!#|~":
        text = text.replace(ch, "\\" + ch)
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\n", " ").replace("\r", " ")


def _num(value: object, fmt: str = ",.0f") -> str:
    if value is None:
        return "n/a"
    try:
        return format_number(float(value), fmt)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return md_text(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _change_lines(summary: Mapping[str, Any]) -> list[str]:
    change, privacy = summary.get("change"), summary.get("privacy") or {}
    lines: list[str] = []
    if change:
        total = summary["plan"]["total_hours"]
        clients = "suppressed" if change["clients_moved"] is None else f"{change['clients_moved']:,}"
        share = f" ({100 * change['hours_moved'] / total:.1f}% of all hours)" if total else ""
        lines += [f"Zones changed: {change['zones_changed']} of {summary['plan']['zones']}; "
                  f"{change['hours_moved']:,.0f} care hours/week{share}, {clients} clients and "
                  f"{change['postcodes_moved']:,} postcodes move zone ({md_text(change['rule'])}).", ""]
    if privacy.get("client_level"):
        lines += [f"Personal data: {md_text(privacy['rule'])}", ""]
    return lines


def render_report_md(summary: Mapping[str, Any]) -> str:
    sc, prov, solver = summary["scenario"], summary["provenance"], summary["solver"]
    plan, cur = summary["plan"], summary["current"]
    out: list[str] = [f"# {md_text(sc['title'])}", ""]
    if prov["notes"]:
        out += ["> **Read this first.** " + " ".join(md_text(n) for n in prov["notes"]), ""]
    gap = "n/a" if solver["gap"] is None else f"{100 * solver['gap']:.2f}%"
    saved = cur["mean_travel_min"] - plan["mean_travel_min"]
    out += [
        f"Scenario `{md_text(sc['name'])}` ({md_text(sc['area_name'] or sc['area_code'])}, {md_text(sc['area_code'])}), "
        f"run {md_text(summary['run_at'])} with carezones {md_text(summary['carezones_version'])}.",
        "",
        "## Headline",
        "",
        *_table(
            ["measure", "proposed", "current" + (" (approximate)" if prov["current_zones_approximate"] else "")],
            [
                ["zones", str(plan["zones"]), str(cur["zones"])],
                ["demand-weighted mean travel to zone centre (min)", _num(plan["mean_travel_min"], ".2f"),
                 _num(cur["mean_travel_min"], ".2f")],
                ["largest zone (hours/week)", _num(plan["max_zone_hours"]), _num(cur["max_zone_hours"])],
                ["smallest zone (hours/week)", _num(plan["min_zone_hours"]), _num(cur["min_zone_hours"])],
                ["largest / smallest", _num(plan["max_min_ratio"], ".2f"), _num(cur["max_min_ratio"], ".2f")],
                [f"zones outside ±{100 * plan['tolerance']:.0f}% of the mean", str(plan["zones_outside_tolerance"]),
                 str(cur["zones_outside_tolerance"])],
                ["every zone contiguous", "yes" if plan["contiguous"] else "no", "yes" if cur["contiguous"] else "no"],
            ],
        ),
        "",
        f"The proposed plan changes mean travel by {_num(-saved, '+.2f')} min per hour of care "
        f"({_num(100 * saved / cur['mean_travel_min'], '.1f')}% less than the current zones)." if cur["mean_travel_min"] else "",
        "",
        *_change_lines(summary),
        f"Solver: **{md_text(solver['name'])}**, status **{md_text(solver['status'])}** "
        f"(solver's words: \"{md_text(solver['solver_status'])}\"), objective {_num(solver['objective_hour_minutes'], ',.1f')} "
        f"{md_text(solver.get('objective_units', 'hour-minutes'))}, best bound {_num(solver['best_bound_hour_minutes'], ',.1f')}, gap {gap}; "
        f"{md_text(solver['gap_scope'])}. {len(solver['rounds'])} round(s), {solver['seconds']:.1f} s "
        f"(limit {solver['time_limit_s']:.0f} s).",
        "",
        *_bound_lines(solver),
        "## Proposed zones",
        "",
    ]
    zone_rows = [
        [md_text(z["zone"]), md_text(z["zone_name"]), _num(z["hours_per_week"]), _num(z["load_vs_mean_pct"], "+.1f") + "%",
         _num(z["capacity_hours_per_week"]), _num(z["demand_capacity_ratio"], ".2f"), _num(z["mean_travel_min"], ".1f"),
         str(z["n_units"]), str(z["n_postcodes"]), md_text(z["centre_lsoa"])]
        for z in summary["zones"]
    ]
    out += _table(["zone", "named after", "hours/week", "vs mean", "capacity h/week", "demand/capacity",
                   "mean travel (min)", "LSOAs", "postcodes", "centre LSOA"], zone_rows)
    out += ["", "## Current zones" + (" (approximate reconstruction)" if prov["current_zones_approximate"] else ""), ""]
    cur_rows = [
        [md_text(z["zone"]), _num(z["hours_per_week"]), _num(z["load_vs_mean_pct"], "+.1f") + "%", _num(z["capacity_hours_per_week"]),
         _num(z["demand_capacity_ratio"], ".2f"), _num(z["mean_travel_min"], ".1f"), str(z["n_postcodes"])]
        for z in summary["current_zones"]
    ]
    out += _table(["zone", "hours/week", "vs mean", "capacity h/week", "demand/capacity", "mean travel (min)", "postcodes"],
                  cur_rows)
    d = summary["demand"]
    out += _constraints_section(summary)
    out += baseline_section_md(summary, md_text)
    out += [
        "",
        "## Checks",
        "",
        *[f"- {'PASS' if c['passed'] else 'FAIL'} `{c['name']}`: {md_text(c['detail'])}" for c in summary["checks"]],
        "",
        "## Method",
        "",
        f"- Units: {summary['units']['count']} {md_text(summary['units']['kind'])} areas, "
        f"{summary['units']['adjacencies']} rook adjacencies.",
        f"- Demand: {d['rows']:,} rows, {d['hours_per_week']:,.1f} hours/week at {d['postcodes_with_demand']:,} postcodes; "
        f"{d['excluded_rows']} row(s) ({d['excluded_hours_per_week']:g} hours/week) excluded.",
        f"- Providers: {summary['providers']['branches']} branches, "
        f"{summary['providers']['capacity_hours_per_week']:,.0f} hours/week; {md_text(summary['providers']['assignment'])}.",
        f"- Travel: {md_text(summary['travel_model'])}.",
        f"- Model: {md_text(solver['method'])}; each zone's demand within ±{100 * plan['tolerance']:.0f}% "
        "of the mean; zones contiguous (shortest-path contiguity constraints). Travel is measured from "
        "every postcode with demand to its zone's centre, so the figures can be recomputed from "
        "`postcode_zones.csv` (hours × minutes, summed by zone).",
        "- Current zones are measured the same way, each served from its own best central LSOA.",
        "",
        "## Data and licences",
        "",
        f"- {md_text(prov['data_vintage'])}.",
        "- Contains OS data © Crown copyright and database right 2025; contains Royal Mail data © Royal Mail "
        "copyright and database right 2025; contains National Statistics data © Crown copyright and database "
        "right. Source: Office for National Statistics licensed under the Open Government Licence v.3.0.",
        "",
    ]
    return "\n".join(out)


def _constraints_section(summary: Mapping[str, Any]) -> list[str]:
    """Commissioning options in force and what changes zone (from ``summary['constraints']``)."""
    con = summary.get("constraints")
    if not con:
        return []
    cap = con["capacity"]
    lines = ["", "## Commissioning constraints", ""]
    lines.append(
        f"- Provider capacity: rule {md_text(cap['rule'])}"
        + (f" (capacity must cover {cap['margin']:g} × demand" + (
            f" within {cap['radius_min']:g} min of the zone centre)" if cap["radius_min"] else " inside the zone)")
           if cap["rule"] != "none" else " (reported, not imposed)")
        + f"; centres {md_text(cap['centres'])}; highest demand/capacity ratio "
        + (_num(cap["max_demand_capacity_ratio"], ".2f") if cap["max_demand_capacity_ratio"] is not None else "n/a") + "."
    )
    if con["min_zone_hours"]:
        lines.append(f"- Minimum viable zone: {con['min_zone_hours']:,.0f} hours/week.")
    for cohort, b in con["cohorts"].items():
        lines.append(f"- Cohort {md_text(cohort)} per zone: " + ", ".join(
            f"{md_text(k)} {v:g}" for k, v in b.items() if v is not None) + ".")
    if con["named_zones"]:
        lines.append(f"- Named zones: {', '.join(md_text(z) for z in con['named_zones'])}; "
                     f"{con['locked_units']} LSOA(s) locked to their zone.")
    if con["kept_whole"]:
        lines.append(f"- Kept whole: {', '.join(md_text(z) for z in con['kept_whole'])}.")
    if con["travel_limit_min"] is not None:
        lines.append(
            f"- Travel limit: {con['travel_limit_min']:g} min to the zone centre; {con['isolated_postcodes']} "
            f"isolated postcode(s) ({con['isolated_hours_per_week']:g} hours/week) beyond it from every possible "
            "centre are exempt and listed in summary.json."
        )
    if con["continuity"]:
        c = con["continuity"]
        lines.append("- Continuity with today's zones: " + ", ".join(
            f"{md_text(k)} {v:g}" for k, v in c.items() if v is not None) + ".")
    lines += [f"- {md_text(n)}." for n in con["notes"]]
    costs = summary.get("costs")
    if costs:
        saved = costs["travel_gbp_per_week_current"] - costs["travel_gbp_per_week_proposed"]
        lines.append(
            f"- Cost at the band rates (illustrative unless the scenario gives the council's): care "
            f"£{costs['care_gbp_per_week']:,.0f}/week; paid travel (travel time at {md_text(costs['travel_rate'])}) "
            f"£{costs['travel_gbp_per_week_proposed']:,.0f}/week proposed vs £{costs['travel_gbp_per_week_current']:,.0f} "
            f"today ({_num(saved, '+,.0f')} saved); the optimiser minimised {md_text(costs['objective'])}."
        )
    lines += [
        "",
        "## What changes zone",
        "",
        f"{con['hours_changing_zone']:,.0f} hours/week ({100 * con['share_changing_zone']:.1f}% of all care) change "
        f"zone; {md_text(con['zone_matching'])}.",
        "",
    ]
    moves = summary.get("moves") or []
    if moves:
        lines += _table(
            ["from today's zone", "to proposed zone", "hours/week", "demand rows", "postcodes"],
            [[md_text(m["from_current_zone"]), md_text(m["to_proposed_zone"]), _num(m["hours_per_week"]),
              _num(m["demand_rows"]), _num(m["postcodes"])] for m in moves[:30]],
        )
        if len(moves) > 30:
            lines.append(f"\n({len(moves) - 30} smaller flows in summary.json.)")
    return lines


def _bound_lines(solver: Mapping[str, Any]) -> list[str]:
    """How close to the best possible plan: the certified lower bound, if computed."""
    if solver.get("certified_lower_bound") is None:
        return []
    if solver.get("gap_to_certified_bound") is None:  # a bound of 0 under a positive objective
        return [
            f"Certified lower bound: {_num(solver['certified_lower_bound'], ',.1f')} "
            f"({md_text(solver['certified_bound_method'])}); it gives no relative gap for the plan's objective "
            f"{_num(solver['plan_objective'], ',.1f')}.",
            "",
        ]
    return [
        f"Certified lower bound: {_num(solver['certified_lower_bound'], ',.1f')} "
        f"({md_text(solver['certified_bound_method'])}); the plan's objective "
        f"{_num(solver['plan_objective'], ',.1f')} is **{100 * solver['gap_to_certified_bound']:.2f}%** above it. "
        f"No plan — {md_text(solver['certified_bound_scope'])} — can do better than the bound.",
        "",
    ]
