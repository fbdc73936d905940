"""Triangle-mesh topology in numpy (scipy for pieces): welding split vertices, edges, open edges, connected pieces."""
from __future__ import annotations

import numpy as np

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


def unique_edges(faces: np.ndarray, counts: bool = False):
    """(E, 2) undirected edges of a triangle list, lower index first; with `counts`, also (E,) how
    many faces use each (1: an open edge, on a hem or a cut)."""
    return np.unique(np.sort(face_edges(faces), axis=1), axis=0, return_counts=counts)


def open_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) the edges only one face uses (lower index first)."""
    edges, uses = unique_edges(faces, counts=True)
    return edges[uses == 1]


def components(edges: np.ndarray, count: int) -> np.ndarray:
    """(count,) the connected piece of each of `count` nodes joined by `edges`. scipy is imported
    here, when a mesh is built: the cloth worker imports this module's users at start-up."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = np.asarray(edges).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(count, count))
    return connected_components(graph, directed=False)[1]
