"""Fitting garments to bodies: nearest-triangle binding (as MakeHuman's .mhclo), rebuild, weight transfer."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..avatar.body import BodyMesh
from ..avatar.skeleton import Skeleton
from ..errors import WardrobeError
from ..settings import model_path
from .garment import Garment
from .garment_io import AVATAR_NAME_PATTERN, DEFAULT_SOURCE_AVATAR, top_influences
from .geometry import TriangleSurface

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


class BodySurface(TriangleSurface):
    """A body's triangle mesh with what fitting needs besides nearest points: local frames."""

    def __init__(self, positions: np.ndarray, faces: np.ndarray, normals: np.ndarray | None = None):
        if len(np.asarray(faces)) == 0:
            raise WardrobeError("the body mesh has no triangles to fit a garment to.")
        super().__init__(positions, faces, None if normals is None else _unit(np.asarray(normals, np.float64)))

    @classmethod
    def from_body(cls, body: BodyMesh, faces: np.ndarray | None = None) -> "BodySurface":
        return cls(body.positions, body.faces if faces is None else faces, body.normals)

    def nearest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(triangle, barycentric, closest point, distance) on the surface for each point."""
        return self.closest(points)

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
    normals = _unit(normals)
    normals[np.abs(normals) < TINY] = 0.0  # rounding noise of the frame rotations: denormals as float32
    return dataclasses.replace(garment, positions=positions.astype(np.float32),
                               normals=normals.astype(np.float32), sim=sim)


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


def fitted_for(garment: Garment, avatar) -> Garment:
    """The garment ready to wear on `avatar` (an AvatarModel: its path, body and skeleton): refitted
    when it was made on another body, else given skin weights from this body if it has none."""
    if (garment.meta.source_avatar or DEFAULT_SOURCE_AVATAR) != Path(avatar.path).stem:
        return fit_to_avatar(garment, avatar.path)
    return transfer_weights(garment, avatar.body, avatar.skeleton)


# --- helpers ---------------------------------------------------------------------------------

def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    length = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(length > TINY, v / np.where(length > TINY, length, 1.0), 0.0)
