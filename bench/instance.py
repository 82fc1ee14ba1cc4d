"""The benchmark instance: the default scenario's DistrictingProblem, built by
:func:`zoning.pipeline.prepare_problem` (the pipeline's own code, without running the design).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from optimiser.problem import DistrictingProblem
from zoning.pipeline import prepare_problem
from zoning.scenario import Scenario
from zoning.travel import TravelModel
from zoning.units import Units


@dataclass(frozen=True)
class Instance:
    problem: DistrictingProblem
    units: Units
    postcodes: pd.DataFrame  # in-area postcodes with `unit` and `hours_per_week`
    travel: TravelModel


def build_instance(scenario: Scenario) -> Instance:
    """The scenario's LSOA-level problem: the very arrays the pipeline hands to the optimiser."""
    prep = prepare_problem(scenario)
    return Instance(problem=prep.problem, units=prep.units, postcodes=prep.area, travel=prep.travel)
