"""Small-count suppression and the today -> proposed comparison, on hand-made tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from zoning.changes import match_zones, plan_change
from zoning.publish.layers import town_names
from zoning.publish.privacy import (
    demand_is_client_level,
    demand_privacy,
    round_count,
    suppress_cells,
)
from zoning.scenario import PrivacyOptions

OPTIONS = PrivacyOptions()


@pytest.mark.parametrize(("count", "shown"), [(10, 10), (12, 10), (13, 15), (17, 15), (18, 20), (22.5, 25), (0, 0)])
def test_counts_round_to_the_nearest_five(count: float, shown: int) -> None:
    assert round_count(count, base=5) == shown


def test_small_counts_and_their_hours_are_hidden() -> None:
    counts = pd.Series([0, 1, 9, 10, 57], index=list("abcde"))
    hours = pd.DataFrame({"hours": [0.0, 3.0, 40.0, 60.0, 500.0]}, index=counts.index)
    out = suppress_cells(counts, hours, groups=pd.Series(list("abcde"), index=counts.index), options=OPTIONS)
    assert out["suppressed"].tolist() == [False, True, True, False, False]
    assert out["clients"].isna().tolist() == [False, True, True, False, False]
    assert out.loc["a", "clients"] == 0 and out.loc["d", "clients"] == 10 and out.loc["e", "clients"] == 55
    assert out["hours"].isna().tolist() == [False, True, True, False, False]


def test_one_hidden_cell_cannot_be_recovered_from_the_group_total() -> None:
    # zone X: 3 + 12 + 40 clients (total published). Hiding only the 3 would reveal it by subtraction.
    counts = pd.Series([3, 12, 40, 25, 11], index=list("abcde"))
    zone = pd.Series(["X", "X", "X", "Y", "Y"], index=counts.index)
    out = suppress_cells(counts, groups=zone, options=OPTIONS)
    assert out["suppressed"].tolist() == [True, True, False, False, False]
    for _, cells in counts.groupby(zone):
        hidden = cells[out.loc[cells.index, "suppressed"]].sum()
        assert hidden == 0 or hidden >= OPTIONS.min_count


def test_two_overlapping_groupings_are_both_protected() -> None:
    counts = pd.Series([4, 30, 20, 6], index=list("abcd"))
    by_zone = pd.Series(["X", "X", "Y", "Y"], index=counts.index)
    by_current = pd.Series(["P", "Q", "P", "Q"], index=counts.index)
    out = suppress_cells(counts, groups=[by_zone, by_current], options=OPTIONS)
    for labels in (by_zone, by_current):
        for _, cells in counts.groupby(labels):
            hidden = cells[out.loc[cells.index, "suppressed"]].sum()
            assert hidden == 0 or hidden >= OPTIONS.min_count


@pytest.mark.parametrize("header", ["client_ref", "Client Ref", "CLIENT-REF", " client ref ", "Client Reference",
                                    "Service User ID", "\ufeffclient_id"])
def test_client_columns_are_recognised_in_any_spelling(tmp_path: Path, header: str) -> None:
    path = tmp_path / "clients.csv"
    path.write_text(f"{header},Postcode,Hours Per Week,Cohort\nC1,LE13 0AA,5,adults\n", encoding="utf-8")
    for declared in ("auto", "no"):  # a client column overrules a declaration of "aggregated"
        decision = demand_privacy(path, options=PrivacyOptions(client_level=declared))
        assert decision.client_level and "identifying clients" in decision.reason


def test_a_windows_1252_demand_file_is_judged_as_it_was_read(tmp_path: Path) -> None:
    path = tmp_path / "cp1252.csv"
    path.write_bytes("Client Ref,Postcode,Hours Per Week,Cohort\nC\u00e91,LE13 0AA,5,adults\n".encode("cp1252"))
    assert demand_is_client_level(path, options=OPTIONS)


def _aggregated(clients: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"postcode": ["LE13 0AA", "LE13 0AB", "LE13 0AB"][: len(clients)],
                         "hours_per_week": [40.0] * len(clients), "clients": [float(c) for c in clients]})


def test_a_postcode_level_file_is_personal_unless_declared_and_shown_aggregated(tmp_path: Path) -> None:
    path = tmp_path / "by_postcode.csv"
    path.write_text("postcode,hours_per_week,clients\nLE13 0AA,40,12\nLE13 0AB,40,10\n", encoding="utf-8")
    declared = PrivacyOptions(client_level="no")
    assert demand_privacy(path, options=OPTIONS, demand=_aggregated([12, 10])).client_level  # auto: personal
    assert not demand_privacy(path, options=declared, demand=_aggregated([12, 10])).client_level
    # one postcode with 4 + 3 clients: 7 < min_count, so a published cell could reveal them
    small = demand_privacy(path, options=declared, demand=_aggregated([12, 4, 3]))
    assert small.client_level and "1 of 2 postcodes" in small.reason
    # declared but no clients column: nothing shows it is aggregated
    no_counts = demand_privacy(path, options=declared, demand=_aggregated([12, 10]).drop(columns="clients"))
    assert no_counts.client_level and "no 'clients' column" in no_counts.reason
    assert demand_is_client_level(path, options=PrivacyOptions(client_level="yes"))


def _toy_postcodes() -> pd.DataFrame:
    # today: A = {p1, p2, p3}, B = {p4, p5}; proposed: Z01 = {p1, p2}, Z02 = {p3, p4, p5}
    return pd.DataFrame({
        "postcode": ["P1", "P2", "P3", "P4", "P5"],
        "current_zone": ["A", "A", "A", "B", "B"],
        "proposed_zone": ["Z01", "Z01", "Z02", "Z02", "Z02"],
        "hours_per_week": [10.0, 10.0, 5.0, 20.0, 20.0],
    }).set_index("postcode", drop=False)


def test_zones_match_by_shared_hours_and_moves_are_counted() -> None:
    pcs = _toy_postcodes()
    assert match_zones(pcs) == {"Z01": "A", "Z02": "B"}
    demand = pd.DataFrame({"postcode": ["P1", "P2", "P3", "P3", "P4", "P5"],
                           "hours_per_week": [10.0, 10.0, 2.0, 3.0, 20.0, 20.0]})
    change = plan_change(pcs, demand)
    assert change.postcode_changed.tolist() == [False, False, True, False, False]
    assert change.hours_moved == pytest.approx(5.0) and change.clients_moved == 2 and change.postcodes_moved == 1
    assert change.zones_changed == 2  # Z02 gains P3, Z01 (continuing A) loses it
    z02 = change.zone_figures.set_index("zone").loc["Z02"]
    assert z02["hours_kept"] == pytest.approx(40.0) and z02["hours_in"] == pytest.approx(5.0)


def test_town_names_take_the_shared_leading_words() -> None:
    names = town_names(["Market Harborough-Logan", "Market Harborough-Welland", "Loughborough Hastings",
                        "Loughborough Storer", "Earl Shilton"])
    assert names["Market Harborough-Logan"] == "Market Harborough"
    assert names["Loughborough Storer"] == "Loughborough"
    assert names["Earl Shilton"] == "Earl Shilton"
