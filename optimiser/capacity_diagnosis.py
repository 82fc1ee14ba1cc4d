"""Before solving: can branch capacity cover every zone at its margin? (``capacity_flow``)

Necessary conditions, each cheap and each monotone in the margin ``m`` (harder as it grows)
and in ``reach_min`` (easier as it grows). With ``D`` total demand, ``K`` zones, ``L`` the
smallest zone minimum and ``C(j)`` the capacity of the branches within reach of a centre at
unit ``j``:

  (a) total capacity ``>= m D``;
  (b) the capacity of branches that reach at least one possible centre ``>= m D``;
  (c) at least ``K`` units have ``C(j) >= m L`` (every zone's centre needs that much);
  (d) the ``K`` largest ``C(j)`` add up to ``>= m D``.

When one fails, the reason gives the numbers, per area where the problem names areas
(``BranchCapacity.groups``), and the nearest settings that pass all four: the largest
margin at the current reach, and the reach needed at the current margin. Passing them does
not prove a plan exists (contiguity and balance also bind); the solver then decides.
"""

from __future__ import annotations

import numpy as np

from optimiser.problem import BranchCapacity, DistrictingProblem


def _failures(problem: DistrictingProblem, br: BranchCapacity, margin: float, reach_min: float) -> list[str]:
    """Which of (a)-(d) fail, each with its numbers."""
    total, k = problem.total_demand, problem.n_zones
    lower = max(float(problem.zone_bounds()[0].min()), 0.0)
    in_reach = br.in_reach(reach_min)
    c = br.capacity @ in_reach
    out = []
    cap = float(br.capacity.sum())
    if cap < margin * total - 1e-6:
        out.append(f"(a) total branch capacity {cap:,.1f} h/week is below {margin:g} x demand {total:,.1f}")
    possible = c >= margin * lower - 1e-9
    reaching = float(br.capacity[in_reach[:, possible].any(axis=1)].sum()) if possible.any() else 0.0
    if reaching < margin * total - 1e-6 and cap >= margin * total - 1e-6:
        out.append(
            f"(b) only {reaching:,.1f} h/week of capacity is within {reach_min:g} min of a unit that could centre "
            f"a zone, below {margin:g} x demand {total:,.1f}"
        )
    if int(possible.sum()) < k:
        out.append(
            f"(c) only {int(possible.sum())} unit(s) have {margin:g} x the smallest zone minimum ({margin * lower:,.1f} "
            f"h/week) of capacity within {reach_min:g} min; {k} zones need {k} centres"
        )
    top = float(np.sort(c)[::-1][:k].sum())
    if top < margin * total - 1e-6:
        out.append(
            f"(d) even the {k} best-served centres have only {top:,.1f} h/week within {reach_min:g} min between them, "
            f"below {margin:g} x demand {total:,.1f}"
        )
    return out


def largest_margin(problem: DistrictingProblem, br: BranchCapacity, reach_min: float) -> float:
    """The largest margin passing (a)-(d) at ``reach_min`` (bisection; 0 when none does)."""
    lo, hi = 0.0, max(float(br.capacity.sum()) / max(problem.total_demand, 1e-9), 0.0)
    if not _failures(problem, br, hi, reach_min):
        return hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if not _failures(problem, br, mid, reach_min) else (lo, mid)
    return lo


def reach_needed(problem: DistrictingProblem, br: BranchCapacity, margin: float) -> float | None:
    """The smallest reach (minutes) passing (a)-(d) at ``margin``, or None if no reach does."""
    values = np.unique(br.minutes)
    if values.size == 0 or _failures(problem, br, margin, float(values[-1])):
        return None
    lo, hi = 0, values.size - 1  # passes at hi
    while lo < hi:
        mid = (lo + hi) // 2
        if _failures(problem, br, margin, float(values[mid])):
            lo = mid + 1
        else:
            hi = mid
    return float(values[hi])


def _per_area(problem: DistrictingProblem, br: BranchCapacity) -> list[str]:
    """Per area: demand, capacity located within reach of it, and its units no branch reaches."""
    if not br.groups:
        return []
    groups = np.asarray(br.groups)
    in_reach = br.in_reach()
    nearest = br.minutes.min(axis=0) if br.minutes.size else np.full(problem.n_units, np.inf)
    lines = []
    for name in sorted(set(br.groups)):
        units = np.flatnonzero(groups == name)
        demand = float(problem.demand[units].sum())
        cap = float(br.capacity[in_reach[:, units].any(axis=1)].sum())
        cut = units[~in_reach[:, units].any(axis=0)]
        line = f"{name}: demand {demand:,.1f} h/week, capacity within {br.reach_min:g} min of it {cap:,.1f}"
        if cut.size:
            line += (f", {cut.size} unit(s) ({float(problem.demand[cut].sum()):,.1f} h/week) with no branch in reach "
                     f"(reach needed {float(nearest[cut].max()):.1f} min)")
        lines.append(line)
    return lines


def flow_diagnose(problem: DistrictingProblem) -> list[str]:
    """The family's pre-solve reasons (empty when (a)-(d) all pass)."""
    br = problem.branches
    assert br is not None
    failed = _failures(problem, br, br.margin, br.reach_min)
    if not failed:
        return []
    best_margin = largest_margin(problem, br, br.reach_min)
    reach = reach_needed(problem, br, br.margin)
    fix = [f"the largest margin that passes at {br.reach_min:g} min is {np.floor(best_margin * 100) / 100:.2f}"]
    fix.append(f"at margin {br.margin:g} a reach of {reach:.1f} min is needed" if reach is not None
               else f"no reach is enough at margin {br.margin:g}: lower the margin or add providers")
    areas = _per_area(problem, br)
    return [
        f"provider capacity cannot cover every zone at {br.margin:g} x its demand from branches within "
        f"{br.reach_min:g} min of the zone centre: " + "; ".join(failed)
        + ". Nearest settings: " + "; ".join(fix) + " ([capacity] margin, reach_min)"
        + (". Per area: " + "; ".join(areas) if areas else "")
    ]
