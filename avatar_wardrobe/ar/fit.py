"""Place the posed avatar so its projected joints land on the 2D landmarks (numpy; masks are in masks.py)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..pose import landmarks as lm
from ..pose.filtering import IMAGE_PARAMS, MAX_GAP_S, OneEuroFilter

# Landmarks fitted to the posed avatar's own keypoints (retarget.keypoints.detector_keypoints: the
# rig's joints moved to where MediaPipe marks them, e.g. shoulders 2.3 cm above the joints), with
# their weight: the torso decides where the clothes sit; the limbs only steady the fit.
FIT_POINTS = (("shoulder", 1.0), ("hip", 1.0), ("elbow", 0.1), ("knee", 0.1), ("wrist", 0.05), ("ankle", 0.05))
MAX_ANISOTROPY = 1.35  # the fit may stretch the avatar at most this much more along one image axis
PERSPECTIVE_ITERATIONS = 2
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
    """Where the avatar stands in the camera frame: camera_point = linear @ (AVATAR_TO_CAMERA @ p) + translation.

    linear is the avatar's size and its in-image correction: the 2D affine that best carries the
    posed avatar's joints onto the player's landmarks (scale per image axis, in-image rotation,
    shear for a lean the pose got wrong), with the mean scale along the depth axis.
    """

    linear: np.ndarray       # (3, 3) in OpenCV camera axes
    translation: np.ndarray  # (3,) metres, OpenCV camera axes
    residual_px: float = 0.0


def _affine_2d(p: np.ndarray, uv: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares uv ~ m @ p[:, :2] + b: (m (2, 2), b (2,))."""
    a_mat = np.stack([p[:, 0], p[:, 1], np.ones(len(p))], axis=1) * w[:, None]
    sol, *_ = np.linalg.lstsq(a_mat, uv * w[:, None], rcond=None)
    return sol[:2].T, sol[2]


def _limit_anisotropy(m: np.ndarray) -> np.ndarray | None:
    """m with its singular values pulled within MAX_ANISOTROPY of each other; None if it mirrors."""
    u, s, vt = np.linalg.svd(m)
    if np.linalg.det(m) <= 0 or s[1] <= 0:
        return None
    mean = math.sqrt(s[0] * s[1])
    s = np.clip(s, mean / math.sqrt(MAX_ANISOTROPY), mean * math.sqrt(MAX_ANISOTROPY))
    return u @ np.diag(s) @ vt


def fit_placement(joints: np.ndarray, marks_px: np.ndarray, weights: np.ndarray, cam: Intrinsics,
                  scale: float = 1.0) -> Placement | None:
    """Least squares of the posed avatar's joints onto the 2D landmarks under perspective.

    Weak perspective first: uv - centre = m @ (x, y) + b, m a 2x2 (each axis's scale, in-image
    rotation and shear), b the image offset; the avatar's real size fixes the depth
    (z = f * scale / sqrt(det m)). Then PERSPECTIVE_ITERATIONS rounds refit with each joint's
    target scaled by its own depth, so near and far joints land where the camera puts them."""
    ok = weights > 0
    if ok.sum() < 3:
        return None
    p = (joints @ AVATAR_TO_CAMERA.T)[ok]
    uv = marks_px[ok] - np.array(cam.centre)
    w = np.sqrt(weights[ok])
    target = uv
    for _ in range(PERSPECTIVE_ITERATIONS + 1):
        m, b = _affine_2d(p, target, w)
        m = _limit_anisotropy(m)
        if m is None:
            return None
        a = math.sqrt(np.linalg.det(m))
        depth = cam.focal_px * scale / a
        k = depth / cam.focal_px
        linear = np.zeros((3, 3))
        linear[:2, :2] = m * k
        linear[2, 2] = scale
        translation = np.array([b[0] * k, b[1] * k, depth - scale * float(p[:, 2].mean())])
        z = p[:, 2] * scale + translation[2]
        target = uv * (z / depth)[:, None]
    camera = p @ linear.T + translation
    pred = camera[:, :2] / camera[:, 2:] * cam.focal_px
    return Placement(linear, translation, float(np.median(np.linalg.norm(pred - uv, axis=1))))


class LandmarkSmoother:
    """One Euro on the landmarks the placement is fitted to (by their time, so any frame rate is
    smoothed alike: little lag in a fast squat, little shake when still); restarts after a gap."""

    def __init__(self):
        self.filter = OneEuroFilter(IMAGE_PARAMS)
        self._t: float | None = None

    def __call__(self, points_norm: np.ndarray, t: float) -> np.ndarray:
        if self._t is not None and not 0 <= t - self._t <= MAX_GAP_S:
            self.filter.reset()
        self._t = t
        return self.filter(points_norm, t)


def fit_points() -> tuple[list[str], np.ndarray, np.ndarray]:
    """(keypoint names, landmark indices, weights) fitted, in FIT_POINTS order, left before right."""
    names = [f"{side}_{part}" for part, _ in FIT_POINTS for side in ("left", "right")]
    weights = np.array([weight for _, weight in FIT_POINTS for _ in range(2)])
    return names, np.array([lm.INDEX[n] for n in names]), weights
