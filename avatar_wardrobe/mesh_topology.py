"""Triangle-mesh topology in numpy/scipy: welding split vertices, edges, open edges, connected pieces."""
from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

WELD_M = 1e-6  # vertices this close are one point of the surface (glTF splits them for UVs and normals)


def weld(positions: np.ndarray, tolerance: float = WELD_M) -> tuple[np.ndarray, np.ndarray]:
    """(welded id per vertex (V,), one position per welded point (W, 3))."""
    positions = np.asarray(positions, np.float64)
    _, ids = np.unique(np.round(positions / tolerance).astype(np.int64), axis=0, return_inverse=True)
    ids = ids.ravel()
    points = np.zeros((int(ids.max()) + 1 if len(ids) else 0, 3))
    points[ids] = positions
    return ids, points


def face_edges(faces: np.ndarray) -> np.ndarray:
    """(3T, 2) every face's three edges (as written: a-b, b-c, c-a)."""
    faces = np.asarray(faces)
    return np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])


def open_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) the edges only one face uses (lower index first)."""
    edges, uses = np.unique(np.sort(face_edges(faces), axis=1), axis=0, return_counts=True)
    return edges[uses == 1]


def components(edges: np.ndarray, count: int) -> np.ndarray:
    """(count,) the connected piece of each of `count` nodes joined by `edges`."""
    edges = np.asarray(edges).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count))
    return connected_components(graph, directed=False)[1]
