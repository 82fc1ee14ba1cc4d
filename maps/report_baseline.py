"""The "Since the baseline" section of report.md / report.html (a re-opening): its cells, from
``summary.json``'s ``since_baseline``, escaped by the report's format (``fmt.t``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from maps.report_rows import n

__all__ = ["BaselineRows", "baseline_rows"]

ZONE_HEADER = ["Zone", "Name", "Continues", "Hours before", "Hours after", "Hours in", "Hours out",
               "Postcodes in", "Postcodes out", "Capacity before", "Capacity after"]
PROVIDER_HEADER = ["Branch", "Name", "Change", "Zone", "Capacity before", "Capacity after"]


class _Format(Protocol):
    def t(self, value: object) -> str: ...


@dataclass(frozen=True)
class BaselineRows:
    intro: str = ""
    zones: list[list[str]] = field(default_factory=list)
    providers: list[list[str]] = field(default_factory=list)
    zone_header: list[str] = field(default_factory=lambda: list(ZONE_HEADER))
    provider_header: list[str] = field(default_factory=lambda: list(PROVIDER_HEADER))


def baseline_rows(since: Mapping[str, Any] | None, fmt: _Format) -> BaselineRows | None:
    """The section's cells, or None without a baseline."""
    if not since:
        return None
    zones = [[fmt.t(z["zone"]), fmt.t(z["zone_name"]), fmt.t(z["continues"] or "new"), n(z["hours_before"]),
              n(z["hours_after"]), n(z["hours_in"], ",.0f", "suppressed"), n(z["hours_out"], ",.0f", "suppressed"),
              n(z["postcodes_in"], "d"), n(z["postcodes_out"], "d"), n(z["capacity_before"]), n(z["capacity_after"])]
             for z in since["zones"]]
    providers = [[fmt.t(p["provider_id"]), fmt.t(p["name"]), fmt.t(p["change"]), fmt.t(p["zone"]),
                  n(p["capacity_before"]), n(p["capacity_after"])] for p in since["providers"]]
    intro = (f"Since the baseline run ({fmt.t(since['run'])}): {n(since['hours_moved'])} care hours/week and "
             f"{n(since['postcodes_moved'], 'd')} postcodes change zone; {len(providers)} provider branch(es) joined, "
             f"left or changed capacity. {fmt.t(since['rule'])}.")
    return BaselineRows(intro=intro, zones=zones, providers=providers)
