"""Coarse sim mesh from a render mesh (vertex clustering) and the render mesh's barycentric ride on it."""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..avatar.skinning import vertex_normals
from ..errors import WardrobeError
from ..garments.garment import Garment, SimMesh
from . import kernels

MAX_SIM_VERTICES = 1500      # the budget per garment for the default settings
DEFAULT_SIM_VERTICES = 1000
CANDIDATE_TRIANGLES = 8      # nearest sim triangles (by centroid) searched per render vertex
CELL_SEARCH_STEPS = 24       # bisection steps for the clustering cell size
PIN_THRESHOLD = 0.5          # a node with pin >= this is anchored


def _cluster(positions: np.ndarray, cell: float) -> tuple[np.ndarray, int]:
    keys = np.floor((positions - positions.min(0)) / cell).astype(np.int64)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    return inverse, int(inverse.max()) + 1


def cluster_mesh(positions: np.ndarray, faces: np.ndarray, target: int = DEFAULT_SIM_VERTICES):
    """Decimate by vertex clustering on a grid sized so at most `target` nodes remain.

    Returns (sim_positions, sim_faces, cluster) where cluster[v] is the sim node of render
    vertex v. Node positions are the means of their vertices; faces keep their winding; faces
    that collapse or repeat are dropped, and so are nodes no face uses (their vertices go to
    the nearest kept node).
    """
    positions = np.asarray(positions, np.float64)
    faces = np.asarray(faces, np.int64)
    if target < 4:
        raise WardrobeError(f"a cloth sim mesh needs at least 4 vertices, {target} were asked for.")
    extent = float(np.ptp(positions, axis=0).max())
    lo, hi = extent * 1e-4, extent
    best = None
    for _ in range(CELL_SEARCH_STEPS):
        mid = np.sqrt(lo * hi)
        inverse, count = _cluster(positions, mid)
        if count > target:
            lo = mid
        else:
            hi, best = mid, (inverse, count)
    if best is None:
        best = _cluster(positions, hi)
    inverse, count = best
    sums = np.zeros((count, 3))
    np.add.at(sums, inverse, positions)
    nodes = sums / np.bincount(inverse, minlength=count)[:, None]
    f = inverse[faces]
    ok = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])
    f = f[ok]
    key = np.sort(f, axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    f = f[np.sort(first)]
    used = np.zeros(count, bool)
    used[f.ravel()] = True
    remap = np.full(count, -1)
    remap[used] = np.arange(used.sum())
    nodes_kept = nodes[used]
    cluster = remap[inverse]
    orphan = cluster < 0
    if orphan.any():
        cluster[orphan] = cKDTree(nodes_kept).query(positions[orphan])[1]
    return nodes_kept, remap[f], cluster


def _closest_on_triangles(p, a, b, c):
    """Closest points on triangles (a, b, c) to points p, all (..., 3) (Ericson, RTCD 5.1.5)."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = np.einsum("...i,...i", ab, ap), np.einsum("...i,...i", ac, ap)
    bp = p - b
    d3, d4 = np.einsum("...i,...i", ab, bp), np.einsum("...i,...i", ac, bp)
    cp = p - c
    d5, d6 = np.einsum("...i,...i", ab, cp), np.einsum("...i,...i", ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v = np.where(denom != 0, vb / denom, 0.0)
        w = np.where(denom != 0, vc / denom, 0.0)
        out = a + ab * v[..., None] + ac * w[..., None]
        # vertex and edge regions
        t_ab = np.where(d1 - d3 != 0, d1 / (d1 - d3), 0.0)
        t_ac = np.where(d2 - d6 != 0, d2 / (d2 - d6), 0.0)
        t_bc = np.where((d4 - d3) + (d5 - d6) != 0, (d4 - d3) / ((d4 - d3) + (d5 - d6)), 0.0)
    conds = [
        (d1 <= 0) & (d2 <= 0), (d3 >= 0) & (d4 <= d3), (d6 >= 0) & (d5 <= d6),
        (vc <= 0) & (d1 >= 0) & (d3 <= 0), (vb <= 0) & (d2 >= 0) & (d6 <= 0),
        (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0),
    ]
    values = [a, b, c, a + ab * t_ab[..., None], a + ac * t_ac[..., None], b + (c - b) * t_bc[..., None]]
    for cond, val in reversed(list(zip(conds, values))):
        out = np.where(cond[..., None], val, out)
    return out


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (N, 3) arrays (faster than np.cross for small N)."""
    out = np.empty_like(a)
    out[:, 0] = a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1]
    out[:, 1] = a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2]
    out[:, 2] = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return out


def unit(v: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    length = np.sqrt(np.einsum("vi,vi->v", v, v))
    np.maximum(length, 1e-12, out=length)
    return v / np.repeat(length, 3).reshape(-1, 3)


def face_normals(positions: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = (np.take(positions, faces[:, k], axis=0) for k in range(3))
    return unit(cross(b - a, c - a))


def embed(points: np.ndarray, sim_positions: np.ndarray, sim_faces: np.ndarray):
    """Ride each point on its nearest sim triangle: (triangle, barycentric (V, 3), normal offset).

    Barycentrics are those of the point's projection on the triangle's plane (they may leave
    [0, 1] a little at the sim mesh's border), so the rest shape is reproduced exactly.
    """
    points = np.asarray(points, np.float64)
    tri = sim_positions[sim_faces]
    k = min(CANDIDATE_TRIANGLES, len(sim_faces))
    cand = cKDTree(tri.mean(axis=1)).query(points, k=k)[1].reshape(len(points), k)
    a, b, c = (tri[cand, i] for i in range(3))
    closest = _closest_on_triangles(points[:, None, :], a, b, c)
    best = np.argmin(np.linalg.norm(closest - points[:, None, :], axis=2), axis=1)
    triangle = cand[np.arange(len(points)), best]
    a, b, c = (tri[triangle, i] for i in range(3))
    n = face_normals(sim_positions, sim_faces)[triangle]
    offset = np.einsum("vi,vi->v", points - a, n)
    proj = points - offset[:, None] * n
    bary = _barycentric(proj, a, b, c)
    return triangle, bary, offset


def _barycentric(p, a, b, c):
    v0, v1, v2 = b - a, c - a, p - a
    d00 = np.einsum("vi,vi->v", v0, v0)
    d01 = np.einsum("vi,vi->v", v0, v1)
    d11 = np.einsum("vi,vi->v", v1, v1)
    d20 = np.einsum("vi,vi->v", v2, v0)
    d21 = np.einsum("vi,vi->v", v2, v1)
    denom = d00 * d11 - d01 * d01
    denom = np.where(np.abs(denom) > 1e-18, denom, 1e-18)
    v = (d11 * d20 - d01 * d21) / denom
    w = (d00 * d21 - d01 * d20) / denom
    return np.stack([1 - v - w, v, w], axis=1)


class Embedding:
    """A render mesh riding on a sim mesh, prepared for per-frame use."""

    def __init__(self, sim_faces: np.ndarray, triangle: np.ndarray, barycentric: np.ndarray, offset: np.ndarray):
        self.sim_faces, self.triangle = sim_faces, triangle
        self.corners = np.ascontiguousarray(sim_faces[triangle], np.int64)  # (V, 3) sim nodes
        self.barycentric = np.ascontiguousarray(barycentric, np.float64)
        self.offset = np.ascontiguousarray(offset, np.float64)
        w = np.clip(barycentric, 0.0, None)
        self.clipped = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)

    @classmethod
    def of(cls, sim: SimMesh) -> "Embedding":
        return cls(sim.faces, sim.triangle, sim.barycentric, sim.offset)

    def reconstruct(self, nodes: np.ndarray) -> np.ndarray:
        """Render positions from sim node positions (compiled: cloth/kernels.py)."""
        out = np.empty((len(self.corners), 3))
        kernels.reconstruct(np.ascontiguousarray(nodes, np.float64), self.corners, self.barycentric, self.offset, out)
        return out

    def interpolate(self, values: np.ndarray) -> np.ndarray:
        """Per-node scalars (S,) -> per render vertex (barycentrics clipped to the triangle)."""
        return np.einsum("vk,vk->v", self.clipped, np.take(values, self.corners))


def build_sim_mesh(garment: Garment, target: int = DEFAULT_SIM_VERTICES) -> SimMesh:
    """The garment's own sim mesh (embedded if needed) or one made by clustering its render mesh."""
    if garment.sim is not None and len(garment.sim.positions) <= max(target, MAX_SIM_VERTICES):
        sim = garment.sim
        if sim.triangle is None or sim.barycentric is None or sim.offset is None:
            tri, bary, off = embed(garment.positions, sim.positions, sim.faces)
            sim = SimMesh(sim.positions, sim.faces, sim.pin, tri, bary, off)
        return sim
    source = garment.sim.positions if garment.sim is not None else garment.positions
    source_faces = garment.sim.faces if garment.sim is not None else garment.faces
    source_pin = garment.sim.pin if garment.sim is not None else garment.pin
    nodes, faces, cluster = cluster_mesh(source, source_faces, target)
    pin = np.bincount(cluster, weights=source_pin, minlength=len(nodes)) / np.maximum(
        np.bincount(cluster, minlength=len(nodes)), 1)
    tri, bary, off = embed(garment.positions, nodes, faces)
    return SimMesh(nodes, faces, pin, tri, bary, off)


def render_normals(positions: np.ndarray, faces: np.ndarray) -> np.ndarray:
    return vertex_normals(positions, faces)
