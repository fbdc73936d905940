"""Place the posed avatar so its projected joints land on the 2D landmarks; arm and torso masks."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..pose import landmarks as lm
from ..retarget.rigmap import RigMap

# Landmark -> rig role pairs used to fit the avatar onto the image, with their weight: the torso
# decides where the clothes sit; the limbs only steady the fit.
FIT_PAIRS = (("shoulder", "upper_arm", 1.0), ("hip", "upper_leg", 1.0), ("elbow", "lower_arm", 0.1),
             ("knee", "lower_leg", 0.1), ("wrist", "hand", 0.05), ("ankle", "foot", 0.05))
SIDE_NAMES = {"l": "left", "r": "right"}
MIN_VISIBILITY = 0.5
PLACEMENT_SMOOTHING = 0.5   # exponential smoothing of the placement per frame (0 = none)
ARM_WIDTH_OF_SHOULDERS = 0.32  # an arm's drawn width, as a share of the shoulder width in pixels
TORSO_DILATE_OF_SHOULDERS = 0.12
# Avatar frame (glTF: X its left, Y up, Z toward the camera) -> OpenCV camera (x right, y down, z ahead).
AVATAR_TO_CAMERA = np.diag([1.0, -1.0, -1.0])


@dataclass
class Intrinsics:
    """A pinhole camera from an assumed vertical field of view."""

    width: int
    height: int
    vertical_fov_deg: float

    @property
    def focal_px(self) -> float:
        return self.height / 2 / math.tan(math.radians(self.vertical_fov_deg) / 2)

    @property
    def centre(self) -> tuple[float, float]:
        return self.width / 2, self.height / 2


@dataclass
class Placement:
    """Where the avatar stands in the camera frame: camera_point = R * (stretch * avatar_point) + translation.

    stretch (x, y, z) lets the avatar's width and height follow the player's proportions (the
    torso decides where clothes sit); depth takes the mean of the two.
    """

    stretch: np.ndarray      # (3,) per-axis scale in the avatar frame
    translation: np.ndarray  # (3,) metres, OpenCV camera axes
    residual_px: float = 0.0


def fit_placement(joints: np.ndarray, marks_px: np.ndarray, weights: np.ndarray, cam: Intrinsics,
                  scale: float = 1.0) -> Placement | None:
    """Weak-perspective least squares, one scale per image axis: u - cx = ax*x + b,
    v - cy = ay*y + c for the avatar joints (camera axes). The avatar's real size fixes the
    depth (z = f * scale / mean(ax, ay)); ax/ay become the avatar's width/height stretch."""
    ok = weights > 0
    if ok.sum() < 3:
        return None
    p = (joints @ AVATAR_TO_CAMERA.T)[ok]
    uv = marks_px[ok] - np.array(cam.centre)
    w = np.sqrt(weights[ok])
    solutions = []
    for axis in (0, 1):
        a_mat = np.stack([p[:, axis], np.ones(len(p))], axis=1)
        sol, *_ = np.linalg.lstsq(a_mat * w[:, None], uv[:, axis] * w, rcond=None)
        solutions.append(sol)
    (ax, b), (ay, c) = solutions
    if ax <= 0 or ay <= 0:
        return None
    a = (ax + ay) / 2
    depth = cam.focal_px * scale / a
    stretch = scale * np.array([ax / a, ay / a, 1.0])
    mean_z = float(p[:, 2].mean()) * scale
    translation = np.array([b * depth / cam.focal_px, c * depth / cam.focal_px, depth - mean_z])
    pred = np.stack([ax * p[:, 0] + b, ay * p[:, 1] + c], axis=1)
    return Placement(stretch, translation, float(np.median(np.linalg.norm(pred - uv, axis=1))))


def smooth(previous: Placement | None, current: Placement | None) -> Placement | None:
    if previous is None or current is None:
        return current or previous
    k = PLACEMENT_SMOOTHING
    return Placement(k * previous.stretch + (1 - k) * current.stretch,
                     k * previous.translation + (1 - k) * current.translation, current.residual_px)


def joint_landmark_pairs(rig: RigMap, skeleton_index) -> tuple[list[int], list[int], np.ndarray]:
    """(skeleton joint indices, landmark indices, weights) for fitting."""
    joints, marks, weights = [], [], []
    for part, role, weight in FIT_PAIRS:
        for side in ("l", "r"):
            joints.append(skeleton_index(rig.limb(role, side)))
            marks.append(lm.INDEX[f"{SIDE_NAMES[side]}_{part}"])
            weights.append(weight)
    return joints, marks, np.array(weights)


def _px(points_norm: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return points_norm[:, :2] * np.array(size, dtype=np.float64)


def arm_mask(marks, size: tuple[int, int]) -> np.ndarray:
    """Pixels of the arms and hands drawn from the 2D landmarks, where the arms are nearer the
    camera than the shoulders (so they pass in front of a garment), as a bool (H, W) mask."""
    w, h = size
    mask = np.zeros((h, w), np.uint8)
    px = _px(marks.image, size)
    z = marks.image[:, 2]
    shoulder_px = np.linalg.norm(px[lm.LEFT_SHOULDER] - px[lm.RIGHT_SHOULDER])
    thickness = max(2, int(shoulder_px * ARM_WIDTH_OF_SHOULDERS))
    for side in ("left", "right"):
        s, e, wr = (lm.INDEX[f"{side}_{p}"] for p in ("shoulder", "elbow", "wrist"))
        front = z[e] < z[s] or z[wr] < z[s]
        if not front:
            continue
        for a, b in ((s, e), (e, wr)):
            cv2.line(mask, tuple(map(int, px[a])), tuple(map(int, px[b])), 1, thickness)
        hand = [lm.INDEX[f"{side}_{p}"] for p in ("wrist", "index", "pinky", "thumb")]
        cv2.fillConvexPoly(mask, cv2.convexHull(px[hand].astype(np.int32)), 1)
        cv2.circle(mask, tuple(map(int, px[wr])), thickness // 2 + 2, 1, -1)
    return mask.astype(bool)


def torso_region(marks, size: tuple[int, int], person_mask: np.ndarray | None = None) -> np.ndarray:
    """The person's torso: the shoulder-hip quadrilateral, dilated a little, cut by the person mask,
    less any arm held in front of it."""
    w, h = size
    px = _px(marks.image, size)
    quad = px[[lm.LEFT_SHOULDER, lm.RIGHT_SHOULDER, lm.RIGHT_HIP, lm.LEFT_HIP]].astype(np.int32)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, quad, 1)
    grow = int(np.linalg.norm(px[lm.LEFT_SHOULDER] - px[lm.RIGHT_SHOULDER]) * TORSO_DILATE_OF_SHOULDERS)
    if grow > 0:
        mask = cv2.dilate(mask, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    region = mask.astype(bool) & ~arm_mask(marks, size)
    if person_mask is not None:
        region &= person_mask > 0.5
    return region


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
