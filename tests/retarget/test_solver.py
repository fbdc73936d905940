"""Retarget solver on synthetic MediaPipe world landmarks: bones point where the person's limbs point."""
import numpy as np
import pytest

from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.pose import landmarks as lm
from avatar_wardrobe.records import Landmarks
from avatar_wardrobe.retarget.keypoints import KNEE_LANDMARK_ALONG_THIGH_M, REFERENCE_TORSO_M, SHOULDER_LANDMARK_M
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


def _marks(avatar):
    """MediaPipe marks a shoulder above and inward of the joint and a knee down the thigh from it
    (retarget.keypoints, measured on renders): (left shoulder joint x, its y, knee mark past the joint)
    for the fixture's shoulder landmark at (0.18, -0.50, 0), MediaPipe axes."""
    size = avatar.solver.rest_torso_length / REFERENCE_TORSO_M
    out, up, _ = SHOULDER_LANDMARK_M
    return 0.18 - out * size, -0.50 + up * size, KNEE_LANDMARK_ALONG_THIGH_M * size


def test_arm_straight_out_to_the_side(avatar):
    _, y, _ = _marks(avatar)  # level with the shoulder joint
    pose = avatar.solver.solve(as_record(make_landmarks(left_elbow=(0.46, y, 0), left_wrist=(0.72, y, 0))))
    assert angle_deg(bone_direction(avatar, pose, "upper_arm", "lower_arm", "l"), LEFT) < ANGLE_TOLERANCE_DEG
    assert angle_deg(bone_direction(avatar, pose, "lower_arm", "hand", "l"), LEFT) < ANGLE_TOLERANCE_DEG


def test_arm_forward(avatar):
    x, y, _ = _marks(avatar)
    pose = avatar.solver.solve(as_record(make_landmarks(left_elbow=(x, y, -0.27), left_wrist=(x, y, -0.52))))
    assert angle_deg(bone_direction(avatar, pose, "upper_arm", "lower_arm", "l"), FORWARD) < ANGLE_TOLERANCE_DEG
    assert angle_deg(bone_direction(avatar, pose, "lower_arm", "hand", "l"), FORWARD) < ANGLE_TOLERANCE_DEG


def test_knee_bent_90_degrees(avatar):
    knee_mark = -0.42 - _marks(avatar)[2]  # the thigh points forward (-z): the mark lies past the joint
    pose = avatar.solver.solve(as_record(make_landmarks(left_knee=(0.10, 0.0, knee_mark), left_ankle=(0.10, 0.40, -0.42),
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


def joint_pos(avatar, pose, name):
    return avatar.skeleton.positions(pose.local_rotations, pose.root_offset)[avatar.skeleton.index(name)]


def role_pos(avatar, pose, role, side):
    return joint_pos(avatar, pose, avatar.rig.limb(role, side))


def test_raised_left_arm_raises_the_avatars_left_arm(avatar):
    pose = avatar.solver.solve(as_record(make_landmarks(left_elbow=(0.18, -0.78, 0), left_wrist=(0.18, -1.03, 0))))
    assert angle_deg(bone_direction(avatar, pose, "upper_arm", "lower_arm", "l"), UP) < ANGLE_TOLERANCE_DEG
    assert angle_deg(bone_direction(avatar, pose, "upper_arm", "lower_arm", "r"), -UP) < 10


def test_shrug_raises_the_shoulder_joints(avatar):
    lift = np.array([0, -0.06, 0])  # MediaPipe y points down
    base = make_landmarks()
    shrugged = base.copy()
    for part in ("shoulder", "elbow", "wrist", "index", "pinky", "thumb"):
        for side in ("left", "right"):
            shrugged[lm.INDEX[f"{side}_{part}"]] += lift
    rest, up = (avatar.solver.solve(as_record(p)) for p in (base, shrugged))
    for side in "lr":
        rise = (role_pos(avatar, up, "upper_arm", side) - role_pos(avatar, up, "clavicle", side))[1] - \
               (role_pos(avatar, rest, "upper_arm", side) - role_pos(avatar, rest, "clavicle", side))[1]
        assert rise > 0.02, f"side {side}: the shoulder rose only {rise:.3f} m"


def _arm_out(palm_turn_deg):
    """Left arm straight out to the side; the hand's index/pinky turned about the forearm."""
    turn = axis_angle_matrix(np.array([1.0, 0, 0]), np.radians(palm_turn_deg))
    wrist = np.array([0.72, -0.50, 0.0])
    index = wrist + turn @ np.array([0.08, 0.0, -0.03])   # index ahead of the pinky (palm down)
    pinky = wrist + turn @ np.array([0.07, 0.0, 0.04])
    return make_landmarks(left_elbow=(0.46, -0.50, 0), left_wrist=wrist, left_index=index, left_pinky=pinky)


def test_forearm_twists_with_the_hand(avatar):
    """Turning the palm 60 degrees about the forearm turns the hand's knuckle line as much,
    and the forearm takes part of the twist (swing-twist), within its joint limit."""
    from avatar_wardrobe.retarget.solver import FOREARM_TWIST_SHARE

    flat, turned = (avatar.solver.solve(as_record(_arm_out(a))) for a in (0.0, 60.0))
    axis = LEFT  # the forearm points to the avatar's left

    def knuckles(pose):
        return role_pos(avatar, pose, "index", "l") - role_pos(avatar, pose, "pinky", "l")

    def twist_between(a, b):
        a, b = a - a @ axis * axis, b - b @ axis * axis
        return np.degrees(np.arctan2(np.cross(a, b) @ axis, a @ b))

    index, pinky = lm.INDEX["left_index"], lm.INDEX["left_pinky"]
    landmark_turn = twist_between(*(lm.to_avatar_frame(_arm_out(a))[index] -
                                    lm.to_avatar_frame(_arm_out(a))[pinky] for a in (0.0, 60.0)))
    assert abs(twist_between(knuckles(flat), knuckles(turned)) - landmark_turn) < 5
    sk = avatar.skeleton
    lower = sk.index(avatar.rig.limb("lower_arm", "l"))
    fore_twist = np.degrees(2 * np.arccos(np.clip(abs(np.dot(flat.local_rotations[lower],
                                                               turned.local_rotations[lower])), 0, 1)))
    assert abs(fore_twist - FOREARM_TWIST_SHARE * abs(landmark_turn)) < 5


def test_feet_head_where_heel_to_toe_points_and_follow_raised_toes(avatar):
    sk = avatar.skeleton

    def foot_dir(pose, side):
        return normalize(role_pos(avatar, pose, "toes", side) - role_pos(avatar, pose, "foot", side))

    def heading(v):
        return np.degrees(np.arctan2(v[0], v[2]))

    rest_dir = normalize(sk.bind_world[sk.index("ball_l"), :3, 3] - sk.bind_world[sk.index("foot_l"), :3, 3])
    for turn in (0.0, 25.0):  # the left foot turned out (toward the avatar's left)
        t = np.radians(turn)
        pts = make_landmarks(left_foot_index=(0.10 + 0.17 * np.sin(t), 0.87, 0.05 - 0.17 * np.cos(t)))
        marks = lm.to_avatar_frame(pts)
        want = heading(marks[lm.LEFT_FOOT_INDEX] - marks[lm.LEFT_HEEL])
        foot = foot_dir(avatar.solver.solve(as_record(pts)), "l")
        assert abs(heading(foot) - want) < ANGLE_TOLERANCE_DEG
        assert abs(foot[1] - rest_dir[1]) < 0.05  # a flat sole keeps the rest pitch
    toes_up = avatar.solver.solve(as_record(make_landmarks(left_foot_index=(0.10, 0.78, -0.12))))
    assert foot_dir(toes_up, "l")[1] > rest_dir[1] + 0.3  # the toes point higher


def test_side_lean_rolls_the_chest_and_forward_lean_is_damped(avatar):
    from avatar_wardrobe.retarget.solver import TORSO_PITCH_GAIN

    sk = avatar.skeleton
    chest = sk.index(avatar.rig.spine[-1])

    def chest_up(world):
        pose = avatar.solver.solve(as_record(world))
        r = sk.forward(pose.local_rotations)[chest, :3, :3]
        rest = sk.bind_world[chest, :3, :3]
        return (r @ np.linalg.inv(rest)) @ UP

    def about_hips(angle_deg_, axis):
        pts = make_landmarks()
        return pts @ axis_angle_matrix(np.array(axis, float), np.radians(angle_deg_)).T

    side = chest_up(about_hips(20, [0, 0, 1]))    # MediaPipe z: a roll in the image plane
    assert 15 < angle_deg(side, UP) < 25
    forward = chest_up(about_hips(30, [1, 0, 0]))  # shoulders toward the camera
    assert forward[2] > 0  # leans toward the avatar's front
    assert abs(angle_deg(forward, UP) - TORSO_PITCH_GAIN * 30) < 3


def test_head_turns_with_the_face(avatar):
    turn = axis_angle_matrix(np.array([0, 1.0, 0]), np.radians(-40))  # the person looks to their left
    pts = make_landmarks()
    neck_base = (pts[lm.LEFT_SHOULDER] + pts[lm.RIGHT_SHOULDER]) / 2
    head = [lm.INDEX[n] for n in lm.NAMES if n.split("_")[0] in ("nose", "mouth") or
            n.split("_")[-1] in ("eye", "inner", "outer", "ear")]
    pts[head] = (pts[head] - neck_base) @ turn.T + neck_base
    pose = avatar.solver.solve(as_record(pts))
    sk = avatar.skeleton
    j = sk.index(avatar.rig.head)
    facing = sk.forward(pose.local_rotations)[j, :3, :3] @ np.linalg.inv(sk.bind_world[j, :3, :3]) @ FORWARD
    # The avatar faces +Z and its left is +X: looking left turns the face toward +X.
    assert facing[0] > 0 and abs(np.degrees(np.arctan2(facing[0], facing[2])) - 40) < 5


def test_joint_limits_stop_a_knee_bending_past_its_range(avatar):
    from avatar_wardrobe.retarget.limits import JOINT_LIMITS

    # Ankle folded right back up to the hip: a 175-degree knee bend.
    pose = avatar.solver.solve(as_record(make_landmarks(left_knee=(0.10, 0.0, -0.42), left_ankle=(0.10, -0.02, 0.0))))
    thigh = bone_direction(avatar, pose, "upper_leg", "lower_leg", "l")
    shin = bone_direction(avatar, pose, "lower_leg", "foot", "l")
    assert angle_deg(thigh, shin) <= JOINT_LIMITS["lower_leg"].swing_deg + 10  # the rest knee bend counts too
    assert angle_deg(thigh, shin) > 120
