"""Scenario variants from ``--set KEY=V1,V2,...``: parse, validate, cross product, name.

A key is a dotted path into the scenario (``model.zones``, ``model.tolerance``,
``continuity.max_moved_share``, ``capacity.margin``, ``cohorts.children.tolerance``...). Every
variant is re-validated through the scenario model (a changed copy is never trusted: see
``pitfalls.md``), so a bad key or value fails before any solving with the key, the value and
the keys that exist.
"""

from __future__ import annotations

import itertools
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from zoning.baseline import with_baseline
from zoning.errors import ScenarioError
from zoning.scenario import Scenario

__all__ = ["Variant", "parse_set", "apply_settings", "expand_variants"]


@dataclass(frozen=True)
class Variant:
    """One point of a sweep: its folder name, the settings it changes and the validated scenario."""

    name: str
    settings: dict[str, object]
    scenario: Scenario


def _parse_value(text: str) -> object:
    """A TOML value (``12``, ``0.1``, ``true``, ``"x"``); bare text otherwise."""
    try:
        return tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def parse_set(option: str) -> tuple[str, list[object]]:
    """``"model.zones=12,14"`` -> ``("model.zones", [12, 14])``."""
    key, sep, values = option.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise ScenarioError(
            f"--set {option!r}: expected KEY=V1,V2,... such as model.zones=12,14,16 or model.tolerance=0.05,0.1"
        )
    parsed = [_parse_value(v) for v in values.split(",") if v.strip()]
    return key, parsed


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model behind an annotation (``X``, ``X | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _dict_value_model(annotation: Any) -> type[BaseModel] | None:
    """``dict[str, X]`` -> ``X`` when X is a model (e.g. ``cohorts``)."""
    if typing.get_origin(annotation) is dict:
        args = typing.get_args(annotation)
        return _model_of(args[1]) if len(args) == 2 else None
    return None


def check_key(key: str) -> None:
    """Refuse a key that names no scenario option, listing the options that exist there."""
    parts = key.split(".")
    model: type[BaseModel] | None = Scenario
    where = "the scenario"
    i = 0
    while i < len(parts):
        part = parts[i]
        assert model is not None
        fields = model.model_fields
        if part not in fields or part == "source":
            known = sorted(f for f in fields if f != "source")
            raise ScenarioError(
                f"--set {key}: {where} has no option {part!r}; expected one of {known} "
                "(see scenarios/leicestershire.toml and the README's scenario reference)"
            )
        annotation = fields[part].annotation
        inner = _model_of(annotation)
        value_model = _dict_value_model(annotation)
        if value_model is not None and i + 1 < len(parts):  # cohorts.<name>.<option>
            model, where, i = value_model, f"{'.'.join(parts[: i + 2])}", i + 2
            continue
        if i + 1 < len(parts) and inner is None:
            raise ScenarioError(f"--set {key}: {'.'.join(parts[: i + 1])} is a single value, not a table")
        if i + 1 == len(parts) and inner is not None:
            raise ScenarioError(
                f"--set {key}: {key} is a table; name one of its options, e.g. {key}.{next(iter(inner.model_fields))}"
            )
        model, where, i = inner, ".".join(parts[: i + 1]), i + 1


def apply_settings(scenario: Scenario, settings: dict[str, object]) -> Scenario:
    """``scenario`` with each dotted key set, validated again from scratch."""
    raw = scenario.model_dump()
    for key, value in settings.items():
        check_key(key)
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}  # an optional table not in the file yet, e.g. [continuity]
            node = node[part]
        node[parts[-1]] = value
    try:
        return Scenario.model_validate(with_baseline(raw))
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        ]
        shown = ", ".join(f"{k}={v!r}" for k, v in settings.items())
        raise ScenarioError(f"the variant {shown} is not a valid scenario: " + "; ".join(problems)) from exc


def _label(key: str, keys: list[str]) -> str:
    """The shortest tail of ``key`` that no other key shares (``model.zones`` -> ``zones``)."""
    parts = key.split(".")
    for n in range(1, len(parts) + 1):
        tail = ".".join(parts[-n:])
        if sum(1 for k in keys if k == tail or k.endswith("." + tail)) == 1:
            return tail
    return key


def variant_name(settings: dict[str, object]) -> str:
    """A folder name such as ``zones-12_tolerance-0.1`` (safe on every file system)."""
    keys = list(settings)
    bits = [f"{_label(k, keys)}-{v}" for k, v in settings.items()]
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(bits)) or "base"


def expand_variants(scenario: Scenario, options: list[str]) -> list[Variant]:
    """Every combination of the ``--set`` values, validated, in a stable order."""
    axes: dict[str, list[object]] = {}
    for option in options:
        key, values = parse_set(option)
        if key in axes:
            raise ScenarioError(f"--set {key} is given twice; list all its values once: {key}=V1,V2,...")
        check_key(key)
        axes[key] = values
    if not axes:
        return [Variant("base", {}, scenario)]
    variants = []
    for combo in itertools.product(*axes.values()):
        settings = dict(zip(axes, combo, strict=True))
        variants.append(Variant(variant_name(settings), settings, apply_settings(scenario, settings)))
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ScenarioError(f"--set values give repeated variants: {names}; list each value once")
    return variants
