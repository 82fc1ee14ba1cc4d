"""Small-count suppression for shareable outputs, and when demand counts as personal data.

**When demand is personal (the rule).** A demand file is treated as client-level personal data
(and every shareable output suppressed as below) *unless* the scenario declares it aggregated
with ``[privacy] client_level = "no"`` **and** its content shows that no published cell could
reveal fewer than ``min_count`` clients:

- ``client_level = "yes"``: personal.
- a column that identifies a person (``client_ref``, ``client_id`` and their spellings such as
  ``Client Ref`` or ``Service User ID``, normalised by :mod:`zoning.headers`): personal, whatever
  is declared (a declaration of "no" is then overruled, with a warning).
- ``client_level = "no"`` (declared aggregated): the file must give a ``clients`` column (the
  number of clients behind each row) and every postcode with demand must hold at least
  ``min_count`` clients. The finest cell any output publishes is one postcode (the lookup's
  hours per postcode); every other cell is a union of postcodes and every difference between
  published cells is a union of postcodes too, so none can then reveal fewer than ``min_count``
  clients. If the column is missing or a postcode holds fewer, demand is treated as personal
  and a warning says why.
- ``client_level = "auto"`` (default) without a client column: personal, since nothing shows
  the file is aggregated (a postcode-level file with one row per postcode and small hours is
  as identifying as a client list).

Client-level demand is published under this rule (ONS practice; ``min_count`` = 10 and
``round_to`` = 5 by default):

1. **Primary suppression.** A cell (an area, a zone x cohort, a histogram bin) counting
   1 to ``min_count - 1`` clients is hidden: its client count *and* every figure derived from
   those clients (hours, hours per km², shares) are shown as "suppressed" / null. Cells with
   no clients are shown as 0.
2. **Rounding.** Every client count that is shown is rounded to the nearest ``round_to``.
3. **Secondary suppression (no recovery by subtraction).** Within each group whose total is
   published (the cells of one zone, the cohorts of one zone, the bins of one histogram), the
   hidden cells together must hold 0 or at least ``min_count`` clients; otherwise the smallest
   shown non-empty cells are hidden too until they do. Subtracting the shown cells from the
   published total then reveals at most an aggregate of ``min_count`` or more clients.
4. **Nothing per postcode.** Hours per postcode are left out of the lookup; the map's search
   table holds only postcode -> zone.

Zone totals stay exact: each zone holds far more than ``min_count`` clients (a zone with fewer
is hidden like any other cell), and the balance check needs them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zoning.headers import CLIENT_COLUMNS
from zoning.inputs import read_header
from zoning.scenario import PrivacyOptions

__all__ = ["CLIENT_COLUMNS", "RULE_TEXT", "PrivacyDecision", "demand_is_client_level", "demand_privacy",
           "round_count", "suppress_cells"]

log = logging.getLogger(__name__)


def rule_text(options: PrivacyOptions) -> str:
    """One sentence for reports and map headers."""
    return (
        f"Client-level demand: counts of 1-{options.min_count - 1} clients are suppressed, "
        f"other counts rounded to the nearest {options.round_to}; hours from suppressed counts are "
        f"hidden too, and further cells are hidden where a total would reveal fewer than "
        f"{options.min_count} clients by subtraction. No per-postcode demand is published."
    )


RULE_TEXT = rule_text(PrivacyOptions())


@dataclass(frozen=True)
class PrivacyDecision:
    """Whether demand is published as personal data, and the reason in words (for every output)."""

    client_level: bool
    reason: str


def demand_privacy(path: Path, *, options: PrivacyOptions, demand: pd.DataFrame | None = None) -> PrivacyDecision:
    """Apply the module's rule to the demand file at ``path`` (header read exactly as the demand
    reader read it) and its validated rows ``demand`` (with ``clients`` when the file has them)."""
    if options.client_level == "yes":
        return PrivacyDecision(True, "declared client by client ([privacy] client_level = \"yes\")")
    found = sorted(set(read_header(path)) & set(CLIENT_COLUMNS))
    if found:
        reason = f"the demand file has a column identifying clients ({', '.join(found)})"
        if options.client_level == "no":
            log.warning("%s: [privacy] client_level = \"no\" is overruled: %s", path.name, reason)
        return PrivacyDecision(True, reason)
    if options.client_level == "auto":
        return PrivacyDecision(True, "not declared aggregated: treated as personal ([privacy] client_level = "
                                     "\"no\" with a clients column of at least min_count per postcode lifts it)")
    if demand is None or "clients" not in demand.columns:
        reason = ("declared aggregated, but the demand file has no 'clients' column (clients behind each row), "
                  "so nothing shows that a postcode holds at least min_count clients: treated as personal")
        log.warning("%s: %s", path.name, reason)
        return PrivacyDecision(True, reason)
    per_postcode = demand.groupby("postcode")["clients"].sum()
    per_postcode = per_postcode[demand.groupby("postcode")["hours_per_week"].sum() > 0]
    small = per_postcode[per_postcode < options.min_count]
    if len(small):
        reason = (f"declared aggregated, but {len(small)} of {len(per_postcode)} postcodes with demand hold fewer "
                  f"than {options.min_count} clients (e.g. {small.index[0]}): treated as personal")
        log.warning("%s: %s", path.name, reason)
        return PrivacyDecision(True, reason)
    return PrivacyDecision(False, f"declared aggregated and every postcode with demand holds at least "
                                  f"{options.min_count} clients")


def demand_is_client_level(path: Path, *, options: PrivacyOptions, demand: pd.DataFrame | None = None) -> bool:
    """True when suppression applies (see the module's rule)."""
    decision = demand_privacy(path, options=options, demand=demand)
    log.info("demand %s treated as personal: %s", "is" if decision.client_level else "is not", decision.reason)
    return decision.client_level


def round_count(count: float, *, base: int) -> int:
    """Nearest multiple of ``base`` (halves round up, as ONS does)."""
    return int(base * np.floor(count / base + 0.5))


def suppress_cells(
    counts: pd.Series,
    values: pd.DataFrame | None = None,
    *,
    groups: pd.Series | Sequence[pd.Series] | None = None,
    options: PrivacyOptions,
) -> pd.DataFrame:
    """Apply the module's rule to ``counts`` (clients per cell).

    Returns a frame with the same index: ``clients`` (rounded, NaN where hidden),
    ``suppressed`` (bool) and every column of ``values`` (e.g. hours) with NaN where hidden.
    ``groups`` labels the cells whose total is published together (default: one group); pass
    several labellings (e.g. proposed and current zone) and each is enforced in turn until
    none hides anything more.
    """
    n = counts.astype(float).fillna(0.0)
    hidden = (n > 0) & (n < options.min_count)
    if groups is None:
        labellings = [pd.Series(0, index=n.index)]
    elif isinstance(groups, pd.Series):
        labellings = [groups.reindex(n.index)]
    else:
        labellings = [g.reindex(n.index) for g in groups]
    changed = True
    while changed:
        changed = False
        for labels in labellings:
            for _, idx in n.groupby(labels.fillna("").astype(str), sort=False).groups.items():
                cells, hid = n.loc[idx], hidden.loc[idx]
                while 0 < cells[hid].sum() < options.min_count:
                    candidates = cells[~hid & (cells > 0)]
                    if candidates.empty:
                        break
                    hid = hid.copy()
                    hid[candidates.sort_values(kind="stable").index[0]] = True
                    hidden.loc[hid.index[hid]] = True
                    changed = True
    out = pd.DataFrame(index=n.index)
    out["clients"] = [np.nan if h else float(round_count(v, base=options.round_to)) for v, h in zip(n, hidden, strict=True)]
    out["suppressed"] = hidden.to_numpy()
    if values is not None:
        for col in values.columns:
            out[col] = values[col].reindex(n.index).astype(float).where(~hidden)
    log.debug("suppression: %d of %d cells hidden (%d primary)", int(hidden.sum()), len(n),
              int(((n > 0) & (n < options.min_count)).sum()))
    return out
