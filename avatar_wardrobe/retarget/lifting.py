"""Lift MediaPipe's 2D landmarks to 3D with known bone lengths; the world landmarks are only a prior.

MediaPipe's image landmarks are accurate in the image plane; its world landmarks are right in
length but poor in depth. So, bone by bone down the body tree from the hips, a bone's image-plane
part is taken from the 2D landmarks (weak perspective: pixels / scale), its length from the world
landmarks, and its depth is whatever that length leaves, with the sign (toward or away from the
camera) taken from the world landmarks. Output is a world landmark array in MediaPipe's axes, so
the solver reads it like MediaPipe's own. Pure numpy, one frame at a time.
"""
from __future__ import annotations

import numpy as np

from ..pose import landmarks as lm

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


def _named(points: np.ndarray) -> dict[str, np.ndarray]:
    out = {n: points[lm.INDEX[n]] for n in lm.NAMES}
    out["mid_hip"] = (out["left_hip"] + out["right_hip"]) / 2
    out["mid_shoulder"] = (out["left_shoulder"] + out["right_shoulder"]) / 2
    return out


def _fused_depth(z_prior: float, length: float, planar: float, prior_sd: float = PRIOR_SD_SHARE) -> float:
    """Depth magnitude from the length constraint fused with the prior's (sign: the prior's)."""
    z_len = np.sqrt(max(0.0, length * length - planar * planar))
    sd_len = LENGTH_SD_SHARE * length * length / max(z_len, MIN_DEPTH_SHARE * length)
    sd_prior = prior_sd * length
    sign = 1.0 if z_prior >= 0 else -1.0
    w_len, w_prior = 1.0 / sd_len ** 2, 1.0 / sd_prior ** 2
    return abs((sign * z_len * w_len + z_prior * w_prior) / (w_len + w_prior))


def _implausible(child: str, bone: np.ndarray, out: dict[str, np.ndarray], forward: np.ndarray) -> bool:
    """True when this bone direction (camera axes) breaks the anatomy rules above."""
    d = bone / max(np.linalg.norm(bone), 1e-12)
    if child.endswith("_knee"):
        return float(d @ forward) < THIGH_BACK_LIMIT
    if child.endswith("_elbow"):
        return float(d @ forward) < ARM_BACK_LIMIT
    if child.endswith("_ankle"):
        side = child.split("_")[0]
        thigh = out[f"{side}_knee"] - out[f"{side}_hip"]
        thigh = thigh / max(np.linalg.norm(thigh), 1e-12)
        bend = bone - (bone @ thigh) * thigh
        if np.linalg.norm(bend) > KNEE_BENT_SHARE * np.linalg.norm(bone):
            return float(bend @ forward) > KNEE_FORWARD_LIMIT * np.linalg.norm(bend)
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
    px = np.asarray(image, dtype=np.float64)[:, :2] * (w, h)
    img = _named(np.column_stack([px, np.zeros(len(px))]))
    wld = _named(np.asarray(world, dtype=np.float64))
    pri = wld if prior is None else _named(np.asarray(prior, dtype=np.float64))
    prev = None if previous is None else _named(np.asarray(previous, dtype=np.float64))
    ratios = []
    for parent, child in TREE:
        if child.split("_", 1)[-1] in SCALE_SKIPS:
            continue
        length = known.get((parent, child)) or np.linalg.norm(wld[child] - wld[parent])
        if length > MIN_LENGTH_M:
            ratios.append(np.linalg.norm(img[child][:2] - img[parent][:2]) / length)
    if len(ratios) < SCALE_BONES:
        return np.asarray(world, dtype=np.float64).copy()
    scale = float(np.percentile(ratios, SCALE_PERCENTILE))
    prior_sd = PRIOR_SD_SHARE if prior is None else LEARNED_PRIOR_SD_SHARE
    if not scale > MIN_SCALE_PX_PER_M:  # no usable 2D layout (e.g. synthetic landmarks): keep the world ones
        return np.asarray(world, dtype=np.float64).copy()
    rays = None
    if focal_px:  # perspective: each landmark lies on its pixel's ray; the hips at depth f / scale
        rays = {n: np.array([(p[0] - w / 2) / focal_px, (p[1] - h / 2) / focal_px, 1.0]) for n, p in img.items()}
        rays = {n: r / np.linalg.norm(r) for n, r in rays.items()}
        root = rays["mid_hip"] * (focal_px / scale) / rays["mid_hip"][2]
    else:
        root = np.zeros(3)
    out = {"mid_hip": root}
    forward = None
    for parent, child in TREE:
        if forward is None and "left_shoulder" in out and "right_shoulder" in out:
            forward = _facing(out)
        bone = pri[child] - pri[parent]
        length = float(known.get((parent, child)) or np.linalg.norm(bone))
        if (parent, child) in trusted:
            d = bone / max(float(np.linalg.norm(bone)), 1e-12)
            if rays is not None and TRUSTED_ON_RAY:
                d = _toward_ray(out[parent], rays[child], d)
            out[child] = out[parent] + d * length
            continue
        sd = ARM_LEARNED_PRIOR_SD_SHARE if prior is not None and child.endswith(("_elbow", "_wrist")) else prior_sd
        if rays is None:
            lifted, other = _weak_bone(img[child][:2] - img[parent][:2], scale, bone, length, sd)
        else:
            lifted, other = _ray_bone(out[parent], rays[child], bone, length, sd)
        before = None if prev is None else prev[child] - prev[parent]
        if forward is not None and _implausible(child, lifted, out, forward) and \
                not _implausible(child, other, out, forward) and \
                not (TEMPORAL_OVER_ANATOMY and before is not None and _closer_before(other, lifted, before)):
            lifted = other
        elif before is not None and _closer_before(lifted, other, before) and \
                not (forward is not None and _implausible(child, other, out, forward)):
            lifted = other
        share = blend.get((parent, child), 0.0) if blend else 0.0
        if share > 0:  # part of the way toward the prior's own direction
            d = (1 - share) * _unit(lifted) + share * _unit(bone)
            lifted = _unit(d) * float(np.linalg.norm(lifted))
        out[child] = out[parent] + lifted
    out = {n: p - root for n, p in out.items()}
    result = np.asarray(world, dtype=np.float64).copy()
    for name in lm.NAMES:
        if name in out:
            result[lm.INDEX[name]] = out[name]
    shift = out["mid_shoulder"] - wld["mid_shoulder"]
    for name in HEAD:  # the face rides on the lifted shoulders, rigidly
        result[lm.INDEX[name]] = wld[name] + shift
    return result


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _closer_before(chosen: np.ndarray, other: np.ndarray, before: np.ndarray) -> bool:
    """Whether `other` lies TEMPORAL_MARGIN_DEG nearer in angle than `chosen` to the bone's last direction."""
    b = _unit(before)
    angle = lambda v: np.degrees(np.arccos(np.clip(float(np.dot(_unit(v), b)), -1.0, 1.0)))  # noqa: E731
    return angle(other) + TEMPORAL_MARGIN_DEG < angle(chosen)


def _toward_ray(parent: np.ndarray, ray: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The direction from `parent` to the point of the child's pixel ray nearest the line
    parent + s * d: the predicted direction turned into the plane of the camera, the parent and
    the child's ray, so the bone's image is the 2D landmarks' (its tilt out of the image: d's)."""
    # closest points of the lines t * ray and parent + s * d
    b = float(ray @ d)
    denom = 1.0 - b * b
    if denom < 1e-9:
        return d
    t = float((ray @ parent) - b * (d @ parent)) / denom
    v = t * ray - parent
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else d


def _weak_bone(flat_px: np.ndarray, scale: float, bone: np.ndarray, length: float, prior_sd: float):
    """Weak perspective: the bone's image-plane part from the pixels, its depth from the length
    (fused with the prior's). Returns the bone and its mirror image in depth."""
    flat = flat_px / scale
    planar = float(np.linalg.norm(flat))
    if planar > length:  # seen longer than it is: lies in the image plane
        flat *= length / max(planar, 1e-12)
        planar = length
    depth = _fused_depth(float(bone[2]), length, planar, prior_sd)
    lifted = np.array([flat[0], flat[1], depth if bone[2] >= 0 else -depth])
    return lifted, lifted * (1.0, 1.0, -1.0)


def _ray_bone(parent: np.ndarray, ray: np.ndarray, bone: np.ndarray, length: float, prior_sd: float):
    """Perspective: the child on its pixel's ray (unit `ray`) at `length` from the parent, nearer
    or farther than the ray's closest point to the parent as the prior says (the length's depth
    fused with the prior's, as in weak perspective). Returns the bone and the other choice."""
    foot = float(parent @ ray) * ray
    offset = foot - parent
    planar = float(np.linalg.norm(offset))
    if planar > length:  # the ray passes farther from the parent than the bone reaches
        return offset * (length / planar), offset * (length / planar)
    along = float(bone @ ray)
    depth = _fused_depth(along, length, planar, prior_sd)
    sign = 1.0 if along >= 0 else -1.0
    return offset + sign * depth * ray, offset - sign * depth * ray


def _facing(out: dict[str, np.ndarray]) -> np.ndarray:
    """The body's facing direction in camera axes, from the lifted hips and shoulders.

    As in the canonical frame (left x up = facing), the cross product of the body's left and its
    physical up gives its facing; in camera axes a person facing the camera gets (0, 0, -1).
    """
    up = out["mid_shoulder"] - out["mid_hip"]
    left = (out["left_hip"] - out["right_hip"]) + (out["left_shoulder"] - out["right_shoulder"])
    facing = np.cross(left, up)
    return facing / max(np.linalg.norm(facing), 1e-12)
