"""The ``[baseline]`` table of a scenario (a re-opening) and how it is applied when loading.

Kept beside :mod:`zoning.scenario` (which imports it); the work of reading the baseline run's
folder is in :mod:`zoning.baseline`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class BaselineOptions(BaseModel):
    """A re-opening: the plan of the run folder ``run`` is today's zones (see :mod:`zoning.baseline`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    run: Path = Field(description="a previous run's output folder, relative to the scenario file")
    continuity: bool = Field(True, description="start from the baseline with [continuity] (when the zone count is "
                             "the same); false: design afresh and only compare with it")


def apply_baseline(raw: dict[str, object], *, base: Path) -> dict[str, object]:
    """Raw scenario tables with ``[baseline]`` applied (``run`` made absolute against ``base``);
    unchanged without one."""
    block = raw.get("baseline")
    if not block:
        return raw
    if isinstance(block, dict) and isinstance(block.get("run"), str):
        raw = {**raw, "baseline": {**block, "run": (base / str(block["run"])).resolve()}}
    from zoning.baseline import baseline_inputs  # local: it reads the baseline run's folder

    return baseline_inputs(raw)
