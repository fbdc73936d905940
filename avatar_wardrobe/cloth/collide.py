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
        self.words = max(1, -(-count // 64))               # ...and as bits per vertex, for pairs()
        self.bits = np.left_shift(np.uint64(1), (np.arange(count) % 64).astype(np.uint64))
        self.allowed_bits = np.zeros((len(joints), self.words), np.uint64)
        for c in range(count):
            self.allowed_bits[allowed[:, c], c // 64] |= self.bits[c]
        self.capsule = proxies.kinds[self.index] == CAPSULE
        self.radii = proxies.radii[self.index]
        self.half = proxies.half_lengths[self.index]
        self.planes = [proxies.planes[i] for i in self.index]
        # Bounding radius of each proxy around its centre (culls vertices before the exact test).
        bound = np.where(self.capsule, self.radii + self.half, 0.0)
        for c in np.flatnonzero(~self.capsule):
            bound[c] = np.linalg.norm(proxies.hulls[self.index[c]], axis=1).max()
        self.bound = bound + self.margin
        self._rot_of, self._rot = None, None
        self.box_lo = np.zeros((count, 3))             # hulls' local boxes (a cheaper test before the planes)
        self.box_hi = np.zeros((count, 3))
        for c in np.flatnonzero(~self.capsule):
            h = proxies.hulls[self.index[c]]
            self.box_lo[c], self.box_hi[c] = h.min(axis=0) - self.margin[c], h.max(axis=0) + self.margin[c]

    def __len__(self) -> int:
        return len(self.index)

    def pairs(self, pose: ProxyPose, nodes: np.ndarray, corners: np.ndarray, reach: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """The (point, proxy) pairs where a point may be inside a limb proxy, found on coarse
        stand-ins: `nodes` (S, 3) the sim nodes the points ride on, `corners` (V, 3K) the three
        nodes each point rides on in each of K stand-ins, `reach` (S,) how far a point can be from
        each node. A point inside a proxy (with its margin) has all three of its nodes within
        their reach of it: each node is tested against each proxy exactly (capsules) or by the
        hull's local box, after a bounding-sphere cull; a pair is kept when all three nodes of
        one stand-in are near (one near node, as before, gave 2-3x the pairs on the shirt). Pass
        them to __call__."""
        empty = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if not len(self):
            return empty
        d2 = (np.einsum("ni,ni->n", nodes, nodes)[:, None] - 2.0 * nodes @ pose.centres.T
              + np.einsum("ci,ci->c", pose.centres, pose.centres))
        n, c = np.nonzero(d2 < (self.bound + reach[:, None]) ** 2)
        keep = np.zeros(len(n), bool)
        cap = self.capsule[c]
        ni, ci = n[cap], c[cap]
        radial, _ = _segment_offset(nodes[ni], pose.centres[ci], pose.axes[ci], self.half[ci])
        limit = self.radii[ci] + self.margin[ci] + reach[ni]
        keep[cap] = np.einsum("ni,ni->n", radial, radial) < limit * limit
        hull = np.flatnonzero(~cap)
        if len(hull):
            ci = c[hull]
            local = np.einsum("nij,ni->nj", self._rotations(pose)[ci], nodes[n[hull]] - pose.centres[ci])
            r = reach[n[hull], None]
            keep[hull] = ((local >= self.box_lo[ci] - r) & (local <= self.box_hi[ci] + r)).all(axis=1)
        n, c = n[keep], c[keep]
        if not len(n):
            return empty
        # Proxies as bits: near[node] has bit c set when the node is near proxy c.
        near = np.zeros((len(nodes), self.words), np.uint64)
        np.bitwise_or.at(near, (n, c // 64), self.bits[c])
        hit = np.zeros((len(corners), self.words), np.uint64)
        for k in range(0, corners.shape[1], 3):   # all three nodes of a stand-in near the proxy
            hit |= near[corners[:, k]] & near[corners[:, k + 1]] & near[corners[:, k + 2]]
        hit &= self.allowed_bits
        verts = np.flatnonzero(hit.any(axis=1))
        flags = np.unpackbits(hit[verts].view(np.uint8), axis=1, bitorder="little")[:, :len(self)]
        rows, cols = np.nonzero(flags)
        return verts[rows], cols

    def _rotations(self, pose: ProxyPose) -> np.ndarray:
        """(C, 3, 3) the proxies' turns (kept for the pose last asked about)."""
        if self._rot_of is not pose.orientations:
            self._rot_of, self._rot = pose.orientations, quat_to_matrix(pose.orientations)
        return self._rot

    def __call__(self, points: np.ndarray, pose: ProxyPose, candidates: np.ndarray | None = None,
                 pairs: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, int]:
        """Points (V, 3) moved out of the limb proxies (`pose`: this object's `index`, posed;
        `candidates`: only these points may be moved; `pairs`: only these (point, proxy) pairs are
        tested in the first pass, see pairs()); returns (points, number of points moved). `points`
        is not modified."""
        if not len(self):
            return points, 0
        centres, bound2 = pose.centres, self.bound ** 2
        out, moved = points, np.zeros(len(points), bool)
        if pairs is None:
            candidates = np.arange(len(points)) if candidates is None else np.asarray(candidates, np.int64)
        for _ in range(PASSES):  # later passes look only at what the previous one moved
            if pairs is not None:
                rows, cols = pairs
                pairs = None
            else:
                if not len(candidates):
                    break
                # The (point, proxy) pairs inside a proxy's bounding sphere, by one product.
                sub = out[candidates]
                d2 = (np.einsum("vi,vi->v", sub, sub)[:, None] - 2.0 * sub @ centres.T
                      + np.einsum("ci,ci->c", centres, centres))
                ok = self.allowed if len(candidates) == len(points) else self.allowed[:, candidates]
                rows, cols = np.nonzero((d2 < bound2) & ok.T)
                rows = candidates[rows]
            if not len(rows):
                break
            # Every (point, proxy) push; a point in several proxies takes the deepest one's way out
            # (at a joint the shortest way out of one limb piece often ends inside the next).
            verts, targets = [], []
            cap = self.capsule[cols]
            if cap.any():
                v, c = rows[cap], cols[cap]
                hit, pos = self._capsules(out[v], centres[c], pose.axes[c], self.half[c], self.radii[c] + self.margin[c])
                verts.append(v[hit])
                targets.append(pos if len(hit) else np.zeros((0, 3)))
            if not cap.all():
                v, c = rows[~cap], cols[~cap]
                hit, pos = self._hulls(out[v], centres[c], self._rotations(pose)[c], c)
                verts.append(v[hit])
                targets.append(pos if len(hit) else np.zeros((0, 3)))
            pushed = np.zeros(len(points), bool)
            verts = np.concatenate(verts) if verts else np.zeros(0, np.int64)
            if len(verts):
                targets = np.concatenate(targets)
                step = np.einsum("vi,vi->v", targets - out[verts], targets - out[verts])
                order = np.lexsort((step, verts))             # per point, the longest push last...
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
        radial, t = _segment_offset(p, centre, axis, half)
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

    def _hulls(self, p, centre, rot, c):
        """Per pair: point p (N, 3) against hull c (N,) posed at centre (N, 3), rot (N, 3, 3): the
        points inside (with the margin) and where each leaves through its nearest face."""
        local = np.einsum("nij,ni->nj", rot, p - centre)
        box = np.flatnonzero(((local >= self.box_lo[c]) & (local <= self.box_hi[c])).all(axis=1))
        if not len(box):
            return box, None
        cb, lb = c[box], local[box]
        depth, n = np.empty(len(box)), np.empty((len(box), 3))
        for k in np.unique(cb):  # one product per hull against its own faces
            mine = np.flatnonzero(cb == k)
            planes = self.planes[k]
            side = lb[mine] @ planes[:, :3].T + planes[:, 3]          # (m, F) signed distance to each face
            best = side.argmax(axis=1)
            depth[mine], n[mine] = side[np.arange(len(mine)), best], planes[best, :3]
        margin = self.margin[c[box]]
        inside = np.flatnonzero(depth < margin)
        if not len(inside):
            return inside, None
        hit = box[inside]
        local_new = local[hit] + (margin[inside] - depth[inside])[:, None] * n[inside]
        return hit, np.einsum("nij,nj->ni", rot[hit], local_new) + centre[hit]


def _segment_offset(p, centre, axis, half):
    """Per pair: the offset of point p (N, 3) from the nearest point of a capsule's segment (centre,
    unit axis, half length), and where along the axis that nearest point lies."""
    rel = p - centre
    t = np.clip(np.einsum("ni,ni->n", rel, axis), -half, half)
    return rel - t[:, None] * axis, t


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
