"""Keep final garment vertices out of the body: limb-proxy push-out and a skinned-trunk backstop (numpy).

PyBullet keeps the simulated cloth out of the proxies, but the final vertex is the skinned place
plus a clamped offset (Chaos max distance): where a limb swings into the garment (a raised knee
under a skirt, a forearm across a shirt), the skinned place is inside the limb and the clamp
pulls the vertex back in; and a garment's smoothed skin weights let it lag its own body part.
Two passes run after the clamp: `PushOut` moves each vertex out of the limb proxies (capsules
and hulls of every non-trunk bone) whose bone carries little of its skin weight; `BodyBackstop`
keeps each vertex that lies close over the trunk at its rest clearance above the tangent plane
of the skinned body vertex under it.
"""
from __future__ import annotations

import numpy as np

from ..avatar.proxies import CAPSULE, BodyProxies, ProxyPose
from ..transforms import quat_to_matrix

PUSH_MARGIN_M = 0.003        # vertices end this far outside the proxy surface
OWN_BONE_WEIGHT = 0.5        # a vertex this much skinned to a proxy's bone rides it: no push from it
REST_CLEARANCE_M = 0.0       # ...nor one closer than this to the proxy in the bind pose
PASSES = 3                   # limb proxies overlap at the joints: a push out of one can end in the next
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
        self.capsule = proxies.kinds[self.index] == CAPSULE
        self.radii = proxies.radii[self.index]
        self.half = proxies.half_lengths[self.index]
        self.planes = [proxies.planes[i] for i in self.index]
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

    def candidates(self, pose: ProxyPose, nodes: np.ndarray, corners: np.ndarray, reach: float) -> np.ndarray:
        """The points that may be inside a limb proxy, found on a coarse stand-in: `nodes` (S, 3) the
        sim nodes they ride on, `corners` (V, K) the nodes each point rides on, `reach` how far a
        point can be from its nodes. Pass them to __call__."""
        d2 = (np.einsum("ni,ni->n", nodes, nodes)[:, None] - 2.0 * nodes @ pose.centres.T
              + np.einsum("ci,ci->c", pose.centres, pose.centres))
        near = (d2 < (self.bound + reach) ** 2).any(axis=1)
        return np.flatnonzero(near[corners].any(axis=1))

    def __call__(self, points: np.ndarray, pose: ProxyPose, candidates: np.ndarray | None = None
                 ) -> tuple[np.ndarray, int]:
        """Points (V, 3) moved out of the limb proxies (`pose`: this object's `index`, posed;
        `candidates`: only these points may be moved, see candidates()); returns (points, number of
        points moved). `points` is not modified."""
        if not len(self):
            return points, 0
        active = np.arange(len(self))
        centres, bound2 = pose.centres[active], self.bound[active] ** 2
        rots = quat_to_matrix(pose.orientations[active])
        allowed = self.allowed[active]
        out, moved = points, np.zeros(len(points), bool)
        candidates = np.arange(len(points)) if candidates is None else np.asarray(candidates, np.int64)
        for _ in range(PASSES):  # later passes look only at what the previous one moved
            if not len(candidates):
                break
            # The (vertex, proxy) pairs inside a proxy's bounding sphere, by one product.
            sub = out[candidates]
            d2 = (np.einsum("vi,vi->v", sub, sub)[:, None] - 2.0 * sub @ centres.T
                  + np.einsum("ci,ci->c", centres, centres))
            ok = allowed if len(candidates) == len(points) else allowed[:, candidates]
            rows, cols = np.nonzero((d2 < bound2) & ok.T)
            rows = candidates[rows]
            if not len(rows):
                break
            # Every (vertex, proxy) push; a vertex in several proxies takes the deepest one's way out
            # (at a joint the shortest way out of one limb piece often ends inside the next).
            verts, targets = [], []
            cap = self.capsule[active[cols]]
            if cap.any():
                v, c = rows[cap], cols[cap]
                hit, pos = self._capsules(out[v], centres[c], pose.axes[active[c]], self.half[active[c]],
                                          self.radii[active[c]] + self.margin[active[c]])
                verts.append(v[hit])
                targets.append(pos if len(hit) else np.zeros((0, 3)))
            for k in np.unique(cols[~cap]):
                v = rows[cols == k]
                hit, pos = self._hull(out[v], centres[k], rots[k], active[k])
                verts.append(v[hit])
                targets.append(pos if len(hit) else np.zeros((0, 3)))
            pushed = np.zeros(len(points), bool)
            verts = np.concatenate(verts) if verts else np.zeros(0, np.int64)
            if len(verts):
                targets = np.concatenate(targets)
                step = np.einsum("vi,vi->v", targets - out[verts], targets - out[verts])
                order = np.lexsort((step, verts))             # per vertex, the longest push last...
                verts, targets = verts[order], targets[order]
                out = points.copy() if out is points else out
                out[verts] = targets                          # ...so it is the one written
                pushed[verts] = True
            moved |= pushed
            candidates = np.flatnonzero(pushed)
            if not len(candidates):
                break
        return out, int(moved.sum())

    def _capsules(self, p, centre, axis, half, radius):
        """Per pair: point p (N, 3) against capsule (centre, axis, half, radius with the margin) (N, ...)."""
        rel = p - centre
        t = np.clip(np.einsum("ni,ni->n", rel, axis), -half, half)
        radial = rel - t[:, None] * axis
        dist = np.sqrt(np.einsum("ni,ni->n", radial, radial))
        hit = np.flatnonzero(dist < radius)
        if not len(hit):
            return hit, None
        r, length, ax = radial[hit], dist[hit], axis[hit]
        # On the axis itself any direction is outward: take one perpendicular to the axis.
        fallback = np.cross(ax, [1.0, 0.0, 0.0])
        fallback[np.linalg.norm(fallback, axis=1) < 1e-6] = [0.0, 0.0, 1.0]
        direction = np.where((length > EPS)[:, None], r / np.maximum(length, EPS)[:, None],
                             fallback / np.linalg.norm(fallback, axis=1, keepdims=True))
        return hit, centre[hit] + t[hit, None] * ax + direction * radius[hit, None]

    def _hull(self, p, centre, rot, c):
        local = (p - centre) @ rot
        box = np.flatnonzero(((local >= self.box_lo[c]) & (local <= self.box_hi[c])).all(axis=1))
        if not len(box):
            return box, None
        planes = self.planes[c]
        side = local[box] @ planes[:, :3].T + planes[:, 3]  # (v, F) signed distance to each face plane
        best = side.argmax(axis=1)
        depth = side[np.arange(len(box)), best]
        inside = np.flatnonzero(depth < self.margin[c])
        if not len(inside):
            return inside, None
        hit = box[inside]
        n = planes[best[inside], :3]
        local_new = local[hit] + (self.margin[c] - depth[inside])[:, None] * n
        return hit, local_new @ rot.T + centre


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
