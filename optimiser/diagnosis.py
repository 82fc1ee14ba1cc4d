"""Why no plan exists: necessary conditions checked before solving, and, when the solver
finds no plan, which constraint family is to blame (each left out in turn).

Both read the registry of :mod:`optimiser.families`: a family's own pre-solve conditions
(``Family.diagnose``) and its loosening hint (``Family.hint``).
"""

from __future__ import annotations

import numpy as np

from optimiser.assignment import solve_assignment
from optimiser.families import present_families
from optimiser.problem import DistrictingProblem


def diagnose(problem: DistrictingProblem) -> list[str]:
    """Reasons, with numbers, why no plan can exist (empty when none is obvious)."""
    reasons = []
    lower, upper = problem.load_bounds
    biggest = int(np.argmax(problem.demand))
    if problem.demand[biggest] > upper:
        reasons.append(
            f"unit {problem.label(biggest)} alone has {problem.demand[biggest]:.1f} hours, more than "
            f"the zone maximum {upper:.1f} (mean {problem.total_demand / problem.n_zones:.1f} "
            f"+{100 * problem.tolerance:.0f}%): use fewer zones or a wider tolerance"
        )
    if problem.total_demand <= 0:
        reasons.append("total demand is zero: there is nothing to balance")
    components = problem.n_components()
    if components > 1:
        reasons.append(
            f"the adjacency graph has {components} separate pieces, so contiguous zones cannot "
            "cross between them: check the boundaries (islands, gaps) or add adjacency links"
        )
    if components > problem.n_zones:
        reasons.append(f"{components} pieces need at least {components} zones, got {problem.n_zones}")
    for family in present_families(problem):
        if family.diagnose is not None:
            reasons += family.diagnose(problem)
    return reasons


def explain_infeasible(
    problem: DistrictingProblem, centres: tuple[int, ...], *, solver: str, time_limit_s: float, seed: int = 0
) -> list[str]:
    """Name the constraint families whose removal alone makes the fixed-centre model feasible.

    Each family present in ``problem`` that may bind is left out in turn and the model is
    re-solved with a short time limit; a family is reported as involved if leaving it out gives
    a plan, with its loosening hint from the registry.
    """
    present = [f for f in present_families(problem) if f.may_bind(problem)]
    per = max(2.0, time_limit_s / max(len(present), 1))
    found = []
    for family in present:
        outcome = solve_assignment(
            problem, centres, solver=solver, time_limit_s=per, seed=seed, relax=frozenset({family.name})
        )
        if outcome.labels is not None:
            found.append(f"leaving out the {family.name.replace('_', ' ')} constraints gives a plan: {family.hint}")
    if not found:
        found.append(
            "no single family of constraints is to blame on its own (" + ", ".join(f.name for f in present)
            + "): loosen several, starting with the balance tolerance"
        )
    return found
