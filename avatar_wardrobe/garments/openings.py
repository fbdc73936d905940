"""Where a garment's inside can be seen: its openings (hems, cuffs, necklines) and the faces near them."""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..mesh_topology import components, open_edges, weld

MIN_LOOP_POINTS = 4       # an open edge loop shorter than this is a slit or a mesh flaw, not an opening
MIN_REACH_M = 0.10        # the inside shows this far in from an opening...
REACH_PER_RADIUS = 1.0    # ...or as far in as the opening is wide (its mean radius), if more: a skirt's
                          # hem lets one see far up inside it


def openings(positions: np.ndarray, faces: np.ndarray) -> list[np.ndarray]:
    """Each opening's points (n, 3): the loops of open edges of the mesh welded by position (a UV
    seam is not an opening)."""
    welded, points = weld(positions)
    edges = open_edges(welded[np.asarray(faces)])
    if not len(edges):
        return []
    piece = components(edges, len(points))
    on = np.unique(edges)
    loops = [on[piece[on] == k] for k in np.unique(piece[on])]
    return [points[loop] for loop in loops if len(loop) >= MIN_LOOP_POINTS]


def near_openings(positions: np.ndarray, faces: np.ndarray, min_reach: float = MIN_REACH_M) -> np.ndarray:
    """(T,) bool: faces with a corner within reach of an opening (max(min_reach, REACH_PER_RADIUS x
    the opening's radius)), whose inside can be seen through it; the others' insides face the body."""
    positions = np.asarray(positions, np.float64)
    faces = np.asarray(faces)
    near = np.zeros(len(positions), bool)
    for loop in openings(positions, faces):
        radius = float(np.linalg.norm(loop - loop.mean(axis=0), axis=1).mean())
        reach = max(min_reach, REACH_PER_RADIUS * radius)
        near |= cKDTree(loop).query(positions, distance_upper_bound=reach)[0] <= reach
    return near[faces].any(axis=1)
