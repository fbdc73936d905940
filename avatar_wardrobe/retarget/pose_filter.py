"""PoseFilter: the stateful half of retargeting (smoothing, visibility gates, crossfades, foot lock).

    landmarks -> SideSwapGuard (whole-body left/right swaps) -> LandmarkFilter (One Euro) -> Solver.solve (stateless) -> per-limb slerp toward
    rest (VisibilityGate) -> crossfade after a re-detection jump -> ground + planted-foot lock

One PoseFilter per stream of frames (a clip, a camera); `reset()` between unrelated clips. The
Wardrobe plugin and the track job use it; the solver stays a pure function of one frame.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..pose import landmarks as lm
from ..pose.filtering import LandmarkFilter, OneEuroParams, SideSwapGuard, VisibilityGate, smoothstep
from ..records import Landmarks, Pose
from ..transforms import quat_to_matrix
from .contact import FootContact
from .geometry import axis_angle
from .solver import CAMERA_UP, Solver

# Camera tilt: MediaPipe's world axes follow the camera, so a camera looking down or up makes an
# upright player lean. While the player stands on straight legs (MediaPipe's knees of standing
# people read 155-170 degrees), the legs' axis is taken as the world's up, averaged with this time
# constant, within GRAVITY_MAX_TILT_DEG of the camera's own.
GRAVITY_TIME_S = 2.0
GRAVITY_MAX_TILT_DEG = 30.0
STANDING_MIN_KNEE_DEG = 155.0   # knee angle (180 = straight) for "standing"
# After a re-detection jump (the person found again, or found somewhere else) the avatar blends
# from where it was to the new pose over this long, instead of snapping.
REDETECT_EASE_S = 0.35
SLERP_LINEAR_BELOW = 1e-4  # quaternion dot closeness under which slerp falls back to nlerp


def slerp_quats(q0: np.ndarray, q1: np.ndarray, t) -> np.ndarray:
    """Row-wise slerp of unit quaternions (N, 4) w, x, y, z; t scalar or (N,) in [0, 1]."""
    q0, q1 = np.asarray(q0, dtype=np.float64), np.asarray(q1, dtype=np.float64)
    t = np.broadcast_to(np.asarray(t, dtype=np.float64), q0.shape[:1])[:, None]
    dot = np.sum(q0 * q1, axis=1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot).clip(0.0, 1.0)
    angle = np.arccos(dot)
    sin = np.sin(angle)
    small = sin < SLERP_LINEAR_BELOW
    safe = np.where(small, 1.0, sin)
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * angle) / safe)
    w1 = np.where(small, t, np.sin(t * angle) / safe)
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    c = float(a @ b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12)
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


class GravityEstimate:
    """The world's up in MediaPipe's camera axes, learnt from the player's standing torso."""

    def __init__(self, time_s: float = GRAVITY_TIME_S, max_tilt_deg: float = GRAVITY_MAX_TILT_DEG):
        self.time_s, self.max_tilt_deg = time_s, max_tilt_deg
        self.reset()

    def reset(self) -> None:
        self.up = CAMERA_UP.copy()
        self._t: float | None = None
        self._seen = False

    @staticmethod
    def standing_axis(world: np.ndarray) -> np.ndarray | None:
        """The legs' axis (mid-ankle to mid-hip) while both knees are straight, else None. The legs,
        not the torso, stand in for gravity: MediaPipe exaggerates the torso's lean (see solver)."""
        p = {n: world[lm.INDEX[n]] for n in ("left_hip", "right_hip", "left_knee", "right_knee",
                                               "left_ankle", "right_ankle")}
        for s in ("left", "right"):
            thigh, shin = p[f"{s}_knee"] - p[f"{s}_hip"], p[f"{s}_ankle"] - p[f"{s}_knee"]
            if 180.0 - _angle_deg(thigh, shin) < STANDING_MIN_KNEE_DEG:
                return None
        axis = (p["left_hip"] + p["right_hip"] - p["left_ankle"] - p["right_ankle"]) / 2
        return axis / max(np.linalg.norm(axis), 1e-12)

    def update(self, world: np.ndarray, time_s: float) -> np.ndarray:
        """Take one frame's (lifted) world landmarks into the estimate; returns the current up."""
        dt = 0.0 if self._t is None else max(0.0, time_s - self._t)
        self._t = time_s
        axis = self.standing_axis(world)
        if axis is None:
            return self.up
        k = 1.0 if not self._seen else min(1.0, dt / self.time_s)  # the first stance is taken as it is
        self._seen = True
        up = self.up + k * (axis - self.up)
        up /= max(np.linalg.norm(up), 1e-12)
        if _angle_deg(up, CAMERA_UP) > self.max_tilt_deg:  # a bent-over "stance" is not a camera tilt
            up = axis_angle(np.cross(CAMERA_UP, up), np.radians(self.max_tilt_deg)) @ CAMERA_UP
        self.up = up
        return self.up


class PoseFilter:
    """Landmarks in, smoothed and grounded Pose out, one frame at a time.

    smooth: One Euro on the landmarks; gate: ease unseen limbs (and a lost person) to rest;
    contact: lock planted feet (root travel); gravity: learn the camera's tilt from the standing
    player (GravityEstimate; off by default: on pose_1.mp4 MediaPipe's legs lean 30 degrees toward
    the camera while the room's camera is level, so the estimate would tilt a correct avatar). With all three off it is the bare solver, except
    that a frame with nobody in it holds the last pose and a whole-body side swap is undone.
    """

    def __init__(self, solver: Solver, smooth: bool = True, gate: bool = True, contact: bool = True,
                 gravity: bool = False, image_params: OneEuroParams | None = None,
                 world_params: OneEuroParams | None = None):
        self.solver = solver
        self.gravity = GravityEstimate() if gravity else None
        self.sides = SideSwapGuard()
        self.landmarks = LandmarkFilter(image_params, world_params) if smooth else None
        self.gate = VisibilityGate() if gate else None
        self.contact = FootContact(solver.skeleton, solver.rig, solver.up) if contact else None
        self._rest = solver.skeleton.rest_rotations()
        self.reset()

    def reset(self) -> None:
        for part in (self.sides, self.landmarks, self.gate, self.contact, self.gravity):
            if part is not None:
                part.reset()
        self._held: np.ndarray | None = None
        self._lifted: np.ndarray | None = None  # the last frame's lifted landmarks (temporal prior)
        self._last_out: np.ndarray | None = None
        self._last_found: bool | None = None
        self._fade_from: np.ndarray | None = None
        self._fade_start = 0.0
        self.filtered: Landmarks | None = None  # the last landmarks after smoothing

    def step(self, marks: Landmarks) -> Pose:
        marks, _ = self.sides(marks)
        if self.landmarks is not None:
            marks, jump = self.landmarks(marks)
        else:
            jump = self._last_found is not None and self._last_found != marks.found
        self._last_found = marks.found
        self.filtered = marks
        if marks.found:
            previous = None if jump else self._lifted  # the temporal prior of the depth choices
            lifted = self.solver.measured_world(marks, previous)
            up = self.gravity.update(lifted, marks.time_s) if self.gravity is not None else None
            rot = self.solver.solve(marks, ground=False, up=up, measured=lifted).local_rotations
            self._held, self._lifted = rot, lifted
        else:
            rot = self._held if self._held is not None else self._rest
            self._lifted = None
        if self.gate is not None:
            rot = self._apply_gate(rot, self.gate.update(marks))
        if jump and self._last_out is not None:
            self._fade_from, self._fade_start = self._last_out, marks.time_s
        if self._fade_from is not None:
            a = smoothstep((marks.time_s - self._fade_start) / REDETECT_EASE_S)
            rot = slerp_quats(self._fade_from, rot, a)
            if a >= 1.0:
                self._fade_from = None
        self._last_out = rot
        mats = quat_to_matrix(rot)
        posed = self.solver.skeleton.positions(mats)  # once for both: a root offset moves every joint alike
        root = self.solver.ground_offset(mats, posed)
        if self.contact is not None:
            root = self.contact.update(mats, root, posed + root)
        return Pose(marks.index, marks.time_s, rot, root)

    def _apply_gate(self, rot: np.ndarray, weights: dict[str, float]) -> np.ndarray:
        if all(w >= 1.0 for w in weights.values()):  # every limb seen: nothing eases (the usual frame)
            return rot
        t = np.ones(len(rot))
        for limb, w in weights.items():
            t[self.solver.limb_joints.get(limb, [])] = w
        if np.all(t >= 1.0):
            return rot
        return slerp_quats(self._rest, rot, t)

    def process(self, frames: Iterable[Landmarks]) -> list[Pose]:
        """Filter a whole clip (from a fresh state)."""
        self.reset()
        return [self.step(m) for m in frames]
