"""Reading OpenStreetMap ways for :mod:`zoning.roads.network`: a local file (pyosmium + osmnx) or a
download (osmnx), and the buffered area outline to clip or download by.

osmnx's ``graph_from_xml`` keeps every way, so local files are first reduced to drivable ways
(:func:`zoning.roads.speeds.is_drivable`, osmnx's own ``drive`` rule) with pyosmium, which also
reads ``.osm.pbf``; downloads use osmnx's ``network_type="drive"`` Overpass query directly.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from zoning.errors import DataError

log = logging.getLogger(__name__)

CRS = "EPSG:27700"
OSM_SUFFIXES = (".osm", ".osm.xml", ".xml", ".osm.pbf", ".pbf", ".osm.bz2", ".osm.gz")


# --- reading OSM --------------------------------------------------------------------------


def _osm_suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in sorted(OSM_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise DataError(
        f"{path}: not an OSM file name; expected one of {', '.join(OSM_SUFFIXES)}. How to fix: pass "
        "an OpenStreetMap extract, e.g. a Geofabrik county .osm.pbf."
    )


def _present_runs(way: Any) -> list[list[tuple[int, float, float]]]:
    """Maximal runs of at least two consecutive node refs with a known location: a way cut by
    the edge of an extract keeps its inside parts."""
    runs: list[list[tuple[int, float, float]]] = [[]]
    for ref in way.nodes:
        if ref.location.valid():
            runs[-1].append((ref.ref, ref.location.lon, ref.location.lat))
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if len(r) >= 2]


def filter_drivable(src: Path, dst: Path) -> dict[str, Any]:
    """Write the drivable ways of ``src`` (any format pyosmium reads) and their nodes to the
    OSM XML file ``dst``; return counts and the data date (file header, else latest edit).

    Ways that reference nodes missing from a clipped extract keep their parts inside it; a way
    split in several parts gets negative ids ``-(100 * id + part)`` so ids stay unique.
    """
    import osmium
    import osmium.osm.mutable as mutable

    from zoning.roads.speeds import is_drivable

    processor = osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY).with_locations()
    header_date = processor.header.get("osmosis_replication_timestamp") or ""
    read = kept = cut = 0
    latest: datetime | None = None
    nodes: dict[int, tuple[float, float]] = {}
    ways: list[Any] = []
    for obj in processor:
        if not isinstance(obj, osmium.osm.Way):
            continue
        read += 1
        tags = {t.k: t.v for t in obj.tags}
        if not is_drivable(tags):
            continue
        runs = _present_runs(obj)
        cut += int(len(runs) != 1 or len(runs[0]) != len(obj.nodes))
        for k, run in enumerate(runs):
            way_id = obj.id if len(runs) == 1 else -(100 * obj.id + k)
            ways.append(mutable.Way(id=way_id, version=1, nodes=[r[0] for r in run], tags=tags))
            nodes.update((r[0], (r[1], r[2])) for r in run)
        kept += int(bool(runs))
        stamp = obj.timestamp
        if runs and stamp is not None and stamp.year > 1970 and (latest is None or stamp > latest):
            latest = stamp
    with osmium.SimpleWriter(str(dst), overwrite=True) as writer:  # nodes first, as OSM files are
        for node_id in sorted(nodes):
            writer.add_node(mutable.Node(id=node_id, version=1, location=nodes[node_id]))
        for way in ways:
            writer.add_way(way)
    date = header_date or (latest.strftime("%Y-%m-%dT%H:%M:%SZ") if latest else "")
    log.info("%s: %d ways read, %d drivable (%d cut by the extract's edge)", src.name, read, kept, cut)
    if kept == 0:
        raise DataError(f"{src}: no drivable roads found (read {read} ways). How to fix: pass an OSM "
                        "extract that contains highway=* ways.")
    return {"ways_read": read, "ways_drivable": kept, "ways_cut_by_extract_edge": cut, "osm_data_date": date,
            "osm_data_date_source": "file header" if header_date else "latest edit of a drivable way"}


def graph_from_osm_file(
    path: Path, *, clip: BaseGeometry | None = None, simplify: bool = True
) -> tuple[nx.MultiDiGraph, dict[str, Any]]:
    """Unprojected osmnx graph of the drivable roads in a local OSM file, clipped to ``clip``
    (EPSG:4326) when given."""
    import osmnx as ox

    path = Path(path)
    _osm_suffix(path)
    if not path.is_file():
        raise DataError(f"OSM file not found: {path}. How to fix: download a county extract (e.g. from "
                        "Geofabrik) or run `carezones roads build --area CODE` online.")
    with tempfile.TemporaryDirectory(prefix="carezones-osm-") as tmp:
        xml = Path(tmp) / "drive.osm"
        info = filter_drivable(path, xml)
        graph = ox.graph_from_xml(xml, bidirectional=False, simplify=False, retain_all=True)
    if clip is not None:
        graph = ox.truncate.truncate_graph_polygon(graph, clip, truncate_by_edge=True)
        if len(graph) == 0:
            raise DataError(f"{path}: no drivable roads inside the area (+ buffer). How to fix: use an "
                            "extract that covers the area.")
    if simplify:
        graph = ox.simplify_graph(graph)
    info["source"] = f"{path.name} (sha256 {_file_sha256(path)[:16]}…)"
    return graph, info


def graph_from_download(polygon: BaseGeometry, *, simplify: bool = True,
                        cache_folder: Path | None = None) -> tuple[nx.MultiDiGraph, dict[str, Any]]:
    """Download the drive network inside ``polygon`` (EPSG:4326) with osmnx (Overpass API).

    osmnx keeps raw responses in ``cache_folder`` (default ``~/.cache/carezones/osmnx``); the
    osmnx setting is restored afterwards.
    """
    import osmnx as ox

    folder = cache_folder or Path.home() / ".cache" / "carezones" / "osmnx"
    previous = ox.settings.cache_folder
    ox.settings.cache_folder = str(folder)
    try:
        graph = ox.graph_from_polygon(polygon, network_type="drive", simplify=simplify,
                                      retain_all=True, truncate_by_edge=True)
    except Exception as exc:  # network errors, Overpass refusals: say what to do instead
        raise DataError(
            f"downloading the road network with osmnx failed: {exc}. How to fix: check the internet "
            "connection, or build offline from a local extract with `carezones roads build --osm FILE`."
        ) from exc
    finally:
        ox.settings.cache_folder = previous
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return graph, {"source": "osmnx download (Overpass API), network_type='drive'", "osm_data_date": stamp,
                   "osm_data_date_source": "download time (current OSM data)"}


def area_polygon(data_dir: Path, area: str, *, buffer_m: float) -> Polygon | MultiPolygon:
    """The area's outline (``data/boundaries/<area>_outline.geojson``) with holes filled (trips
    cross enclosed areas such as Leicester) and buffered by ``buffer_m``, in EPSG:4326."""
    import geopandas as gpd
    from shapely import Polygon as P
    from shapely import union_all

    path = Path(data_dir) / "boundaries" / f"{area}_outline.geojson"
    if not path.is_file():
        raise DataError(f"area outline not found: {path}. How to fix: run `carezones data build --area {area}` "
                        "first, or pass --osm FILE without --area.")
    outline = gpd.read_file(path).to_crs(CRS)
    parts = [g for geom in outline.geometry for g in getattr(geom, "geoms", [geom])]
    filled = union_all([P(p.exterior) for p in parts]).buffer(buffer_m)
    result = gpd.GeoSeries([filled], crs=CRS).to_crs("EPSG:4326").iloc[0]
    assert isinstance(result, Polygon | MultiPolygon)
    return result


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
