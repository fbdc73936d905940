"""Closest points and signed distances between points and a triangle surface (numpy + scipy kd-tree)."""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..avatar.skinning import vertex_normals

NEAREST_VERTICES = 12  # candidate triangles: those around this many nearest surface vertices
DEGENERATE = 1e-20     # squared lengths below this count as zero
CHUNK_POINTS = 4096    # points per batch of exact point-triangle distances (bounds memory)
TINY_NORMAL = 1e-6     # an interpolated normal shorter than this (opposed corners) falls back to the face's


def closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray):
    """Closest point on triangles (a, b, c) to points p, row by row (all (N, 3)).

    Returns (closest (N, 3), barycentric (N, 3)): the Voronoi-region walk of Ericson,
    "Real-Time Collision Detection" 5.1.5, vectorised; degenerate triangles fall back to
    their nearest corner."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2

    n = len(p)
    bary = np.zeros((n, 3))
    done = np.zeros(n, bool)

    def settle(mask, u, v, w):
        mask = mask & ~done
        bary[mask] = np.stack([u, v, w], 1)[mask] if np.ndim(u) else (u, v, w)
        done[mask] = True

    with np.errstate(divide="ignore", invalid="ignore"):
        settle((d1 <= 0) & (d2 <= 0), 1.0, 0.0, 0.0)                       # vertex a
        settle((d3 >= 0) & (d4 <= d3), 0.0, 1.0, 0.0)                      # vertex b
        settle((d6 >= 0) & (d5 <= d6), 0.0, 0.0, 1.0)                      # vertex c
        t = d1 / (d1 - d3)
        settle((vc <= 0) & (d1 >= 0) & (d3 <= 0), 1 - t, t, np.zeros(n))  # edge ab
        t = d2 / (d2 - d6)
        settle((vb <= 0) & (d2 >= 0) & (d6 <= 0), 1 - t, np.zeros(n), t)  # edge ac
        t = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        settle((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), np.zeros(n), 1 - t, t)  # edge bc
        denom = va + vb + vc
        v, w = vb / denom, vc / denom
        settle(np.abs(denom) > DEGENERATE, 1 - v - w, v, w)                # face interior
    if not done.all():  # degenerate leftovers: the nearest corner
        rest = ~done
        corner = np.argmin(np.stack([_dot(ap, ap), _dot(bp, bp), _dot(cp, cp)], 1)[rest], 1)
        bary[rest] = np.eye(3)[corner]
    bary = np.nan_to_num(bary)
    closest = bary[:, :1] * a + bary[:, 1:2] * b + bary[:, 2:] * c
    return closest, bary


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", u, v)


class TriangleSurface:
    """A triangle mesh prepared for nearest-point queries (e.g. the avatar's body at rest).

    Candidate triangles for a point are those around its NEAREST_VERTICES nearest mesh vertices
    (a kd-tree over vertices), then the exact point-triangle distance picks the closest. That is
    exact wherever the mesh is fine compared with the query distance (bodies and garments)."""

    def __init__(self, positions: np.ndarray, faces: np.ndarray, normals: np.ndarray | None = None):
        self.positions = np.asarray(positions, dtype=np.float64)
        self.faces = np.asarray(faces, dtype=np.int64)
        self.normals = (vertex_normals(self.positions, self.faces) if normals is None
                        else np.asarray(normals, dtype=np.float64))
        used = np.unique(self.faces)
        self._used = used
        self._tree = cKDTree(self.positions[used])
        # Vertex -> incident faces as a padded table (-1 = none).
        order = np.argsort(self.faces.ravel(), kind="stable")
        vertex_of = self.faces.ravel()[order]
        counts = np.bincount(vertex_of, minlength=len(self.positions))
        width = max(int(counts.max()), 1)
        table = np.full((len(self.positions), width), -1, np.int64)
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slot = np.arange(len(order)) - np.repeat(start, counts)
        table[vertex_of, slot] = order // 3
        self._faces_of = table
        tri = self.positions[self.faces]
        self._centre = tri.mean(1)
        self._radius = np.linalg.norm(tri - self._centre[:, None], axis=2).max(1)

    def closest(self, points: np.ndarray, k: int = NEAREST_VERTICES):
        """For each point: (face index, barycentric (3,), closest point (3,), distance)."""
        points = np.atleast_2d(np.asarray(points, dtype=np.float64)).reshape(-1, 3)
        if len(points) <= CHUNK_POINTS:
            return self._closest(points, k)
        parts = [self._closest(points[i:i + CHUNK_POINTS], k) for i in range(0, len(points), CHUNK_POINTS)]
        return tuple(np.concatenate(column) for column in zip(*parts))

    def _closest(self, points: np.ndarray, k: int):
        k = min(k, len(self._used))
        nearest, near = self._tree.query(points, k=k)
        near = self._used[near.reshape(len(points), -1)]
        cand = self._faces_of[near].reshape(len(points), -1)                 # (N, k * width)
        cand = np.sort(cand, axis=1)
        cand[:, 1:][cand[:, 1:] == cand[:, :-1]] = -1                          # drop repeats
        rows, cols = np.nonzero(cand >= 0)
        faces = cand[rows, cols]
        # The nearest vertex bounds the distance from above, a face's bounding sphere from below.
        upper = np.reshape(nearest, (len(points), -1))[:, 0]
        lower = np.linalg.norm(points[rows] - self._centre[faces], axis=1) - self._radius[faces]
        keep = lower <= upper[rows] + 1e-12
        rows, faces = rows[keep], faces[keep]
        tri = self.positions[self.faces[faces]]
        closest, bary = closest_on_triangles(points[rows], tri[:, 0], tri[:, 1], tri[:, 2])
        dist = np.linalg.norm(points[rows] - closest, axis=1)
        best = np.full(len(points), np.inf)
        np.minimum.at(best, rows, dist)
        pick = np.flatnonzero(dist <= best[rows])
        pick = pick[np.unique(rows[pick], return_index=True)[1]]              # first winner per point
        return faces[pick], bary[pick], closest[pick], dist[pick]

    def normal_at(self, faces: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """Unit surface normals interpolated from the vertex normals (the face's where they cancel)."""
        n = np.einsum("nk,nkc->nc", bary, self.normals[self.faces[faces]])
        length = np.linalg.norm(n, axis=1, keepdims=True)
        weak = length[:, 0] < TINY_NORMAL
        if weak.any():
            n[weak], length[weak] = self.face_normals(faces[weak]), 1.0
        return n / np.maximum(length, 1e-12)

    def face_normals(self, faces: np.ndarray) -> np.ndarray:
        c = self.positions[self.faces[faces]]
        n = np.cross(c[:, 1] - c[:, 0], c[:, 2] - c[:, 0])
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)

    def signed_closest(self, points: np.ndarray, k: int = NEAREST_VERTICES):
        """(signed distance (N,), closest points (N, 3), unit normals there (N, 3)); the distance is
        negative on the side the normals point away from (inside)."""
        faces, bary, closest, dist = self.closest(points, k)
        normal = self.normal_at(faces, bary)
        side = np.einsum("ij,ij->i", np.atleast_2d(points).reshape(-1, 3) - closest, normal)
        return np.where(side < 0, -dist, dist), closest, normal

    def signed_distance(self, points: np.ndarray, k: int = NEAREST_VERTICES) -> np.ndarray:
        """Distance to the surface, negative inside (against the interpolated normal at the closest point)."""
        return self.signed_closest(points, k)[0]

    def interpolate(self, values: np.ndarray, faces: np.ndarray, bary: np.ndarray) -> np.ndarray:
        """Per-vertex `values` (V, ...) interpolated at surface points given by face + barycentric."""
        corner = values[self.faces[faces]]                                     # (N, 3, ...)
        return np.einsum("nk,nk...->n...", bary, corner)


def signed_distance(points: np.ndarray, positions: np.ndarray, faces: np.ndarray,
                    normals: np.ndarray | None = None) -> np.ndarray:
    """Signed distance of each point to the surface (positive outside, along the normals)."""
    return TriangleSurface(positions, faces, normals).signed_distance(points)
