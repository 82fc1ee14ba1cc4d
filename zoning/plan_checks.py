"""The named invariants every plan must pass, after every solve and in the tests alike.

:func:`plan_checks` iterates the registry of constraint families (:mod:`optimiser.families`):
all units assigned, then each family present in the problem with its own named checks.
:func:`objective_check` compares the optimiser's objective with the postcode-level
recomputation of the published figures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from optimiser.checks import Check
from optimiser.families import plan_checks as family_checks
from optimiser.problem import DistrictingProblem


def plan_checks(problem: DistrictingProblem, labels: np.ndarray, centres: tuple[int, ...], *,
                zone_names: Sequence[str] = ()) -> list[Check]:
    """Every named invariant of a plan for ``problem``: one entry per present family's check,
    in registry order (the tests reuse this). With ``zone_names`` (one per zone index), the
    per-zone items of a failed check's detail ("3: load ... outside [...]") name the zone."""
    checks = family_checks(problem, labels, centres)
    if not zone_names:
        return checks
    names = list(zone_names)

    def named(match: re.Match[str]) -> str:
        z = int(match.group(2))
        return f"{match.group(1)}{names[z] if z < len(names) else z}: "

    return [c if c.passed else replace(c, detail=_ZONE_ITEM.sub(named, c.detail)) for c in checks]


_ZONE_ITEM = re.compile(r"(^|; )(\d+): ")


def objective_check(objective: float, recomputed: float) -> Check:
    """The optimiser's objective equals the recomputation from the published postcode figures."""
    return Check(
        "objective_matches_recomputation",
        abs(recomputed - objective) <= 1e-6 * max(1.0, abs(objective)),
        f"optimiser objective {objective:.3f} vs postcode-level recomputation {recomputed:.3f}",
    )
