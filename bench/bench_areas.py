"""Benchmark `carezones init` + `carezones run` across English councils of every kind.

For each council: `init` (reference data, SYNTHETIC stand-ins, scenario.toml) then `run`, each
as its own process, timed; then reads the run's summary.json and greps every output. Prints one
row per council: LSOAs (units), zones, pieces joined (links added), build and run seconds, the
plan's objective divided by the certified lower bound, checks passed, and whether any output
names another area (Leicester, or an LE postcode, outside Leicestershire).

    .venv/bin/python bench/bench_areas.py [--work DIR] [--time-limit S] [--only CODE ...] [--json PATH]

Needs the source wheels (downloaded by the first `carezones data build`). Counties take a few
minutes each on a shared 2-core machine; run it in the background.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

CAREZONES = str(Path(sys.executable).with_name("carezones"))

#: (codes, label, kind, zones or None for the suggested count)
COUNCILS: tuple[tuple[tuple[str, ...], str, str, int | None], ...] = (
    (("E06000046",), "Isle of Wight", "unitary, island", None),
    (("E06000017",), "Rutland", "tiny unitary", None),
    (("E09000033",), "Westminster", "London borough", None),
    (("E08000031",), "Wolverhampton", "metropolitan borough", None),
    (("E06000063",), "Cumberland", "unitary created 2023", None),
    (("E06000064",), "Westmorland and Furness", "unitary created 2023, estuaries", None),
    (("E06000058",), "Bournemouth, Christchurch and Poole", "unitary created 2019, harbour", None),
    (("E06000060",), "Buckinghamshire", "unitary created 2020", None),
    (("E06000052",), "Cornwall", "large unitary, estuaries", 12),
    (("E10000018",), "Leicestershire", "large county", 14),
    (("E10000012",), "Essex", "large county, islands and estuaries", 12),
    (("E10000016",), "Kent", "large county, Sheppey, Shepway renamed", 12),
    (("E06000016", "E06000017"), "Leicester and Rutland", "two councils as one area", None),
)


@dataclass
class Row:
    area: str
    label: str
    kind: str
    units: int | None = None
    zones: int | None = None
    pieces: int | None = None
    links: int | None = None
    build_s: float | None = None
    run_s: float | None = None
    plan_over_bound: float | None = None
    checks: str = ""
    foreign_text: str = ""
    exit_codes: str = ""
    note: str = ""


def _run(cmd: list[str], log: Path) -> tuple[int, float]:
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as fh:
        code = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    return code, time.perf_counter() - start


def _foreign(out: Path, *, key: str, data: Path, label: str) -> str:
    """Outputs that name Leicester, or show an LE postcode that is not one of the area's own
    (Rutland's postcodes are LE15), for areas other than Leicestershire (and Leicester, whose
    own name it is)."""
    if key == "E10000018":
        return "n/a"
    own = set()
    pcs = data / "postcodes" / f"{key}_postcodes.csv"
    if pcs.is_file():
        own = {line.split(",", 1)[0] for line in pcs.read_text(encoding="utf-8").splitlines()[1:]}
    hits = []
    for path in sorted(p for p in out.iterdir() if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        names = re.search(r"leicester", text, re.IGNORECASE) and "leicester" not in label.lower()
        postcodes = {m for m in re.findall(r"\bLE\d{1,2} ?\d[A-Z]{2}\b", text)} - own
        bare = re.search(r"\bLE\d{1,2}\b(?! ?\d[A-Z]{2})", text)
        if names or postcodes or (bare and not own):
            hits.append(path.name)
    return ", ".join(hits) or "none"


def bench(codes: tuple[str, ...], label: str, kind: str, zones: int | None, *, work: Path,
          time_limit: float) -> Row:
    key = "+".join(codes)
    row = Row(area=key, label=label, kind=kind)
    folder = work / key
    init = [CAREZONES, "init", *(a for c in codes for a in ("--area", c)), "--dir", str(folder)]
    if zones is not None:
        init += ["--zones", str(zones)]
    code_init, row.build_s = _run(init, work / f"{key}.init.log")
    if code_init != 0:
        row.exit_codes, row.note = f"init {code_init}", (work / f"{key}.init.log").read_text()[-300:]
        return row
    out = work / f"{key}.out"
    code_run, row.run_s = _run([CAREZONES, "run", str(folder / "scenario.toml"), "--out", str(out),
                                "--time-limit", str(time_limit)], work / f"{key}.run.log")
    row.exit_codes = f"init {code_init}, run {code_run}"
    if code_run != 0:
        row.note = (work / f"{key}.run.log").read_text()[-300:].replace("\n", " ")
        return row
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    row.units = summary["units"]["count"]
    row.zones = summary["plan"]["zones"]
    pieces = (summary.get("constraints") or {}).get("pieces") or {}
    row.pieces = pieces.get("pieces_before_joining", 1)
    row.links = len(pieces.get("links", []))
    gap = summary["solver"].get("gap_to_certified_bound")
    row.plan_over_bound = None if gap is None else 1.0 + gap
    checks = summary["checks"]
    row.checks = f"{sum(c['passed'] for c in checks)}/{len(checks)}"
    row.foreign_text = _foreign(out, key=key, data=folder / "data", label=label)
    return row


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _fmt(v: object, spec: str = "") -> str:
    return "–" if v is None else format(v, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/carezones-bench-areas"))
    parser.add_argument("--time-limit", type=float, default=90.0)
    parser.add_argument("--only", nargs="*", default=None, help="area keys to run (e.g. E06000046)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--recheck", action="store_true", help="only re-grep the outputs of an earlier run")
    args = parser.parse_args()
    if args.recheck:
        for codes, label, *_ in COUNCILS:
            key = "+".join(codes)
            if (args.work / f"{key}.out").is_dir():
                _say(f"{label} ({key}): {_foreign(args.work / f'{key}.out', key=key, data=args.work / key / 'data', label=label)}")
        return
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    head = ("| council | code | kind | LSOAs | zones | pieces (links) | build s | run s | plan ÷ bound | checks | "
            "other area's text | exit |")
    _say(head + "\n|" + "---|" * 12)
    for codes, label, kind, zones in COUNCILS:
        if args.only and "+".join(codes) not in args.only:
            continue
        r = bench(codes, label, kind, zones, work=args.work, time_limit=args.time_limit)
        rows.append(r)
        pieces = "–" if r.pieces is None else f"{r.pieces} ({r.links})"
        _say(f"| {r.label} | {r.area} | {r.kind} | {_fmt(r.units)} | {_fmt(r.zones)} | {pieces} | "
              f"{_fmt(r.build_s, '.0f')} | {_fmt(r.run_s, '.0f')} | {_fmt(r.plan_over_bound, '.4f')} | {r.checks} | "
              f"{r.foreign_text} | {r.exit_codes}{(' — ' + r.note) if r.note else ''} |")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
