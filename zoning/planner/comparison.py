"""The sweep's comparison: one row per variant, the shortlist, and the three files.

The shortlist is the Pareto set of the variants that produced a plan passing every check: a
variant is shortlisted when no other variant is at least as good on every measure in
:data:`zoning.planner.variant.MEASURES` (mean travel, paid travel, largest / smallest zone,
hours moving zone; all smaller-is-better) and strictly better on one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from zoning import __version__, atomic
from zoning.planner.variant import MEASURES
from zoning.scenario import Scenario

__all__ = ["pareto_shortlist", "comparison_table", "write_comparison"]

#: column order of comparison.csv after the variant's own settings
COLUMNS = ("zones", "mean_travel_min", "paid_travel_gbp_per_year", "max_min_ratio", "hours_moved", "checks",
           "ratio_to_bound", "seconds", "status", "solver_status", "shortlisted", "error")


def _measure(row: dict[str, object], key: str) -> float:
    value = row.get(key)
    return float(value) if isinstance(value, int | float) and math.isfinite(float(value)) else math.inf


def pareto_shortlist(rows: Sequence[dict[str, object]], *, measures: Sequence[str] = MEASURES) -> list[str]:
    """Names of the variants no other eligible variant dominates (see the module docstring)."""
    eligible = [r for r in rows if r.get("status") == "ok" and r.get("checks_passed")]
    keep = []
    for row in eligible:
        mine = [_measure(row, m) for m in measures]
        dominated = False
        for other in eligible:
            if other is row:
                continue
            theirs = [_measure(other, m) for m in measures]
            if all(t <= s for t, s in zip(theirs, mine, strict=True)) and any(
                    t < s for t, s in zip(theirs, mine, strict=True)):
                dominated = True
                break
        if not dominated:
            keep.append(str(row["variant"]))
    return keep


def comparison_table(rows: Sequence[dict[str, object]], *, keys: Sequence[str]) -> pd.DataFrame:
    """The rows as a table: variant, its settings, then the measures (:data:`COLUMNS`)."""
    shortlist = set(pareto_shortlist(rows))
    table = pd.DataFrame([dict(r) for r in rows])
    table["shortlisted"] = table["variant"].isin(shortlist)
    for column in COLUMNS:
        if column not in table.columns:
            table[column] = None
    return table[["variant", *keys, *COLUMNS]]


def _json_value(value: object) -> object:
    if hasattr(value, "item"):
        value = value.item()  # type: ignore[union-attr]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_comparison(rows: Sequence[dict[str, object]], out_dir: Path, *, scenario: Scenario, keys: Sequence[str],
                     engine: str, seconds: float) -> dict[str, Path]:
    """``comparison.csv``, ``comparison.json`` and the self-contained ``comparison.html``."""
    from zoning.publish.appraisal import write_appraisal_page

    table = comparison_table(rows, keys=keys)
    paths = {"csv": out_dir / "comparison.csv", "json": out_dir / "comparison.json",
             "html": out_dir / "comparison.html"}
    atomic.write_text(paths["csv"], table.to_csv(index=False))
    records = [{k: _json_value(v) for k, v in rec.items()} for rec in table.to_dict(orient="records")]
    payload = {
        "carezones_version": __version__,
        "scenario": {"name": scenario.name, "title": scenario.title,
                     "file": str(scenario.source) if scenario.source else None},
        "swept_keys": list(keys),
        "engine": engine,
        "seconds": seconds,
        "measures": list(MEASURES),
        "shortlist_rule": "no other variant (with a plan passing every check) is at least as good on every "
                          "measure and better on one; every measure is smaller-is-better",
        "shortlist": [r["variant"] for r in records if r["shortlisted"]],
        "variants": records,
    }
    atomic.write_text(paths["json"], json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    write_appraisal_page(paths["html"], records, out_dir=out_dir, scenario=scenario, keys=list(keys), engine=engine)
    return paths
