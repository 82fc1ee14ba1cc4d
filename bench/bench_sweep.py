"""Benchmark `carezones sweep`: a 12-variant Leicestershire sweep run three ways, side by side:

1. serial (``--workers 1``, one process);
2. a local Dask cluster (``LocalCluster``, one worker process per core, one thread each);
3. an external Dask cluster: ``dask scheduler`` and two ``dask worker`` processes started here on
   127.0.0.1 (``--nthreads 1`` each), used through ``carezones sweep --scheduler tcp://...``.

Prints the wall time of each, the speed-up against serial, whether the three give the same
plans (postcode -> zone of every variant), and the load average before and after (the machine
may be shared: read the figures with it). Each variant has a modest time limit (``--time-limit``)
so the whole benchmark stays within minutes.

    .venv/bin/python bench/bench_sweep.py [--time-limit 40] [--certify 5] [--out /tmp/bench_sweep] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

BIN = Path(sys.executable).parent
SETTINGS = ["model.zones=12,13,14,15", "model.tolerance=0.05,0.1,0.15"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sweep(out: Path, extra: list[str], limits: list[str]) -> float:
    cmd = [str(BIN / "carezones"), "sweep", *sum((["--set", s] for s in [*SETTINGS, *limits]), []),
           "--out", str(out), *extra]
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"})
    wall = time.perf_counter() - start
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-3000:])
        raise SystemExit(f"sweep failed ({' '.join(extra)}): exit {res.returncode}")
    return wall


def _plans(out: Path) -> dict[str, pd.Series]:
    table = pd.read_csv(out / "comparison.csv")
    return {v: pd.read_csv(out / v / "postcode_zones.csv", dtype=str).set_index("postcode")["proposed_zone"]
            for v in table["variant"] if (out / v / "postcode_zones.csv").is_file()}


def _same(a: dict[str, pd.Series], b: dict[str, pd.Series]) -> tuple[int, int]:
    """(variants with identical plans, variants compared)."""
    names = sorted(set(a) & set(b))
    return sum(bool(a[n].equals(b[n])) for n in names), len(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-limit", type=float, default=40.0, help="model.time_limit_s of every variant")
    parser.add_argument("--certify", type=float, default=5.0, help="model.certify_s of every variant")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_sweep"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    limits = [f"model.time_limit_s={args.time_limit:g}", f"model.certify_s={args.certify:g}"]
    shutil.rmtree(args.out, ignore_errors=True)
    say = sys.stdout.write
    load_before = os.getloadavg()
    say(f"12 variants ({' x '.join(SETTINGS)}), {' '.join(limits)}; {os.cpu_count()} cores; "
        f"load average before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}\n")
    sys.stdout.flush()
    walls: dict[str, float] = {}
    walls["serial"] = _sweep(args.out / "serial", ["--workers", "1"], limits)
    say(f"serial:               {walls['serial']:7.1f} s\n")
    sys.stdout.flush()
    walls["local_cluster"] = _sweep(args.out / "local", [], limits)
    say(f"local cluster:        {walls['local_cluster']:7.1f} s\n")
    sys.stdout.flush()

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--dashboard-address", ":0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(3)
    procs += [subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                "--host", "127.0.0.1", "--no-dashboard"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    time.sleep(5)
    try:
        walls["external_scheduler"] = _sweep(args.out / "external", ["--scheduler", address], limits)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    say(f"external scheduler:   {walls['external_scheduler']:7.1f} s (dask scheduler + 2 dask workers on 127.0.0.1)\n")
    serial = _plans(args.out / "serial")
    same_local = _same(serial, _plans(args.out / "local"))
    same_ext = _same(serial, _plans(args.out / "external"))
    load_after = os.getloadavg()
    say(f"speed-up vs serial: local cluster {walls['serial'] / walls['local_cluster']:.2f}x, "
        f"external scheduler {walls['serial'] / walls['external_scheduler']:.2f}x\n")
    say(f"identical plans vs serial: local cluster {same_local[0]}/{same_local[1]}, "
        f"external scheduler {same_ext[0]}/{same_ext[1]} (time-limited solves may differ under load)\n")
    say(f"load average after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}\n")
    if args.json:
        args.json.write_text(json.dumps({"wall_s": walls, "settings": SETTINGS, "limits": limits,
                                         "identical_local": same_local, "identical_external": same_ext,
                                         "load_before": load_before, "load_after": load_after,
                                         "cores": os.cpu_count()}, indent=2) + "\n")


if __name__ == "__main__":
    main()
