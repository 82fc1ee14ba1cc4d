"""Small-count suppression for shareable outputs when demand is given client by client.

Client-level demand is personal data. When the demand file has one row per client (a
``client_ref`` or ``client_id`` column, or ``[privacy] client_level = "yes"``), the
shareable outputs (map, GeoJSON, GeoPackage, report, summary, lookup) carry aggregates only,
under this rule (ONS practice; ``min_count`` = 10 and ``round_to`` = 5 by default):

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
from pathlib import Path

import numpy as np
import pandas as pd

from zoning.scenario import PrivacyOptions

__all__ = ["CLIENT_COLUMNS", "RULE_TEXT", "demand_is_client_level", "round_count", "suppress_cells"]

log = logging.getLogger(__name__)

CLIENT_COLUMNS = ("client_ref", "client_id")


def rule_text(options: PrivacyOptions) -> str:
    """One sentence for reports and map headers."""
    return (
        f"Client-level demand: counts of 1-{options.min_count - 1} clients are suppressed, "
        f"other counts rounded to the nearest {options.round_to}; hours from suppressed counts are "
        f"hidden too, and further cells are hidden where a total would reveal fewer than "
        f"{options.min_count} clients by subtraction. No per-postcode demand is published."
    )


RULE_TEXT = rule_text(PrivacyOptions())


def demand_is_client_level(path: Path, *, options: PrivacyOptions) -> bool:
    """True when suppression applies: ``yes``, or ``auto`` and the file has a client column."""
    if options.client_level != "auto":
        return options.client_level == "yes"
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header = pd.read_excel(path, nrows=0, engine="openpyxl")
    else:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig")
    columns = {str(c).strip().lower() for c in header.columns}
    found = bool(columns & set(CLIENT_COLUMNS))
    log.info("demand %s client by client (%s)", "is" if found else "is not", path.name)
    return found


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
