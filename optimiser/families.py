"""The registry of constraint families: one entry per commissioning option.

Each :class:`Family` says, in one place,

- **present**: whether a problem carries the family (a predicate on the problem);
- **check**: the named predicates a plan must pass (run after every solve; tests reuse them);
- **diagnose**: necessary conditions tested *before* solving, each failure a reason with numbers;
- **hint**: how to loosen it, used when the solver finds no plan;
- **local_search**: ``"kept"`` when :func:`optimiser.local_search.local_search` enforces it,
  ``"checked"`` when the search ignores it and the polished plan is kept only if the family's
  check still passes, ``"not kept"`` when plans under it are not polished;
- **relax**: how the family is left out for diagnosis: the problem without its data, or
  ``None`` when the model builder leaves its rows out (balance, contiguity);
- **centre_ok** / **move_centres**: for families tied to the centres, which units may centre
  a zone (a necessary condition) and how seeded or re-centred centres are moved so that the
  family can be met (zones in the frozen set keep theirs);
- **refine**: whether :func:`optimiser.refine.refine_plan` (the postcode-level refinement)
  keeps the family by construction; a postcode-level run refuses a problem carrying any
  family it does not keep (:func:`not_refined`);
- **start**: values for the family's own variables in a MIP start (the start plan's);
- **rows**: the MILP rows of a family that writes its own (added after the core rows); the
  core families' rows are written inline by :func:`optimiser.assignment.build_assignment_model`
  in a fixed order, so that the same problem gives the same model and plan.

A new commissioning option is one entry here plus its MILP rows (see
:mod:`optimiser.capacity_flow`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pulp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from optimiser.capacity_diagnosis import flow_diagnose
from optimiser.capacity_flow import (
    add_flow_rows,
    covering_centres,
    flow_checks,
    flow_start,
    possible_centres,
)
from optimiser.checks import (
    Check,
    all_assigned,
    is_contiguous,
    kept_whole,
    pins_respected,
    within_travel_limit,
    zone_loads,
    zones_within_bounds,
)
from optimiser.problem import DistrictingProblem

Labels = NDArray[np.int64]
Centres = Sequence[int]
Names = Sequence[str]
Variables = dict[tuple[int, int], pulp.LpVariable]
RowWriter = Callable[[pulp.LpProblem, DistrictingProblem, Variables, list[int]], None]


@dataclass(frozen=True)
class Family:
    """One constraint family (see the module docstring)."""

    name: str
    present: Callable[[DistrictingProblem], bool]
    check: Callable[[DistrictingProblem, Labels, Centres, Names], list[Check]]  # names: one per zone, or ()
    hint: str
    local_search: Literal["kept", "checked", "not kept"]
    relax: Callable[[DistrictingProblem], DistrictingProblem] | None = None
    diagnose: Callable[[DistrictingProblem], list[str]] | None = None
    rows: RowWriter | None = None
    binds: Callable[[DistrictingProblem], bool] | None = None  # can leaving it out give a plan? (default: present)
    centre_ok: Callable[[DistrictingProblem], NDArray[np.bool_]] | None = None  # (n,) units that may be centres
    move_centres: Callable[[DistrictingProblem, Centres, frozenset[int]], tuple[int, ...]] | None = None
    start: Callable[[pulp.LpProblem, DistrictingProblem, Labels, list[int]], None] | None = None  # MIP start values
    refine: bool = False  # kept by construction in optimiser.refine (postcode level)

    def may_bind(self, problem: DistrictingProblem) -> bool:
        """Whether leaving the family out could turn an infeasible model feasible."""
        return (self.binds or self.present)(problem)


def _rel(total: float) -> float:
    return 1e-6 * max(total, 1)


# ---- balance ------------------------------------------------------------------------------------

def _balance_check(p: DistrictingProblem, labels: Labels, _c: Centres, names: Names) -> list[Check]:
    lower, upper = p.zone_bounds()
    return [zones_within_bounds(zone_loads(labels, p.demand, p.n_zones), lower=lower, upper=upper, zone_names=names)]


def _balance_diagnose(p: DistrictingProblem) -> list[str]:
    reasons: list[str] = []
    total = p.total_demand
    lo, hi = p.zone_bounds()
    if lo.sum() > total + _rel(total):
        reasons.append(
            f"the zones' minimum loads add up to {lo.sum():,.1f} hours but total demand is only "
            f"{total:,.1f}: lower the per-zone minimums or use fewer zones"
        )
    if hi.sum() < total - _rel(total):
        reasons.append(
            f"the zones' maximum loads add up to {hi.sum():,.1f} hours but total demand is {total:,.1f}: "
            "raise the per-zone maximums or use more zones"
        )
    return reasons


# ---- per-zone rows (cohorts, capacity inside the zone) ------------------------------------------

def _rows_check(p: DistrictingProblem, labels: Labels, _c: Centres, names: Names) -> list[Check]:
    return [
        zones_within_bounds(row.totals(labels, p.n_zones), lower=row.lower, upper=row.upper,
                            name=f"{row.name}_within_bounds", what=row.description or row.name, zone_names=names)
        for row in p.rows
    ]


def _rows_diagnose(p: DistrictingProblem) -> list[str]:
    reasons: list[str] = []
    for row in p.rows:
        have = float(row.amount.sum())
        need_lo = float(np.sum(row.lower[np.isfinite(row.lower)])) if np.all(np.isfinite(row.lower)) else -np.inf
        need_hi = float(np.sum(row.upper)) if np.all(np.isfinite(row.upper)) else np.inf
        what = row.description or row.name
        if have < need_lo - 1e-6 * max(abs(need_lo), 1):
            reasons.append(
                f"{what}: the zones need at least {need_lo:,.1f} in total but the whole area has {have:,.1f}; "
                "every unit belongs to one zone, so no plan can meet it: loosen this bound"
            )
        if have > need_hi + 1e-6 * max(abs(need_hi), 1):
            reasons.append(
                f"{what}: the zones may hold at most {need_hi:,.1f} in total but the whole area has {have:,.1f}: "
                "loosen this bound"
            )
    return reasons


# ---- locks --------------------------------------------------------------------------------------

def _has_pins(p: DistrictingProblem) -> bool:
    return p.pinned is not None and bool(np.any(np.asarray(p.pinned) >= 0))


def _pins_check(p: DistrictingProblem, labels: Labels, _c: Centres, _names: Names) -> list[Check]:
    assert p.pinned is not None
    return [pins_respected(labels, p.pinned)]


def _pins_diagnose(problem: DistrictingProblem) -> list[str]:
    """Pinned units that cannot be joined to their zone, or a zone's pins over its maximum."""
    reasons: list[str] = []
    assert problem.pinned is not None
    pinned = np.asarray(problem.pinned)
    _, hi = problem.zone_bounds()
    for z in sorted(set(pinned[pinned >= 0].tolist())):
        mine = np.flatnonzero(pinned == z)
        load = float(problem.demand[mine].sum())
        if load > hi[z] + 1e-6 * max(hi[z], 1):
            reasons.append(
                f"zone {z}: the units locked to it hold {load:,.1f} hours, more than its maximum {hi[z]:,.1f}"
            )
        # zone z may only pass through units that are free or locked to z
        reach = dijkstra(problem.adjacency_within((pinned == -1) | (pinned == z)), directed=False, indices=int(mine[0]))
        cut = [problem.label(int(u)) for u in mine if not np.isfinite(reach[u])]
        if cut:
            reasons.append(
                f"zone {z}: locked unit(s) {', '.join(cut[:5])}{' …' if len(cut) > 5 else ''} are cut off from "
                f"{problem.label(int(mine[0]))} (also locked to zone {z}) by units locked to other zones, so the "
                "zone cannot be contiguous: change the locks"
            )
    for gi, group in enumerate(problem.together):
        zones = sorted(set(pinned[np.asarray(group)].tolist()) - {-1})
        if len(zones) > 1:
            reasons.append(
                f"kept-whole group {gi} contains units locked to different zones {zones}: it cannot be kept whole"
            )
    return reasons


# ---- travel limit -------------------------------------------------------------------------------

def _travel_limit_check(p: DistrictingProblem, labels: Labels, centres: Centres, _names: Names) -> list[Check]:
    limit = p.travel_limit()
    if limit is None:
        return []
    return [within_travel_limit(labels, centres, limit.reach, limit.limit, limit.exempt)]


# ---- centre capacity (the 'radius' rule: capacity in reach of the centre, counted per zone) -----

def _centre_capacity_check(p: DistrictingProblem, labels: Labels, centres: Centres, names: Names) -> list[Check]:
    assert p.centre_capacity is not None
    k = p.n_zones
    return [zones_within_bounds(
        zone_loads(labels, p.demand, k), lower=np.full(k, -np.inf),
        upper=p.centre_capacity[list(centres)], name="centre_capacity", what="load vs capacity in reach",
        zone_names=names,
    )]


def _centre_capacity_diagnose(p: DistrictingProblem) -> list[str]:
    assert p.centre_capacity is not None
    total = p.total_demand
    best = float(np.sort(p.centre_capacity)[::-1][: p.n_zones].sum())
    if best < total - _rel(total):
        return [
            f"provider capacity within reach of the best {p.n_zones} centres covers at most "
            f"{best:,.1f} hours of the {total:,.1f} demanded: widen the capacity radius, lower the "
            "margin or add providers"
        ]
    return []


# ---- continuity with today's zones --------------------------------------------------------------

def _continuity_check(p: DistrictingProblem, labels: Labels, _c: Centres, _names: Names) -> list[Check]:
    if p.max_moved is None:
        return []
    moved = p.moved(labels)
    ok = moved <= p.max_moved * (1 + 1e-6) + 1e-6
    return [Check("moved_within_cap", ok, f"{moved:,.1f} hours change zone (cap {p.max_moved:,.1f})")]


def _centre_candidates_check(p: DistrictingProblem, _labels: Labels, centres: Centres, _names: Names) -> list[Check]:
    assert p.centre_candidates is not None
    cand = np.asarray(p.centre_candidates, dtype=bool)
    bad = [int(c) for c in centres if not cand[int(c)]]
    return [Check("centres_at_candidates", not bad,
                  f"centre unit(s) {bad} may not be centres" if bad else f"{len(centres)} centres at allowed units")]


FAMILY_LIST: tuple[Family, ...] = (
    Family(
        "contiguity", present=lambda p: True, hint="allow more zones", local_search="kept", refine=True,
        check=lambda p, labels, _c, names: [is_contiguous(labels, p.edges, zone_names=names)],
    ),
    Family(
        "balance", present=lambda p: True, check=_balance_check, diagnose=_balance_diagnose, refine=True,
        hint="widen the tolerance or the per-zone minimum/maximum hours", local_search="kept",
    ),
    Family(
        "rows", present=lambda p: bool(p.rows), check=_rows_check, diagnose=_rows_diagnose, refine=True,
        hint="loosen the cohort or provider-capacity bounds", local_search="kept",
        relax=lambda p: replace(p, rows=()),
    ),
    Family(
        "pins", present=lambda p: p.pinned is not None, check=_pins_check, diagnose=_pins_diagnose, refine=True,
        hint="lock fewer areas or move the locks", local_search="kept",
        relax=lambda p: replace(p, pinned=None), binds=_has_pins,
    ),
    Family(
        "together", present=lambda p: bool(p.together), hint="keep fewer towns or wards whole", local_search="kept", refine=True,
        check=lambda p, labels, _c, _names: [kept_whole(labels, p.together)],
        relax=lambda p: replace(p, together=()),
    ),
    Family(
        "travel_limit", present=lambda p: p.travel_limit() is not None,
        hint="raise the travel limit", local_search="not kept", refine=True,
        check=_travel_limit_check, relax=lambda p: replace(p, reach=None, reach_limit=None, reach_blocks=None),
    ),
    Family(
        "centre_capacity", present=lambda p: p.centre_capacity is not None, check=_centre_capacity_check, refine=True,
        diagnose=_centre_capacity_diagnose, hint="widen the capacity radius or lower the margin",
        local_search="not kept", relax=lambda p: replace(p, centre_capacity=None),
    ),
    Family(
        "capacity_flow", present=lambda p: p.branches is not None, check=flow_checks, diagnose=flow_diagnose, refine=True,
        hint="lower the capacity margin, raise reach_min or add providers", local_search="checked",
        relax=lambda p: replace(p, branches=None), rows=add_flow_rows, centre_ok=possible_centres,
        move_centres=lambda p, c, fixed: covering_centres(p, c, fixed=fixed), start=flow_start,
    ),
    Family(
        "continuity", present=lambda p: p.stay is not None, check=_continuity_check, refine=True,
        hint="allow more hours to change zone", local_search="not kept",
        relax=lambda p: replace(p, stay=None, max_moved=None, moved_penalty=0.0),
        binds=lambda p: p.stay is not None and p.max_moved is not None,
    ),
    Family(
        "centre_candidates", present=lambda p: p.centre_candidates is not None, check=_centre_candidates_check, refine=True,
        hint="allow more units to be zone centres", local_search="not kept",
        binds=lambda p: False,  # the fixed-centre model never sees it: centres are given
    ),
)

#: The families by name, in registry order.
FAMILIES: dict[str, Family] = {f.name: f for f in FAMILY_LIST}


def centre_mask(problem: DistrictingProblem) -> NDArray[np.bool_] | None:
    """(n,) units that every present family allows as a zone centre (None: no family restricts)."""
    masks = [f.centre_ok(problem) for f in present_families(problem) if f.centre_ok is not None]
    return np.logical_and.reduce(masks) if masks else None


def move_centres(problem: DistrictingProblem, centres: Centres, *, fixed: frozenset[int] = frozenset()) -> tuple[int, ...]:
    """``centres`` moved by each present family that needs it (unchanged when none does)."""
    out = tuple(int(c) for c in centres)
    for family in present_families(problem):
        if family.move_centres is not None:
            out = family.move_centres(problem, out, fixed)
    return out


def not_refined(problem: DistrictingProblem) -> list[str]:
    """The present families that :func:`optimiser.refine.refine_plan` does not keep."""
    return [f.name for f in present_families(problem) if not f.refine]


def present_families(problem: DistrictingProblem) -> list[Family]:
    """The families ``problem`` carries, in registry order."""
    return [f for f in FAMILY_LIST if f.present(problem)]


def relaxed(problem: DistrictingProblem, names: frozenset[str]) -> DistrictingProblem:
    """``problem`` without the data of the named families that are relaxed by removing it."""
    unknown = set(names) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown constraint families {sorted(unknown)}; expected some of {tuple(FAMILIES)}")
    for name in names:
        relax = FAMILIES[name].relax
        if relax is not None:
            problem = relax(problem)
    return problem


def plan_checks(problem: DistrictingProblem, labels: Labels, centres: Centres, *,
                zone_names: Names = ()) -> list[Check]:
    """Every named invariant of a plan for ``problem``: all assigned, then each present family's
    checks in registry order (contiguity second, balance third). The tests reuse this. With
    ``zone_names`` (one per zone index) a failed check names its zones by them."""
    names = tuple(zone_names) if len(zone_names) == problem.n_zones else ()
    checks = [all_assigned(labels, n_units=problem.n_units, n_zones=problem.n_zones)]
    for family in present_families(problem):
        checks += family.check(problem, labels, centres, names)
    return checks


def polish_compatible(problem: DistrictingProblem, *, fixed_centres: bool = False) -> bool:
    """Whether the local-search polish may run: centres free to move and every present family
    kept by the search or checked after it."""
    return not fixed_centres and all(f.local_search != "not kept" for f in present_families(problem))


def polish_breaks(problem: DistrictingProblem, labels: Labels, centres: Centres) -> list[Check]:
    """The failed checks of the families the local search does not enforce itself ("checked")."""
    failed: list[Check] = []
    for family in present_families(problem):
        if family.local_search == "checked":
            failed += [c for c in family.check(problem, labels, centres, ()) if not c.passed]
    return failed
