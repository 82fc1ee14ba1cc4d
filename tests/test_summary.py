"""``summary.json`` against its committed JSON Schema and its Python shape.

- every TypedDict in :mod:`maps.summary_types` names exactly the properties of its schema object
  (so the schema, the writer and the reports cannot drift apart silently);
- a real Melton run's summary validates against the schema: counts are integers, ``run_at`` has
  a time zone, no absolute local path;
- with ``objective = "cost"`` the objective is labelled in pounds, never as hour-minutes.
"""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any, get_args, get_type_hints, is_typeddict

import jsonschema
import pytest

from maps import summary_types
from tests.conftest import write_scenario
from zoning.pipeline import plan_zones
from zoning.publish.summary import SCHEMA_PATH
from zoning.publish.writers import write_outputs
from zoning.scenario import load_scenario

SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def _nested_typeddicts(tp: object) -> list[type]:
    out: list[type] = []
    for arg in get_args(tp):
        out += [arg] if is_typeddict(arg) else _nested_typeddicts(arg)
    return out


def test_every_typed_record_matches_its_schema_object() -> None:
    pending: list[tuple[type, dict[str, Any]]] = [(summary_types.Summary, SCHEMA)]
    seen = set()
    while pending:
        tp, obj = pending.pop()
        if tp.__name__ in seen:
            continue
        seen.add(tp.__name__)
        hints = get_type_hints(tp)
        assert set(hints) == set(obj["properties"]), f"{tp.__name__} and its schema object differ"
        assert set(obj["required"]) == set(hints) and obj["additionalProperties"] is False
        for key, hint in hints.items():
            for inner in ([hint] if is_typeddict(hint) else _nested_typeddicts(hint)):
                ref = json.dumps(obj["properties"][key])
                assert f"#/$defs/{inner.__name__}" in ref, f"{tp.__name__}.{key} should refer to {inner.__name__}"
                pending.append((inner, SCHEMA["$defs"][inner.__name__]))
    assert seen >= {"Summary", "ZoneRecord", "SolverInfo", "Costs", "Move"}
    assert SCHEMA["properties"]["schema_version"]["pattern"].startswith("^" + summary_types.SCHEMA_VERSION.split(".")[0])


def test_the_schema_is_a_valid_draft_2020_12_schema_and_refuses_a_renamed_key() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    errors = list(_validator().iter_errors({"schema_version": "1.0"}))
    assert any("required" in e.message for e in errors)


@pytest.fixture(scope="module")
def melton_summary(melton_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    paths = write_outputs(plan_zones(load_scenario(melton_dir / "melton.toml")), tmp_path_factory.mktemp("summary"))
    return json.loads(paths["summary"].read_text(encoding="utf-8"))


def test_melton_summary_validates_against_the_schema(melton_summary: dict[str, Any]) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in _validator().iter_errors(melton_summary)]
    assert errors == []
    assert melton_summary["schema_version"] == summary_types.SCHEMA_VERSION


def test_counts_are_integers_times_have_a_zone_and_paths_are_relative(melton_summary: dict[str, Any]) -> None:
    for zone in melton_summary["zones"]:
        assert all(isinstance(zone[k], int) for k in ("n_postcodes", "n_units", "n_branches"))
        assert zone["demand_rows"] is None or isinstance(zone["demand_rows"], int)
    assert all(m["demand_rows"] is None or isinstance(m["demand_rows"], int) for m in melton_summary["moves"])
    assert melton_summary["run_at"].endswith("+00:00")
    sc = melton_summary["scenario"]
    assert sc["file"] == "melton.toml" and sc["inputs"]["demand"] == "demand.csv"
    text = json.dumps(melton_summary)
    assert "/tmp" not in text and str(Path.home()) not in text
    assert "hour_minutes" not in text


def test_a_cost_objective_is_labelled_in_pounds(melton_copy: Path, tmp_path: Path) -> None:
    path = write_scenario(melton_copy)
    path.write_text(path.read_text(encoding="utf-8") + 'objective = "cost"\n', encoding="utf-8")
    paths = write_outputs(plan_zones(load_scenario(path)), tmp_path / "out")
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert list(_validator().iter_errors(summary)) == []
    assert summary["solver"]["objective_units"] == summary["costs"]["objective_units"] == "GBP per week of paid travel"
    assert summary["solver"]["plan_objective"] == pytest.approx(summary["costs"]["travel_gbp_per_week_proposed"], rel=1e-6)
    assert summary["costs"]["rates_status"] == "illustrative"


def test_typed_summary_keys_are_the_ones_the_reports_read() -> None:
    """A smoke check that ``typing`` sees the module (mypy does the real work in ``make lint``)."""
    assert typing.get_type_hints(summary_types.SolverInfo)["objective_value"] == float | None
