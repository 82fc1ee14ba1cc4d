"""Parts of the scenario (:mod:`zoning.scenario`) that stand on their own: price bands,
small-count suppression, and the links joining separate pieces of the area."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class LinkSpec(_Frozen):
    """A declared crossing (bridge, causeway, ferry) joining two units that do not touch."""

    a: str = Field(min_length=2, description="LSOA code (E01...) or postcode on one side")
    b: str = Field(min_length=2, description="LSOA code (E01...) or postcode on the other side")
    note: str = Field("", max_length=200, description="e.g. 'Strood causeway'")


class PiecesOptions(_Frozen):
    """Separate pieces of the adjacency graph (islands, estuaries): see :mod:`zoning.pieces`."""

    join: Literal["nearest", "declared"] = Field(
        "nearest", description="'nearest': join every piece by the nearest units across the gap (quickest by road "
        "with a road network) after the declared [[link]]s; 'declared': only the declared links")
    own_zone: tuple[str, ...] = Field(
        (), description="LSOA codes or postcodes: the separate piece holding each becomes a zone of its own")


BAND_NAMES: tuple[str, ...] = ("urban", "fringe", "rural", "isolated")
BandName = Literal["urban", "fringe", "rural", "isolated"]
#: ILLUSTRATIVE hourly rates (GBP), not any council's prices
DEFAULT_BAND_RATES: dict[BandName, float] = {"urban": 21.50, "fringe": 22.50, "rural": 24.00, "isolated": 26.00}


class BandOptions(_Frozen):
    """Price bands (urban / fringe / rural / isolated) and their hourly rates.

    Without ``path`` each postcode is classified by the density rule in :mod:`zoning.bands`:
    the number of residential postcodes within ``radius_m`` (Code-Point Open, large users left
    out, postcodes outside the area counted too) is compared with the three minimums. With
    ``path`` a CSV ``postcode,band`` or ``lsoa11cd,band`` (``key``) supplies the bands instead.
    The default rates are ILLUSTRATIVE, not any council's prices.
    """

    path: Path | None = None
    key: Literal["postcode", "lsoa11cd"] = "postcode"
    radius_m: float = Field(1000.0, gt=0, le=10000)
    urban_min: int = Field(100, ge=1, description="residential postcodes within radius_m for 'urban'")
    fringe_min: int = Field(40, ge=1, description="... for 'fringe' (below urban_min)")
    rural_min: int = Field(10, ge=1, description="... for 'rural' (below fringe_min); fewer is 'isolated'")
    rates: dict[BandName, float] = Field(
        default_factory=lambda: dict(DEFAULT_BAND_RATES),
        description="hourly rate per band, GBP (defaults are illustrative)",
    )

    @model_validator(mode="after")
    def _check_order(self) -> BandOptions:
        if not self.urban_min > self.fringe_min > self.rural_min:
            raise ValueError(
                f"band thresholds must fall: urban_min > fringe_min > rural_min; got "
                f"{self.urban_min}, {self.fringe_min}, {self.rural_min}"
            )
        missing = [b for b in BAND_NAMES if b not in self.rates]
        if missing:
            raise ValueError(f"bands.rates: a rate is needed for every band; missing {missing}")
        if any(not 0 < r < 1000 for r in self.rates.values()):
            raise ValueError("bands.rates: expected hourly rates in pounds between 0 and 1000")
        return self


class PrivacyOptions(_Frozen):
    """Small-count suppression for shareable outputs (see :mod:`zoning.publish.privacy`).

    Demand is treated as personal unless ``client_level = "no"`` declares it aggregated *and* the
    file's ``clients`` column shows at least ``min_count`` clients in every postcode with demand;
    a column identifying clients (``client_ref``, ``Client Ref``, ``client_id`` ...) always makes it personal.
    """

    client_level: Literal["auto", "yes", "no"] = "auto"
    min_count: int = Field(10, ge=2, le=100, description="counts below this are hidden")
    round_to: int = Field(5, ge=1, le=100, description="shown counts are rounded to a multiple of this")


class UnitsOptions(_Frozen):
    """The planning units of a run (see :mod:`zoning.postcode_units` and :mod:`zoning.postcode_plan`).

    ``level = "lsoa"`` plans on ONS LSOA 2011 areas. ``level = "postcode"`` designs on LSOAs
    first, then refines at postcode level: every in-area postcode point is a unit (its Voronoi
    cell clipped to the area), and every output is drawn from those cells.
    """

    level: Literal["lsoa", "postcode"] = Field(
        "lsoa", description="'lsoa' (ONS LSOA 2011 areas) or 'postcode' (postcode Voronoi cells, refined from the "
        "LSOA design)")
    refine_s: float = Field(20.0, gt=0, le=3600, description="postcode level: seconds for the local search and its "
                            "kicks (see optimiser.refine)")
    bound_s: float = Field(95.0, ge=0, le=3600, description="postcode level: seconds for the lower bound over "
                           "postcode units (0: none)")
