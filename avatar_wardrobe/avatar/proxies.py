"""Collision proxies fitted to the skinned body per bone (capsules, convex slabs), posed from the numpy FK."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull

from ..transforms import matrix_to_quat, normalize, quat_to_matrix, rotation_between
from .body import BodyMesh
from .skeleton import Skeleton

CAPSULE, HULL = 0, 1
# -- fitting constants ---------------------------------------------------------------------------
MIN_BONE_EXTENT_M = 0.06     # a bone whose dominated vertices span less than this (fingers) gets no
MIN_BONE_VERTICES = 40       # proxy of its own (nor one dominating fewer vertices than this): its
                             # vertices go to the nearest fitted ancestor
RADIUS_PERCENTILE = 95.0     # capsule radius: this percentile of the vertices' distance to the axis
LENGTH_PERCENTILES = (2.0, 98.0)  # the axis span kept (robust to stray vertices)
LIMB_PIECES = 2              # limb bones get this many capsules along them (a taper)
MIN_PIECE_VERTICES = 12
LIMB_HULL_OVERLAP_M = 0.03   # a limb's root hull reaches this far into the next piece
JOINT_OVERLAP = 0.5          # a limb's first capsule reaches back over its joint by this share of radius
TRUNK_SLAB_M = 0.05          # the trunk is cut into convex slabs this tall...
TRUNK_SLAB_OVERLAP_M = 0.015  # ...each reaching this far into its neighbours (no gaps between them)
TRUNK_TRIM_PERCENTILES = (0.5, 99.5)  # height range of the trunk kept (drops stray vertices)
MIN_SLAB_VERTICES = 12
MAX_HULL_VERTICES = 32       # hulls are thinned to this many vertices (collision cost grows with them)
MIN_RADIUS_M = 0.01


@dataclass
class ProxyPose:
    """The body's collision proxies in world space for one frame (glTF frame, metres).

    Every proxy is a rigid shape: kinds (C,) CAPSULE or HULL; centres (C, 3); orientations
    (C, 4) w, x, y, z of its local frame (a capsule's axis is local +Z); axes (C, 3) the world
    capsule axes; radii and half_lengths (C,) for capsules (0 for hulls); hulls[c] the local
    vertices and planes[c] the local outward plane equations (n, d) of a hull (None for
    capsules); bones (C,) the skeleton joint each follows; linear_velocity (C, 3) m/s and
    angular_velocity (C, 3) rad/s since the previous frame.
    """

    kinds: np.ndarray
    centres: np.ndarray
    orientations: np.ndarray
    axes: np.ndarray
    radii: np.ndarray
    half_lengths: np.ndarray
    hulls: tuple
    planes: tuple
    bones: np.ndarray
    linear_velocity: np.ndarray
    angular_velocity: np.ndarray

    def __len__(self) -> int:
        return len(self.kinds)

    def axis_points(self, capsules: np.ndarray, along: np.ndarray) -> np.ndarray:
        """(C, S, 3) points on the axes of the given capsules, at `along` (S,) shares of each half
        length from its centre (-1 and 1: the axis' ends)."""
        c = np.asarray(capsules, np.int64)
        return self.centres[c, None] + along[None, :, None] * (self.half_lengths[c, None, None] * self.axes[c, None])

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """Distance from each point to the nearest proxy surface; negative inside (N,)."""
        return self.distances(points).min(axis=1)

    def distances(self, points: np.ndarray) -> np.ndarray:
        """(N, C) signed distance of every point to every proxy.

        Exact for capsules and inside hulls; outside a hull it is the distance to the farthest
        face plane (a lower bound, exact near the faces)."""
        points = np.asarray(points, dtype=np.float64)
        out = np.empty((len(points), len(self)))
        cap = self.kinds == CAPSULE
        if cap.any():
            out[:, cap] = capsule_distance(points, self.centres[cap], self.axes[cap], self.half_lengths[cap],
                                           self.radii[cap])
        rot = quat_to_matrix(self.orientations)
        for c in np.flatnonzero(~cap):
            local = (points - self.centres[c]) @ rot[c]
            out[:, c] = (local @ self.planes[c][:, :3].T + self.planes[c][:, 3]).max(axis=1)
        return out

    def subset(self, index: np.ndarray) -> "ProxyPose":
        index = np.asarray(index, dtype=np.int64)
        arrays = {f: getattr(self, f)[index] for f in ("kinds", "centres", "orientations", "axes", "radii",
                                                        "half_lengths", "bones", "linear_velocity",
                                                        "angular_velocity")}
        return ProxyPose(hulls=tuple(self.hulls[i] for i in index), planes=tuple(self.planes[i] for i in index),
                         **arrays)


def capsule_distance(points, centres, axes, half_lengths, radii) -> np.ndarray:
    """(N, C) signed distance of every point to every capsule."""
    rel = points[:, None, :] - centres[None, :, :]
    t = np.clip(np.einsum("ncj,cj->nc", rel, axes), -half_lengths, half_lengths)
    closest = rel - t[..., None] * axes[None]
    return np.linalg.norm(closest, axis=2) - radii


@dataclass
class BodyProxies:
    """Proxies fitted in the bind pose; each rides rigidly on one bone's skin matrix."""

    kinds: np.ndarray         # (C,) CAPSULE or HULL
    bones: np.ndarray         # (C,) skeleton joint each proxy follows
    centres: np.ndarray       # (C, 3) bind-pose centre
    frames: np.ndarray        # (C, 3, 3) bind-pose local frame (columns; a capsule's axis is +Z)
    radii: np.ndarray         # (C,) capsules (0 for hulls)
    half_lengths: np.ndarray  # (C,)
    hulls: tuple              # per proxy: local hull vertices (K, 3) or None
    planes: tuple             # per proxy: local plane equations (F, 4) or None
    names: list[str]          # bone name, with a piece number where a bone has several

    def __len__(self) -> int:
        return len(self.kinds)

    @classmethod
    def fit(cls, skeleton: Skeleton, body: BodyMesh, trunk: tuple[str, ...] = (),
            up: np.ndarray | None = None) -> "BodyProxies":
        """Fit proxies from the vertices each bone dominates.

        `trunk` names the hips and spine bones (pelvis side first): their vertices (and those of
        the hips' children above their joints: the top of the thighs) are cut into horizontal
        convex slabs, because a trunk is neither round nor a capsule. Every other bone with
        enough vertices gets capsules along its bone (limbs, tapered in pieces) or along its
        vertices' main axis (end bones: head, hands, toes).
        """
        trunk_idx = [skeleton.index(n) for n in trunk]
        owner, carrier = _owners(skeleton, body)
        bind_pos = skeleton.bind_world[:, :3, 3]
        out = _Builder()
        in_trunk = np.zeros(len(body.positions), bool)
        if trunk_idx:
            up = bind_pos[trunk_idx[-1]] - bind_pos[trunk_idx[0]] if up is None else up
            up = normalize(np.asarray(up, float))
            in_trunk = _fit_trunk(out, skeleton, body, owner, trunk_idx, up)
        for j in range(len(skeleton)):
            mine = (owner == j) & ~in_trunk  # the top of a thigh is the trunk's, not the thigh capsule's
            if j not in trunk_idx and mine.sum() >= MIN_PIECE_VERTICES:
                parent = skeleton.parents[j]
                from_trunk = parent >= 0 and carrier[parent] in trunk_idx
                _fit_capsules(out, skeleton, body.positions[mine], j, owner, from_trunk)
        return out.build()

    @classmethod
    def for_avatar(cls, avatar) -> "BodyProxies":
        """Fit to an AvatarModel, using its rig map for the trunk."""
        rig = avatar.rig
        return cls.fit(avatar.skeleton, avatar.body, (rig.hips, *rig.spine), avatar.solver.rest.body[:, 1])

    def pose(self, skin: np.ndarray, previous: ProxyPose | None = None, dt: float = 1 / 30,
             index: np.ndarray | None = None) -> ProxyPose:
        """Place the proxies (all, or those in `index`) with per-joint skin matrices (world @
        inverse bind); velocities from the previous ProxyPose over dt seconds (else zero)."""
        index = np.arange(len(self)) if index is None else np.asarray(index, dtype=np.int64)
        m = skin[self.bones[index]]
        rot = _orthonormal(m[:, :3, :3])
        centres = np.einsum("cij,cj->ci", m[:, :3, :3], self.centres[index]) + m[:, :3, 3]
        frames = np.einsum("cij,cjk->cik", rot, self.frames[index])
        orientations = matrix_to_quat(frames)
        if previous is None or len(previous) != len(index):
            lin = np.zeros_like(centres)
            ang = np.zeros_like(centres)
        else:
            lin = (centres - previous.centres) / dt
            ang = angular_velocity(previous.orientations, orientations, dt)
        return ProxyPose(self.kinds[index].copy(), centres, orientations, frames[:, :, 2].copy(),
                         self.radii[index].copy(), self.half_lengths[index].copy(),
                         tuple(self.hulls[i] for i in index), tuple(self.planes[i] for i in index),
                         self.bones[index].copy(), lin, ang)

    def rest(self, index: np.ndarray | None = None) -> ProxyPose:
        joints = int(self.bones.max()) + 1
        return self.pose(np.broadcast_to(np.eye(4), (joints, 4, 4)).copy(), index=index)

    def near(self, points: np.ndarray, reach: float) -> np.ndarray:
        """Indices of the proxies within `reach` metres of any of the bind-pose points."""
        return np.flatnonzero(self.rest().distances(points).min(axis=0) <= reach)


class _Builder:
    def __init__(self):
        self.rows: list[tuple] = []

    def add(self, kind, bone, centre, frame, radius, half, hull, planes, name):
        self.rows.append((kind, bone, centre, frame, radius, half, hull, planes, name))

    def build(self) -> BodyProxies:
        k, b, c, f, r, h, hull, planes, names = zip(*self.rows)
        return BodyProxies(np.array(k), np.array(b), np.array(c), np.array(f), np.array(r, float), np.array(h, float),
                           tuple(hull), tuple(planes), list(names))


def _fit_trunk(out: _Builder, skeleton: Skeleton, body: BodyMesh, owner, trunk_idx, up) -> np.ndarray:
    """Add the trunk's convex slabs; returns which body vertices they cover."""
    bind_pos = skeleton.bind_world[:, :3, 3]
    hips = trunk_idx[0]
    legs = [c for c in skeleton.children(hips) if c not in trunk_idx]
    h_all = body.positions @ up
    in_trunk = np.isin(owner, trunk_idx)
    for leg in legs:  # the top of the thighs belongs to the trunk's shape
        in_trunk |= (owner == leg) & (h_all > bind_pos[leg] @ up)
    pts = body.positions[in_trunk]
    h = h_all[in_trunk]
    lo, hi = np.percentile(h, TRUNK_TRIM_PERCENTILES)
    count = max(2, int(np.ceil((hi - lo) / TRUNK_SLAB_M)))
    edges = np.linspace(lo, hi, count + 1)
    joint_h = bind_pos[trunk_idx] @ up
    for k in range(count):
        sel = (h >= edges[k] - TRUNK_SLAB_OVERLAP_M) & (h <= edges[k + 1] + TRUNK_SLAB_OVERLAP_M)
        if sel.sum() < MIN_SLAB_VERTICES:
            continue
        made = _hull(pts[sel])
        if made is None:
            continue
        centre, local, planes = made
        below = np.flatnonzero(joint_h <= 0.5 * (edges[k] + edges[k + 1]))
        bone = trunk_idx[int(below[-1]) if len(below) else 0]  # the trunk joint that carries the slab
        out.add(HULL, bone, centre, np.eye(3), 0.0, 0.0, local, planes, f"{skeleton.names[bone]}#{k}")
    return in_trunk


def _hull(points: np.ndarray):
    """(local vertices, planes) of the convex hull of points around their mean, with at most
    MAX_HULL_VERTICES vertices (farthest-point picks among the hull's own: the collision cost
    grows with the vertex count); None when the points are degenerate."""
    centre = points.mean(axis=0)
    try:
        verts = (points - centre)[ConvexHull(points - centre).vertices]
        if len(verts) > MAX_HULL_VERTICES:
            pick = [int(np.argmax(np.linalg.norm(verts, axis=1)))]
            dist = np.linalg.norm(verts - verts[pick[0]], axis=1)
            while len(pick) < MAX_HULL_VERTICES:
                pick.append(int(np.argmax(dist)))
                dist = np.minimum(dist, np.linalg.norm(verts - verts[pick[-1]], axis=1))
            verts = verts[pick]
            hull = ConvexHull(verts)
            verts = verts[hull.vertices]
        hull = ConvexHull(verts)
    except Exception:  # flat or degenerate (scipy raises QhullError)
        return None
    return centre, verts, _unique_planes(hull.equations)


def _unique_planes(equations: np.ndarray) -> np.ndarray:
    return np.unique(np.round(equations, 9), axis=0)


def _fit_capsules(out: _Builder, skeleton: Skeleton, pts: np.ndarray, j: int, owner: np.ndarray,
                  from_trunk: bool = False) -> None:
    """Capsules along a bone; a limb's first piece next to the trunk (thigh and buttock, shoulder)
    is a convex hull instead, since the soft tissue there is far from round."""
    bind_pos = skeleton.bind_world[:, :3, 3]
    child = _main_child(skeleton, j, owner)
    if child is not None:  # a limb: the axis runs joint to child joint, tapered in pieces
        start = bind_pos[j]
        axis = normalize(bind_pos[child] - start)
        cuts = np.linspace(0.0, float(np.dot(bind_pos[child] - start, axis)), LIMB_PIECES + 1)
    else:  # an end bone (head, hand, toes): the main axis of its vertices, through them
        start = pts.mean(0)
        axis = np.linalg.svd(pts - start, full_matrices=False)[2][0]
        if np.dot(start - bind_pos[j], axis) < 0:
            axis = -axis
        cuts = None
    t = (pts - start) @ axis
    dist = np.linalg.norm(pts - start - t[:, None] * axis, axis=1)
    if cuts is None:
        pieces = [(np.ones(len(t), bool), *np.percentile(t, LENGTH_PERCENTILES))]
    else:
        lo_all, hi_all = np.percentile(t, LENGTH_PERCENTILES)
        cuts[0], cuts[-1] = min(cuts[0], lo_all), max(cuts[-1], hi_all)
        pieces = [((t >= a) & (t <= b), a, b) for a, b in zip(cuts[:-1], cuts[1:])]
    frame = rotation_between(np.array([0.0, 0.0, 1.0]), axis)
    for k, (sel, a, b) in enumerate(pieces):
        if sel.sum() < MIN_PIECE_VERTICES:
            continue
        if k == 0 and from_trunk and cuts is not None:
            made = _hull(pts[(t <= b + LIMB_HULL_OVERLAP_M)])
            if made is not None:  # (else a capsule, below)
                out.add(HULL, j, made[0], np.eye(3), 0.0, 0.0, made[1], made[2], f"{skeleton.names[j]}#{k}")
                continue
        r = max(float(np.percentile(dist[sel], RADIUS_PERCENTILE)), MIN_RADIUS_M)
        lo, hi = np.percentile(t[sel], LENGTH_PERCENTILES)
        lo, hi = max(lo, a), min(hi, b)
        if cuts is None:
            lo, hi = lo + r, hi - r
        else:  # the cap spheres sit on the cut points, so neighbouring pieces meet
            lo = max(lo + r, a - JOINT_OVERLAP * r) if k == 0 else a
            hi = min(hi - r, b) if k == len(pieces) - 1 else b
        if hi < lo:
            lo = hi = 0.5 * (lo + hi)
        name = skeleton.names[j] if len(pieces) == 1 else f"{skeleton.names[j]}#{k}"
        out.add(CAPSULE, j, start + axis * 0.5 * (lo + hi), frame, r, 0.5 * (hi - lo), None, None, name)


def angular_velocity(q0: np.ndarray, q1: np.ndarray, dt: float) -> np.ndarray:
    """(C, 3) world angular velocity that turns orientations q0 into q1 (w, x, y, z) in dt."""
    r = np.einsum("cij,ckj->cik", quat_to_matrix(q1), quat_to_matrix(q0))  # R1 R0^T
    cos = np.clip((np.trace(r, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
    angle = np.arccos(cos)
    vec = np.stack([r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], axis=1)
    s = np.linalg.norm(vec, axis=1)
    scale = np.where(s > 1e-9, angle / np.maximum(s, 1e-9), 0.5)
    return vec * scale[:, None] / dt


def _orthonormal(rot: np.ndarray) -> np.ndarray:
    """Strip scale from (C, 3, 3) rotation-and-scale matrices (column norms)."""
    return rot / np.maximum(np.linalg.norm(rot, axis=1, keepdims=True), 1e-12)


def _dominant(body: BodyMesh) -> np.ndarray:
    return body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]


def _owners(skeleton: Skeleton, body: BodyMesh) -> np.ndarray:
    """Each body vertex's fitted bone (its dominant joint, or the nearest ancestor with a proxy),
    and per joint the fitted bone that carries it."""
    dom = _dominant(body)
    keep = np.zeros(len(skeleton), bool)
    for j in range(len(skeleton)):
        pts = body.positions[dom == j]
        if len(pts) >= MIN_BONE_VERTICES and np.ptp(pts, axis=0).max() >= MIN_BONE_EXTENT_M:
            keep[j] = True
    target = np.arange(len(skeleton))
    for j in range(len(skeleton)):  # parents come first, so one pass resolves chains
        if not keep[j]:
            p = skeleton.parents[j]
            target[j] = target[p] if p >= 0 else j
    owner = target[dom]
    owner[~keep[owner]] = -1
    return owner, target


def _main_child(skeleton: Skeleton, j: int, owner: np.ndarray) -> int | None:
    """The one child joint that continues a limb (it owns vertices), if there is exactly one."""
    kids = [c for c in skeleton.children(j) if (owner == c).any()]
    return kids[0] if len(kids) == 1 else None
