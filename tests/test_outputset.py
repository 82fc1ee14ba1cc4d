"""Whole-or-nothing output sets: the swap, the lock, leftovers, folder checks, and real faults
(a run killed while writing, two runs into one folder, an unwritable folder) on the small
Melton extract."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_scenario
from zoning.errors import OutputError, ScenarioError
from zoning.publish.manifest import verify_output_set
from zoning.publish.outputset import FAULT_ENV, OutputSet, RunStamp
from zoning.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent


def _stamp(run_id: str) -> RunStamp:
    import datetime as dt

    return RunStamp(run_id=run_id, scenario_sha256="0" * 64, run_at=dt.datetime(2026, 12, 1))


def _write_set(target: Path, run_id: str, *, names: tuple[str, ...] = ("summary.json", "map.html")) -> None:
    with OutputSet(target, stamp=_stamp(run_id)) as outset:
        for name in names:
            outset.path(name).write_text(run_id, encoding="utf-8")
        outset.commit()


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))


def test_a_set_is_swapped_in_whole_and_replaces_the_previous_one(tmp_path: Path) -> None:
    target = tmp_path / "out" / "s"
    _write_set(target, "run1")
    _write_set(target, "run2", names=("summary.json",))
    assert sorted(p.name for p in target.iterdir()) == ["summary.json"]  # run1's map.html did not survive
    assert (target / "summary.json").read_text(encoding="utf-8") == "run2"
    assert _hidden(target.parent) == []  # no staging or old folder left


def test_a_failure_while_writing_keeps_the_previous_set(tmp_path: Path) -> None:
    target = tmp_path / "s"
    _write_set(target, "run1")
    with pytest.raises(RuntimeError), OutputSet(target, stamp=_stamp("run2")) as outset:
        outset.path("summary.json").write_text("half", encoding="utf-8")
        raise RuntimeError("disk full, say")
    assert {p.name: p.read_text(encoding="utf-8") for p in target.iterdir()} == {"summary.json": "run1",
                                                                                  "map.html": "run1"}
    assert _hidden(tmp_path) == []


def test_a_second_run_into_a_held_folder_is_refused_naming_the_holder(tmp_path: Path) -> None:
    target = tmp_path / "s"
    with OutputSet(target, stamp=_stamp("first")), pytest.raises(OutputError, match=r"another run \(pid \d+, run first"):
        with OutputSet(target, stamp=_stamp("second")):
            pass
    _write_set(target, "third")  # released: the next run goes ahead


def test_leftovers_of_a_killed_run_are_cleaned_and_an_orphaned_set_restored(tmp_path: Path) -> None:
    target = tmp_path / "s"
    _write_set(target, "run1")
    # killed between the two renames: the previous set is parked as .old-, no folder beside it
    os.replace(target, tmp_path / ".s.old-run2")
    (tmp_path / ".s.staging-run2").mkdir()
    (tmp_path / ".s.staging-run2" / "summary.json").write_text("trunc", encoding="utf-8")
    with OutputSet(target, stamp=_stamp("run3")):
        assert (target / "summary.json").read_text(encoding="utf-8") == "run1"  # put back first
        assert _hidden(tmp_path) == [".s.staging-run3"]
    assert _hidden(tmp_path) == []


def test_a_folder_of_other_files_is_refused_not_emptied(tmp_path: Path) -> None:
    (tmp_path / "notes.docx").write_text("mine", encoding="utf-8")
    with pytest.raises(OutputError, match=r"holds files carezones did not write \(notes.docx\)"):
        OutputSet(tmp_path, stamp=_stamp("r")).__enter__()
    assert (tmp_path / "notes.docx").read_text(encoding="utf-8") == "mine"


def test_sidecars_that_gis_tools_leave_beside_outputs_do_not_block_a_rerun(tmp_path: Path) -> None:
    target = tmp_path / "s"
    _write_set(target, "run1", names=("zones.gpkg",))
    for sidecar in ("zones.gpkg-wal", "zones.gpkg.aux.xml", ".~lock.postcode_zones.csv#"):
        (target / sidecar).write_text("x", encoding="utf-8")
    _write_set(target, "run2")
    assert sorted(p.name for p in target.iterdir()) == ["map.html", "summary.json"]


def test_too_little_room_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "s"
    _write_set(target, "run1")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))  # type: ignore[attr-defined]
    with pytest.raises(OutputError, match=r"MB free; a run needs about"):
        _write_set(target, "run2")
    assert (target / "summary.json").read_text(encoding="utf-8") == "run1"


def test_io_errors_name_the_path_and_the_cause(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match=r"cannot write to the output folder .*a-file is a file, not a folder"):
        _write_set(blocker / "s", "r")


# --- real runs on the Melton extract, in subprocesses ---------------------------------------

def carezones(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "zoning.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(REPO), **(env or {})},
        cwd=cwd,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = proc.communicate(timeout=300)
    return proc.returncode, stderr


def run_id_of(folder: Path) -> str:
    """The one run id every file of the set carries (asserting they agree)."""
    assert verify_output_set(folder) == []
    run_id = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["run_id"]
    assert json.loads((folder / "summary.json").read_text(encoding="utf-8"))["run"]["run_id"] == run_id
    assert json.loads((folder / "zones.geojson").read_text(encoding="utf-8"))["carezones"]["run_id"] == run_id
    for name in ("report.md", "report.html", "map.html", "postcode_zones.csv"):
        assert run_id in (folder / name).read_text(encoding="utf-8"), name
    return run_id


@pytest.mark.slow
def test_a_run_killed_while_writing_leaves_the_previous_complete_set(melton_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "melton"
    scenario = str(melton_dir / "melton.toml")
    code, stderr = finish(carezones("run", scenario, "--out", str(out)))
    assert code == 0, stderr
    first = run_id_of(out)
    for fault in ("summary", "commit"):  # mid-set, and with every file written just before the swap
        code, stderr = finish(carezones("run", scenario, "--out", str(out), env={FAULT_ENV: fault}))
        assert code == -9, stderr  # SIGKILL
        assert run_id_of(out) == first  # the previous set, whole
        assert any(p.name.startswith(".melton.staging-") for p in out.parent.iterdir())  # the killed run's debris
    code, stderr = finish(carezones("run", scenario, "--out", str(out)))
    assert code == 0, stderr
    assert run_id_of(out) != first
    assert _hidden(out.parent) == []  # debris of the killed runs cleaned up


def test_two_runs_into_one_folder_never_mix(melton_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "melton"
    scenario = str(melton_dir / "melton.toml")
    procs = [carezones("run", scenario, "--out", str(out)) for _ in range(2)]
    results = [finish(p) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 7]), results
    for code, stderr in results:
        if code == 7:
            assert "is being written by another run" in stderr and "Traceback" not in stderr
    run_id_of(out)  # one run's files, all of them, nothing else


def _unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot create anything in (chmod; as root, sysfs)."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        return locked / "out"
    probe = Path("/sys/carezones-probe")
    try:
        probe.mkdir()
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES, errno.EROFS):
            return probe / "out"
    else:  # pragma: no cover - a writable /sys
        probe.rmdir()
    pytest.skip("running as root with no read-only file system to write into")


def test_an_unwritable_folder_fails_before_solving_with_exit_7(melton_dir: Path, tmp_path: Path) -> None:
    out = _unwritable(tmp_path)
    code, stderr = finish(carezones("run", str(melton_dir / "melton.toml"), "--out", str(out)))
    assert code == 7, stderr
    assert "cannot write to the output folder" in stderr and str(out.parent) in stderr
    assert "designing" not in stderr and "Traceback" not in stderr  # refused before the solve


@pytest.mark.parametrize("name", [".", "..", "a/b", "a\\b", "..hidden", "x..y"])
def test_path_like_scenario_names_are_refused(melton_copy: Path, name: str) -> None:
    scenario = write_scenario(melton_copy)
    scenario.write_text(scenario.read_text(encoding="utf-8").replace('name = "melton-test"', f"name = '{name}'"),
                        encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"name: .*looks like a path"):
        load_scenario(scenario)


def test_a_dot_dot_name_writes_nothing_into_the_working_directory(melton_copy: Path, tmp_path: Path) -> None:
    scenario = write_scenario(melton_copy)
    scenario.write_text(scenario.read_text(encoding="utf-8").replace('name = "melton-test"', 'name = ".."'),
                        encoding="utf-8")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    code, stderr = finish(carezones("run", str(scenario), cwd=cwd))
    assert code == 2 and "looks like a path" in stderr, stderr
    assert list(cwd.iterdir()) == [] and not (tmp_path / "map.html").exists()
