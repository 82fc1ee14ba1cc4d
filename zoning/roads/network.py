"""Road networks from OpenStreetMap: build once, save, load for routing.

Build (``carezones roads build``):

1. **Get the ways.** Online: osmnx downloads the drive network (``network_type="drive"``) in
   the area's outline plus a buffer (so that trips leaving and re-entering the area are right).
   Offline: a local ``.osm`` / ``.osm.xml`` / ``.osm.pbf`` file is read with pyosmium, only
   drivable ways are kept (:func:`zoning.roads.speeds.is_drivable`, osmnx's own rule; osmnx's
   ``graph_from_xml`` keeps every way) and written with their nodes to an OSM XML file that
   osmnx turns into a graph; with an area it is clipped to the buffered outline.
2. **Clean.** osmnx simplifies the topology; only the largest *strongly* connected component
   is kept (every kept node can reach every other, so no matrix entry is infinite).
3. **Speeds.** Each edge gets its road class and legal limit
   (:func:`zoning.roads.speeds.parse_maxspeed_kph`, UK tags included; untagged edges take the
   class mean in the network, else the UK default). Care-worker speed factors are applied at
   routing time, not here.
4. **Save.** Projected to EPSG:27700, written atomically as ``<name>.npz`` (node coordinates
   and an edge list: lengths, limits, classes), ``<name>.json`` (metadata: OSM data date,
   source, settings, counts, osmnx version) and ``<name>.graphml`` (the processed osmnx graph).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from zoning.atomic import write_text, write_with
from zoning.errors import DataError
from zoning.roads.osm import (
    CRS,
    area_polygon,
    filter_drivable,
    graph_from_download,
    graph_from_osm_file,
)
from zoning.roads.speeds import (
    DEFAULT_LIMIT_MPH,
    DEFAULT_SPEED_FACTORS,
    MPH_TO_KPH,
    ROAD_CLASSES,
    parse_maxspeed_kph,
    road_class,
)

__all__ = ["CRS", "RoadNetwork", "area_polygon", "build_network", "filter_drivable", "graph_from_download",
           "graph_from_osm_file", "load_graphml", "load_network", "save_network"]

log = logging.getLogger(__name__)

FORMAT = "carezones-roads/1"
#: Default buffer around the area outline: trips that leave and re-enter the area.
DEFAULT_BUFFER_M = 8_000.0
OSM_NOTICE = "© OpenStreetMap contributors, ODbL 1.0 (https://opendatacommons.org/licenses/odbl/1-0/)"


@dataclass(frozen=True)
class RoadNetwork:
    """A routable drive network in EPSG:27700: nodes and directed edges ``u -> v``."""

    node_xy: NDArray[np.float64]  # (n, 2) metres
    node_osmid: NDArray[np.int64]
    edge_u: NDArray[np.int64]
    edge_v: NDArray[np.int64]
    edge_length_m: NDArray[np.float64]
    edge_limit_kph: NDArray[np.float64]
    edge_class: NDArray[np.int8]  # index into ROAD_CLASSES
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @property
    def digest(self) -> str:
        """sha256 of the routing arrays: the network part of a matrix cache key."""
        h = hashlib.sha256()
        for arr in (self.node_xy, self.edge_u, self.edge_v, self.edge_length_m, self.edge_limit_kph, self.edge_class):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()

    def edge_minutes(self, factors: dict[str, float]) -> NDArray[np.float64]:
        """Care-worker minutes per edge: length / (limit × factor[class])."""
        per_class = np.array([factors[c] for c in ROAD_CLASSES], dtype=np.float64)
        kph = self.edge_limit_kph * per_class[self.edge_class.astype(np.int64)]
        return self.edge_length_m / 1000.0 / kph * 60.0

    def label(self) -> str:
        """One phrase for reports: what the network is and how current its data are."""
        m = self.meta
        what = m.get("description") or f"OpenStreetMap drive network {m.get('name', '')}".strip()
        date = f", OSM data as of {m['osm_data_date']}" if m.get("osm_data_date") else ""
        return f"{what} ({self.n_nodes:,} nodes, {self.n_edges:,} edges{date})"


# --- cleaning, speeds, arrays ---------------------------------------------------------------


def largest_strong_component(graph: nx.MultiDiGraph) -> tuple[nx.MultiDiGraph, int]:
    """The largest strongly connected component and how many nodes were dropped."""
    import osmnx as ox

    before = len(graph)
    kept = ox.truncate.largest_component(graph, strongly=True)
    return kept, before - len(kept)


def assign_limits(graph: nx.MultiDiGraph) -> dict[str, int]:
    """Set ``road_class``, ``limit_kph`` and ``limit_source`` on every edge (in place); untagged
    or unparseable edges take the mean tagged limit of their class, else the UK default."""
    counts: Counter[str] = Counter()
    tagged: dict[str, list[float]] = {c: [] for c in ROAD_CLASSES}
    pending = []
    for _u, _v, data in graph.edges(data=True):
        cls = road_class(data.get("highway"))
        data["road_class"] = cls
        raw = data.get("maxspeed")
        kph = parse_maxspeed_kph(raw, highway_class=cls)
        if kph is None:
            counts["untagged" if raw is None else "unusable_tag"] += 1
            pending.append(data)
            continue
        text = str(raw).lower()
        counts["uk_implicit_tag" if any(k in text for k in ("national", "gb:", "uk:")) else
               "mph_tag" if "mph" in text else "numeric_tag"] += 1
        data["limit_kph"], data["limit_source"] = kph, "tag"
        tagged[cls].append(kph)
    for data in pending:
        cls = data["road_class"]
        if tagged[cls]:
            data["limit_kph"], data["limit_source"] = float(np.mean(tagged[cls])), "class_mean"
        else:
            data["limit_kph"], data["limit_source"] = DEFAULT_LIMIT_MPH[cls] * MPH_TO_KPH, "uk_default"
        counts[f"limit_from_{data['limit_source']}"] += 1
    for _u, _v, data in graph.edges(data=True):  # default care-worker speeds for GraphML users
        data["speed_kph"] = data["limit_kph"] * DEFAULT_SPEED_FACTORS[data["road_class"]]
        data["travel_time"] = data["length"] / 1000.0 / data["speed_kph"] * 3600.0
    return dict(counts)


def network_from_graph(graph: nx.MultiDiGraph, meta: dict[str, Any]) -> RoadNetwork:
    """Routing arrays of a projected graph whose edges carry ``length``, ``limit_kph`` and
    ``road_class`` (see :func:`assign_limits`)."""
    nodes = list(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    xy = np.array([[graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in nodes], dtype=np.float64)
    u, v, length, limit, cls = [], [], [], [], []
    for a, b, data in graph.edges(data=True):
        u.append(index[a])
        v.append(index[b])
        length.append(float(data["length"]))
        limit.append(float(data["limit_kph"]))
        cls.append(ROAD_CLASSES.index(data["road_class"]))
    return RoadNetwork(
        node_xy=xy, node_osmid=np.array(nodes, dtype=np.int64), edge_u=np.array(u, dtype=np.int64),
        edge_v=np.array(v, dtype=np.int64), edge_length_m=np.array(length, dtype=np.float64),
        edge_limit_kph=np.array(limit, dtype=np.float64), edge_class=np.array(cls, dtype=np.int8), meta=meta,
    )


def process_graph(graph: nx.MultiDiGraph, info: dict[str, Any]) -> tuple[nx.MultiDiGraph, RoadNetwork]:
    """Strongly connected, projected to EPSG:27700, limits assigned; returns the graph (for
    GraphML) and its routing arrays with metadata."""
    import osmnx as ox

    raw_nodes, raw_edges = len(graph), graph.number_of_edges()
    graph, dropped = largest_strong_component(graph)
    graph = ox.project_graph(graph, to_crs=CRS)
    limits = assign_limits(graph)
    meta = {
        **info,
        "format": FORMAT, "crs": CRS, "notice": OSM_NOTICE,
        "built_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "osmnx_version": version("osmnx"),
        "drive_filter": "osmnx network_type='drive' rule (zoning.roads.speeds.DRIVE_EXCLUDE)",
        "nodes_before_scc": raw_nodes, "edges_before_scc": raw_edges, "nodes_dropped_by_scc": dropped,
        "maxspeed": limits, "road_classes": list(ROAD_CLASSES),
        "default_limit_mph": DEFAULT_LIMIT_MPH, "default_speed_factors": DEFAULT_SPEED_FACTORS,
    }
    net = network_from_graph(graph, meta)
    meta.update(nodes=net.n_nodes, edges=net.n_edges)
    log.info("road network: %d nodes, %d edges (strongly connected; %d nodes dropped of %d)",
             net.n_nodes, net.n_edges, dropped, raw_nodes)
    return graph, net


# --- files ----------------------------------------------------------------------------------


def save_network(net: RoadNetwork, out_dir: Path, name: str, *, graph: nx.MultiDiGraph | None = None) -> dict[str, Path]:
    """Write ``<name>.npz`` (+ ``.json``, + ``.graphml`` when ``graph`` is given) atomically."""
    out_dir = Path(out_dir)
    meta = {**net.meta, "name": name, "digest": net.digest}
    meta_json = json.dumps(meta, indent=2, sort_keys=True, default=str)
    arrays = {"node_xy": net.node_xy, "node_osmid": net.node_osmid, "edge_u": net.edge_u, "edge_v": net.edge_v,
              "edge_length_m": net.edge_length_m, "edge_limit_kph": net.edge_limit_kph,
              "edge_class": net.edge_class, "meta": np.array(meta_json)}
    paths = {"routing": out_dir / f"{name}.npz", "metadata": out_dir / f"{name}.json"}
    write_with(paths["routing"], lambda tmp: np.savez_compressed(tmp, **arrays))  # type: ignore[arg-type]
    write_text(paths["metadata"], meta_json + "\n")
    if graph is not None:
        import osmnx as ox

        paths["graphml"] = out_dir / f"{name}.graphml"
        write_with(paths["graphml"], lambda tmp: ox.save_graphml(graph, filepath=tmp))
    return paths


def load_graphml(path: Path) -> nx.MultiDiGraph:
    """The processed osmnx graph saved beside a routing file, with our edge attributes typed."""
    import osmnx as ox

    return ox.load_graphml(path, edge_dtypes={"limit_kph": float, "speed_kph": float, "travel_time": float})


def load_network(path: Path) -> RoadNetwork:
    """Read a routing file written by :func:`save_network`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"road network file not found: {path}. How to fix: build it with "
                        "`carezones roads build --area CODE` (online) or `--osm FILE` (offline).")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: not a carezones road network file ({exc}). How to fix: rebuild it with "
                        "`carezones roads build`.") from exc
    if meta.get("format") != FORMAT:
        raise DataError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}. How to fix: rebuild it "
                        "with `carezones roads build`.")
    return RoadNetwork(**arrays, meta=meta, path=path)


@dataclass(frozen=True)
class NetworkBuildReport:
    network: RoadNetwork
    paths: dict[str, Path]


def build_network(
    *, out_dir: Path, name: str, area: str | None = None, osm: Path | None = None, data_dir: Path = Path("data"),
    buffer_m: float = DEFAULT_BUFFER_M, simplify: bool = True,
) -> NetworkBuildReport:
    """Build and save a network from a local OSM file (``osm``) or by download (``area``)."""
    if osm is None and area is None:
        raise DataError("nothing to build from: give --area CODE (download with osmnx) or --osm FILE (offline).")
    clip = area_polygon(data_dir, area, buffer_m=buffer_m) if area else None
    if osm is not None:
        graph, info = graph_from_osm_file(Path(osm), clip=clip, simplify=simplify)
    else:
        assert clip is not None
        graph, info = graph_from_download(clip, simplify=simplify)
    info.update(name=name, area=area, buffer_m=buffer_m if area else None, simplify=simplify)
    graph, net = process_graph(graph, info)
    return NetworkBuildReport(network=net, paths=save_network(net, out_dir, name, graph=graph))
