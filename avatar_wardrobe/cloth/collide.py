"""Keep final garment vertices out of the body: limb-proxy push-out, limb-skin push-out, a skinned-trunk backstop.

PyBullet keeps the simulated cloth out of the proxies, but the final vertex is the skinned place
plus a clamped offset (Chaos max distance): where a limb swings into the garment (a raised knee
under a skirt, a forearm across a shirt), the skinned place is inside the limb and the clamp
pulls the vertex back in; and a garment's smoothed skin weights let it lag its own body part.
Passes run after the clamp: `PushOut` moves each vertex out of the limb proxies (capsules
and hulls of every non-trunk bone) whose bone carries little of its skin weight; `BodyBackstop`
keeps each vertex that lies close over the trunk at its rest clearance above the tangent plane
of the skinned body vertex under it. `LimbSkin` keeps loose cloth along the legs (a skirt) or
the arms (a shirt's side under the arm) out of the posed limb skin itself: a thigh is wider than
its capsule by up to ~2.5 cm, and inflating the capsules instead (`PushOut(body=...)`) pushed
shirts and trousers out where the skin is thin.
"""
from __future__ import annotations

import numpy as np

from ..avatar.proxies import CAPSULE, BodyProxies, ProxyPose
from ..transforms import quat_to_matrix
from . import kernels

PUSH_MARGIN_M = 0.003        # vertices end this far outside the proxy surface
OWN_BONE_WEIGHT = 0.5        # a vertex this much skinned to a proxy's bone rides it: no push from it
REST_CLEARANCE_M = 0.0       # ...nor one closer than this to the proxy in the bind pose
PASSES = 3                   # limb proxies overlap at the joints: a push out of one can end in the next
LIMB_ROLES = (("upper_leg", "lower_leg"), ("upper_arm", "lower_arm"))  # LimbSkin's limbs: top bone, axis end
LIMB_REACH_M = 0.04          # LimbSkin: vertices from this far above the limb's top joint, along it, down...
LIMB_MAX_DEPTH_M = 0.06      # ...are pushed out of its skin when behind it by at most this (deeper, the nearest
                             # skin point is across a fold: a thigh pressed into the trunk)
LIMB_REACH_SKIN_M = 0.075    # the nearest limb-skin point is looked for this far (max depth + skin spacing)
LIMB_GRID_CELL_M = 0.075     # the posed limb skin's lookup grid (one ring of cells covers the reach; 0.025:
                             # +50% time on the skirt, more cells to visit)
LIMB_PASSES = 2
FIT_PERCENTILE = 99.0        # with the body: each proxy's margin grows by this percentile of how far its
MAX_FIT_MARGIN_M = 0.025     # own skin lies outside it (a thigh is wider than its capsule), up to this
EPS = 1e-12


class PushOut:
    """Per garment: the limb proxies its vertices may be pushed out of, and which vertices each may push."""

    def __init__(self, proxies: BodyProxies, trunk_bones, joints: np.ndarray, weights: np.ndarray,
                 margin: float = PUSH_MARGIN_M, rest_points: np.ndarray | None = None, parents=None, body=None):
        """trunk_bones: joint indices of the hips and spine (their proxies are left out); joints,
        weights: (V, K) the garment vertices' skin influences; rest_points: the vertices in the
        bind pose (a vertex already inside a proxy there, such as a sleeveless top's armhole on
        the shoulder, is not pushed out of it: it would wrap around the limb); parents: the
        skeleton's parent per joint (a vertex rides a limb by the weight of the proxy's bone, its
        children and its parent when that is a limb bone too: a trouser leg split between thigh
        and calf is the leg's); body: the avatar's BodyMesh (bind pose): each proxy's margin then also
        covers the skin of its bone that lies outside it (FIT_PERCENTILE), since garments are measured
        against the skin, not the proxies. Pose `self.index` of the proxies each frame and pass that
        ProxyPose."""
        self.index = np.flatnonzero(~np.isin(proxies.bones, list(trunk_bones)))
        self.margin = np.full(len(self.index), float(margin))
        if body is not None and len(self.index):
            self.margin += _fit_margins(proxies, self.index, body)
        count = len(self.index)
        # (V, C) the vertex may be pushed by proxy c: its bone carries < OWN_BONE_WEIGHT of the vertex
        own = np.zeros((len(joints), count))
        limb_bones = set(int(b) for b in proxies.bones[self.index])
        for c, bone in enumerate(proxies.bones[self.index]):
            chain = {int(bone)}
            if parents is not None:
                chain |= {j for j, p in enumerate(parents) if p == bone}
                if int(parents[bone]) in limb_bones:  # the limb above (thigh over calf; not a clavicle)
                    chain.add(int(parents[bone]))
            own[:, c] = np.where(np.isin(joints, list(chain)), weights, 0.0).sum(axis=1)
        allowed = own < OWN_BONE_WEIGHT
        if rest_points is not None and count:
            allowed &= proxies.rest(self.index).distances(rest_points) > REST_CLEARANCE_M
        self.allowed = np.ascontiguousarray(allowed.T)  # (C, V)
        self._allowed_vc = np.ascontiguousarray(allowed)  # (V, C): the kernel walks a vertex's proxies
        self.capsule = proxies.kinds[self.index] == CAPSULE
        self.radii = proxies.radii[self.index]
        self.half = proxies.half_lengths[self.index]
        self._reach = np.where(self.capsule, self.radii + self.margin, 0.0)  # a capsule's radius with the margin
        self._planes = kernels.pack_planes([proxies.planes[i] for i in self.index])
        # Bounding radius of each proxy around its centre (culls vertices before the exact test).
        bound = np.where(self.capsule, self.radii + self.half, 0.0)
        for c in np.flatnonzero(~self.capsule):
            bound[c] = np.linalg.norm(proxies.hulls[self.index[c]], axis=1).max()
        self.bound = bound + self.margin
        self.box_lo = np.zeros((count, 3))             # hulls' local boxes (a cheaper test before the planes)
        self.box_hi = np.zeros((count, 3))
        for c in np.flatnonzero(~self.capsule):
            h = proxies.hulls[self.index[c]]
            self.box_lo[c], self.box_hi[c] = h.min(axis=0) - self.margin[c], h.max(axis=0) + self.margin[c]

    def __len__(self) -> int:
        return len(self.index)

    def __call__(self, points: np.ndarray, pose: ProxyPose, candidates: np.ndarray | None = None
                 ) -> tuple[np.ndarray, int]:
        """Points (V, 3) moved out of the limb proxies (`pose`: this object's `index`, posed;
        `candidates`: only these points may be moved); returns (points, number of points moved).
        Every allowed (point, proxy) pair is tested, after a bounding-sphere cull, in compiled
        code (cloth/kernels.py). `points` is not modified."""
        if not len(self):
            return points, 0
        points = np.ascontiguousarray(points, np.float64)
        candidates = (np.arange(len(points)) if candidates is None
                      else np.flatnonzero(candidates) if candidates.dtype == bool else np.asarray(candidates, np.int64))
        out = points.copy()
        moved = kernels.push_out(points, candidates, self._allowed_vc, pose.centres, pose.axes,
                                 quat_to_matrix(pose.orientations), self.half, self._reach, self.capsule, self.bound,
                                 self.box_lo, self.box_hi, self._planes, self.margin, PASSES, out)
        return (out, moved) if moved else (points, 0)


def _fit_margins(proxies: BodyProxies, index: np.ndarray, body) -> np.ndarray:
    """(C,) how far each proxy's own skin (the body vertices its bone dominates, nearest to it among
    that bone's proxies) lies outside it: FIT_PERCENTILE, capped at MAX_FIT_MARGIN_M."""
    dominant = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]
    rest = proxies.rest(index)
    out = np.zeros(len(index))
    bones = proxies.bones[index]
    for bone in np.unique(bones):
        mine = np.flatnonzero(bones == bone)
        pts = body.positions[dominant == bone]
        if not len(pts):
            continue
        d = rest.distances(pts)[:, mine]
        nearest = d.argmin(axis=1)
        for k, c in enumerate(mine):
            outside = np.maximum(d[nearest == k, k], 0.0)
            if len(outside):
                out[c] = min(float(np.percentile(outside, FIT_PERCENTILE)), MAX_FIT_MARGIN_M)
    return out


class BodyBackstop:
    """Each garment vertex close over the trunk keeps its rest clearance (at most `slack`) above the
    tangent plane of the body vertex under it, skinned with the body's own weights."""

    def __init__(self, body, points: np.ndarray, trunk_bones, skin_factory, reach: float, slack: float):
        """body: the avatar's BodyMesh (bind pose); points: garment rest positions; reach: vertices
        farther than this from the body are left free; skin_factory(joints, weights, points,
        normals) -> an object with positions_normals(skin)."""
        from scipy.spatial import cKDTree

        dominant = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]
        self.vertices = np.zeros(0, np.int64)
        _, under = cKDTree(body.positions).query(points)
        gap = np.einsum("vi,vi->v", points - body.positions[under], body.normals[under])
        over_trunk = np.isin(dominant[under], list(trunk_bones))  # the body under it is the trunk's
        keep = over_trunk & (gap > -slack) & (gap < reach)  # ...and it is not already inside at rest
        self.vertices = np.flatnonzero(keep)
        self.clearance = np.minimum(np.maximum(gap[keep], 0.0), slack)
        uniq, self.which = np.unique(under[keep], return_inverse=True)
        self.skin = skin_factory(body.joints[uniq], body.weights[uniq], body.positions[uniq], body.normals[uniq])

    def __call__(self, points: np.ndarray, skin: np.ndarray) -> tuple[np.ndarray, int]:
        """Points (V, 3) lifted out to their clearance; returns (points, number moved)."""
        if not len(self.vertices):
            return points, 0
        base, normal = self.skin.positions_normals(skin)
        base, normal = base[self.which], normal[self.which]
        p = points[self.vertices]
        lift = self.clearance - np.einsum("vi,vi->v", p - base, normal)
        hit = lift > 0
        if not hit.any():
            return points, 0
        out = points.copy()
        out[self.vertices[hit]] = p[hit] + lift[hit, None] * normal[hit]
        return out, int(hit.sum())


class LimbSkin:
    """Loose garment vertices along a pair of limbs (the legs by default) are kept in front of the
    posed limb skin: each is tested against the tangent plane of the nearest skinned limb vertex
    (found in a uniform grid built each frame, compiled: cloth/kernels.py) and moved out to the
    margin along its normal."""

    def __init__(self, body, skeleton, rig, points: np.ndarray, candidates: np.ndarray, skin_factory,
                 margin: float = PUSH_MARGIN_M,
                 roles: tuple[str, str] = ("upper_leg", "lower_leg")):
        """body: the avatar's BodyMesh (bind pose); rig: its RigMap (a leg is the upper_leg bone of
        `roles` and every bone below it; the other role's joint sets the leg's axis);
        points: the garment's rest vertices; candidates: the
        vertices that may leave their skinned place (max distance > 0); skin_factory as for
        BodyBackstop. Unlike PushOut, a vertex skinned to the limb itself is pushed too (a shipped
        skirt's hem skinned to the thigh, a trouser leg): the skin, unlike a capsule, is outside every
        garment at rest."""
        parents = skeleton.parents
        legs, axes = [], []
        for side in ("l", "r"):
            upper, lower = rig.limb(roles[0], side), rig.limb(roles[1], side)
            if upper is None or lower is None:
                continue
            top, knee = skeleton.index(upper), skeleton.index(lower)
            legs.append(top)
            a, b = skeleton.bind_world[top, :3, 3], skeleton.bind_world[knee, :3, 3]
            axes.append((a, (b - a) / max(float(np.linalg.norm(b - a)), EPS)))
        leg = np.zeros(len(parents), bool)
        for j in range(len(parents)):  # parents first: a leg bone is one below an upper leg
            leg[j] = j in legs or (parents[j] >= 0 and leg[parents[j]])
        dominant = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]
        on_leg = leg[dominant]
        along = np.zeros(len(points), bool)
        for a, axis in axes:
            along |= (points - a) @ axis > -LIMB_REACH_M
        mine = np.zeros(len(points), bool)
        mine[np.asarray(candidates, np.int64)] = True
        self.vertices = np.flatnonzero(mine & along) if on_leg.any() else np.zeros(0, np.int64)
        self.margin = float(margin)
        self.skin = skin_factory(body.joints[on_leg], body.weights[on_leg], body.positions[on_leg],
                                 body.normals[on_leg])

    def __len__(self) -> int:
        return len(self.vertices)

    def __call__(self, points: np.ndarray, skin: np.ndarray) -> tuple[np.ndarray, int]:
        """Points (V, 3) moved out of the posed limb skin; returns (points, number moved). `points`
        is not modified."""
        if not len(self.vertices):
            return points, 0
        surface, normals = self.skin.positions_normals(skin)
        points = np.ascontiguousarray(points, np.float64)
        out = points.copy()
        moved = kernels.push_out_of_surface(points, self.vertices, surface, normals, LIMB_GRID_CELL_M,
                                            LIMB_REACH_SKIN_M, self.margin, LIMB_MAX_DEPTH_M, LIMB_PASSES, out)
        return (out, moved) if moved else (points, 0)
