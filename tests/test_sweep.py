"""Options appraisal sweeps: variants, validation, the shortlist, Dask against serial, resumption."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from zoning.errors import ScenarioError
from zoning.planner.comparison import pareto_shortlist
from zoning.planner.overrides import expand_variants, parse_set
from zoning.planner.sweep import run_sweep
from zoning.scenario import load_scenario


def test_set_values_are_parsed_as_toml() -> None:
    assert parse_set("model.zones=12,14") == ("model.zones", [12, 14])
    assert parse_set("model.tolerance=0.05, 0.1") == ("model.tolerance", [0.05, 0.1])
    assert parse_set('model.objective=cost,"travel"') == ("model.objective", ["cost", "travel"])


def test_variants_are_the_cross_product_validated(melton_dir: Path) -> None:
    scenario = load_scenario(melton_dir / "melton.toml")
    variants = expand_variants(scenario, ["model.zones=2,3", "continuity.max_moved_share=0.1,0.2"])
    assert [v.name for v in variants] == [
        "zones-2_max_moved_share-0.1", "zones-2_max_moved_share-0.2",
        "zones-3_max_moved_share-0.1", "zones-3_max_moved_share-0.2",
    ]
    assert variants[1].scenario.model.zones == 2
    assert variants[1].scenario.continuity is not None and variants[1].scenario.continuity.max_moved_share == 0.2
    assert scenario.continuity is None  # the base scenario is untouched


@pytest.mark.parametrize(("option", "message"), [
    ("model.zonez=2", r"model has no option 'zonez'.*'zones'"),
    ("modle.zones=2", r"the scenario has no option 'modle'"),
    ("model=2", r"model is a table"),
    ("model.zones=0", r"greater than or equal to 1"),
    ("model.tolerance=high", r"model.tolerance"),
    ("model.zones", r"expected KEY=V1,V2"),
])
def test_bad_keys_and_values_are_refused_before_running(melton_dir: Path, option: str, message: str) -> None:
    scenario = load_scenario(melton_dir / "melton.toml")
    with pytest.raises(ScenarioError, match=message):
        expand_variants(scenario, [option])


def test_shortlist_keeps_only_undominated_plans() -> None:
    def row(name: str, travel: float, gbp: float, ratio: float, moved: float, ok: bool = True) -> dict[str, object]:
        return {"variant": name, "mean_travel_min": travel, "paid_travel_gbp_per_year": gbp, "max_min_ratio": ratio,
                "hours_moved": moved, "status": "ok" if ok else "no plan", "checks_passed": ok}

    rows = [
        row("a", 10, 100, 1.2, 50),  # best travel
        row("b", 11, 110, 1.1, 10),  # trades travel for balance and stability
        row("c", 12, 120, 1.3, 60),  # worse than a on every measure
        row("d", 10, 100, 1.2, 50),  # ties a everywhere: neither dominates the other
        row("e", 1, 1, 1.0, 0, ok=False),  # no plan: never shortlisted
    ]
    assert pareto_shortlist(rows) == ["a", "b", "d"]


def _sweep_copy(melton_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "scenario"
    folder.mkdir()
    for f in melton_dir.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    return folder / "melton.toml"


SETTINGS = ["model.zones=2,3", "model.certify_s=0"]


def _plans(sweep_dir: Path, names: list[str]) -> dict[str, pd.Series]:
    return {n: pd.read_csv(sweep_dir / n / "postcode_zones.csv", dtype=str).set_index("postcode")["proposed_zone"]
            for n in names}


@pytest.mark.slow
def test_local_cluster_sweep_equals_serial_and_reruns_skip_done_variants(melton_dir: Path, tmp_path: Path) -> None:
    scenario = load_scenario(_sweep_copy(melton_dir, tmp_path))
    serial = run_sweep(scenario, SETTINGS, tmp_path / "serial", workers=1)
    dask = run_sweep(scenario, SETTINGS, tmp_path / "dask", workers=2)  # LocalCluster on 127.0.0.1
    assert serial.engine.startswith("serial") and "Dask" in dask.engine
    names = [str(r["variant"]) for r in serial.rows]
    assert names == ["zones-2_certify_s-0", "zones-3_certify_s-0"]
    for a, b in zip(serial.rows, dask.rows, strict=True):
        assert a["status"] == b["status"] == "ok"
        assert {k: v for k, v in a.items() if k != "seconds"} == {k: v for k, v in b.items() if k != "seconds"}
    plans_a, plans_b = _plans(tmp_path / "serial", names), _plans(tmp_path / "dask", names)
    for n in names:
        pd.testing.assert_series_equal(plans_a[n], plans_b[n])
    table = pd.read_csv(tmp_path / "dask" / "comparison.csv")
    assert list(table["variant"]) == names and table["zones"].tolist() == [2, 3]
    payload = json.loads((tmp_path / "dask" / "comparison.json").read_text())
    assert payload["shortlist"] and set(payload["shortlist"]) <= set(names)
    html = (tmp_path / "dask" / "comparison.html").read_text()
    assert html.count("<svg") >= 5 and "://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "SYNTHETIC" in html and "&lt;b&gt;" in html  # the scenario title's markup is escaped

    # rerun: both variants complete -> nothing runs; a new value runs only the new variant
    mtime = (tmp_path / "serial" / names[0] / "summary.json").stat().st_mtime_ns
    again = run_sweep(scenario, SETTINGS, tmp_path / "serial", workers=1)
    assert again.skipped == names and again.engine == "nothing to run"
    more = run_sweep(scenario, ["model.zones=2,3,4", "model.certify_s=0"], tmp_path / "serial", workers=1)
    assert more.skipped == names and [r["variant"] for r in more.rows][-1] == "zones-4_certify_s-0"
    assert (tmp_path / "serial" / names[0] / "summary.json").stat().st_mtime_ns == mtime


def test_changed_inputs_invalidate_completed_variants(melton_dir: Path, tmp_path: Path) -> None:
    from zoning.planner.sweep import plan_tasks

    path = _sweep_copy(melton_dir, tmp_path)
    before = plan_tasks(load_scenario(path), SETTINGS, tmp_path / "out")
    demand = path.parent / "demand.csv"
    demand.write_text(demand.read_text().replace("9.50", "9.75", 1))
    after = plan_tasks(load_scenario(path), SETTINGS, tmp_path / "out")
    assert [t.name for t in before] == [t.name for t in after]
    assert all(a.digest != b.digest for a, b in zip(before, after, strict=True))


def test_a_variant_without_a_plan_is_a_row_saying_why(melton_dir: Path, tmp_path: Path) -> None:
    scenario = load_scenario(_sweep_copy(melton_dir, tmp_path))
    result = run_sweep(scenario, ["model.zones=3,40", "model.certify_s=0"], tmp_path / "out", workers=1)
    ok, failed = result.rows
    assert ok["status"] == "ok" and failed["status"] == "no plan"
    assert "40 zones" in str(failed["error"]) and "30 units" in str(failed["error"])
    table = pd.read_csv(tmp_path / "out" / "comparison.csv")
    assert table["shortlisted"].tolist() == [True, False]
    html = (tmp_path / "out" / "comparison.html").read_text(encoding="utf-8")
    assert "no plan" in html and "zones-40_certify_s-0" in html


@pytest.mark.slow
def test_a_sweep_on_an_existing_scheduler_equals_serial(melton_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The test starts (and stops) its own cluster on 127.0.0.1 and hands over its address in
    DASK_SCHEDULER_ADDRESS, as a planner would for a cluster started with `dask scheduler`."""
    from distributed import LocalCluster

    scenario = load_scenario(_sweep_copy(melton_dir, tmp_path))
    settings = ["model.zones=3", "model.certify_s=0"]
    serial = run_sweep(scenario, settings, tmp_path / "serial", workers=1)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        remote = run_sweep(scenario, settings, tmp_path / "remote")
    assert remote.engine == f"Dask scheduler {cluster.scheduler_address}"
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in (serial.rows[0], remote.rows[0])]
    assert strip[0] == strip[1] and strip[0]["status"] == "ok"
    name = str(serial.rows[0]["variant"])
    pd.testing.assert_series_equal(_plans(tmp_path / "serial", [name])[name], _plans(tmp_path / "remote", [name])[name])


def test_an_unreachable_scheduler_is_a_clear_error(melton_dir: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    scenario = load_scenario(_sweep_copy(melton_dir, tmp_path))
    with pytest.raises(ScenarioError, match=r"could not reach the Dask scheduler at tcp://127.0.0.1:\d+"):
        run_sweep(scenario, ["model.zones=3"], tmp_path / "out", scheduler=f"tcp://127.0.0.1:{port}")


def test_the_sweep_command_refuses_a_bad_key_with_exit_2(melton_dir: Path, tmp_path: Path) -> None:
    from tests.test_cli import carezones

    res = carezones("sweep", str(melton_dir / "melton.toml"), "--set", "model.zonez=2,3", "--out", str(tmp_path / "o"))
    assert res.returncode == 2
    assert "model has no option 'zonez'" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()
