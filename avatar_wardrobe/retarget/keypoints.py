"""The posed avatar's own keypoints under COCO-17 names (+ pelvis, neck), and their camera projection.

avatar_keypoints: body keypoints are joints of the rig; the face ones (nose, eyes, ears) are fixed
offsets in the head joint's frame, measured on the default avatar's mesh and scaled by the rig's
torso length. detector_keypoints: the same moved to where a 2D detector (MediaPipe, COCO
annotators) marks them. Points come out in the canonical avatar frame (x the avatar's left, y up,
z facing, metres).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..pose import landmarks as lm
from ..records import Landmarks, Pose

if TYPE_CHECKING:  # the solver measures its lifting lengths with detector_keypoints
    from .solver import Solver

COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
          "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
          "left_knee", "right_knee", "left_ankle", "right_ankle")
KEYPOINTS = COCO17 + ("pelvis", "neck")
# COCO body keypoint -> the rig role whose joint sits there.
JOINT_KEYPOINTS = {
    f"{side_name}_{part}": (role, side)
    for side, side_name in (("l", "left"), ("r", "right"))
    for part, role in (("shoulder", "upper_arm"), ("elbow", "lower_arm"), ("wrist", "hand"),
                       ("hip", "upper_leg"), ("knee", "lower_leg"), ("ankle", "foot"))
}
# Face points from the head joint, in the head's rest axes (left, up, facing), metres, measured on
# models/avatar/female_165_58.glb (nose tip, eye centres, ear canals); scaled by torso length.
FACE_OFFSETS_M = {
    "nose": (0.0, 0.0, 0.118),
    "left_eye": (0.032, 0.035, 0.095), "right_eye": (-0.032, 0.035, 0.095),
    "left_ear": (0.075, 0.025, -0.005), "right_ear": (-0.075, 0.025, -0.005),
}
REFERENCE_TORSO_M = 0.452  # that avatar's hips-to-shoulders length at rest


def avatar_keypoints(solver: Solver, pose: Pose) -> dict[str, np.ndarray]:
    """{name: (3,)} posed keypoints in the canonical avatar frame (root offset included)."""
    sk, rig = solver.skeleton, solver.rig
    world = sk.forward(pose.local_rotations, pose.root_offset)
    to_canon = solver.rest.body.T  # rig space -> canonical avatar frame
    out = {}
    for name, (role, side) in JOINT_KEYPOINTS.items():
        out[name] = world[sk.index(rig.limb(role, side)), :3, 3]
    head = sk.index(rig.head)
    for name, offset in FACE_OFFSETS_M.items():
        out[name] = world[head, :3, 3] + _turn(solver, world, head) @ _offset(solver, offset)
    out["pelvis"] = world[sk.index(rig.hips), :3, 3]
    out["neck"] = (world[sk.index(rig.neck), :3, 3] if rig.neck
                   else (out["left_shoulder"] + out["right_shoulder"]) / 2)
    return {name: to_canon @ out[name] for name in KEYPOINTS}


def _turn(solver: Solver, world: np.ndarray, j: int) -> np.ndarray:
    """Joint j's world turn from its rest orientation (rig space)."""
    rot = world[j, :3, :3] / np.linalg.norm(world[j, :3, :3], axis=0)
    return rot @ solver.rest.rotations[j].T


def _offset(solver: Solver, offset) -> np.ndarray:
    """A body-frame offset (left, up, facing; metres on the reference avatar) in this rig's space and size."""
    return solver.rest.body @ (np.array(offset, dtype=np.float64) * solver.rest_torso_length / REFERENCE_TORSO_M)


# Where a 2D keypoint detector puts a landmark, relative to the rig's joint: MediaPipe's landmarks
# on `bench retarget` renders (seed 2, 120 poses, front view; rig joints known exactly) sit this
# far from the joints, in centimetres: shoulders 2.3 above the shoulder joints and 0.8 inward,
# hips 0.6 inward, knees 2.9 further down the thigh (the kneecap, not the joint's centre), ankles
# 1.6 up the shin, the nose 2.1 above the nose tip, eyes 1.0 higher and 0.6 inward, ears 2.0
# lower and 2.3 inward (the ear canal, not the ear's rim). Elbows and wrists sit within 0.5.
# COCO keypoints mark the same places, so images are scored with these (detector_keypoints).
SHOULDER_LANDMARK_M = (-0.008, 0.023, 0.0)  # (outward, up, facing) in the chest's frame
HIP_LANDMARK_M = (-0.006, -0.004, 0.0)       # in the pelvis's frame
KNEE_LANDMARK_ALONG_THIGH_M = 0.029
ANKLE_LANDMARK_UP_SHIN_M = 0.016
FACE_LANDMARKS_M = {
    "nose": (0.0, 0.021, 0.118),
    "left_eye": (0.026, 0.045, 0.095), "right_eye": (-0.026, 0.045, 0.095),
    "left_ear": (0.052, 0.005, -0.005), "right_ear": (-0.052, 0.005, -0.005),
}


def detector_keypoints(solver: Solver, pose: Pose) -> dict[str, np.ndarray]:
    """avatar_keypoints moved to where a 2D keypoint detector marks them (the offsets above), for
    scoring the posed avatar against detected or annotated keypoints in an image."""
    sk, rig = solver.skeleton, solver.rig
    world = sk.forward(pose.local_rotations, pose.root_offset)
    to_canon = solver.rest.body.T
    joints = avatar_keypoints(solver, pose)
    out = dict(joints)
    chest, hips, head = sk.index(rig.spine[-1]), sk.index(rig.hips), sk.index(rig.head)
    size = solver.rest_torso_length / REFERENCE_TORSO_M
    for name, sign in (("left", 1.0), ("right", -1.0)):
        mirror = np.array([sign, 1.0, 1.0])
        out[f"{name}_shoulder"] = out[f"{name}_shoulder"] + to_canon @ (
            _turn(solver, world, chest) @ _offset(solver, mirror * SHOULDER_LANDMARK_M))
        out[f"{name}_hip"] = out[f"{name}_hip"] + to_canon @ (
            _turn(solver, world, hips) @ _offset(solver, mirror * HIP_LANDMARK_M))
    for name in ("left", "right"):
        hip, knee, ankle = joints[f"{name}_hip"], joints[f"{name}_knee"], joints[f"{name}_ankle"]
        out[f"{name}_knee"] = knee + KNEE_LANDMARK_ALONG_THIGH_M * size * _unit(knee - hip)
        out[f"{name}_ankle"] = ankle + ANKLE_LANDMARK_UP_SHIN_M * size * _unit(knee - ankle)
    for name, offset in FACE_LANDMARKS_M.items():
        out[name] = to_canon @ (world[head, :3, 3] + _turn(solver, world, head) @ _offset(solver, offset))
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


# Body joints fitted onto the 2D landmarks to place the avatar in the camera (landmark = keypoint name).
PLACEMENT_POINTS = tuple(JOINT_KEYPOINTS)
MIN_PLACEMENT_VISIBILITY = 0.5
MIN_PLACEMENT_POINTS = 4
PLACEMENT_ITERATIONS = 10  # Gauss-Newton steps from the weak-perspective start (converges in 3-5)
AVATAR_TO_CAMERA = np.diag([1.0, -1.0, -1.0])  # canonical avatar frame -> OpenCV camera axes


def place_on_image(keypoints: dict[str, np.ndarray], marks: Landmarks, vertical_fov_deg: float):
    """The avatar's keypoints (canonical frame) in the camera (OpenCV axes, metres), placed so its
    body joints land on the 2D landmarks: weak perspective, the avatar's real size fixing the depth.
    Returns {name: (3,)} or None when too few landmarks are visible."""
    w, h = marks.image_size
    f = focal_px(h, vertical_fov_deg)
    names = [n for n in PLACEMENT_POINTS if marks.visibility[lm.INDEX[n]] >= MIN_PLACEMENT_VISIBILITY]
    if len(names) < MIN_PLACEMENT_POINTS:
        return None
    p = np.array([AVATAR_TO_CAMERA @ keypoints[n] for n in names])
    uv = np.array([marks.image[lm.INDEX[n], :2] * (w, h) for n in names]) - (w / 2, h / 2)
    # u = a * x + b, v = a * y + c (a = f / depth): linear least squares in (a, b, c).
    n = len(names)
    m = np.zeros((2 * n, 3))
    m[:n, 0], m[:n, 1] = p[:, 0], 1.0
    m[n:, 0], m[n:, 2] = p[:, 1], 1.0
    (a, b, c), *_ = np.linalg.lstsq(m, np.concatenate([uv[:, 0], uv[:, 1]]), rcond=None)
    if a <= 0:
        return None
    depth = f / a
    shift = np.array([b / a, c / a, depth - p[:, 2].mean()])
    shift = _refine_perspective(p, uv, f, shift)
    return {k: AVATAR_TO_CAMERA @ v + shift for k, v in keypoints.items()}


def _refine_perspective(points: np.ndarray, uv: np.ndarray, f: float, shift: np.ndarray) -> np.ndarray:
    """Gauss-Newton on the translation so the points' perspective projections meet `uv` (centred px)."""
    for _ in range(PLACEMENT_ITERATIONS):
        q = points + shift
        z = np.maximum(q[:, 2], 1e-3)
        residual = np.concatenate([f * q[:, 0] / z - uv[:, 0], f * q[:, 1] / z - uv[:, 1]])
        jac = np.zeros((2 * len(q), 3))
        jac[: len(q), 0] = f / z
        jac[: len(q), 2] = -f * q[:, 0] / z ** 2
        jac[len(q):, 1] = f / z
        jac[len(q):, 2] = -f * q[:, 1] / z ** 2
        step, *_ = np.linalg.lstsq(jac, -residual, rcond=None)
        shift = shift + step
        if np.linalg.norm(step) < 1e-6:
            break
    return shift


def focal_px(height_px: int, vertical_fov_deg: float) -> float:
    return height_px / 2 / math.tan(math.radians(vertical_fov_deg) / 2)


def project(points_cam: np.ndarray, size: tuple[int, int], vertical_fov_deg: float) -> np.ndarray:
    """Pinhole projection of (N, 3) OpenCV camera points (x right, y down, z ahead) to pixels."""
    f = focal_px(size[1], vertical_fov_deg)
    p = np.asarray(points_cam, dtype=np.float64)
    z = np.maximum(p[:, 2], 1e-6)
    return np.column_stack([f * p[:, 0] / z + size[0] / 2, f * p[:, 1] / z + size[1] / 2])
