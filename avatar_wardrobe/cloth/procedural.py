"""Procedural garments made from the avatar's body surface: a tube shirt and an A-line skirt (Garment records)."""
from __future__ import annotations

import numpy as np

from ..avatar.skinning import vertex_normals
from ..errors import WardrobeError
from ..garments.garment import SIZES, Garment, GarmentMaterial, GarmentMeta
from ..mesh_topology import components, face_edges

# Ease (metres, along the body normal for the shirt, on the radius for the skirt) per size:
# S is cut to the skin, so on a body it must stretch; XL hangs loose.
SHIRT_EASE_M = {"S": 0.0, "M": 0.015, "L": 0.03, "XL": 0.045}
SKIRT_EASE_M = {"S": -0.04, "M": 0.012, "L": 0.025, "XL": 0.04}
SHIRT_HEM_ABOVE_HIPS_M = 0.06   # the hem sits this far above the hip joint
SHIRT_PIN_BELOW_SHOULDER_M = (0.02, 0.06)  # pin 1 above the first depth, 0 below the second
SHIRT_HEM_MAX_DISTANCE_M = 0.06
SHIRT_TIGHT_BELOW_SHOULDER_M = 0.25  # skin-tight (max distance 0) from the shoulders down to here, as the
                                     # shipped t-shirt is painted; below, it loosens toward the hem
SHIRT_MAX_DISTANCE_POWER = 0.75
SHIRT_PIN_ARM_SHARE = 0.05      # body vertices with this much arm weight are not pinned
SHIRT_ARMPIT_MAX_DISTANCE_M = 0.08  # cloth near the arms may move this far from the skin...
SHIRT_ARMPIT_ARM_SHARE = 0.15    # ...where the body under it has this much arm weight (from none at
SHIRT_ARMPIT_ARM_FLOOR = 0.01    # this much: the arms' weights reach thinly across the chest; at 0.03 the
                                 # side of the chest under a raised arm stayed skinned and stretched with the
                                 # skin: sim stretch p99 1.106 on the bundled motion, 1.088 now, 782 -> 846
                                 # PyBullet nodes; 10-minute soak 1 stretch reset -> 0)
SKIRT_HEM_ABOVE_KNEE_M = 0.03
SKIRT_FLARE = 0.3               # radius grows this much per metre down (an A-line)
SKIRT_PIN_DEPTH_M = (0.015, 0.04)  # waistband: pinned to this depth, free below the second
SKIRT_HEM_MAX_DISTANCE_M = 0.25
SKIRT_MAX_DISTANCE_POWER = 0.6  # max distance grows fast below the waistband (thighs push the cloth)
SKIRT_HEM_THIGH_SHARE = 0.4     # skin weight the thighs carry at the hem (the hips carry the rest)
SKIRT_ROWS, SKIRT_SEGMENTS = 48, 128
SKIRT_REACH_M = 0.35            # body vertices farther than this from the skirt axis are arms/hands
SKIRT_SIDE_BLEND_M = 0.12      # width over which the skirt's weight passes from one thigh to the other
SKIRT_SLAB_M = 0.01             # height band used to measure the body's radius per row
MIN_RENDER_VERTICES = 5000      # the render mesh is subdivided until it has at least this many
OWNER_SHARE = 0.5               # a body vertex belongs to a part when that part's weights reach this
SHIRT_COLOR = (0.12, 0.3, 0.62, 1.0)
SKIRT_COLOR = (0.55, 0.09, 0.14, 1.0)


def _check_size(size: str) -> None:
    if size not in SIZES:
        raise WardrobeError(f"unknown garment size '{size}': use one of {', '.join(SIZES)}.")


def _subtree(skeleton, root: int) -> list[int]:
    out = [root]
    for j in range(root + 1, len(skeleton)):
        if skeleton.parents[j] in out:
            out.append(j)
    return out


def _share(body, joints: list[int], count: int) -> np.ndarray:
    """Per body vertex, the total skin weight on the given joints."""
    mask = np.zeros(count, bool)
    mask[joints] = True
    return (body.weights * mask[body.joints]).sum(axis=1)


def _largest_component(faces: np.ndarray, count: int) -> np.ndarray:
    """Faces of the largest edge-connected piece."""
    label = components(face_edges(faces), count)
    main = np.bincount(label[faces[:, 0]]).argmax()
    return faces[label[faces[:, 0]] == main]


def subdivide(positions: np.ndarray, faces: np.ndarray, *attrs: np.ndarray):
    """One 1-to-4 midpoint subdivision; per-vertex attributes are averaged on the new vertices."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(e, axis=1)
    edges, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.reshape(3, -1).T + len(positions)  # (T, 3): mid of edge 01, 12, 20
    mid = lambda a: np.concatenate([a, 0.5 * (a[edges[:, 0]] + a[edges[:, 1]])])
    a, b, c = faces.T
    ab, bc, ca = inverse.T
    new_faces = np.concatenate([np.stack(x, 1) for x in ((a, ab, ca), (ab, b, bc), (ca, bc, c), (ab, bc, ca))])
    return (mid(positions), new_faces, *(mid(x) for x in attrs))


def _compact(positions: np.ndarray, faces: np.ndarray, *attrs: np.ndarray):
    used = np.unique(faces)
    remap = np.full(len(positions), -1)
    remap[used] = np.arange(len(used))
    return (positions[used], remap[faces], *(x[used] for x in attrs))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _joint_y(avatar, name: str) -> float:
    return float(avatar.skeleton.bind_world[avatar.skeleton.index(name), 1, 3])


def make_shirt(avatar, size: str = "M", fabric: str = "cotton") -> Garment:
    """A sleeveless tube shirt: the body's trunk from the hips to the neck, offset out by the size's
    ease. It has no skin weights (the cloth transfers them from the body), pins at the shoulders."""
    _check_size(size)
    sk, body, rig = avatar.skeleton, avatar.body, avatar.rig
    arms = _subtree(sk, sk.index(rig.limb("upper_arm", "l"))) + _subtree(sk, sk.index(rig.limb("upper_arm", "r")))
    head = _subtree(sk, sk.index(rig.neck))
    y = body.positions[:, 1]
    hem_y = _joint_y(avatar, rig.hips) + SHIRT_HEM_ABOVE_HIPS_M
    keep = ((_share(body, arms, len(sk)) < OWNER_SHARE) & (_share(body, head, len(sk)) < OWNER_SHARE) & (y > hem_y))
    faces = body.faces[keep[body.faces].all(axis=1)]
    if len(faces) == 0:
        raise WardrobeError("this avatar's trunk could not be found from its skin weights: no shirt made.")
    faces = _largest_component(faces, len(body.positions))
    arm_share = _share(body, arms, len(sk))
    pos, faces, nrm, arm_share = _compact(body.positions, faces, body.normals, arm_share)
    while len(pos) < MIN_RENDER_VERTICES:
        pos, faces, nrm, arm_share = subdivide(pos, faces, nrm, arm_share)
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
    pos = pos + SHIRT_EASE_M[size] * nrm
    shoulder_y = 0.5 * (_joint_y(avatar, rig.limb("upper_arm", "l")) + _joint_y(avatar, rig.limb("upper_arm", "r")))
    depth = shoulder_y - pos[:, 1]
    top, bottom = SHIRT_PIN_BELOW_SHOULDER_M
    # Pinned: the shoulder tops and collar, away from the arms (an arm moving under a pin tears it).
    pin = (1.0 - _smoothstep((depth - top) / (bottom - top))) * (1.0 - _smoothstep(arm_share / SHIRT_PIN_ARM_SHARE))
    tight = SHIRT_TIGHT_BELOW_SHOULDER_M
    loose = np.clip((depth - tight) / max(shoulder_y - tight - hem_y, 1e-6), 0.0, 1.0)
    max_distance = (1.0 - pin) * SHIRT_HEM_MAX_DISTANCE_M * loose ** SHIRT_MAX_DISTANCE_POWER
    # Under the arms the skin stretches with a raised arm; cloth does not: let it simulate there.
    max_distance = np.maximum(max_distance, (1.0 - pin) * SHIRT_ARMPIT_MAX_DISTANCE_M
                              * _smoothstep((arm_share - SHIRT_ARMPIT_ARM_FLOOR)
                                            / (SHIRT_ARMPIT_ARM_SHARE - SHIRT_ARMPIT_ARM_FLOOR)))
    centre = body.positions[keep].mean(axis=0)
    u = (np.arctan2(pos[:, 0] - centre[0], pos[:, 2] - centre[2]) / (2 * np.pi)) % 1.0
    v = (pos[:, 1] - pos[:, 1].min()) / max(np.ptp(pos[:, 1]), 1e-9)
    return _garment(f"tube_shirt_{size}", "top", size, fabric, pos, faces, np.stack([u, v], 1), pin,
                    max_distance, SHIRT_COLOR, hides=("torso",))


def make_skirt(avatar, size: str = "M", fabric: str = "cotton") -> Garment:
    """An A-line skirt: a cone from the waist (first spine joint) to just above the knees that
    clears the hips, with skin weights on the hips and thighs and a pinned waistband."""
    _check_size(size)
    sk, body, rig = avatar.skeleton, avatar.body, avatar.rig
    top_y = _joint_y(avatar, rig.spine[0])
    hem_y = _joint_y(avatar, rig.limb("lower_leg", "l")) + SKIRT_HEM_ABOVE_KNEE_M
    if hem_y >= top_y:
        raise WardrobeError("the avatar's knees are not below its waist: no skirt made.")
    arms = _subtree(sk, sk.index(rig.limb("upper_arm", "l"))) + _subtree(sk, sk.index(rig.limb("upper_arm", "r")))
    hips_pos = sk.bind_world[sk.index(rig.hips), :3, 3]
    near = (_share(body, arms, len(sk)) < OWNER_SHARE)
    pts = body.positions[near]
    hip_band = pts[np.abs(pts[:, 1] - hips_pos[1]) < 0.05]
    axis_xz = np.array([hips_pos[0], 0.5 * (np.percentile(hip_band[:, 2], 2) + np.percentile(hip_band[:, 2], 98))])
    rel = pts[:, [0, 2]] - axis_xz
    radius = np.linalg.norm(rel, axis=1)
    angle = np.arctan2(rel[:, 0], rel[:, 1])  # 0 = facing +Z
    pts, radius, angle = pts[radius < SKIRT_REACH_M], radius[radius < SKIRT_REACH_M], angle[radius < SKIRT_REACH_M]
    rows = np.linspace(top_y, hem_y, SKIRT_ROWS)
    theta = np.linspace(-np.pi, np.pi, SKIRT_SEGMENTS, endpoint=False)
    bins = ((angle + np.pi) / (2 * np.pi) * SKIRT_SEGMENTS).astype(int) % SKIRT_SEGMENTS
    prof = np.zeros((SKIRT_ROWS, SKIRT_SEGMENTS))
    for i, ry in enumerate(rows):
        sel = np.abs(pts[:, 1] - ry) < SKIRT_SLAB_M
        np.maximum.at(prof[i], bins[sel], radius[sel])
    for row in prof:  # fill the angle bins no body vertex fell in, around the circle
        have = np.flatnonzero(row > 0)
        if len(have) == 0:
            raise WardrobeError("the avatar has no body between its waist and knees: no skirt made.")
        row[:] = np.interp(np.arange(SKIRT_SEGMENTS), have, row[have], period=SKIRT_SEGMENTS)
    prof = np.maximum.accumulate(prof, axis=0)     # never narrower than the body above (clears hips)
    kernel = np.ones(7) / 7
    prof = np.stack([np.convolve(np.concatenate([r[-3:], r, r[:3]]), kernel, "valid") for r in prof])
    drop = top_y - rows
    r = prof + SKIRT_EASE_M[size] + SKIRT_FLARE * drop[:, None]  # flared from the waist down
    x = axis_xz[0] + r * np.sin(theta)[None]
    z = axis_xz[1] + r * np.cos(theta)[None]
    pos = np.stack([x, np.broadcast_to(rows[:, None], x.shape), z], axis=-1).reshape(-1, 3)
    idx = np.arange(SKIRT_ROWS * SKIRT_SEGMENTS).reshape(SKIRT_ROWS, SKIRT_SEGMENTS)
    a, b = idx[:-1], np.roll(idx[:-1], -1, axis=1)
    c, d = idx[1:], np.roll(idx[1:], -1, axis=1)
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    nrm = vertex_normals(pos, faces)
    radial = pos.copy()
    radial[:, 1] = 0
    radial[:, [0, 2]] -= axis_xz
    if np.einsum("vi,vi->", nrm, radial) < 0:
        faces = faces[:, [0, 2, 1]]
    depth = np.broadcast_to(drop[:, None], (SKIRT_ROWS, SKIRT_SEGMENTS)).ravel()
    lo, hi = SKIRT_PIN_DEPTH_M
    pin = 1.0 - _smoothstep((depth - lo) / (hi - lo))
    t = np.clip((depth - hi) / max(top_y - hem_y - hi, 1e-6), 0.0, 1.0)
    max_distance = SKIRT_HEM_MAX_DISTANCE_M * t ** SKIRT_MAX_DISTANCE_POWER
    uv = np.stack([np.broadcast_to(np.arange(SKIRT_SEGMENTS) / SKIRT_SEGMENTS, (SKIRT_ROWS, SKIRT_SEGMENTS)).ravel(),
                   depth / (top_y - hem_y)], axis=1)
    g = _garment(f"a_line_skirt_{size}", "bottom", size, fabric, pos, faces, uv, pin, max_distance, SKIRT_COLOR,
                 hides=("hips",))
    # Skin: the hips carry the waist, each thigh takes a growing share of its side toward the hem.
    left = _smoothstep(0.5 + (pos[:, 0] - axis_xz[0]) / SKIRT_SIDE_BLEND_M)
    share = SKIRT_HEM_THIGH_SHARE * t
    g.joint_names = list(sk.names)
    g.joints = np.zeros((len(pos), 4), np.int64)
    g.weights = np.zeros((len(pos), 4))
    g.joints[:, 0] = sk.index(rig.hips)
    g.joints[:, 1] = sk.index(rig.limb("upper_leg", "l"))
    g.joints[:, 2] = sk.index(rig.limb("upper_leg", "r"))
    g.joints[:, 3] = sk.index(rig.spine[0])
    g.weights[:, 0] = 1.0 - share
    g.weights[:, 1] = share * left
    g.weights[:, 2] = share * (1.0 - left)
    return g


def _garment(name, slot, size, fabric, pos, faces, uv, pin, max_distance, color, hides=()) -> Garment:
    pos = np.ascontiguousarray(pos, np.float64)
    faces = np.ascontiguousarray(faces, np.int64)
    g = Garment(name=name, meta=GarmentMeta(slot=slot, fabric=fabric, size=size, hides=tuple(hides)),
                positions=pos, normals=vertex_normals(pos, faces), uvs=np.ascontiguousarray(uv, np.float64),
                faces=faces, parts=[(0, len(faces), 0)], materials=[GarmentMaterial(name=f"{name}_fabric",
                                                                                   base_color=color)],
                pin=np.ascontiguousarray(pin, np.float64), max_distance=np.ascontiguousarray(max_distance,
                                                                                            np.float64))
    g.check_shapes()
    return g
