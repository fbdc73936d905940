"""Fitting garments to bodies: nearest-triangle binding (as MakeHuman's .mhclo), rebuild, weight transfer."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from ..avatar.body import BodyMesh
from ..avatar.skeleton import Skeleton
from ..avatar.skinning import vertex_normals
from ..errors import WardrobeError
from ..settings import model_path
from .garment import Garment
from .garment_io import AVATAR_NAME_PATTERN, DEFAULT_SOURCE_AVATAR, top_influences

K_CANDIDATES = 16           # nearest triangle centroids tried per point (plus the nearest vertex's triangles)
CHUNK_POINTS = 4096         # points per batch of exact point-triangle distances (bounds memory)
MIN_CLEARANCE_M = 0.002     # a fitted vertex ends at least this far outside the target body
PUSH_ITERATIONS = 4         # rounds of pushing vertices out of the body (each re-finds the nearest surface)
MIN_PUSH_COSINE = 0.5       # a push along a normal leaning more than 60 degrees off the face goes no further
PUSH_SLACK = 0.01           # push 1% past the clearance, so float32 storage still clears it
RBF_MAX_CENTRES = 3000      # body correspondences used by the RBF fallback (evenly subsampled)
RBF_NEIGHBOURS = 64         # local RBF: each point interpolates from this many centres
TINY = 1e-12
AVATAR_FOLDER = "avatar"    # under models/: <name>.glb


@dataclass
class SurfaceBinding:
    """Where points sit relative to a triangle mesh: triangle, barycentric coordinates of the closest
    point on it, and the offset from that point in the triangle's frame (tangent, bitangent, normal);
    offset[:, 2] is the distance along the interpolated normal, as in a .mhclo file."""

    triangle: np.ndarray     # (N,)
    barycentric: np.ndarray  # (N, 3)
    offset: np.ndarray       # (N, 3)


class BodySurface:
    """A triangle mesh with the queries fitting needs: nearest triangle, local frames, signed distance."""

    def __init__(self, positions: np.ndarray, faces: np.ndarray, normals: np.ndarray | None = None):
        self.positions = np.asarray(positions, np.float64)
        self.faces = np.asarray(faces, np.int64)
        if len(self.faces) == 0:
            raise WardrobeError("the body mesh has no triangles to fit a garment to.")
        self.normals = (vertex_normals(self.positions, self.faces) if normals is None
                        else _unit(np.asarray(normals, np.float64)))
        corners = self.positions[self.faces]
        self._centroids = cKDTree(corners.mean(axis=1))
        used = np.unique(self.faces)
        self._vertex_ids = used
        self._vertices = cKDTree(self.positions[used])
        self._incident = _incidence(self.faces, len(self.positions))

    @classmethod
    def from_body(cls, body: BodyMesh, faces: np.ndarray | None = None) -> "BodySurface":
        return cls(body.positions, body.faces if faces is None else faces, body.normals)

    def nearest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(triangle, barycentric, closest point, distance) on the surface for each point."""
        points = np.asarray(points, np.float64).reshape(-1, 3)
        n = len(points)
        tri, bary = np.zeros(n, np.int64), np.zeros((n, 3))
        k = min(K_CANDIDATES, len(self.faces))
        for start in range(0, n, CHUNK_POINTS):
            p = points[start:start + CHUNK_POINTS]
            _, near = self._centroids.query(p, k=k)
            near = near.reshape(len(p), -1)
            _, v = self._vertices.query(p)
            incident = self._incident[self._vertex_ids[v]]
            incident = np.where(incident < 0, near[:, :1], incident)
            cand = np.concatenate([near, incident], axis=1)
            corners = self.positions[self.faces[cand]]                       # (n, m, 3, 3)
            b = closest_barycentric(p[:, None, :], corners[..., 0, :], corners[..., 1, :], corners[..., 2, :])
            closest = np.einsum("nmk,nmkd->nmd", b, corners)
            best = np.argmin(((closest - p[:, None, :]) ** 2).sum(-1), axis=1)
            rows = np.arange(len(p))
            tri[start:start + len(p)] = cand[rows, best]
            bary[start:start + len(p)] = b[rows, best]
        closest = np.einsum("nk,nkd->nd", bary, self.positions[self.faces[tri]])
        return tri, bary, closest, np.linalg.norm(points - closest, axis=1)

    def normal_at(self, triangle: np.ndarray, barycentric: np.ndarray) -> np.ndarray:
        """The interpolated vertex normal at surface points (unit; the face normal where it vanishes)."""
        n = np.einsum("nk,nkd->nd", barycentric, self.normals[self.faces[triangle]])
        length = np.linalg.norm(n, axis=1)
        bad = length < 1e-6
        if bad.any():
            n[bad] = self.face_normals(triangle[bad])
        return _unit(n)

    def face_normals(self, triangle: np.ndarray) -> np.ndarray:
        c = self.positions[self.faces[triangle]]
        return _unit(np.cross(c[:, 1] - c[:, 0], c[:, 2] - c[:, 0]))

    def frames(self, triangle: np.ndarray, barycentric: np.ndarray) -> np.ndarray:
        """(N, 3, 3) orthonormal frames, columns tangent, bitangent, normal (the interpolated normal)."""
        n = self.normal_at(triangle, barycentric)
        c = self.positions[self.faces[triangle]]
        edge = c[:, 1] - c[:, 0]
        t = edge - (edge * n).sum(1, keepdims=True) * n
        weak = np.linalg.norm(t, axis=1) < 1e-9
        if weak.any():  # edge along the normal (degenerate): any perpendicular will do
            helper = np.where(np.abs(n[weak, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
            t[weak] = np.cross(n[weak], helper)
        t = _unit(t)
        return np.stack([t, np.cross(n, t), n], axis=2)

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Distance to the surface, negative inside (by the interpolated normal at the closest point)."""
        tri, bary, closest, dist = self.nearest(points)
        side = (np.asarray(points, np.float64) - closest) * self.normal_at(tri, bary)
        return np.where(side.sum(1) < 0, -dist, dist)


def closest_barycentric(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (..., 3) of the closest point to p on triangles abc (Ericson, RTCD 5.1.5)."""
    ab, ac, ap = b - a, c - a, p - a
    bp, cp = p - b, p - c
    d1, d2 = (ab * ap).sum(-1), (ac * ap).sum(-1)
    d3, d4 = (ab * bp).sum(-1), (ac * bp).sum(-1)
    d5, d6 = (ab * cp).sum(-1), (ac * cp).sum(-1)
    vc, vb, va = d1 * d4 - d3 * d2, d5 * d2 - d1 * d6, d3 * d6 - d5 * d4
    with np.errstate(divide="ignore", invalid="ignore"):
        v_ab = np.nan_to_num(d1 / (d1 - d3))
        w_ac = np.nan_to_num(d2 / (d2 - d6))
        w_bc = np.nan_to_num((d4 - d3) / ((d4 - d3) + (d5 - d6)))
        total = va + vb + vc
        safe = np.where(np.abs(total) > 0, total, 1.0)
        v_in, w_in = vb / safe, vc / safe
    zero, one = np.zeros_like(d1), np.ones_like(d1)
    conditions = [
        (d1 <= 0) & (d2 <= 0),
        (d3 >= 0) & (d4 <= d3),
        (vc <= 0) & (d1 >= 0) & (d3 <= 0),
        (d6 >= 0) & (d5 <= d6),
        (vb <= 0) & (d2 >= 0) & (d6 <= 0),
        (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0),
    ]
    v = np.select(conditions, [zero, one, v_ab, zero, zero, 1 - w_bc], v_in)
    w = np.select(conditions, [zero, zero, zero, one, w_ac, w_bc], w_in)
    degenerate = ~(np.abs(total) > 0) & ~np.any(conditions, axis=0)
    v, w = np.where(degenerate, 0.0, v), np.where(degenerate, 0.0, w)
    return np.stack([1 - v - w, v, w], axis=-1)


# --- binding and rebuilding ------------------------------------------------------------------

def bind(points: np.ndarray, surface: BodySurface) -> SurfaceBinding:
    """Bind points to their nearest triangles of `surface`."""
    points = np.asarray(points, np.float64)
    tri, bary, closest, _ = surface.nearest(points)
    frames = surface.frames(tri, bary)
    offset = np.einsum("nij,ni->nj", frames, points - closest)
    return SurfaceBinding(tri, bary, offset)


def rebuild(binding: SurfaceBinding, surface: BodySurface) -> np.ndarray:
    """Points placed on `surface` (same vertex order as the one bound to) by a binding."""
    closest = np.einsum("nk,nkd->nd", binding.barycentric, surface.positions[surface.faces[binding.triangle]])
    frames = surface.frames(binding.triangle, binding.barycentric)
    return closest + np.einsum("nij,nj->ni", frames, binding.offset)


def push_outside(points: np.ndarray, surface: BodySurface, clearance: float = MIN_CLEARANCE_M) -> np.ndarray:
    """Points moved out along the surface normal to at least `clearance` outside the body."""
    points = np.array(points, np.float64)
    for _ in range(PUSH_ITERATIONS):
        tri, bary, closest, dist = surface.nearest(points)
        normal = surface.normal_at(tri, bary)
        signed = np.where(((points - closest) * normal).sum(1) < 0, -dist, dist)
        inside = signed < clearance
        if not inside.any():
            break
        # Along the smooth normal, reach `clearance` from the triangle's plane (the normal leans off it).
        lean = (normal[inside] * surface.face_normals(tri[inside])).sum(1)
        step = clearance / np.maximum(lean, MIN_PUSH_COSINE) * (1 + PUSH_SLACK)
        points[inside] = closest[inside] + step[:, None] * normal[inside]
    return points


def fit_garment(garment: Garment, source_body: BodyMesh, target_body: BodyMesh,
                clearance: float = MIN_CLEARANCE_M,
                correspondence: tuple[np.ndarray, np.ndarray] | None = None) -> Garment:
    """The garment made for `source_body`, rebuilt on `target_body`.

    Bodies with the same vertices in the same order (the anny avatars) use the nearest-triangle
    binding; bodies of different topology need `correspondence` (source and target vertex indices
    of the same body points) and use RBF displacement. Vertices end `clearance` outside the target.
    """
    if len(source_body.positions) == len(target_body.positions):
        source = BodySurface.from_body(source_body)
        target = BodySurface(target_body.positions, source_body.faces, target_body.normals)
        positions, normals = _rebind(garment.positions, garment.normals, source, target)
        sim = garment.sim
        if sim is not None:
            sim = dataclasses.replace(sim, positions=push_outside(
                _rebind(sim.positions, None, source, target)[0], target, clearance).astype(np.float32))
    elif correspondence is not None:
        src, tgt = (np.asarray(i, np.int64) for i in correspondence)
        warp = _rbf_warp(source_body.positions[src], target_body.positions[tgt])
        target = BodySurface.from_body(target_body)
        positions, normals = warp(garment.positions), garment.normals
        sim = garment.sim
        if sim is not None:
            sim = dataclasses.replace(sim, positions=push_outside(warp(sim.positions), target,
                                                                  clearance).astype(np.float32))
    else:
        raise WardrobeError(
            f"cannot fit garment {garment.name}: the source body has {len(source_body.positions)} vertices and "
            f"the target body {len(target_body.positions)}, so they do not share a topology. Make both "
            "avatars with anny (tools/make_avatar.py), or pass body vertex correspondences for RBF fitting.")
    positions = push_outside(positions, target, clearance)
    return dataclasses.replace(garment, positions=positions.astype(np.float32),
                               normals=_unit(normals).astype(np.float32), sim=sim)


def _rebind(points, normals, source: BodySurface, target: BodySurface) -> tuple[np.ndarray, np.ndarray | None]:
    binding = bind(points, source)
    out = rebuild(binding, target)
    if normals is None:
        return out, None
    before = source.frames(binding.triangle, binding.barycentric)
    after = target.frames(binding.triangle, binding.barycentric)
    local = np.einsum("nij,ni->nj", before, np.asarray(normals, np.float64))
    return out, np.einsum("nij,nj->ni", after, local)


def _rbf_warp(source_points: np.ndarray, target_points: np.ndarray):
    from scipy.interpolate import RBFInterpolator

    if len(source_points) < 4:
        raise WardrobeError("RBF fitting needs at least 4 body vertex correspondences.")
    step = max(1, len(source_points) // RBF_MAX_CENTRES)
    centres = source_points[::step]
    displacement = target_points[::step] - centres
    rbf = RBFInterpolator(centres, displacement, kernel="thin_plate_spline",
                          neighbors=min(RBF_NEIGHBOURS, len(centres)))
    return lambda p: np.asarray(p, np.float64) + rbf(np.asarray(p, np.float64))


def transfer_weights(garment: Garment, body: BodyMesh, skeleton: Skeleton, overwrite: bool = False) -> Garment:
    """Skin weights for every garment vertex from the nearest body surface (the three corners blended by
    barycentric weight, top 4 renormalised), on the skeleton's joint names. A garment that already has
    weights keeps them unless `overwrite`."""
    if garment.joints is not None and not overwrite:
        return garment
    tri, bary, _, _ = BodySurface.from_body(body).nearest(garment.positions)
    corners = body.faces[tri]                                          # (N, 3)
    joints = body.joints[corners].reshape(len(tri), -1)                # (N, 12)
    weights = (body.weights[corners] * bary[:, :, None]).reshape(len(tri), -1)
    joints, weights = top_influences(joints, weights)
    return dataclasses.replace(garment, joint_names=list(skeleton.names), joints=joints,
                               weights=weights.astype(np.float32))


# --- avatars as fitting sources and targets ---------------------------------------------------

def avatar_path(avatar: str | Path) -> Path:
    """models/avatar/<name>.glb for an avatar name, or the given .glb path."""
    text = str(avatar)
    if text.lower().endswith((".glb", ".gltf")):
        return Path(avatar)
    if not AVATAR_NAME_PATTERN.match(text):
        raise WardrobeError(f"'{text}' is not an avatar name; use a name from models/avatar/ such as "
                            f"'{DEFAULT_SOURCE_AVATAR}', or a .glb path.")
    return model_path(f"{AVATAR_FOLDER}/{text}.glb")


def load_avatar_body(avatar: str | Path = DEFAULT_SOURCE_AVATAR) -> tuple[Skeleton, BodyMesh]:
    """The skeleton and body mesh of an avatar (by name or path), read once per file."""
    path = avatar_path(avatar)
    if not path.is_file():
        raise WardrobeError(f"avatar '{avatar}' not found at {path}. Run `make avatars` to build the default "
                            "avatars, or name an avatar .glb.")
    return _load_avatar_body(str(path.resolve()))


@lru_cache(maxsize=8)
def _load_avatar_body(path: str) -> tuple[Skeleton, BodyMesh]:
    skeleton = Skeleton.from_gltf(path)
    return skeleton, BodyMesh.from_gltf(path, skeleton)


def source_body(garment: Garment) -> BodyMesh:
    """The body the garment was modelled on: its aw_made_for.avatar, else the default avatar."""
    return load_avatar_body(garment.meta.source_avatar or DEFAULT_SOURCE_AVATAR)[1]


def fit_to_avatar(garment: Garment, avatar: str | Path) -> Garment:
    """The garment fitted from its source avatar onto `avatar`, with skin weights from that body when
    the garment has none."""
    skeleton, body = load_avatar_body(avatar)
    fitted = fit_garment(garment, source_body(garment), body)
    return transfer_weights(fitted, body, skeleton)


# --- helpers ---------------------------------------------------------------------------------

def _incidence(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """(V, max valence) triangles around each vertex, padded with -1."""
    flat = faces.ravel()
    order = np.argsort(flat, kind="stable")
    counts = np.bincount(flat, minlength=vertex_count)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    width = max(int(counts.max()), 1)
    out = np.full((vertex_count, width), -1, np.int64)
    rank = np.arange(len(flat)) - starts[flat[order]]
    out[flat[order], rank] = order // 3
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    length = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(length > TINY, v / np.where(length > TINY, length, 1.0), 0.0)
