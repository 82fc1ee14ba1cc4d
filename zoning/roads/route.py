"""Many-to-many shortest travel times on a road network, with scipy only.

The network is an edge list (node indices ``u -> v`` with minutes). :func:`csr_min` turns it
into a sparse matrix keeping the *fastest* of parallel edges (a plain COO → CSR conversion
would add them up). :func:`node_matrix` runs ``scipy.sparse.csgraph.dijkstra`` from the
smaller side, in chunks small enough to bound memory, on a few threads (scipy's Dijkstra
releases the GIL for part of its work). Points are snapped to their nearest node with a
``cKDTree`` (:func:`snap`); that needs a projected network (EPSG:27700 metres).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

log = logging.getLogger(__name__)

#: Memory for one chunk of Dijkstra rows (rows × nodes × 8 bytes).
DEFAULT_CHUNK_BYTES = 128 * 2**20

#: scipy treats a stored zero in a sparse graph as "no edge"; zero-length edges (duplicate
#: nodes in OSM) get this many minutes instead, far below any reported precision.
MIN_EDGE_MINUTES = 1e-9


def csr_min(n_nodes: int, u: NDArray[np.int64], v: NDArray[np.int64], minutes: NDArray[np.float64]) -> sp.csr_matrix:
    """(n, n) CSR matrix with the minimum ``minutes`` over parallel edges ``u -> v``; self-loops
    are dropped (they never shorten a path)."""
    keep = u != v
    u, v, w = u[keep], v[keep], np.maximum(minutes[keep], MIN_EDGE_MINUTES)
    order = np.lexsort((w, v, u))  # by u, then v, then fastest first
    u, v, w = u[order], v[order], w[order]
    first = np.ones(len(u), dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
    return sp.csr_matrix((w[first], (u[first], v[first])), shape=(n_nodes, n_nodes))


@dataclass(frozen=True)
class Snap:
    """Nearest network node of each point and the straight-line distance to it (metres)."""

    node: NDArray[np.int64]
    distance_m: NDArray[np.float64]


def snap(tree: cKDTree, points: NDArray[np.float64]) -> Snap:
    """Snap (x, y) points (same CRS as the tree, metres) to their nearest node."""
    dist, node = tree.query(np.atleast_2d(np.asarray(points, dtype=np.float64)))
    return Snap(node=np.asarray(node, dtype=np.int64), distance_m=np.asarray(dist, dtype=np.float64))


def _rows(graph: sp.csr_matrix, sources: NDArray[np.int64], targets: NDArray[np.int64]) -> NDArray[np.float64]:
    dist = dijkstra(graph, directed=True, indices=sources)
    return np.ascontiguousarray(np.atleast_2d(dist)[:, targets])


def node_matrix(
    graph: sp.csr_matrix,
    sources: NDArray[np.int64],
    targets: NDArray[np.int64],
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    workers: int = 2,
) -> NDArray[np.float64]:
    """(len(sources), len(targets)) shortest-path minutes between network nodes.

    Runs Dijkstra from whichever side has fewer distinct nodes (on the reversed graph when
    that is the targets), in chunks of at most ``chunk_bytes`` of distance rows, ``workers``
    chunks at a time. Unreachable pairs are ``inf`` (the network should be strongly connected).
    """
    sources = np.asarray(sources, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    src_u, src_inv = np.unique(sources, return_inverse=True)
    dst_u, dst_inv = np.unique(targets, return_inverse=True)
    forward = len(src_u) <= len(dst_u)
    g = graph if forward else graph.T.tocsr()
    roots, leaves = (src_u, dst_u) if forward else (dst_u, src_u)
    n = graph.shape[0]
    by_memory = max(1, int(chunk_bytes // (8 * max(n, 1))))
    rows_per_chunk = min(by_memory, max(1, -(-len(roots) // max(workers, 1))))  # >= one chunk per worker
    chunks = [roots[i : i + rows_per_chunk] for i in range(0, len(roots), rows_per_chunk)]
    log.debug("dijkstra from %d %s node(s) in %d chunk(s) over %d nodes", len(roots),
              "origin" if forward else "destination", len(chunks), n)
    if workers > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(lambda c: _rows(g, c, leaves), chunks))
    else:
        parts = [_rows(g, c, leaves) for c in chunks]
    block = np.vstack(parts) if parts else np.zeros((0, len(leaves)))
    unique = block if forward else block.T
    return unique[np.ix_(src_inv.ravel(), dst_inv.ravel())]
