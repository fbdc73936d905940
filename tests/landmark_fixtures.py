"""Synthetic MediaPipe world landmarks for tests: a person standing, with named limbs moved."""
import numpy as np

from avatar_wardrobe.pose import landmarks as lm
from avatar_wardrobe.records import Landmarks

# A person standing, arms down, facing the camera, in MediaPipe world axes (x image right = the
# person's left, y down, z away from the camera), metres, origin between the hips.
STANDING = {
    "hip": (0.10, 0.0, 0.0), "shoulder": (0.18, -0.50, 0.0), "elbow": (0.20, -0.22, 0.0),
    "wrist": (0.21, 0.03, 0.0), "knee": (0.10, 0.42, 0.0), "ankle": (0.10, 0.82, 0.0),
    "heel": (0.10, 0.87, 0.05), "foot_index": (0.10, 0.88, -0.12), "ear": (0.07, -0.68, 0.03),
    "eye": (0.03, -0.70, -0.07), "eye_inner": (0.02, -0.70, -0.08), "eye_outer": (0.05, -0.70, -0.06),
    "pinky": (0.22, 0.10, 0.0), "index": (0.21, 0.11, 0.0), "thumb": (0.19, 0.08, -0.02),
}
FACE_CENTRE = {"nose": (0.0, -0.68, -0.10), "mouth": (0.03, -0.64, -0.08)}


def make_landmarks(**overrides) -> np.ndarray:
    """(33, 3) MediaPipe world landmarks; overrides like left_elbow=(x, y, z)."""
    pts = np.zeros((lm.COUNT, 3))
    for i, name in enumerate(lm.NAMES):
        side, _, part = name.partition("_")
        if name == "nose":
            p = FACE_CENTRE["nose"]
        elif part == "" or side not in ("left", "right"):
            p = FACE_CENTRE["nose"]
        elif part in ("left", "right"):  # mouth_left / mouth_right
            p = FACE_CENTRE["mouth"]
        else:
            p = STANDING[part]
        p = np.array(p, dtype=float)
        if side == "right" or name == "mouth_right":
            p[0] = -p[0]
        pts[i] = p
    for name, value in overrides.items():
        pts[lm.INDEX[name]] = value
    return pts


def as_record(world: np.ndarray) -> Landmarks:
    return Landmarks(0, 0.0, image=np.zeros((lm.COUNT, 3)), world=world, visibility=np.ones(lm.COUNT))


FRAME_S = 1 / 30


def timed(world: np.ndarray, index: int) -> Landmarks:
    """A record at frame `index` of a 30 fps stream (the pose filter needs time to advance)."""
    marks = as_record(world)
    marks.index, marks.time_s = index, index * FRAME_S
    return marks
