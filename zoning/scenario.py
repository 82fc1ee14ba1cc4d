"""One frozen, validated scenario: everything a run needs, passed explicitly.

Scenario files are TOML. Unknown keys are refused; paths are relative to the scenario file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from zoning.errors import ScenarioError
from zoning.scenario_baseline import BaselineOptions, apply_baseline
from zoning.scenario_parts import (
    BAND_NAMES,
    DEFAULT_BAND_RATES,
    BandName,
    BandOptions,
    LinkSpec,
    PiecesOptions,
    PrivacyOptions,
    UnitsOptions,
    _Frozen,
)

__all__ = [
    "BAND_NAMES", "DEFAULT_BAND_RATES", "DEFAULT_SCENARIO", "BandName", "BandOptions", "LinkSpec", "PiecesOptions",
    "PrivacyOptions", "Scenario", "UnitsOptions", "load_scenario",
]
from zoning.tomlfile import read_toml, validation_problems


def _default_scenario() -> Path:
    """The shipped Leicestershire scenario: in a checkout ``scenarios/`` beside the package; in
    an installed wheel the copy bundled at ``zoning/_bundle/`` (scenarios and their data keep
    their relative layout, so the scenario's ``../data/...`` paths resolve in both)."""
    bundled = Path(__file__).resolve().parent / "_bundle" / "scenarios" / "leicestershire.toml"
    if bundled.is_file():
        return bundled
    return Path(__file__).resolve().parent.parent / "scenarios" / "leicestershire.toml"


#: The scenario used when `carezones run` is given none.
DEFAULT_SCENARIO = _default_scenario()


class DataFiles(_Frozen):
    """Reference data built by `carezones data build`."""

    postcodes: Path
    boundaries: Path
    outline: Path | None = None
    vintage: str = "OS Code-Point Open 2025.2.0; ONS postcode lookup May 2022; ONS LSOA 2011 boundaries"


class DemandInput(_Frozen):
    path: Path
    synthetic: bool = False
    description: str = ""
    on_unmatched: Literal["error", "exclude"] = Field(
        "error",
        description="what to do with rows whose postcode is unknown or outside the area: "
        "'error' stops the run listing them; 'exclude' leaves them out, counted in every output",
    )


class ProviderInput(_Frozen):
    path: Path
    synthetic: bool = False
    description: str = ""


class CurrentZonesInput(_Frozen):
    path: Path
    key: Literal["ward_code", "postcode", "lsoa11cd", "polygon"] = "ward_code"
    zone_column: str = "zone"
    layer: str | None = Field(None, description="GeoPackage layer (key = \"polygon\"); default: 'zones' if present")
    approximate: bool = False
    description: str = ""


class ModelOptions(_Frozen):
    zones: int = Field(14, ge=1, le=200)
    tolerance: float = Field(0.10, ge=0.0, lt=1.0, description="± fraction of the mean zone load")
    solver: Literal["highs", "cbc"] = "highs"
    time_limit_s: float = Field(150.0, gt=0, description="wall-clock budget for the whole run: inputs, design, bound and outputs")
    max_rounds: int = Field(6, ge=1, le=50)
    threads: int = Field(1, ge=1, le=64)
    mip_rel_gap: float = Field(1e-4, ge=0, lt=1)
    objective: Literal["travel", "cost"] = Field(
        "travel",
        description="'travel': minimise demand-weighted travel minutes; 'cost': minimise the weekly cost of "
        "paid travel time at each postcode's band rate (or travel_rate_per_hour); care hours x band rate is "
        "reported too (it does not depend on the zones)",
    )
    travel_rate_per_hour: float | None = Field(
        None, gt=0, lt=1000, description="GBP per hour of travel time; default: the postcode's band rate"
    )
    method: Literal["fast", "classic"] = Field("fast", description="'fast' (issue 12) or 'classic' (k-medoids + "
                                               "exact rounds, kept for comparison): README, Method")
    certify_s: float = Field(20.0, ge=0, le=3600,
        description="seconds for the certified lower bound (Lagrangian) over every balanced plan with any "
        "centres (that meets the capacity balance, when the scenario has one); 0 skips it",
    )
    min_zone_hours: float = Field(
        0.0, ge=0, description="minimum viable size: every zone holds at least this many hours/week"
    )
    max_travel_min: float | None = Field(
        None, gt=0,
        description="travel limit: no postcode may be further than this (minutes) from its zone's centre; "
        "postcodes that no centre can reach within it are reported as isolated and exempt",
    )


class TravelOptions(_Frozen):
    """How travel minutes are computed.

    ``mode = "straight_line"`` (default): ``intercept_min + min_per_km × km``, calibrated on real
    road times, no network needed. Without ``intercept_min``/``min_per_km`` the area's own fit
    is used (``travel/<area>_lsoa_hospital_times.csv`` beside the postcode data, written by
    ``carezones data build``). ``mode = "road"``: shortest driving times on a network built
    by ``carezones roads build`` (``network`` = its ``.npz`` file), at care-worker speeds =
    legal limit × ``speed_factors`` by road class (defaults in ``zoning/roads_speeds.py``; list
    only the classes to change). If the network file is missing, ``on_missing_network``
    decides: ``"error"`` stops the run saying how to build it; ``"straight_line"`` uses the
    straight-line model and every output says it was a fallback.
    """

    mode: Literal["straight_line", "road"] = "straight_line"
    intercept_min: float = Field(9.84, ge=0, description="fixed minutes per trip")
    min_per_km: float = Field(0.873, gt=0, description="minutes per straight-line km")
    calibration: str = Field(
        "", description="where the coefficients come from (shown in every output); without [travel] "
        "coefficients the area's own fit from the data build's travel file is used")
    network: Path | None = Field(None, description="road routing file (.npz) from `carezones roads build`")
    on_missing_network: Literal["error", "straight_line"] = "error"
    speed_factors: dict[str, float] = Field(
        default_factory=dict, description="care-worker speed / legal limit, by road class (overrides)")
    access_kph: float = Field(15.0, gt=0, le=130, description="speed of the leg from a point to its nearest road node")
    far_from_road_m: float = Field(1000.0, gt=0, description="points farther than this from any road node are flagged")
    cache_dir: Path | None = Field(None, description="travel-matrix cache (default: <network>.cache/ beside it)")

    @model_validator(mode="after")
    def _check_factors(self) -> TravelOptions:
        from zoning.roads.speeds import speed_factors

        speed_factors(self.speed_factors)  # ValueError names the valid road classes
        return self


class CapacityOptions(_Frozen):
    """Provider capacity. ``rule = "flow"`` (set by the shipped default): capacity within ``reach_min``
    of a zone's centre is shared between zones, counted once, and covers ``margin`` x each zone's
    demand; a scenario that does not say keeps ``"none"``. Defaults and why: README "Capacity balance"."""

    rule: Literal["none", "flow", "inside", "radius"] = Field("none", description=(
        "'flow': shared capacity within reach_min of the centre; 'inside': branches in the zone; 'radius': "
        "branches within radius_min of the centre, each counted for every zone it reaches; 'none': report only"))
    margin: float = Field(1.0, gt=0, le=5, description="capacity must cover margin x demand")
    reach_min: float = Field(20.0, gt=0, description="travel minutes from a branch to a zone centre (rule 'flow')")
    radius_min: float = Field(30.0, gt=0, description="travel minutes from a zone centre (rule 'radius')")
    centres: Literal["free", "hubs"] = Field(
        "free", description="'hubs': zone centres are chosen among units holding a provider branch"
    )
    hubs: tuple[str, ...] = Field(
        (), description="provider_ids of chosen hub branches, one per zone: the centres are fixed there"
    )


class CohortBound(_Frozen):
    """Bounds on one cohort's hours in every zone (e.g. children in a joint framework)."""

    min_hours: float | None = Field(None, ge=0)
    max_hours: float | None = Field(None, ge=0)
    tolerance: float | None = Field(None, ge=0, lt=1, description="± fraction of the cohort's mean per zone")


class ContinuityOptions(_Frozen):
    """Start from today's zones: limit and/or charge the care that changes zone."""

    max_moved_hours: float | None = Field(None, ge=0, description="cap on hours/week that change zone")
    max_moved_share: float | None = Field(None, ge=0, le=1, description="cap as a share of all hours")
    moved_penalty_min: float = Field(
        0.0, ge=0, description="objective charge per hour/week that changes zone, in travel minutes"
    )


class ZoneSpec(_Frozen):
    """A named zone with locked areas and/or its own bounds."""

    name: str = Field(min_length=1, max_length=80)
    lock_postcodes: tuple[str, ...] = ()
    lock_lsoas: tuple[str, ...] = ()
    lock_wards: tuple[str, ...] = Field((), description="ward codes (E05...) or ward names")
    min_hours: float | None = Field(None, ge=0)
    max_hours: float | None = Field(None, ge=0)
    piece: bool = Field(False, description="set by [pieces] own_zone: the zone is exactly a separate piece and "
                        "the other zones balance among themselves")


class KeepWhole(_Frozen):
    """A town or set of wards/LSOAs that must lie in one zone."""

    name: str = Field(min_length=1, max_length=80)
    wards: tuple[str, ...] = Field((), description="ward codes (E05...) or ward names")
    lsoas: tuple[str, ...] = ()


class Scenario(_Frozen):
    """A validated scenario. Build with :func:`load_scenario`."""

    name: str = Field(description="names the output folder out/<name>/: 1-64 letters, digits, '-', '_', '.'")
    title: str
    area_code: str = Field(pattern=r"^E(06|07|08|09|10)\d{6}(\+E(06|07|08|09|10)\d{6})*$")
    area_name: str = ""
    seed: int = Field(0, ge=0, le=2**31 - 1)
    data: DataFiles
    demand: DemandInput
    providers: ProviderInput
    current_zones: CurrentZonesInput | None = Field(
        None, description="today's zones, to compare with; without them the plan is presented alone")
    model: ModelOptions = Field(default_factory=ModelOptions)
    travel: TravelOptions = Field(default_factory=TravelOptions)
    capacity: CapacityOptions = Field(default_factory=CapacityOptions)
    cohorts: dict[str, CohortBound] = Field(default_factory=dict)
    continuity: ContinuityOptions | None = None
    baseline: BaselineOptions | None = Field(None, description="[baseline] run = previous run folder (a re-opening)")
    zone: tuple[ZoneSpec, ...] = Field((), description="[[zone]] entries: named zones with locks/bounds")
    keep_whole: tuple[KeepWhole, ...] = Field((), description="[[keep_whole]] entries")
    link: tuple[LinkSpec, ...] = Field((), description="[[link]] entries: declared crossings between pieces")
    pieces: PiecesOptions = Field(default_factory=PiecesOptions)
    units: UnitsOptions = Field(default_factory=UnitsOptions)
    bands: BandOptions = Field(default_factory=BandOptions)
    privacy: PrivacyOptions = Field(default_factory=PrivacyOptions)
    source: Path | None = None

    @field_validator("name")
    @classmethod
    def _name_is_not_a_path(cls, value: str) -> str:
        if value.strip(".") == "" or value.startswith(".") or any(sep in value for sep in ("/", "\\", "..")):
            raise ValueError(f"{value!r} looks like a path: the name becomes the output folder out/<name>/, "
                             "so use letters, digits, '-', '_' and single dots, e.g. 'leicestershire-2026'")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
            raise ValueError(f"{value!r}: expected 1 to 64 letters, digits, '-', '_' or '.', starting with a "
                             "letter or digit (it names the output folder)")
        return value

    @model_validator(mode="after")
    def _check_options(self) -> Scenario:
        """Every cross-field problem at once, then every missing file."""
        problems = self._option_problems() + self._file_problems()
        if problems:
            raise ValueError("\n    ".join([f"{len(problems)} problem(s) across fields:", *problems]))
        return self

    def _option_problems(self) -> list[str]:
        from zoning.inputs import (
            COHORTS,  # local: inputs imports nothing from here, but keep the graph flat
        )

        problems = []
        bad = sorted(set(self.cohorts) - set(COHORTS))
        if bad:
            problems.append(f"cohorts: unknown cohort(s) {bad}; expected some of {list(COHORTS)}")
        if len(self.zone) > self.model.zones:
            problems.append(f"{len(self.zone)} [[zone]] entries for {self.model.zones} zones (model.zones): "
                            "give at most one [[zone]] per zone")
        names = [z.name for z in self.zone]
        if len(set(names)) != len(names):
            problems.append(f"[[zone]] names must be distinct, got {names}")
        if self.capacity.hubs and len(self.capacity.hubs) != self.model.zones:
            problems.append(
                f"capacity.hubs lists {len(self.capacity.hubs)} branches for {self.model.zones} zones: "
                "give one hub per zone, or none"
            )
        for z in self.zone:
            if z.min_hours is not None and z.max_hours is not None and z.min_hours > z.max_hours:
                problems.append(f"zone {z.name!r}: min_hours {z.min_hours} > max_hours {z.max_hours}")
        for c, b in self.cohorts.items():
            if b.min_hours is not None and b.max_hours is not None and b.min_hours > b.max_hours:
                problems.append(f"cohorts.{c}: min_hours {b.min_hours} > max_hours {b.max_hours}")
        return problems

    def _file_problems(self) -> list[str]:
        return [
            f"files not found: {label}: {path}"
            for label, path in (
                ("data.postcodes", self.data.postcodes),
                ("data.boundaries", self.data.boundaries),
                ("demand.path", self.demand.path),
                ("providers.path", self.providers.path),
                ("current_zones.path", self.current_zones.path if self.current_zones else None),
                ("bands.path", self.bands.path),
            )
            if path is not None and not Path(path).is_file()
        ]

    def with_overrides(self, **model_changes: object) -> Scenario:
        """A copy with some model options replaced (e.g. from the command line), validated again
        as a whole (``model_copy`` would skip the cross-field checks)."""
        changes = {k: v for k, v in model_changes.items() if v is not None}
        if not changes:
            return self
        dumped = self.model_dump()
        dumped["model"] = {**dumped["model"], **changes}
        try:
            return Scenario.model_validate(dumped)
        except ValidationError as exc:
            given = ", ".join(f"{k}={v!r}" for k, v in changes.items())
            raise ScenarioError(
                f"{self.source or self.name}: with the options given on the command line ({given}): "
                + validation_problems(exc)
            ) from exc


def _resolve(raw: dict[str, object], base: Path) -> dict[str, object]:
    """Make the known path fields absolute, relative to the scenario file's folder."""
    out = dict(raw)
    for section, keys in (
        ("data", ("postcodes", "boundaries", "outline")),
        ("demand", ("path",)),
        ("providers", ("path",)),
        ("current_zones", ("path",)),
        ("travel", ("network", "cache_dir")),
        ("bands", ("path",)),
    ):
        block = out.get(section)
        if isinstance(block, dict):
            block = dict(block)
            for key in keys:
                if isinstance(block.get(key), str):
                    block[key] = (base / block[key]).resolve()
            out[section] = block
    return out


def _merge(base: dict[str, object], over: dict[str, object]) -> dict[str, object]:
    """``over`` on top of ``base``; tables merge key by key, everything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        out[key] = _merge(old, value) if isinstance(old, dict) and isinstance(value, dict) else value
    return out


def _read_raw(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, object]:
    """A scenario file's tables with paths made absolute, following ``extends`` (a scenario
    file this one starts from, relative to it)."""
    if not path.is_file():
        where = f" (extended by {chain[-1]})" if chain else ""
        raise ScenarioError(f"scenario file not found: {path}{where} (expected a .toml file)")
    if path.resolve() in chain:
        raise ScenarioError(f"{path}: 'extends' loops back on itself: {' -> '.join(map(str, chain))}")
    raw = read_toml(path)
    raw = _resolve(raw, path.parent)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: 'extends' must be a file name (text), got {parent!r}")
    return _merge(_read_raw(path.parent / parent, (*chain, path.resolve())), raw)


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read and validate a TOML scenario file (the Leicestershire default when ``None``).

    A file may start from another with ``extends = "other.toml"``: its tables are merged key by
    key over the other's (so a variant lists only what it changes).
    """
    path = Path(path) if path is not None else DEFAULT_SCENARIO
    raw = apply_baseline(_read_raw(path), base=path.parent)  # a re-opening: today's zones from a run
    try:
        # strict: `zones = "14"` or `synthetic = "yes"` is refused, not coerced (JSON mode still
        # takes text for paths and lists for tuples)
        return Scenario.model_validate_json(
            json.dumps({**raw, "source": path.resolve()}, default=str), strict=True,
        )
    except ValidationError as exc:
        raise ScenarioError(
            f"{path}: " + validation_problems(exc)
            + "\nHow to fix: compare with scenarios/leicestershire.toml; unknown keys are refused and "
            "values must have the right type (a number unquoted, text in quotes)."
        ) from exc
