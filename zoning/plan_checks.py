"""The named invariants every plan must pass, after every solve and in the tests alike.

:func:`plan_checks` iterates the registry of constraint families (:mod:`optimiser.families`):
all units assigned, then each family present in the problem with its own named checks.
:func:`objective_check` compares the optimiser's objective with the postcode-level
recomputation of the published figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from optimiser.checks import Check
from optimiser.families import plan_checks as family_checks
from optimiser.problem import DistrictingProblem


def plan_checks(problem: DistrictingProblem, labels: np.ndarray, centres: tuple[int, ...], *,
                zone_names: Sequence[str] = ()) -> list[Check]:
    """Every named invariant of a plan for ``problem``: one entry per present family's check,
    in registry order (the tests reuse this). With ``zone_names`` (one per zone index) a failed
    check names its zones by them ("Z03: load ... outside [...]")."""
    return family_checks(problem, labels, centres, zone_names=zone_names)


def objective_check(objective: float, recomputed: float) -> Check:
    """The optimiser's objective equals the recomputation from the published postcode figures."""
    return Check(
        "objective_matches_recomputation",
        abs(recomputed - objective) <= 1e-6 * max(1.0, abs(objective)),
        f"optimiser objective {objective:.3f} vs postcode-level recomputation {recomputed:.3f}",
    )
