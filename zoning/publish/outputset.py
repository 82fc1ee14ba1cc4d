"""Whole-or-nothing output sets: a run's files appear together or not at all.

A run writes into a staging folder beside the target (``out/.<name>.staging-<run id>/``) and,
once every file and ``manifest.json`` are written and flushed, swaps it in with two renames:
the previous set to ``.<name>.old-<run id>``, the staging folder to ``<name>``. A reader
therefore sees the previous complete set, the new complete set, or (for the instant between
the two renames) no folder — never a mix. While a run holds the folder it holds an exclusive
lock on ``out/.<name>.lock`` (released by the operating system if the process dies), so a
second run into the same folder is refused at once with a message naming the holder.

Leftovers of a killed run (staging folders, an ``.old-`` set not yet removed) are cleaned up
by the next run into the folder; an ``.old-`` set with no folder beside it (killed between
the two renames) is put back first. The target folder is only ever replaced when it is empty
or holds nothing but carezones outputs, so ``--out`` pointed at a folder of other files is
refused rather than emptied.

Fault-test seam: with the environment variable ``CAREZONES_FAULT_AFTER_OUTPUT`` set to an
output's name (e.g. ``summary``), the process kills itself (SIGKILL) straight after writing
that output into the staging folder (``commit`` kills it just before the swap). Only the
fault tests set it.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import logging
import os
import secrets
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from zoning.errors import OutputError
from zoning.scenario import Scenario

log = logging.getLogger(__name__)

FAULT_ENV = "CAREZONES_FAULT_AFTER_OUTPUT"
#: Files a carezones output folder may hold (besides hidden temporary files of older versions).
KNOWN_OUTPUTS = frozenset({
    "zones.geojson", "zones.gpkg", "postcode_zones.csv", "postcode_zones.xlsx", "summary.json",
    "report.md", "report.html", "map.html", "manifest.json", "zones.qml",
    "report_map_zones.png", "report_map_zones.svg", "report_chart_load.png", "report_chart_load.svg",
    "report_chart_travel.png", "report_chart_travel.svg",
})
#: Room asked for when there is no previous run to measure (bytes).
MIN_FREE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class RunStamp:
    """Identifies one run in every file it writes."""

    run_id: str
    scenario_sha256: str
    run_at: dt.datetime  # UTC, naive

    @property
    def scenario_short(self) -> str:
        """The first 12 hex digits of the scenario's SHA-256 (the CSV column)."""
        return self.scenario_sha256[:12]

    def line(self) -> str:
        return f"Run {self.run_id} (scenario SHA-256 {self.scenario_sha256})"


def scenario_sha256(scenario: Scenario) -> str:
    """SHA-256 of the validated scenario (overrides applied) as canonical JSON."""
    dump = scenario.model_dump(mode="json")
    text = json.dumps(dump, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_stamp(scenario: Scenario, *, run_at: dt.datetime | None = None) -> RunStamp:
    """A fresh run id: UTC time to the second and 8 random hex digits."""
    at = run_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return RunStamp(run_id=f"{at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}", scenario_sha256=scenario_sha256(scenario),
                    run_at=at)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _lock(handle: object) -> bool:
    """Try an exclusive, non-blocking lock on an open file; False if another process holds it."""
    try:
        import fcntl

        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # type: ignore[attr-defined]
        except BlockingIOError:
            return False
        return True
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True


def _ours(name: str) -> bool:
    """A file a carezones output folder may hold: an output, a GIS tool's sidecar of one
    (``zones.gpkg-wal``, ``zones.gpkg.aux.xml``), or a hidden temporary file."""
    return name.startswith(".") or any(name.startswith(known) for known in KNOWN_OUTPUTS)


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _oserror(action: str, path: Path, exc: OSError) -> OutputError:
    cause = exc.strerror or str(exc)
    hint = {errno.EACCES: "make it writable or choose another folder with --out",
            errno.EROFS: "the file system is read-only: choose another folder with --out",
            errno.ENOSPC: "free some space or choose another folder with --out"}.get(exc.errno or 0,
                                                                                     "choose another folder with --out")
    return OutputError(f"cannot {action} {path}: {cause}. How to fix: {hint}.")


class OutputSet:
    """Stage a run's outputs beside ``target`` and swap them in whole (see the module docstring).

    Use as a context manager: entering checks the folder (writable, room for about the size of
    the last run, only carezones files in it), takes the lock and creates :attr:`staging`;
    :meth:`commit` swaps the staged set in; leaving without a commit removes the staging folder
    and keeps the previous set. Errors are :class:`OutputError` (exit 7) naming the path.
    """

    def __init__(self, target: Path, *, stamp: RunStamp) -> None:
        self.target = Path(target).absolute()
        self.stamp = stamp
        self.parent = self.target.parent
        self.staging = self.parent / f".{self.target.name}.staging-{stamp.run_id}"
        self.lock_path = self.parent / f".{self.target.name}.lock"
        self._handle: object | None = None
        self.committed = False

    # -- entering: checks, lock, clean-up, staging folder ------------------------------------
    def __enter__(self) -> OutputSet:
        self._check_target()
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            handle = self.lock_path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise _oserror("write to the output folder", self.parent, exc) from exc
        if not _lock(handle):
            handle.seek(0)
            holder = handle.read().strip() or "another carezones run"
            handle.close()
            raise OutputError(
                f"{self.target} is being written by another run ({holder}; lock {self.lock_path}). "
                "How to fix: wait for it to finish, or give this run another folder with --out."
            )
        self._handle = handle
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, run {self.stamp.run_id}\n")
        handle.flush()
        try:
            self._clean_leftovers()
            self._check_room()
            self.staging.mkdir()
            probe = self.staging / ".write-test"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OutputError:
            self._release()
            raise
        except OSError as exc:
            self._release()
            raise _oserror("write to the output folder", self.parent, exc) from exc
        return self

    def _check_target(self) -> None:
        for path in (self.target, *self.target.parents):
            if path.exists():
                if not path.is_dir():
                    raise OutputError(f"cannot write to the output folder {self.target}: {path} is a file, not a "
                                      "folder. How to fix: choose a folder with --out.")
                break
        if self.target.is_dir():
            foreign = sorted(p.name for p in self.target.iterdir() if not _ours(p.name))
            if foreign:
                shown = ", ".join(foreign[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
                raise OutputError(
                    f"{self.target} holds files carezones did not write ({shown}); a run replaces the whole "
                    "folder, so it refuses to. How to fix: choose an empty or new folder with --out."
                )

    def _clean_leftovers(self) -> None:
        prefix = f".{self.target.name}."
        olds = sorted(self.parent.glob(prefix + "old-*"))
        if olds and not self.target.exists():  # killed between the two renames: put the last set back
            os.replace(olds[-1], self.target)
            log.warning("restored the previous output set %s left by an interrupted run", self.target)
            olds = olds[:-1]
        for left in [*olds, *self.parent.glob(prefix + "staging-*")]:
            shutil.rmtree(left, ignore_errors=True)
            log.info("removed %s left by an interrupted run", left.name)

    def _check_room(self) -> None:
        need = max(int(1.1 * _folder_size(self.target)), MIN_FREE_BYTES)
        free = shutil.disk_usage(self.parent).free
        if free < need:
            raise OutputError(
                f"{self.parent} has {free / 2**20:,.0f} MB free; a run needs about {need / 2**20:,.0f} MB "
                "(the size of the last run, at least 50 MB). How to fix: free some space or choose "
                "another folder with --out."
            )

    # -- writing ------------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """Where to write output file ``name`` (inside the staging folder)."""
        return self.staging / name

    def written(self, name: str) -> None:
        """Called after each output is written (the fault-test seam, see the module docstring)."""
        if os.environ.get(FAULT_ENV) == name:
            log.warning("%s=%s: killing the process now (fault test)", FAULT_ENV, name)
            os.kill(os.getpid(), signal.SIGKILL)

    def commit(self) -> None:
        """Flush the staged files and swap them in as the new ``target``."""
        for path in self.staging.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        self.written("commit")
        old = self.parent / f".{self.target.name}.old-{self.stamp.run_id}"
        try:
            if self.target.exists():
                os.replace(self.target, old)
            os.replace(self.staging, self.target)
        except OSError as exc:
            if old.exists() and not self.target.exists():
                os.replace(old, self.target)
            raise _oserror("replace the output folder", self.target, exc) from exc
        shutil.rmtree(old, ignore_errors=True)
        self.committed = True
        log.info("output set %s swapped in at %s", self.stamp.run_id, self.target)

    # -- leaving ------------------------------------------------------------------------------
    def _release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # type: ignore[attr-defined]
            self._handle = None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self.committed:
            shutil.rmtree(self.staging, ignore_errors=True)
        self._release()
