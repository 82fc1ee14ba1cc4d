"""``manifest.json``: what a run read, how it solved, and the SHA-256 of every file it wrote.

Written last into the staging folder (:mod:`zoning.publish.outputset`), so a set with a
manifest is complete; ``sha256sum`` of each listed file equals its ``sha256`` entry.
"""

from __future__ import annotations

import json
import math
import platform
from importlib import metadata
from pathlib import Path

from zoning import __version__
from zoning.plan import ZonePlan
from zoning.publish.outputset import RunStamp, file_sha256

#: The manifest's own layout version (bump when a key changes meaning).
MANIFEST_VERSION = 1
_LIBRARIES = ("pulp", "highspy", "pandas", "geopandas", "shapely", "pyogrio", "pyproj", "numpy", "scipy", "folium",
              "openpyxl", "pydantic")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def solver_version(solver: str) -> str:
    """The version of the solver that ran, as its Python package reports it."""
    if solver == "highs":
        return f"HiGHS via highspy {_version('highspy')}"
    return f"CBC bundled with PuLP {_version('pulp')}"


def _inputs(plan: ZonePlan) -> list[dict[str, object]]:
    s = plan.scenario
    files = [
        ("scenario", s.source), ("demand", s.demand.path), ("providers", s.providers.path),
        ("current_zones", s.current_zones.path if s.current_zones else None), ("postcodes", s.data.postcodes), ("boundaries", s.data.boundaries),
        ("outline", s.data.outline), ("bands", s.bands.path), ("road_network", s.travel.network),
    ]
    out: list[dict[str, object]] = []
    for role, path in files:
        if path is None:
            continue
        p = Path(path)
        out.append({"role": role, "path": str(p), "sha256": file_sha256(p) if p.is_file() else None,
                    "bytes": p.stat().st_size if p.is_file() else None})
    return out


def build_manifest(plan: ZonePlan, stamp: RunStamp, outputs: dict[str, Path]) -> dict[str, object]:
    """The manifest of a run whose files ``outputs`` (name -> path) are written."""
    s, rep = plan.scenario, plan.result.report
    return {
        "manifest_version": MANIFEST_VERSION,
        "run_id": stamp.run_id,
        "run_at": stamp.run_at.isoformat(timespec="seconds") + "Z",
        "carezones_version": __version__,
        "python": platform.python_version(),
        "scenario": {"name": s.name, "file": str(s.source) if s.source else None,
                     "sha256_validated": stamp.scenario_sha256,
                     "sha256_validated_means": "SHA-256 of the validated scenario (command-line overrides applied) "
                                               "as canonical JSON; the scenario file's own hash is under inputs"},
        "inputs": _inputs(plan),
        "reference_data": {"vintage": s.data.vintage, "travel": plan.travel.describe()},
        "solver": {"name": rep.solver, "version": solver_version(rep.solver), "status": rep.status.value,
                   "solver_status": rep.solver_status, "gap": _finite(rep.gap), "objective": _finite(rep.objective),
                   "best_bound": _finite(rep.best_bound), "time_limit_s": s.model.time_limit_s, "threads": s.model.threads},
        "seed": s.seed,
        "libraries": {name: _version(name) for name in _LIBRARIES},
        "outputs": [{"name": name, "file": path.name, "sha256": file_sha256(path), "bytes": path.stat().st_size}
                    for name, path in outputs.items()],
    }


def write_manifest(path: Path, manifest: dict[str, object]) -> None:
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n",
                    encoding="utf-8")


def verify_output_set(folder: Path) -> list[str]:
    """Problems with the output set in ``folder`` (empty when whole): the manifest is there,
    every file it lists exists with its SHA-256, and no other file sits beside them. A named
    check, reused by the fault tests as their oracle."""
    path = folder / "manifest.json"
    if not path.is_file():
        return [f"{path}: missing"]
    manifest = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    listed = {"manifest.json"}
    for entry in manifest["outputs"]:
        file = folder / entry["file"]
        listed.add(entry["file"])
        if not file.is_file():
            problems.append(f"{file}: listed in the manifest but missing")
        elif file_sha256(file) != entry["sha256"]:
            problems.append(f"{file}: SHA-256 differs from the manifest's (written by another run?)")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in listed)
    if extra:
        problems.append(f"{folder}: files not in the manifest: {extra}")
    return problems
