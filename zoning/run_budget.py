"""How one run's ``--time-limit`` is shared between its stages, so the whole run keeps it.

The limit covers everything from reading the inputs to the last output file. The outputs and
the final checks get a reserve that grows with the number of units (drawing the map and writing
the exports take a few seconds per thousand units); the design gets the rest. The certified
lower bound runs beside the design in a second process (on the second core), so it takes no
time from the design: it runs for as long as the design does (``bound_limit_s``, the design's
time at most), and at least ``[model] certify_s`` (``bound_s``) unless it converges sooner;
when it is stopped it hands over its best bound so far.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunBudget:
    """Seconds for each stage of one run (see the module docstring)."""

    total_s: float
    design_s: float
    bound_s: float  # the bound is waited for this long after it starts, at least
    bound_limit_s: float  # and stopped after this long, at most (the design's time)
    reserve_s: float  # checks, tables and outputs after the design


def reserve_for_outputs(n_units: int) -> float:
    """Seconds kept back for the checks, tables and output files of ``n_units`` units."""
    # Measured (checks, tables, map, report figures, exports; 2 cores): the 396-unit default 4.3 s
    # and Kent's 902 units 7.3 s on a quiet machine; under a test suite's load Kent's whole run at
    # --time-limit 90 ended 16 s early with the older reserve (8 + 0.02 n = 26 s). About twice the
    # quiet time, so a busy machine still finishes inside the limit.
    return 6.0 + 0.01 * n_units


def split_budget(total_s: float, *, elapsed_s: float, n_units: int, certify_s: float) -> RunBudget:
    """The design gets what the inputs (``elapsed_s`` so far) and the outputs' reserve leave,
    at least a second; the reserve is at most half the limit."""
    reserve = min(reserve_for_outputs(n_units), total_s / 2)
    design = max(total_s - elapsed_s - reserve, 1.0)
    return RunBudget(total_s=total_s, design_s=design, bound_s=min(certify_s, design),
                     bound_limit_s=design if certify_s > 0 else 0.0, reserve_s=reserve)
