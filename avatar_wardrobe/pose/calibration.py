"""Player calibration from an A- or T-pose capture: bone lengths, height, avatar scale or nearest body.

The player stands facing the camera, legs straight, arms held away from the body (A: about 45
degrees down, T: level) for a second or two. Each frame is checked for that stance. In that stance
every limb lies in the image plane, so the accepted frames' 2D landmarks measure the body's
proportions (each segment as a share of the stature: heel to eye line, plus the eye-to-crown
share). A single camera cannot measure absolute size, and MediaPipe's world landmarks are scaled
to a typical adult (renders of our 1.65 m and 1.80 m avatars both measure ~1.57 m), so the
player's height is taken from the user when given; otherwise MediaPipe's estimate is used and
flagged. Lengths in metres are the proportions times that height.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import WardrobeError
from ..records import Landmarks
from . import landmarks as lm

MIN_FRAMES = 5                 # accepted stance frames needed
MIN_VISIBILITY = 0.6           # every landmark used must be at least this visible
ARM_ANGLE_RANGE_DEG = (25.0, 110.0)  # upper arm from "straight down": A-pose ~45, T-pose ~90
T_POSE_FROM_DEG = 70.0         # at or above this the stance is a T, below an A
MIN_KNEE_ANGLE_DEG = 145.0     # straight legs (MediaPipe reads a straight standing knee as 150-170)
MAX_TORSO_LEAN_DEG = 20.0      # upright
# Crown above the eye line, as a share of the standing height (anthropometric tables: the eyes sit
# at ~93.5 % of stature).
EYE_TO_CROWN_SHARE = 0.065
# Segments measured, as landmark pairs per side.
SEGMENTS = {
    "upper_arm": ("shoulder", "elbow"),
    "lower_arm": ("elbow", "wrist"),
    "upper_leg": ("hip", "knee"),
    "lower_leg": ("knee", "ankle"),
}
USED = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "heel", "eye")


@dataclass
class Calibration:
    """What a stance capture measured: proportions (shares of the stature) and metres."""

    height_m: float
    height_source: str     # "given" or "mediapipe" (normalised to a typical adult: a rough guess)
    proportions: dict[str, float]  # segment / stature, from the 2D landmarks
    bone_lengths_m: dict[str, float]
    stance: str            # "A" or "T"
    frames_used: int
    frames_seen: int
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def _p(world: np.ndarray, side: str, part: str) -> np.ndarray:
    return world[lm.INDEX[f"{side}_{part}"]]


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    c = float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def stance_problem(marks: Landmarks) -> str | None:
    """Why this frame is not an A/T stance (a short phrase), or None when it is."""
    if not marks.found:
        return "no person"
    ids = [lm.INDEX[f"{s}_{p}"] for s in ("left", "right") for p in USED]
    if marks.visibility[ids].min() < MIN_VISIBILITY:
        return "a limb is hidden"
    w = lm.to_avatar_frame(marks.world)  # x left, y up, z toward the camera
    mid_hip = (_p(w, "left", "hip") + _p(w, "right", "hip")) / 2
    mid_sh = (_p(w, "left", "shoulder") + _p(w, "right", "shoulder")) / 2
    if _angle(mid_sh - mid_hip, np.array([0.0, 1.0, 0.0])) > MAX_TORSO_LEAN_DEG:
        return "not upright"
    down = mid_hip - mid_sh
    for side in ("left", "right"):
        arm = _angle(_p(w, side, "elbow") - _p(w, side, "shoulder"), down)
        if not ARM_ANGLE_RANGE_DEG[0] <= arm <= ARM_ANGLE_RANGE_DEG[1]:
            return "arms not held out in an A or T"
        knee = 180.0 - _angle(_p(w, side, "knee") - _p(w, side, "hip"), _p(w, side, "ankle") - _p(w, side, "knee"))
        if knee < MIN_KNEE_ANGLE_DEG:
            return "knees bent"
    return None


def calibrate(frames: list[Landmarks], height_m: float | None = None) -> Calibration:
    """Measure the player from the frames that show an A or T stance; WardrobeError when too few do.
    `height_m`: the player's own height (recommended); else MediaPipe's world scale is used."""
    if height_m is not None and not 0.5 < height_m < 2.6:
        raise WardrobeError(f"height {height_m:g} m is not a person's height: give it in metres (e.g. 1.72).")
    good = [m for m in frames if stance_problem(m) is None]
    if len(good) < MIN_FRAMES:
        reasons = sorted({stance_problem(m) for m in frames} - {None})
        raise WardrobeError(
            f"calibration needs {MIN_FRAMES} frames of an A or T pose, got {len(good)} of {len(frames)}"
            f"{' (' + '; '.join(reasons) + ')' if reasons else ''}: stand facing the camera, whole body in "
            "view, legs straight, arms held out to the sides, for two seconds.")
    px = np.array([m.image[:, :2] * m.image_size for m in good])
    world = np.array([lm.to_avatar_frame(m.world) for m in good])
    stature_px = _stature(px[:, :, 1] * -1.0)  # image y grows downward: flip so "up" is positive
    shares = {}
    for name, (a, b) in SEGMENTS.items():
        lengths = [np.linalg.norm(px[:, lm.INDEX[f"{s}_{b}"]] - px[:, lm.INDEX[f"{s}_{a}"]], axis=-1)
                   for s in ("left", "right")]
        shares[name] = float(np.median(np.concatenate(lengths) / np.tile(stature_px, 2)))
    pairs = {"shoulder_width": (lm.LEFT_SHOULDER, lm.RIGHT_SHOULDER), "hip_width": (lm.LEFT_HIP, lm.RIGHT_HIP)}
    for name, (i, j) in pairs.items():
        shares[name] = float(np.median(np.linalg.norm(px[:, i] - px[:, j], axis=-1) / stature_px))
    mid = lambda p, i, j: (p[:, i] + p[:, j]) / 2  # noqa: E731
    shares["torso"] = float(np.median(np.linalg.norm(
        mid(px, lm.LEFT_SHOULDER, lm.RIGHT_SHOULDER) - mid(px, lm.LEFT_HIP, lm.RIGHT_HIP), axis=-1) / stature_px))
    notes = []
    if height_m is None:
        height_m = float(np.median(_stature(world[:, :, 1])))
        source = "mediapipe"
        notes.append("height from MediaPipe's world landmarks, which are scaled to a typical adult: "
                     "give the player's height for a true scale")
    else:
        source = "given"
    arms = [_angle(w[lm.LEFT_ELBOW] - w[lm.LEFT_SHOULDER], w[lm.LEFT_HIP] - w[lm.LEFT_SHOULDER]) for w in world]
    return Calibration(
        height_m=float(height_m), height_source=source, proportions=shares,
        bone_lengths_m={k: v * height_m for k, v in shares.items()},
        stance="T" if np.median(arms) >= T_POSE_FROM_DEG else "A",
        frames_used=len(good), frames_seen=len(frames), notes=notes)


def _stature(heights: np.ndarray) -> np.ndarray:
    """Per frame: heel to eye line (any unit, "up" positive) plus the crown above the eyes."""
    heel = (heights[:, lm.LEFT_HEEL] + heights[:, lm.RIGHT_HEEL]) / 2
    eye = (heights[:, lm.LEFT_EYE] + heights[:, lm.RIGHT_EYE]) / 2
    return (eye - heel) / (1.0 - EYE_TO_CROWN_SHARE)


@dataclass
class BodySuggestion:
    """The bundled body nearest the player and the scale that makes the chosen avatar their height."""

    avatar: str              # file name in models/avatar
    avatar_height_m: float
    scale: float             # uniform scale for that avatar to match the player's height
    candidates: dict[str, float]  # file -> height, every body considered


def suggest_body(calibration: Calibration, avatar_dir: str | Path) -> BodySuggestion:
    """The bundled avatar (models/avatar/*.json sidecars: measured height) nearest in height, and
    the scale that gives it the player's height."""
    bodies = {}
    for sidecar in sorted(Path(avatar_dir).glob("*.json")):
        try:
            info = json.loads(sidecar.read_text())
            bodies[info.get("file", sidecar.with_suffix(".glb").name)] = float(info["measured"]["height_m"])
        except (ValueError, KeyError, TypeError):
            continue  # not an avatar sidecar
    if not bodies:
        raise WardrobeError(f"no avatar sidecars (*.json with measured.height_m) in {avatar_dir}: run `make avatars`.")
    name = min(bodies, key=lambda k: abs(bodies[k] - calibration.height_m))
    return BodySuggestion(name, bodies[name], calibration.height_m / bodies[name], bodies)
