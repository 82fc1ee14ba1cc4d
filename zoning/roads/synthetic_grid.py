"""SYNTHETIC road networks for tests and benchmarks (never real roads; labelled so).

:func:`grid_network` lays a jittered square grid over a bounding box in EPSG:27700: every
``arterial_every``-th row and column is a 60 mph primary road, the rest 30 mph residential
streets; a share of residential streets is one-way and a share is missing, as in a real town.
Only the largest strongly connected component is kept, as for real networks.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from zoning.roads.network import CRS, FORMAT, RoadNetwork
from zoning.roads.speeds import DEFAULT_SPEED_FACTORS, MPH_TO_KPH, ROAD_CLASSES


def grid_network(
    *, bounds: tuple[float, float, float, float], spacing_m: float, seed: int = 0, arterial_every: int = 10,
    one_way_share: float = 0.1, missing_share: float = 0.05, label: str = "",
) -> RoadNetwork:
    """A SYNTHETIC grid network over ``bounds`` = (xmin, ymin, xmax, ymax) metres."""
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = bounds
    nx_, ny_ = int((xmax - xmin) // spacing_m) + 1, int((ymax - ymin) // spacing_m) + 1
    gx, gy = np.meshgrid(xmin + spacing_m * np.arange(nx_), ymin + spacing_m * np.arange(ny_))
    xy = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-0.2, 0.2, (nx_ * ny_, 2)) * spacing_m
    idx = np.arange(nx_ * ny_).reshape(ny_, nx_)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    # horizontal edges lie on a row, vertical ones on a column; every n-th row/column is arterial
    on_row = np.concatenate([np.repeat(np.arange(ny_), nx_ - 1), np.full(nx_ * (ny_ - 1), -1)])
    on_col = np.concatenate([np.full(ny_ * (nx_ - 1), -1), np.tile(np.arange(nx_), ny_ - 1)])
    arterial = ((on_row >= 0) & (on_row % arterial_every == 0)) | ((on_col >= 0) & (on_col % arterial_every == 0))
    local = ~arterial
    missing = local & (rng.random(len(a)) < missing_share)
    a, b, arterial = a[~missing], b[~missing], arterial[~missing]
    one_way = ~arterial & (rng.random(len(a)) < one_way_share)
    flip = rng.random(len(a)) < 0.5
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    u = np.concatenate([a, b[~one_way]])
    v = np.concatenate([b, a[~one_way]])
    art = np.concatenate([arterial, arterial[~one_way]])
    n = len(xy)
    _, comp = connected_components(sp.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)), directed=True,
                                   connection="strong")
    big = np.bincount(comp).argmax()
    keep = comp == big
    remap = np.full(n, -1)
    remap[keep] = np.arange(int(keep.sum()))
    ok = keep[u] & keep[v]
    u, v, art = remap[u[ok]], remap[v[ok]], art[ok]
    xy = xy[keep]
    length = np.hypot(*(xy[u] - xy[v]).T) * 1.15  # roads wind a little
    limit = np.where(art, 60.0, 30.0) * MPH_TO_KPH
    cls = np.where(art, ROAD_CLASSES.index("primary"), ROAD_CLASSES.index("residential")).astype(np.int8)
    description = label or f"SYNTHETIC grid network ({spacing_m:g} m spacing, seed {seed}; not real roads)"
    meta = {"format": FORMAT, "crs": CRS, "synthetic": True, "description": description, "name": "synthetic-grid",
            "osm_data_date": "", "notice": "SYNTHETIC: no OpenStreetMap data", "default_speed_factors": DEFAULT_SPEED_FACTORS}
    return RoadNetwork(node_xy=xy, node_osmid=np.arange(len(xy), dtype=np.int64), edge_u=u.astype(np.int64),
                       edge_v=v.astype(np.int64), edge_length_m=length, edge_limit_kph=limit, edge_class=cls, meta=meta)
