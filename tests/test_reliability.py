"""Regressions of issue 10 (and issue 9 item 8): messages that tell the truth, every problem in
one pass, no raw traceback, personal data recognised by content, stamps and the manifest."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from tests.conftest import grid_problem, write_scenario
from zoning.errors import InputError, ScenarioError
from zoning.inputs import read_demand
from zoning.postcodes import load_reference_postcodes
from zoning.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent


def carezones(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zoning.cli", *args], capture_output=True, text=True, timeout=300,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "NO_COLOR": "1", "PYTHONPATH": str(REPO)},
                          cwd=cwd)


@pytest.fixture(scope="module")
def reference(melton_dir: Path) -> pd.DataFrame:
    return load_reference_postcodes(melton_dir / "postcodes.csv")


# --- inputs ---------------------------------------------------------------------------------

def test_a_council_style_header_is_read(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "d.csv"
    path.write_text("Client Ref,Postcode,Hours Per Week,Cohort\nC1,LE13 0AA,5,Adults\nC2,LE13 0AA,2.5,\n",
                    encoding="utf-8")
    demand, _ = read_demand(path, reference)
    assert demand["hours_per_week"].sum() == 7.5


def test_every_problem_comes_in_one_pass_unmatched_postcodes_included(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "d.csv"
    path.write_text("postcode,hours_per_week\nLE13 0AA,lots\nZZ99 9ZZ,4\nLE1 1AA,3\nLE13 0AA,99999999\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_demand(path, reference)
    lines = info.value.problems
    assert len(lines) == 4 and [line.split(":")[0] for line in lines] == ["row 2", "row 3", "row 4", "row 5"]
    assert "ZZ99 9ZZ is not in the postcode data" in lines[1] and "a postcode elsewhere" in lines[1]
    assert "LE1 1AA is outside the area (a live postcode in Leicester)" in lines[2]
    assert "is larger than the limit of 10,000,000" in lines[3]  # not "not a number"


def test_problems_of_several_files_come_in_one_error(tmp_path: Path, melton_dir: Path, reference: pd.DataFrame) -> None:
    from zoning.inputs import read_inputs

    (tmp_path / "d.csv").write_text("postcode,hours_per_week\nLE13 0AA,lots\nZZ99 9ZZ,4\n", encoding="utf-8")
    (tmp_path / "p.csv").write_text("provider_id,name,postcode,capacity_hours_per_week\nP1,A,LE13 0AA,-5\n",
                                    encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_inputs(reference, demand=tmp_path / "d.csv", on_unmatched="error", providers=tmp_path / "p.csv",
                    current_zones=melton_dir / "zones.csv", current_key="ward_code", zone_column="zone")
    assert info.value.problems == [
        "d.csv: row 2: hours_per_week 'lots' is not a number (expected e.g. 7.5)",
        "d.csv: row 3: postcode ZZ99 9ZZ is not in the postcode data, which holds the area and its neighbours "
        "only: a postcode elsewhere in the country, or not a live (Code-Point Open) postcode (4 hours/week)",
        "p.csv: row 2: capacity_hours_per_week '-5' is negative (expected a number >= 0)",
    ]


def test_a_header_only_demand_file_is_an_input_error_naming_the_file(tmp_path: Path, reference: pd.DataFrame) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("postcode,hours_per_week\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"(?s)empty\.csv: 1 problem.*header but no demand rows"):
        read_demand(path, reference)


def test_thousands_separators_are_read_and_counted_in_a_warning(tmp_path: Path, reference: pd.DataFrame,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "d.csv"
    path.write_text('postcode,hours_per_week\nLE13 0AA,"1,234"\nLE13 0AA,"2,000.5"\nLE13 0AA,3\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        demand, _ = read_demand(path, reference)
    assert demand["hours_per_week"].tolist() == [1234.0, 2000.5, 3.0]
    assert "2 hours_per_week value(s) written with thousands separators" in caplog.text


def test_a_windows_1252_client_file_runs_to_the_end(melton_copy: Path, tmp_path: Path) -> None:
    from zoning.pipeline import plan_zones
    from zoning.publish.writers import write_outputs

    demand = pd.read_csv(melton_copy / "demand.csv", dtype=str)
    demand["client_ref"] = "Zoë-" + demand["client_ref"]  # é is 0xEB in Windows-1252, not UTF-8
    demand.columns = ["Client Ref", "Postcode", "Hours Per Week", "Cohort"]
    (melton_copy / "cp1252.csv").write_bytes(demand.to_csv(index=False).encode("cp1252"))
    plan = plan_zones(load_scenario(write_scenario(melton_copy, demand="cp1252.csv")))
    paths = write_outputs(plan, tmp_path / "out")  # raised UnicodeDecodeError while judging privacy
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    assert summary["privacy"]["client_level"] is True and "client_ref" in summary["privacy"]["reason"]
    assert "hours_per_week" not in pd.read_csv(paths["postcodes"]).columns


def test_a_long_problem_list_is_written_in_full_beside_the_output_folder(melton_copy: Path, tmp_path: Path) -> None:
    rows = "".join(f"LE13 0AA,bad{i}\n" for i in range(120))
    (melton_copy / "bad.csv").write_text("postcode,hours_per_week\n" + rows, encoding="utf-8")
    out = tmp_path / "out" / "melton"
    res = carezones("run", str(write_scenario(melton_copy, demand="bad.csv")), "--out", str(out))
    assert res.returncode == 3
    listing = out.parent / "melton.problems.txt"
    assert f"... and 70 more: all 120 are listed in {listing}" in res.stderr
    text = listing.read_text(encoding="utf-8")
    assert "row 121: hours_per_week 'bad119'" in text and text.count("is not a number") == 120
    assert not out.exists()


# --- scenario files and options -------------------------------------------------------------

def test_toml_problems_name_the_file_line_and_cause(tmp_path: Path, melton_copy: Path) -> None:
    base = write_scenario(melton_copy).read_bytes()
    bom = melton_copy / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + base)
    assert load_scenario(bom).name == "melton-test"  # Notepad's byte-order mark is accepted
    latin = melton_copy / "latin.toml"
    latin.write_bytes(base.replace(b'title = "Melton', b'title = "M\xe9lton'))
    with pytest.raises(ScenarioError, match=r"latin\.toml: line 2, column 11: byte 0xe9 is not UTF-8"):
        load_scenario(latin)
    broken = melton_copy / "broken.toml"
    broken.write_bytes(base.replace(b"seed = 7", b"seed = = 7"))
    with pytest.raises(ScenarioError, match=r"broken\.toml: not valid TOML: .*line 5"):
        load_scenario(broken)


def test_values_of_the_wrong_type_are_refused_not_coerced(melton_copy: Path) -> None:
    path = write_scenario(melton_copy)
    path.write_text(path.read_text(encoding="utf-8").replace("zones = 3", 'zones = "14"'), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"model\.zones: Input should be a valid integer \(got '14'\)"):
        load_scenario(path)


def test_cross_field_problems_are_listed_together(melton_copy: Path) -> None:
    path = write_scenario(melton_copy)
    path.write_text(path.read_text(encoding="utf-8") + '\n[cohorts.teenagers]\nmin_hours = 3\n'
                    '\n[capacity]\nhubs = ["P1"]\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "2 problem(s) across fields" in str(info.value)
    assert "teenagers" in str(info.value) and "one hub per zone" in str(info.value)


def test_command_line_overrides_are_validated_with_the_whole_scenario(melton_copy: Path, tmp_path: Path) -> None:
    path = write_scenario(melton_copy, extra="")
    path.write_text(path.read_text(encoding="utf-8") + '\n[[zone]]\nname = "A"\n\n[[zone]]\nname = "B"\n',
                    encoding="utf-8")
    scenario = load_scenario(path)
    with pytest.raises(ScenarioError, match=r"(?s)zones=1.*2 \[\[zone\]\] entries for 1 zones"):
        scenario.with_overrides(zones=1)  # model_copy used to drop zone B silently
    res = carezones("run", str(path), "--zones", "1", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "2 [[zone]] entries for 1 zones" in res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--zones", "0", "from 1 to 200, got 0"), ("--tolerance", "1.5", "up to (not including) 1"),
    ("--time-limit", "0", "greater than 0"), ("--solver", "gurobi", "'highs', 'cbc'"),
])
def test_bad_flags_are_named_with_their_range(flag: str, value: str, says: str) -> None:
    res = carezones("run", flag, value)
    assert res.returncode == 2
    assert f"Invalid value for '{flag}'" in res.stderr and says in res.stderr
    assert "pydantic" not in res.stderr and "http" not in res.stderr


def test_run_help_lists_every_output_and_the_exit_codes() -> None:
    res = carezones("run", "--help")
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    for name in ("map.html", "report.md", "report.html", "summary.json", "zones.geojson", "zones.gpkg",
                 "postcode_zones.csv", "postcode_zones.xlsx", "manifest.json"):
        assert name in text
    assert "7 output folder" in text


def test_an_unexpected_error_is_exit_1_with_a_hint_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str],
                                                                   melton_dir: Path, tmp_path: Path) -> None:
    from zoning import cli, pipeline

    def broken(*_a: object, **_k: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(pipeline, "plan_zones", broken)
    monkeypatch.setattr(sys, "argv", ["carezones", "run", str(melton_dir / "melton.toml"), "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: KeyError" in err and "Rerun with -v" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()  # the staged set was removed


# --- the certified bound ---------------------------------------------------------------------

def test_a_bound_stopped_below_zero_is_clamped_to_the_valid_bound_zero() -> None:
    from optimiser.bounds import lagrangian_bound

    p = grid_problem(3, 3, n_zones=2, tolerance=0.9)
    lo, hi = p.zone_bounds()
    res = lagrangian_bound(p.demand, p.cost, n_zones=2, lower=float(lo.min()), upper=float(hi.max()), max_iter=1,
                           initial_multipliers=np.full(9, -100.0))  # LR(lambda) = -700 here
    assert res.value == 0.0 and "clamped to 0" in res.method


def test_the_gap_to_a_zero_bound_is_none_and_the_report_says_so(melton_dir: Path, tmp_path: Path) -> None:
    import json

    from maps.report import HtmlFormat, MarkdownFormat, render_report
    from zoning.pipeline import plan_zones
    from zoning.publish.writers import gap_to_bound, write_outputs
    from zoning.scenario import load_scenario

    assert gap_to_bound(100.0, 0.0) is None and gap_to_bound(0.0, 0.0) == 0.0 and gap_to_bound(110.0, 100.0) == \
        pytest.approx(0.1) and gap_to_bound(5.0, None) is None
    paths = write_outputs(plan_zones(load_scenario(melton_dir / "melton.toml")), tmp_path / "o")
    summary = json.loads(paths["summary"].read_text(encoding="utf-8"))
    summary["solver"].update(certified_lower_bound=0.0, gap_to_certified_bound=None,
                             certified_bound_method="Lagrangian (clamped to 0)")
    for fmt in (MarkdownFormat(), HtmlFormat()):
        assert "gives no relative gap" in render_report(summary, fmt=fmt)  # raised TypeError


# --- capacity far short of demand ------------------------------------------------------------

def test_capacity_short_of_demand_warns_on_the_console_and_in_every_output(melton_copy: Path, tmp_path: Path) -> None:
    providers = pd.read_csv(melton_copy / "providers.csv", dtype=str)
    providers["capacity_hours_per_week"] = "1"
    providers.to_csv(melton_copy / "providers.csv", index=False)
    out = tmp_path / "o"
    res = carezones("run", str(write_scenario(melton_copy)), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "warning: provider capacity (3 h/week) covers only 0% of demand" in " ".join(res.stderr.split())
    needle = "provider capacity (3 h/week) covers only"
    for name in ("summary.json", "report.html", "map.html", "zones.geojson"):
        assert needle in (out / name).read_text(encoding="utf-8"), name
    assert needle in (out / "report.md").read_text(encoding="utf-8")
    about = [row[0] for row in load_workbook(out / "postcode_zones.xlsx")["about"].iter_rows(values_only=True)]
    assert any(needle in str(line) for line in about)
    info = pyogrio.read_info(out / "zones.gpkg", layer="zones")  # provenance once per layer, not per feature
    assert needle in info["layer_metadata"]["DESCRIPTION"]


def test_hubs_in_one_lsoa_are_named_with_their_lsoa(melton_copy: Path) -> None:
    from zoning.prepare import prepare_problem

    providers = pd.read_csv(melton_copy / "providers.csv", dtype=str)
    twin = providers.iloc[[0]].copy()
    twin["provider_id"] = "P1B"  # a second branch in P1's LSOA
    pd.concat([providers, twin]).to_csv(melton_copy / "providers.csv", index=False)
    hubs = ["P1", "P1B"] + providers["provider_id"].tolist()[1:2]
    path = write_scenario(melton_copy, zones=len(hubs), extra="")
    path.write_text(path.read_text(encoding="utf-8") + f"\n[capacity]\nhubs = {hubs!r}\n".replace("'", '"'),
                    encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"3 different LSOAs .*P1 and P1B in LSOA E0\d+; replace one"):
        prepare_problem(load_scenario(path))
