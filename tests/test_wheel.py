"""The wheel installs into a fresh virtual environment and runs the default from any folder.

Builds the wheel from this checkout, installs it (with its dependencies, from the package
index or pip's cache) into a new venv, and runs ``carezones --version``, ``run --help`` and the
Leicestershire default from an empty temporary folder: nothing may come from the checkout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(args: list[str], *, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_wheel_installs_and_runs_the_default_anywhere(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(REPO)],
                 cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    log = built.stdout + built.stderr
    assert "SetuptoolsDeprecationWarning" not in log and "SetuptoolsWarning" not in log, log
    (wheel,) = dist.glob("carezones-*.whl")

    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path).returncode == 0
    py = venv / "bin" / "python"
    installed = _run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    exe = venv / "bin" / "carezones"

    work = tmp_path / "work"
    work.mkdir()
    version = _run([str(exe), "--version"], cwd=work)
    assert version.returncode == 0 and version.stdout.startswith("carezones "), version.stderr
    helptext = _run([str(exe), "run", "--help"], cwd=work)
    assert helptext.returncode == 0 and "map.html" in helptext.stdout

    where = _run([str(py), "-c", "import zoning, sys; print(zoning.__file__)"], cwd=work)
    assert str(venv) in where.stdout and str(REPO) not in where.stdout, where.stdout

    ran = _run([str(exe), "run", "--time-limit", "120"], cwd=work)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    out = work / "out" / "leicestershire"
    for name in ("map.html", "report.html", "zones.gpkg", "postcode_zones.csv", "summary.json"):
        assert (out / name).is_file(), f"{name} missing from {out}"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["plan"]["zones"] == 14
