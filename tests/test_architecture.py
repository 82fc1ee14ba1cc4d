"""The house's import contract, read from the source with ``ast`` (no module is imported).

- ``optimiser`` imports only the standard library, numpy, scipy, pulp, highspy and itself;
- ``maps`` imports nothing from ``zoning`` (it may read ``optimiser`` result types);
- only ``zoning.publish`` imports ``maps``;
- the run path (every ``zoning`` module outside ``databuild``) never imports ``zoning.databuild``;
- ``zoning.roads`` (a side system) never imports the publishing side;
- no module is longer than the house's ~400-line limit.

A new module that breaks a rule fails here, naming the file, line and import.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("zoning", "optimiser", "maps")
OPTIMISER_ALLOWED = {"numpy", "scipy", "pulp", "highspy", "optimiser"}
MAX_LINES = 420


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (REPO / package).rglob("*.py") if "_bundle" not in p.parts)


def _dotted(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = _dotted(path).split(".")
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_pkg else here[:-1]
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            yield node.lineno, mod
            # `from zoning import databuild` names a subpackage too
            for alias in node.names:
                yield node.lineno, f"{mod}.{alias.name}"


def _top(name: str) -> str:
    return name.split(".")[0]


def _violations(package: str, rule) -> list[str]:  # type: ignore[no-untyped-def]
    bad = []
    for path in _modules(package):
        for line, mod in _imports(path):
            why = rule(_dotted(path), mod)
            if why:
                bad.append(f"{path.relative_to(REPO)}:{line}: imports {mod} ({why})")
    return sorted(set(bad))


def test_optimiser_imports_only_numeric_libraries() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__"}

    def rule(_here: str, mod: str) -> str | None:
        top = _top(mod)
        if top in stdlib or top in OPTIMISER_ALLOWED:
            return None
        return "optimiser may import only the standard library, numpy, scipy, pulp and highspy"

    assert _violations("optimiser", rule) == []


def test_maps_never_imports_zoning() -> None:
    def rule(_here: str, mod: str) -> str | None:
        return "maps only draws: it must not import the domain" if _top(mod) == "zoning" else None

    assert _violations("maps", rule) == []


def test_only_publish_imports_maps() -> None:
    def rule(here: str, mod: str) -> str | None:
        if _top(mod) == "maps" and not here.startswith("zoning.publish"):
            return "only zoning.publish may import maps"
        return None

    assert _violations("zoning", rule) == []


def test_run_path_never_imports_the_data_build() -> None:
    def rule(here: str, mod: str) -> str | None:
        if here.startswith("zoning.databuild") or here in {"zoning.cli", "zoning.init"}:
            return None  # the data build itself, and the command line that launches it
        if mod == "zoning.databuild" or mod.startswith("zoning.databuild."):
            return "the run path reads built files; it must not import the build"
        return None

    assert _violations("zoning", rule) == []


def test_roads_never_imports_publishing() -> None:
    def rule(here: str, mod: str) -> str | None:
        if here.startswith("zoning.roads") and (mod.startswith("zoning.publish") or _top(mod) == "maps"):
            return "road building and routing must not depend on publishing"
        return None

    assert _violations("zoning", rule) == []


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_stay_small(package: str) -> None:
    long = [f"{p.relative_to(REPO)}: {n} lines" for p in _modules(package)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES]
    assert long == [], f"split these modules (limit ~400 lines): {long}"


def test_the_contract_test_sees_a_violation(tmp_path: Path) -> None:
    """The reader resolves relative imports and `from package import module` forms."""
    pkg = tmp_path / "zoning" / "sub"
    pkg.mkdir(parents=True)
    mod = pkg / "m.py"
    mod.write_text("from ..databuild import build\nfrom zoning import databuild\nimport maps.zone_map\n")
    global REPO
    saved, REPO = REPO, tmp_path
    try:
        found = {m for _, m in _imports(mod)}
    finally:
        REPO = saved
    assert {"zoning.databuild.build", "zoning.databuild", "maps.zone_map"} <= found
