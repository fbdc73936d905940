"""The Kalidokit baseline: its Euler convention, and its solver (through Node, when installed) posing
the mirrored VRM rig the way its demo does."""
import math

import numpy as np
import pytest

from avatar_wardrobe.pose import landmarks as lm
from avatar_wardrobe.records import Landmarks
from avatar_wardrobe.retarget import kalidokit
from avatar_wardrobe.transforms import axis_angle_matrix

# On exact landmarks of a standing T-pose Kalidokit's legs come out 6-7 degrees off (measured); its
# arms swing 0.3 rad forward by design (rigArm), ~29 degrees off.
LEG_DEG = 10.0
ARM_DEG = 40.0


def test_euler_xyz_is_three_js_order():
    e = {"x": 0.3, "y": -0.5, "z": 1.1}
    want = axis_angle_matrix(np.array([1.0, 0, 0]), 0.3) @ axis_angle_matrix(np.array([0, 1.0, 0]), -0.5) \
        @ axis_angle_matrix(np.array([0, 0, 1.0]), 1.1)
    assert np.allclose(kalidokit.euler_xyz(e), want)
    assert np.allclose(kalidokit.euler_xyz(e, 0.0), np.eye(3))


def _t_pose() -> tuple[Landmarks, dict]:
    """A person facing the camera, arms out level, legs straight (MediaPipe world axes, metres)."""
    p = {n: np.array([0.0, -0.6, -0.05]) for n in lm.NAMES}
    for side, s in (("left", 1.0), ("right", -1.0)):
        p[f"{side}_shoulder"], p[f"{side}_hip"] = np.array([0.18 * s, -0.45, 0]), np.array([0.09 * s, 0, 0])
        p[f"{side}_elbow"], p[f"{side}_wrist"] = np.array([0.44 * s, -0.45, 0]), np.array([0.69 * s, -0.45, 0])
        p[f"{side}_knee"], p[f"{side}_ankle"] = np.array([0.1 * s, 0.4, 0]), np.array([0.1 * s, 0.8, 0])
        p[f"{side}_heel"], p[f"{side}_foot_index"] = np.array([0.1 * s, 0.85, 0.03]), np.array([0.1 * s, 0.85, -0.15])
        for part in ("index", "pinky", "thumb"):
            p[f"{side}_{part}"] = np.array([0.76 * s, -0.45, 0])
        p[f"{side}_ear"] = np.array([0.07 * s, -0.62, 0])
    world = np.array([p[n] for n in lm.NAMES])
    image = np.column_stack([world[:, 0] / 2 + 0.5, world[:, 1] / 2 + 0.5, world[:, 2] / 2])
    return Landmarks(0, 0.0, image=image, world=world, visibility=np.ones(lm.COUNT), image_size=(640, 480)), p


def _deg(a, b):
    return math.degrees(math.acos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


def test_kalidokit_poses_the_players_own_limbs():
    if kalidokit.status() != "available":
        pytest.skip(kalidokit.status())
    marks, truth = _t_pose()
    rig = kalidokit.solve([marks])[0]
    pts = kalidokit.player_points(rig)
    for side in ("left", "right"):
        for a, b, limit in (("hip", "knee", LEG_DEG), ("knee", "ankle", LEG_DEG), ("shoulder", "elbow", ARM_DEG)):
            got = pts[f"{side}_{b}"] - pts[f"{side}_{a}"]
            assert _deg(got, truth[f"{side}_{b}"] - truth[f"{side}_{a}"]) < limit, (side, a, b)
    # Mirrored back: the player's left arm is on the image's right (+x), as in the landmarks.
    assert pts["left_elbow"][0] > pts["left_shoulder"][0] > pts["right_shoulder"][0] > pts["right_elbow"][0]
