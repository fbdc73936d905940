"""Lift MediaPipe's 2D landmarks to 3D with known bone lengths; the world landmarks are only a prior.

MediaPipe's image landmarks are accurate in the image plane; its world landmarks are right in
length but poor in depth. So, bone by bone down the body tree from the hips, a bone's image-plane
part is taken from the 2D landmarks (weak perspective: pixels / scale), its length from the world
landmarks, and its depth is whatever that length leaves, with the sign (toward or away from the
camera) taken from the world landmarks. Output is a world landmark array in MediaPipe's axes, so
the solver reads it like MediaPipe's own. One frame at a time; the per-bone loop works on floats
(retarget.vec3).
"""
from __future__ import annotations

import math

import numpy as np

from ..pose import landmarks as lm
from . import vec3 as v3

# (parent, child) landmark edges from the hips outward; "mid_hip" / "mid_shoulder" are virtual.
TREE = (
    ("mid_hip", "left_hip"), ("mid_hip", "right_hip"), ("mid_hip", "mid_shoulder"),
    ("mid_shoulder", "left_shoulder"), ("mid_shoulder", "right_shoulder"),
    *((f"{s}_{a}", f"{s}_{b}") for s in ("left", "right") for a, b in (
        ("shoulder", "elbow"), ("elbow", "wrist"), ("wrist", "index"), ("wrist", "pinky"), ("wrist", "thumb"),
        ("hip", "knee"), ("knee", "ankle"), ("ankle", "heel"), ("ankle", "foot_index"))),
)
HEAD = tuple(n for n in lm.NAMES if n == "nose" or n.split("_")[-1] in ("eye", "inner", "outer", "ear")
             or n.startswith("mouth"))
# Scale (pixels per metre): bones seen side-on show their full length, so a percentile of image
# length / world length over the bones estimates it (a high one overshoots on MediaPipe's
# over-long bones; tuned with `bench retarget`).
SCALE_PERCENTILE = 80.0
# With the learned prior (retarget.lifter) 90 measured better on held-out renders (arms 13.5 ->
# 12.8 degrees median) but worse on a real video (bench keypoints PCK on pose_1.mp4 0.864 -> 0.834).
SCALE_BONES = 8  # at least this many bones with a usable length are needed
# Hand and foot "bones" (wrist to index/pinky/thumb, ankle to heel/toe) are a few centimetres long
# in MediaPipe's world landmarks and several times that in its 2D ones: they do not measure the
# scale (they made up the top of the percentile).
SCALE_SKIPS = ("index", "pinky", "thumb", "heel", "foot_index")
MIN_LENGTH_M = 0.02
MIN_SCALE_PX_PER_M = 1.0
# Depth fusion: the length constraint's depth |z| = sqrt(L^2 - p^2) is sharp for a bone pointing
# at the camera and useless for one lying in the image plane (where small errors in L or in the
# scale give large |z|); MediaPipe's own depth is a steady but coarse prior. Each is weighted by
# its variance: length part sd = LENGTH_SD_SHARE * L^2 / |z| (capped), prior sd = PRIOR_SD_SHARE * L.
LENGTH_SD_SHARE = 0.2
PRIOR_SD_SHARE = 0.2
# The same for a learned prior (`lift(prior=...)`, retarget.lifter): held-out renders
# (models/lifter.md) measured arms 12.4 / legs 6.5 degrees median at 0.2 and 12.1 / 6.1 at 0.1, but
# a real video lost PCK at 0.1 (bench keypoints on pose_1.mp4: 0.864 -> 0.840).
LEARNED_PRIOR_SD_SHARE = 0.2
# The arms lean less on the learned prior's depth (the length's gets more weight) before they are
# blended toward the lifter's own direction (retarget.lifter.BLEND): on bench retarget renders
# (seeds 1-4, 200 poses, not the benchmark's 0) 0.4 left the arms as they were (front 10.4 vs 10.3
# degrees median) and lifted PCK on pose_1.mp4 0.856 -> 0.877 (the left wrist 0.81 -> 0.92), room
# the stronger blend then spends (lifter.CONFIDENT_BLEND).
ARM_LEARNED_PRIOR_SD_SHARE = 0.4
MIN_DEPTH_SHARE = 1e-3
# Anatomy picks the depth sign when MediaPipe's is implausible (canonical body axes, facing +z):
# a thigh reaching further behind the hips than this (cosine of the angle to "forward"), an upper
# arm further behind the shoulders, or a knee bending forward once it bends at all.
THIGH_BACK_LIMIT = -0.5
ARM_BACK_LIMIT = -0.7
KNEE_FORWARD_LIMIT = 0.3
KNEE_BENT_SHARE = 0.3  # |bend| / L above which the knee's bend direction counts
TRUSTED_ON_RAY = True  # trusted bones are turned onto their child's pixel ray (see _toward_ray)
# Temporal prior (`lift(previous=...)`, from a stream's last frame): a bone takes its other depth
# choice (the same pixel, the other side of the ray) when that one is this much closer in angle
# to the bone's direction in the last frame. Both fit the 2D; a shin seen end-on otherwise flips
# between tucked and kicked forward from frame to frame.
TEMPORAL_MARGIN_DEG = 30.0
# The temporal prior also outranks the anatomy rules above: a bone kept on the side it was on
# (its other choice TEMPORAL_MARGIN_DEG further from the last frame's direction) is not thrown to
# the other side for breaking them, so a leg does not jump from one frame to the next; it changes
# sides where the two choices come close. On the bundled motion (right thigh seen end-on, its 2D
# length short of the avatar's): feet moving over 0.3 m in a frame 3 -> 1, the largest step 0.83
# -> 0.54 m, depth reversals 5 -> 3; PCK on pose_1.mp4 0.862 -> 0.864; bench retarget (single
# frames) is not affected.
TEMPORAL_OVER_ANATOMY = True


# TREE edges whose lengths measure the scale (not the hand and foot ones, SCALE_SKIPS).
SCALE_EDGES = tuple((p, c) for p, c in TREE if c.split("_", 1)[-1] not in SCALE_SKIPS)
_LIFTED = tuple(c for _, c in TREE if c in lm.INDEX)  # the landmarks the tree places, and their rows
_LIFTED_INDEX = np.array([lm.INDEX[c] for c in _LIFTED])
_HEAD_INDEX = np.array([lm.INDEX[n] for n in HEAD])
TINY = 1e-12  # the smallest length a direction is divided by


def _named(points: np.ndarray) -> dict[str, v3.Vec]:
    """Landmarks (33, 3) by name as lists of floats, with the virtual mid_hip and mid_shoulder."""
    out = dict(zip(lm.NAMES, points.tolist()))
    out["mid_hip"] = v3.mid(out["left_hip"], out["right_hip"])
    out["mid_shoulder"] = v3.mid(out["left_shoulder"], out["right_shoulder"])
    return out


def _unit(v) -> tuple:
    return v3.div(v, max(v3.norm(v), TINY))


def _percentile(values: list[float], q: float) -> float:
    """np.percentile(values, q) with its default linear method, to the bit, without its overhead."""
    s = sorted(values)
    n = len(s)
    virtual = (n - 1) * (q / 100)
    if virtual >= n - 1:
        return s[-1]
    below = math.floor(virtual)
    gamma = virtual - below
    a, b = s[below], s[below + 1]
    diff = b - a
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


def _fused_depth(z_prior: float, length: float, planar: float, prior_sd: float = PRIOR_SD_SHARE) -> float:
    """Depth magnitude from the length constraint fused with the prior's (sign: the prior's)."""
    z_len = math.sqrt(max(0.0, length * length - planar * planar))
    sd_len = LENGTH_SD_SHARE * length * length / max(z_len, MIN_DEPTH_SHARE * length)
    sd_prior = prior_sd * length
    sign = 1.0 if z_prior >= 0 else -1.0
    w_len, w_prior = 1.0 / sd_len ** 2, 1.0 / sd_prior ** 2
    return abs((sign * z_len * w_len + z_prior * w_prior) / (w_len + w_prior))


def _implausible(child: str, bone, out: dict[str, tuple], forward) -> bool:
    """True when this bone direction (camera axes) breaks the anatomy rules above."""
    if child.endswith("_knee"):
        return v3.dot(_unit(bone), forward) < THIGH_BACK_LIMIT
    if child.endswith("_elbow"):
        return v3.dot(_unit(bone), forward) < ARM_BACK_LIMIT
    if child.endswith("_ankle"):
        side = child.split("_")[0]
        thigh = _unit(v3.sub(out[f"{side}_knee"], out[f"{side}_hip"]))
        bend = v3.sub(bone, v3.scale(thigh, v3.dot(bone, thigh)))
        bent = v3.norm(bend)
        if bent > KNEE_BENT_SHARE * v3.norm(bone):
            return v3.dot(bend, forward) > KNEE_FORWARD_LIMIT * bent
    return False


def lift(image: np.ndarray, world: np.ndarray, image_size: tuple[int, int],
         lengths: dict[tuple[str, str], float] | None = None, focal_px: float | None = None,
         prior: np.ndarray | None = None, trusted=(), blend: dict | None = None,
         previous: np.ndarray | None = None) -> np.ndarray:
    """(33, 3) image landmarks (fractions) and world landmarks (metres) -> lifted world landmarks.

    `lengths` gives known bone lengths ((parent, child) of TREE -> metres, e.g. the avatar's or a
    calibration's) in place of the world landmarks' own; any scale, only their ratios count.
    `focal_px` (the camera's focal length in pixels) lifts along the pixels' rays in perspective;
    without it, weak perspective (parallel rays). `prior` (33, 3): the landmarks whose bones give the
    depths and the lengths not known (e.g. retarget.lifter's re-aimed ones); default `world`. Bones
    in `trusted` ((parent, child) of TREE) take the prior's direction as it is (with their length);
    bones in `blend` ({(parent, child): share}) turn that share of the way to it after lifting.
    `previous` (33, 3): this function's result for the stream's last frame, the temporal prior
    that picks between a bone's two depth choices (TEMPORAL_MARGIN_DEG)."""
    known = lengths or {}
    w, h = image_size
    world = np.asarray(world, dtype=np.float64)
    px = np.zeros((len(image), 3))
    px[:, :2] = np.asarray(image, dtype=np.float64)[:, :2] * (w, h)
    img = _named(px)  # pixels (z = 0)
    wld = _named(world)
    pri = wld if prior is None else _named(np.asarray(prior, dtype=np.float64))
    prev = None if previous is None else _named(np.asarray(previous, dtype=np.float64))
    ratios = []
    for parent, child in SCALE_EDGES:
        length = known.get((parent, child)) or v3.norm(v3.sub(wld[child], wld[parent]))
        if length > MIN_LENGTH_M:
            dx, dy = img[child][0] - img[parent][0], img[child][1] - img[parent][1]
            ratios.append(math.sqrt(dx * dx + dy * dy) / length)
    if len(ratios) < SCALE_BONES:
        return world.copy()
    scale = _percentile(ratios, SCALE_PERCENTILE)
    prior_sd = PRIOR_SD_SHARE if prior is None else LEARNED_PRIOR_SD_SHARE
    if not scale > MIN_SCALE_PX_PER_M:  # no usable 2D layout (e.g. synthetic landmarks): keep the world ones
        return world.copy()
    perspective = bool(focal_px)
    if perspective:  # each landmark lies on its pixel's ray; the hips at depth f / scale
        hip_ray = _pixel_ray(img["mid_hip"], w, h, focal_px)
        root = tuple(c * (focal_px / scale) / hip_ray[2] for c in hip_ray)
    else:
        root = (0.0, 0.0, 0.0)
    out = {"mid_hip": root}
    forward = None
    for parent, child in TREE:
        if forward is None and "left_shoulder" in out and "right_shoulder" in out:
            forward = _facing(out)
        bone = v3.sub(pri[child], pri[parent])
        length = float(known.get((parent, child)) or v3.norm(bone))
        if (parent, child) in trusted:
            d = _unit(bone)
            if perspective and TRUSTED_ON_RAY:
                d = _toward_ray(out[parent], _pixel_ray(img[child], w, h, focal_px), d)
            out[child] = v3.add(out[parent], v3.scale(d, length))
            continue
        sd = ARM_LEARNED_PRIOR_SD_SHARE if prior is not None and child.endswith(("_elbow", "_wrist")) else prior_sd
        if not perspective:
            flat = (img[child][0] - img[parent][0], img[child][1] - img[parent][1])
            lifted, other = _weak_bone(flat, scale, bone, length, sd)
        else:
            lifted, other = _ray_bone(out[parent], _pixel_ray(img[child], w, h, focal_px), bone, length, sd)
        before = None if prev is None else v3.sub(prev[child], prev[parent])
        lifted = _choose(child, lifted, other, out, forward, before)
        share = blend.get((parent, child), 0.0) if blend else 0.0
        if share > 0:  # part of the way toward the prior's own direction
            d = v3.add(v3.scale(_unit(lifted), 1 - share), v3.scale(_unit(bone), share))
            lifted = v3.scale(_unit(d), v3.norm(lifted))
        out[child] = v3.add(out[parent], lifted)
    result = world.copy()
    result[_LIFTED_INDEX] = np.array([out[c] for c in _LIFTED]) - root
    shift = v3.sub(v3.sub(out["mid_shoulder"], root), wld["mid_shoulder"])
    result[_HEAD_INDEX] = world[_HEAD_INDEX] + shift  # the face rides on the lifted shoulders, rigidly
    return result


def _pixel_ray(pixel, w: float, h: float, focal_px: float) -> tuple:
    """The unit ray through a pixel of a camera centred on the image (x right, y down, z ahead)."""
    r = ((pixel[0] - w / 2) / focal_px, (pixel[1] - h / 2) / focal_px, 1.0)
    return v3.div(r, v3.norm(r))


def _choose(child: str, lifted, other, out: dict[str, tuple], forward, before) -> tuple:
    """A bone's depth choice: `lifted` (the prior's side) or `other` (its mirror about the pixel
    ray), by the anatomy rules (with `forward`, once known) and the last frame's bone `before`."""
    lifted_closer = other_closer = False  # TEMPORAL_MARGIN_DEG nearer the last frame's direction
    if before is not None:
        b = _unit(before)
        to_lifted, to_other = _angle_deg(lifted, b), _angle_deg(other, b)
        lifted_closer = to_lifted + TEMPORAL_MARGIN_DEG < to_other
        other_closer = to_other + TEMPORAL_MARGIN_DEG < to_lifted
    if forward is None:
        return other if other_closer else lifted
    other_implausible = _implausible(child, other, out, forward)
    if _implausible(child, lifted, out, forward) and not other_implausible and \
            not (TEMPORAL_OVER_ANATOMY and lifted_closer):
        return other
    if other_closer and not other_implausible:
        return other
    return lifted


def _angle_deg(v, unit_b) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, v3.dot(_unit(v), unit_b)))))


def _toward_ray(parent, ray, d) -> tuple:
    """The direction from `parent` to the point of the child's pixel ray nearest the line
    parent + s * d: the predicted direction turned into the plane of the camera, the parent and
    the child's ray, so the bone's image is the 2D landmarks' (its tilt out of the image: d's)."""
    # closest points of the lines t * ray and parent + s * d
    b = v3.dot(ray, d)
    denom = 1.0 - b * b
    if denom < 1e-9:
        return d
    t = (v3.dot(ray, parent) - b * v3.dot(d, parent)) / denom
    v = v3.sub(v3.scale(ray, t), parent)
    n = v3.norm(v)
    return v3.div(v, n) if n > 1e-9 else d


def _weak_bone(flat_px: tuple[float, float], scale: float, bone, length: float, prior_sd: float):
    """Weak perspective: the bone's image-plane part from the pixels, its depth from the length
    (fused with the prior's). Returns the bone and its mirror image in depth."""
    x, y = flat_px[0] / scale, flat_px[1] / scale
    planar = math.sqrt(x * x + y * y)
    if planar > length:  # seen longer than it is: lies in the image plane
        k = length / max(planar, TINY)
        x, y = x * k, y * k
        planar = length
    depth = _fused_depth(bone[2], length, planar, prior_sd)
    z = depth if bone[2] >= 0 else -depth
    return (x, y, z), (x, y, -z)


def _ray_bone(parent, ray, bone, length: float, prior_sd: float):
    """Perspective: the child on its pixel's ray (unit `ray`) at `length` from the parent, nearer
    or farther than the ray's closest point to the parent as the prior says (the length's depth
    fused with the prior's, as in weak perspective). Returns the bone and the other choice."""
    offset = v3.sub(v3.scale(ray, v3.dot(parent, ray)), parent)
    planar = v3.norm(offset)
    if planar > length:  # the ray passes farther from the parent than the bone reaches
        offset = v3.scale(offset, length / planar)
        return offset, offset
    along = v3.dot(bone, ray)
    depth = _fused_depth(along, length, planar, prior_sd)
    step = v3.scale(ray, (1.0 if along >= 0 else -1.0) * depth)
    return v3.add(offset, step), v3.sub(offset, step)


def _facing(out: dict[str, tuple]) -> tuple:
    """The body's facing direction in camera axes, from the lifted hips and shoulders.

    As in the canonical frame (left x up = facing), the cross product of the body's left and its
    physical up gives its facing; in camera axes a person facing the camera gets (0, 0, -1).
    """
    up = v3.sub(out["mid_shoulder"], out["mid_hip"])
    left = v3.add(v3.sub(out["left_hip"], out["right_hip"]), v3.sub(out["left_shoulder"], out["right_shoulder"]))
    return _unit(v3.cross(left, up))
