"""Temporal landmark filtering: One Euro per coordinate, re-detection jumps, per-limb visibility gates.

Everything here is driven by `Landmarks.time_s` (never by a frame count), so a 15 fps webcam and
a 60 fps video are smoothed alike. The objects keep state across frames; the retarget solver that
consumes their output stays stateless (retarget.pose_filter.PoseFilter puts the two together).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..records import Landmarks
from . import landmarks as lm

# One Euro filter (Casiez et al. 2012): cutoff = MIN_CUTOFF + BETA * |speed|. Tuned on pose_1.mp4
# tracked with MediaPipe's own smoothing off (tests/pose/test_filtering.py measures it): less shake
# than MediaPipe's smoothing with no more deviation from a zero-phase smoothed reference. World
# speeds are metres/s; image speeds are image fractions/s, about a third of that for a person
# who fills the frame, hence the larger image BETA.
WORLD_MIN_CUTOFF_HZ = 1.5
WORLD_BETA = 10.0
IMAGE_MIN_CUTOFF_HZ = 1.5
IMAGE_BETA = 25.0
D_CUTOFF_HZ = 1.0
# Frames closer than this are treated as simultaneous (no update of the speed estimate).
MIN_DT_S = 1e-4
# A frame gap longer than this, or a lost person, restarts the filter instead of smoothing across.
MAX_GAP_S = 0.5
# A landmark set whose torso centre moved more than this (image fractions) since the last frame
# is a re-detection jump (MediaPipe found the person again, or another person): restart.
JUMP_IMAGE_FRACTION = 0.15

# Whole-body side swaps: MediaPipe sometimes labels a body mirrored (as if seen from behind) for a
# frame or a few, left and right landmarks trading places at once. A frame whose landmarks jumped
# this far (median over the paired landmarks, image fractions) under their own labels, and sit at
# least SWAP_RATIO nearer the last frame's landmarks under the mirrored labels, is relabelled back.
SWAP_MIN_MOVE = 0.04
SWAP_RATIO = 0.5

# Visibility gating: a limb counts as seen while every one of its landmarks has at least this
# visibility; unseen limbs ease to the rest pose over GATE_EASE_OUT_S and back over GATE_EASE_IN_S.
VISIBILITY_THRESHOLD = 0.5
GATE_EASE_OUT_S = 0.6
GATE_EASE_IN_S = 0.3
# Limbs gated as a whole (names shared with retarget.rigmap.LIMB_JOINTS), by their landmarks.
LIMB_LANDMARKS = {
    "arm_l": ("left_shoulder", "left_elbow", "left_wrist"),
    "arm_r": ("right_shoulder", "right_elbow", "right_wrist"),
    "hand_l": ("left_wrist", "left_index", "left_pinky"),
    "hand_r": ("right_wrist", "right_index", "right_pinky"),
    "leg_l": ("left_hip", "left_knee", "left_ankle"),
    "leg_r": ("right_hip", "right_knee", "right_ankle"),
    "foot_l": ("left_ankle", "left_heel", "left_foot_index"),
    "foot_r": ("right_ankle", "right_heel", "right_foot_index"),
    "head": ("nose", "left_ear", "right_ear"),
    "torso": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
}
LIMBS = tuple(LIMB_LANDMARKS)
_LIMB_INDEX = {limb: np.array([lm.INDEX[n] for n in names]) for limb, names in LIMB_LANDMARKS.items()}
_TORSO = _LIMB_INDEX["torso"]
# The same as one (limbs, landmarks) array, shorter limbs padded with their own last landmark.
_LIMB_ROWS = np.array([np.pad(idx, (0, max(map(len, _LIMB_INDEX.values())) - len(idx)), mode="edge")
                       for idx in _LIMB_INDEX.values()])


def _torso_centre(marks: Landmarks) -> np.ndarray:
    """The image centre of the shoulders and hips (as np.mean(axis=0) sums and divides, for less overhead)."""
    return marks.image[_TORSO, :2].sum(0) / len(_TORSO)


def _median(values: np.ndarray) -> float:
    """np.median of a 1-D array, to the bit (the middle value, or the mean of the middle two), for less overhead."""
    s = np.sort(values)
    if np.isnan(s[-1]):  # NaNs sort last; np.median gives NaN
        return float("nan")
    half = len(s) // 2
    return float(s[half]) if len(s) % 2 else float((s[half - 1] + s[half]) / 2)


def smoothstep(t: float) -> float:
    """0 -> 0, 1 -> 1 with zero slope at both ends (eases a linear ramp)."""
    t = min(1.0, max(0.0, t))
    return t * t * (3.0 - 2.0 * t)


def _alpha(cutoff_hz, dt: float):
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


@dataclass
class OneEuroParams:
    """The three named knobs of a One Euro filter."""

    min_cutoff_hz: float = WORLD_MIN_CUTOFF_HZ
    beta: float = WORLD_BETA
    d_cutoff_hz: float = D_CUTOFF_HZ


WORLD_PARAMS = OneEuroParams(WORLD_MIN_CUTOFF_HZ, WORLD_BETA, D_CUTOFF_HZ)
IMAGE_PARAMS = OneEuroParams(IMAGE_MIN_CUTOFF_HZ, IMAGE_BETA, D_CUTOFF_HZ)


class OneEuroFilter:
    """One Euro filter over an array of independent coordinates (any shape), one sample per call."""

    def __init__(self, params: OneEuroParams | None = None):
        self.params = params or OneEuroParams()
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        if dt < MIN_DT_S:  # same instant (or time went back): keep the estimate
            return self._x.copy()
        p = self.params
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(p.d_cutoff_hz, dt) * (dx - self._dx)
        cutoff = p.min_cutoff_hz + p.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = float(t)
        return self._x.copy()


class LandmarkFilter:
    """One Euro on every landmark coordinate (image x, y and world x, y, z); restarts on jumps.

    `__call__` returns the filtered record and whether this frame broke continuity (the person
    was lost or re-detected somewhere else, or time jumped), so the caller can crossfade.
    """

    def __init__(self, image_params: OneEuroParams | None = None, world_params: OneEuroParams | None = None):
        self.image_filter = OneEuroFilter(image_params or IMAGE_PARAMS)
        self.world_filter = OneEuroFilter(world_params or WORLD_PARAMS)
        self._last: Landmarks | None = None

    def reset(self) -> None:
        self.image_filter.reset()
        self.world_filter.reset()
        self._last = None

    def is_jump(self, marks: Landmarks) -> bool:
        """True when `marks` cannot continue the previous frame (gap, loss, or a torso jump)."""
        last = self._last
        if last is None or not last.found or not marks.found:
            return last is not None and last.found != marks.found
        if marks.time_s - last.time_s > MAX_GAP_S or marks.time_s < last.time_s:
            return True
        moved = np.linalg.norm(_torso_centre(marks) - _torso_centre(last))
        return bool(moved > JUMP_IMAGE_FRACTION)

    def __call__(self, marks: Landmarks) -> tuple[Landmarks, bool]:
        jump = self.is_jump(marks)
        self._last = marks
        if not marks.found:
            self.image_filter.reset()
            self.world_filter.reset()
            return marks, jump
        if jump:
            self.image_filter.reset()
            self.world_filter.reset()
        image = marks.image.copy()
        image[:, :2] = self.image_filter(marks.image[:, :2], marks.time_s)
        world = self.world_filter(marks.world, marks.time_s)
        return replace(marks, image=image, world=world), jump


_PAIRED = np.array([i for i, n in enumerate(lm.NAMES) if "left" in n or "right" in n])
_MIRROR = np.array([lm.INDEX[n.replace("left", "#").replace("right", "left").replace("#", "right")]
                    for n in lm.NAMES])  # each landmark's other-side twin (the nose is its own)
_PAIRED_AND_MIRRORED = np.stack([_PAIRED, _MIRROR[_PAIRED]])


def mirror_labels(marks: Landmarks) -> Landmarks:
    """The same landmarks with left and right labels exchanged."""
    return replace(marks, image=marks.image[_MIRROR], world=marks.world[_MIRROR],
                   visibility=None if marks.visibility is None else marks.visibility[_MIRROR])


class SideSwapGuard:
    """Undoes MediaPipe's whole-body left/right swaps from temporal consistency (see SWAP_*).

    `__call__` returns the landmarks (relabelled when a swap was caught) and whether it was.
    A person who really turns round moves a little each frame and is never relabelled.
    """

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._last: Landmarks | None = None

    def __call__(self, marks: Landmarks) -> tuple[Landmarks, bool]:
        if not marks.found:
            return marks, False
        last, swapped = self._last, False
        if last is not None and 0.0 <= marks.time_s - last.time_s <= MAX_GAP_S:
            prev = last.image[_PAIRED, :2]
            moves = np.linalg.norm(marks.image[_PAIRED_AND_MIRRORED, :2] - prev, axis=-1)  # own labels, mirrored
            own, mirrored = _median(moves[0]), _median(moves[1])
            if own > SWAP_MIN_MOVE and mirrored < SWAP_RATIO * own:
                marks, swapped = mirror_labels(marks), True
        self._last = marks
        return marks, swapped


def limb_visible(marks: Landmarks, threshold: float = VISIBILITY_THRESHOLD) -> dict[str, bool]:
    """Which limbs have all their landmarks visible in this frame (none when nobody was found)."""
    if not marks.found or marks.visibility is None:
        return {limb: False for limb in LIMBS}
    return dict(zip(LIMBS, (marks.visibility[_LIMB_ROWS].min(axis=1) >= threshold).tolist()))


@dataclass
class VisibilityGate:
    """Per-limb weights in [0, 1]: 1 = follow the tracked pose, 0 = rest pose; never jumps.

    Each weight ramps linearly in time toward 1 while its limb is seen and toward 0 while it is
    not; `weights()` returns the ramps eased with smoothstep, ready for a slerp toward rest.
    """

    ease_in_s: float = GATE_EASE_IN_S
    ease_out_s: float = GATE_EASE_OUT_S
    threshold: float = VISIBILITY_THRESHOLD
    ramps: dict[str, float] = field(default_factory=dict)
    _t: float | None = None

    def reset(self) -> None:
        self.ramps.clear()
        self._t = None

    def update(self, marks: Landmarks) -> dict[str, float]:
        seen = limb_visible(marks, self.threshold)
        dt = 0.0 if self._t is None else max(0.0, marks.time_s - self._t)
        self._t = marks.time_s
        for limb, visible in seen.items():
            ramp = self.ramps.get(limb)
            if ramp is None:  # first frame: start where the limb is, without easing from rest
                self.ramps[limb] = 1.0 if visible else 0.0
                continue
            if visible:
                ramp += dt / self.ease_in_s if self.ease_in_s > 0 else 1.0
            else:
                ramp -= dt / self.ease_out_s if self.ease_out_s > 0 else 1.0
            self.ramps[limb] = min(1.0, max(0.0, ramp))
        return self.weights()

    def weights(self) -> dict[str, float]:
        return {limb: smoothstep(r) for limb, r in self.ramps.items()}


def jitter(series: np.ndarray, times: np.ndarray) -> float:
    """Median over coordinates of the RMS second time-derivative (units/s^2): high-frequency shake.

    series: (T, ...) samples; times: (T,) seconds. Used by tests and benchmarks to compare filters.
    """
    x = np.asarray(series, dtype=np.float64).reshape(len(series), -1)
    t = np.asarray(times, dtype=np.float64)
    v = np.diff(x, axis=0) / np.diff(t)[:, None]
    a = np.diff(v, axis=0) / ((t[2:] - t[:-2]) / 2)[:, None]
    return float(np.median(np.sqrt(np.mean(a * a, axis=0))))
