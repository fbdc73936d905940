"""Retarget solver on synthetic MediaPipe world landmarks: bones point where the person's limbs point."""
import numpy as np
import pytest

from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.pose import landmarks as lm
from avatar_wardrobe.records import Landmarks
from avatar_wardrobe.settings import MODELS_DIR
from avatar_wardrobe.transforms import axis_angle_matrix, normalize
from landmark_fixtures import as_record, make_landmarks

ANGLE_TOLERANCE_DEG = 3.0
AVATAR = MODELS_DIR / "avatar" / "female_165_58.glb"
# Avatar frame (glTF): +X the avatar's left, +Y up, +Z the way it faces.
LEFT, UP, FORWARD = np.eye(3)


@pytest.fixture(scope="module")
def avatar():
    if not AVATAR.is_file():
        pytest.fail(f"{AVATAR} is missing: run `make avatars`")
    return load_avatar(AVATAR)


def bone_direction(avatar, pose, start_role, end_role, side):
    sk, rig = avatar.skeleton, avatar.rig
    pos = sk.positions(pose.local_rotations, pose.root_offset)
    return normalize(pos[sk.index(rig.limb(end_role, side))] - pos[sk.index(rig.limb(start_role, side))])


def angle_deg(a, b):
    return np.degrees(np.arccos(np.clip(np.dot(normalize(a), normalize(b)), -1, 1)))


def test_arm_straight_out_to_the_side(avatar):
    pose = avatar.solver.solve(as_record(make_landmarks(left_elbow=(0.46, -0.50, 0), left_wrist=(0.72, -0.50, 0))))
    assert angle_deg(bone_direction(avatar, pose, "upper_arm", "lower_arm", "l"), LEFT) < ANGLE_TOLERANCE_DEG
    assert angle_deg(bone_direction(avatar, pose, "lower_arm", "hand", "l"), LEFT) < ANGLE_TOLERANCE_DEG


def test_arm_forward(avatar):
    pose = avatar.solver.solve(as_record(make_landmarks(left_elbow=(0.18, -0.50, -0.27), left_wrist=(0.18, -0.50, -0.52))))
    assert angle_deg(bone_direction(avatar, pose, "upper_arm", "lower_arm", "l"), FORWARD) < ANGLE_TOLERANCE_DEG
    assert angle_deg(bone_direction(avatar, pose, "lower_arm", "hand", "l"), FORWARD) < ANGLE_TOLERANCE_DEG


def test_knee_bent_90_degrees(avatar):
    pose = avatar.solver.solve(as_record(make_landmarks(left_knee=(0.10, 0.0, -0.42), left_ankle=(0.10, 0.40, -0.42),
                                                        left_heel=(0.10, 0.45, -0.37), left_foot_index=(0.1, 0.46, -0.54))))
    assert angle_deg(bone_direction(avatar, pose, "upper_leg", "lower_leg", "l"), FORWARD) < ANGLE_TOLERANCE_DEG
    assert angle_deg(bone_direction(avatar, pose, "lower_leg", "foot", "l"), -UP) < ANGLE_TOLERANCE_DEG
    # The other leg still stands straight.
    assert angle_deg(bone_direction(avatar, pose, "upper_leg", "lower_leg", "r"), -UP) < ANGLE_TOLERANCE_DEG


def test_raised_right_arm_raises_the_avatars_right_arm(avatar):
    """The mirror rule: the person's right arm (image left) drives the avatar's right arm (-X)."""
    pose = avatar.solver.solve(as_record(make_landmarks(right_elbow=(-0.18, -0.78, 0), right_wrist=(-0.18, -1.03, 0))))
    assert angle_deg(bone_direction(avatar, pose, "upper_arm", "lower_arm", "r"), UP) < ANGLE_TOLERANCE_DEG
    assert angle_deg(bone_direction(avatar, pose, "upper_arm", "lower_arm", "l"), -UP) < 10  # left stays down


def test_turning_the_body_turns_the_hips(avatar):
    turn = axis_angle_matrix(np.array([0, 1.0, 0]), np.radians(40))  # MediaPipe y points down
    pose = avatar.solver.solve(as_record(make_landmarks() @ turn.T))
    sk, rig = avatar.skeleton, avatar.rig
    pos = sk.positions(pose.local_rotations, pose.root_offset)
    hip_line = pos[sk.index(rig.limb("upper_leg", "l"))] - pos[sk.index(rig.limb("upper_leg", "r"))]
    expected = lm.to_avatar_frame((turn @ np.array([1.0, 0, 0]))[None])[0]
    assert angle_deg(hip_line * [1, 0, 1], expected) < ANGLE_TOLERANCE_DEG


def test_nobody_tracked_gives_the_rest_pose(avatar):
    pose = avatar.solver.solve(Landmarks(3, 0.1))
    assert np.allclose(pose.local_rotations, avatar.skeleton.rest_rotations())


def test_standing_keeps_feet_on_the_floor(avatar):
    pose = avatar.solver.solve(as_record(make_landmarks(left_knee=(0.1, 0.3, -0.3), right_knee=(-0.1, 0.3, -0.3))))
    sk = avatar.skeleton
    feet = [sk.index(avatar.rig.limb(role, s)) for role in ("foot", "toes") for s in "lr"]
    rest_low = sk.bind_world[feet, 1, 3].min()
    posed = sk.positions(pose.local_rotations, pose.root_offset)
    assert abs(posed[feet, 1].min() - rest_low) < 0.02
