"""Keypoints where a detector marks them (detector_keypoints) against the rig's joints, and the
lifting lengths measured between them."""
import numpy as np

from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.records import Pose
from avatar_wardrobe.retarget.keypoints import (ANKLE_LANDMARK_UP_SHIN_M, COCO17, KNEE_LANDMARK_ALONG_THIGH_M,
                                                SHOULDER_LANDMARK_M, avatar_keypoints, detector_keypoints)
from avatar_wardrobe.settings import MODELS_DIR

MAX_OFFSET_M = 0.05  # no detector point strays further than this from its joint (or face point)


def _rest(path="female_165_58.glb"):
    avatar = load_avatar(MODELS_DIR / "avatar" / path)
    pose = Pose(0, 0.0, avatar.skeleton.rest_rotations())
    return avatar.solver, avatar_keypoints(avatar.solver, pose), detector_keypoints(avatar.solver, pose)


def test_detector_points_sit_where_mediapipe_marks_them_at_rest():
    solver, joints, marks = _rest()
    size = solver.rest_torso_length / 0.452
    for side in ("left", "right"):
        rise = marks[f"{side}_shoulder"][1] - joints[f"{side}_shoulder"][1]
        assert abs(rise - SHOULDER_LANDMARK_M[1] * size) < 1e-3  # canonical frame: y is up
        assert abs(marks[f"{side}_shoulder"][0]) < abs(joints[f"{side}_shoulder"][0])  # a little inward
        knee_drop = joints[f"{side}_knee"][1] - marks[f"{side}_knee"][1]
        assert abs(knee_drop - KNEE_LANDMARK_ALONG_THIGH_M * size) < 0.005  # the thigh hangs nearly straight
        ankle_rise = marks[f"{side}_ankle"][1] - joints[f"{side}_ankle"][1]
        assert abs(ankle_rise - ANKLE_LANDMARK_UP_SHIN_M * size) < 0.005
        assert abs(marks[f"{side}_ear"][0]) < abs(joints[f"{side}_ear"][0])  # the ear canal, inside the rim
    for name in COCO17:
        assert np.linalg.norm(marks[name] - joints[name]) < MAX_OFFSET_M


def test_lifting_lengths_are_measured_between_detector_points():
    solver, joints, marks = _rest("male_180_80.glb")
    lengths = solver.bone_lengths
    for side in ("left", "right"):
        thigh = lengths[(f"{side}_hip", f"{side}_knee")]
        shin = lengths[(f"{side}_knee", f"{side}_ankle")]
        assert abs(thigh - np.linalg.norm(marks[f"{side}_knee"] - marks[f"{side}_hip"])) < 1e-9
        assert thigh > np.linalg.norm(joints[f"{side}_knee"] - joints[f"{side}_hip"])  # knee mark below the joint
        assert shin < np.linalg.norm(joints[f"{side}_ankle"] - joints[f"{side}_knee"])
    assert ("mid_hip", "mid_shoulder") not in lengths  # the torso keeps MediaPipe's own length
