"""Level of detail for a skinned mesh: a coarser triangle list over the same vertices (seam-safe vertex clustering).

At 640x480 the default avatar is ~400 px tall and its 27k triangles are mostly smaller than a
pixel (the head's 8.6k, the hands' 6.3k and the feet's 4.3k cover a few thousand pixels each),
and llvmpipe's cost grows with triangles, not pixels. The coarse list keeps every vertex (its
skin weights, UVs and normals stay valid, so the GPU skinning and the texture are untouched)
and only re-indexes: vertices joined by mesh edges inside one grid cell collapse onto one of
them, and faces that lose a corner go.

UV seams: a glTF mesh splits a vertex where its UVs (or normals) differ, so the surface is in
"islands". A cluster collapses only onto a position that every island in it has a copy of, and
each vertex goes to the copy on its own island: the texture stays continuous and both sides of a
seam move the same way (no cracks). A cluster with no such position stays as it is.
"""
from __future__ import annotations

import numpy as np

from ..mesh_topology import components, face_edges, weld

DEFAULT_CELL_M = 0.015  # the limbs and trunk: 27k -> 8.5k triangles on the default avatar, the same look at ~400 px
FACE_CELL_M = 0.006     # the head: at 0.015 the lips and eyelids merged (the mouth looked open at 400 px tall)
FINE_REGIONS = ("head",)
FINE_STEP_M = 1e-6      # cell sizes closer than this are one size


def cell_sizes(regions: np.ndarray) -> np.ndarray:
    """(V,) grid cell per vertex from its body region (BodyMesh.regions): finer over the face."""
    from ..garments.garment import BODY_REGIONS

    fine = np.isin(regions, [BODY_REGIONS.index(name) for name in FINE_REGIONS])
    return np.where(fine, FACE_CELL_M, DEFAULT_CELL_M)


def _first_per_group(groups: np.ndarray, order_key: np.ndarray) -> np.ndarray:
    """Per group id (0..G-1, each present): the index of its member with the smallest order_key."""
    order = np.lexsort((order_key, groups))
    first = np.ones(len(order), bool)
    first[1:] = groups[order][1:] != groups[order][:-1]
    return order[first]


def cluster_faces(positions: np.ndarray, faces: np.ndarray, cell_m=DEFAULT_CELL_M) -> tuple[np.ndarray, np.ndarray]:
    """A coarser triangle list for the mesh: (faces (T', 3) indexing the same vertices, source
    (T',) the index of the original face each one came from, e.g. to carry a per-face mask).
    cell_m: the grid's cell size, one for all or (V,) per vertex (vertices with different sizes
    never merge: a face can keep more detail than the limbs)."""
    positions = np.asarray(positions, np.float64)
    faces = np.asarray(faces, np.int64)
    if not len(faces):
        return faces.reshape(0, 3), np.zeros(0, np.int64)
    welded, points = weld(positions)
    size = np.zeros(len(points))
    size[welded] = np.broadcast_to(np.asarray(cell_m, np.float64), (len(positions),))
    island = components(face_edges(faces), len(positions))

    # Clusters: welded points joined by a welded edge inside one grid cell (of one size).
    grid = np.column_stack([np.floor(points / size[:, None]), np.round(size / FINE_STEP_M)]).astype(np.int64)
    _, cell = np.unique(grid, axis=0, return_inverse=True)
    cell = cell.ravel()
    wedges = face_edges(welded[faces])
    cluster = components(wedges[cell[wedges[:, 0]] == cell[wedges[:, 1]]], len(points))

    # Islands per welded point and per cluster; a point is a candidate centre of its cluster
    # when it has a copy on every island the cluster touches.
    pairs = np.unique(np.column_stack([welded, island]), axis=0)
    islands_of_point = np.bincount(pairs[:, 0], minlength=len(points))
    cluster_pairs = np.unique(np.column_stack([cluster[pairs[:, 0]], pairs[:, 1]]), axis=0)
    islands_of_cluster = np.bincount(cluster_pairs[:, 0], minlength=cluster.max() + 1)
    candidate = islands_of_point == islands_of_cluster[cluster]
    mean = np.zeros((len(islands_of_cluster), 3))
    np.add.at(mean, cluster, points)
    mean /= np.bincount(cluster)[:, None]
    distance = np.linalg.norm(points - mean[cluster], axis=1) + np.where(candidate, 0.0, np.inf)
    best = _first_per_group(cluster, distance)        # per cluster: its point nearest the mean
    target = np.arange(len(points))
    collapses = np.isfinite(distance[best])            # clusters that have a candidate
    centre = np.full(len(islands_of_cluster), -1)
    centre[collapses] = best[collapses]
    moved = centre[cluster] >= 0
    target[moved] = centre[cluster[moved]]

    # Each vertex goes to the copy of its target point on its own island.
    islands = island.max() + 1
    key = welded * islands + island
    keys, first = np.unique(key, return_index=True)
    wanted = target[welded] * islands + island
    slot = np.searchsorted(keys, wanted)
    vertex_map = first[slot]
    assert np.array_equal(keys[slot], wanted), "a collapse target has no copy on the vertex's island"

    # Faces that lost a corner go. Two faces landing on the same corners stay (a thin part, lips or
    # fingers, collapsed to a sheet: its two sides face away from each other); dropping one left
    # 12 open edges on the default avatar, keeping both leaves none.
    mapped = vertex_map[faces]
    keep = (mapped[:, 0] != mapped[:, 1]) & (mapped[:, 1] != mapped[:, 2]) & (mapped[:, 0] != mapped[:, 2])
    source = np.flatnonzero(keep)
    return mapped[source], source
