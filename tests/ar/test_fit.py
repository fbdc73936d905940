"""AR placement maths: the fit recovers a known camera placement; smoothing follows time, not frames."""
import numpy as np
import pytest

from avatar_wardrobe.ar.fit import (
    AVATAR_TO_CAMERA,
    Intrinsics,
    LandmarkSmoother,
    fit_placement,
)

CAM = Intrinsics(360, 640, 55.0)
# A standing body's joints (glTF avatar frame, metres): shoulders, hips, elbows, knees.
JOINTS = np.array([[0.17, 1.35, 0.0], [-0.17, 1.35, 0.0], [0.1, 0.9, 0.02], [-0.1, 0.9, 0.02],
                   [0.25, 1.08, -0.05], [-0.25, 1.08, -0.05], [0.1, 0.48, 0.04], [-0.1, 0.48, 0.04]])
WEIGHTS = np.array([1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 0.1])


def project(linear: np.ndarray, translation: np.ndarray, joints: np.ndarray = JOINTS) -> np.ndarray:
    cam = (joints @ AVATAR_TO_CAMERA.T) @ linear.T + translation
    return cam[:, :2] / cam[:, 2:] * CAM.focal_px + np.array(CAM.centre)


def shear_lean(deg: float) -> np.ndarray:
    """A player leaning sideways more than the avatar: x shifts with height."""
    m = np.eye(3)
    m[0, 1] = np.tan(np.radians(deg))
    return m


@pytest.mark.parametrize("linear", [np.diag([1.0, 1.0, 1.0]), np.diag([0.9, 1.08, 1.0]), shear_lean(8.0)])
def test_fit_recovers_a_known_placement(linear):
    translation = np.array([0.15, -0.9, 2.6])
    marks = project(linear, translation)
    placement = fit_placement(JOINTS, marks, WEIGHTS, CAM)
    assert placement is not None
    again = project(placement.linear, placement.translation)
    assert np.abs(again - marks).max() < 1.0, again - marks  # pixels, perspective included
    assert placement.residual_px < 1.0
    assert placement.translation[2] == pytest.approx(translation[2], rel=0.05)


def test_the_old_scale_and_offset_fit_could_not_follow_a_lean():
    """A per-axis scale + offset (no shear) leaves pixels of error on a leaning torso; the affine does not."""
    marks = project(shear_lean(10.0), np.array([0.0, -0.9, 2.6]))
    placement = fit_placement(JOINTS, marks, WEIGHTS, CAM)
    torso = slice(0, 4)
    assert np.abs(project(placement.linear, placement.translation)[torso] - marks[torso]).max() < 1.0
    upright = placement.linear.copy()
    upright[0, 1] = upright[1, 0] = 0.0
    assert np.abs(project(upright, placement.translation)[torso] - marks[torso]).max() > 5.0


def test_too_few_visible_joints_or_a_mirrored_fit_gives_none():
    marks = project(np.eye(3), np.array([0.0, -0.9, 2.6]))
    assert fit_placement(JOINTS, marks, np.array([1.0, 1.0, 0, 0, 0, 0, 0, 0]), CAM) is None
    mirrored = marks.copy()
    mirrored[:, 0] = 2 * CAM.centre[0] - mirrored[:, 0]
    assert fit_placement(JOINTS, mirrored, WEIGHTS, CAM) is None


def test_stretch_is_limited():
    """A wildly wrong pose may not squash the avatar flat: at most MAX_ANISOTROPY between axes."""
    from avatar_wardrobe.ar.fit import MAX_ANISOTROPY

    marks = project(np.diag([0.3, 1.0, 1.0]), np.array([0.0, -0.9, 2.6]))
    placement = fit_placement(JOINTS, marks, WEIGHTS, CAM)
    s = np.linalg.svd(placement.linear[:2, :2], compute_uv=False)
    assert s[0] / s[1] == pytest.approx(MAX_ANISOTROPY, rel=1e-6)


def test_smoothing_follows_time_not_frames():
    """At 5 fps a squat moves a long way between frames: the smoothed target keeps up; at 60 fps
    the same per-second motion is smoothed more per frame, and a still point keeps still."""
    slow, fast = LandmarkSmoother(), LandmarkSmoother()
    for i in range(6):
        a = slow(np.array([[0.5, 0.3 + 0.05 * i]]), i / 5.0)
    for i in range(61):
        b = fast(np.array([[0.5, 0.3 + 0.25 * i / 60]]), i / 60.0)
    assert a[0, 1] == pytest.approx(0.55, abs=0.03)   # lag under a fifth of the motion at 5 fps
    assert b[0, 1] == pytest.approx(0.55, abs=0.03)
    still = LandmarkSmoother()
    for i in range(10):
        out = still(np.array([[0.5, 0.5 + (0.002 if i % 2 else -0.002)]]), i / 30.0)
    assert abs(out[0, 1] - 0.5) < 0.0015  # shake damped


def test_smoothing_restarts_after_a_gap():
    s = LandmarkSmoother()
    s(np.array([[0.2, 0.2]]), 0.0)
    assert s(np.array([[0.8, 0.8]]), 5.0)[0, 0] == pytest.approx(0.8)


def _marks(points: dict[str, tuple[float, float]], size: tuple[int, int], z: dict[str, float] | None = None):
    from avatar_wardrobe.pose import landmarks as lm
    from avatar_wardrobe.records import Landmarks

    image = np.zeros((lm.COUNT, 3))
    for name, (x, y) in points.items():
        image[lm.INDEX[name]] = (x / size[0], y / size[1], (z or {}).get(name, 0.0))
    return Landmarks(0, 0.0, image=image, world=np.zeros((lm.COUNT, 3)), visibility=np.ones(lm.COUNT), image_size=size)


# A front-facing person, arms hanging at the sides, in a 200 x 300 image (pixels).
STANDING = {"left_shoulder": (130, 80), "right_shoulder": (70, 80), "left_hip": (120, 180), "right_hip": (80, 180),
            "left_elbow": (145, 135), "right_elbow": (55, 135), "left_wrist": (150, 185), "right_wrist": (50, 185),
            "left_index": (151, 200), "right_index": (49, 200), "left_knee": (118, 240), "right_knee": (82, 240),
            "left_ankle": (118, 295), "right_ankle": (82, 295), "left_ear": (110, 40), "right_ear": (90, 40),
            "left_pinky": (152, 198), "right_pinky": (48, 198), "left_thumb": (148, 198), "right_thumb": (52, 198)}


def _person(size, points, torso_half_width=28, limb_px=12):
    import cv2

    w, h = size
    mask = np.zeros((h, w), np.uint8)
    cx = (points["left_shoulder"][0] + points["right_shoulder"][0]) / 2
    cv2.rectangle(mask, (int(cx - torso_half_width), 72), (int(cx + torso_half_width), 190), 1, -1)
    for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle")):
        for s in ("left", "right"):
            cv2.line(mask, tuple(map(int, points[f"{s}_{a}"])), tuple(map(int, points[f"{s}_{b}"])), 1, limb_px)
    cv2.circle(mask, (int(cx), 40), 18, 1, -1)
    return mask.astype(np.float32)


def test_torso_region_keeps_hanging_arms_head_and_legs_out():
    from avatar_wardrobe.ar.fit import torso_region

    size = (200, 300)
    person = _person(size, STANDING)
    region = torso_region(_marks(STANDING, size), size, person)
    assert region[130, 100] and region[100, 75]                 # chest, side of the chest
    assert not region[135, 145] and not region[160, 148]        # the left arm beside the body
    assert not region[40, 100] and not region[250, 100]         # head, legs
    assert not (region & (person < 0.5)).any()                  # only the person's own pixels


def test_torso_region_keeps_a_bulge_beyond_the_joints():
    """A torso seen turned or leaning shows body outside the shoulder-hip quadrilateral (the back):
    it is still torso; the old dilated-quadrilateral region cut it off."""
    from avatar_wardrobe.ar.fit import torso_region

    size = (200, 300)
    arms_out = dict(STANDING, left_elbow=(170, 80), left_wrist=(198, 80), left_index=(199, 80),
                    right_elbow=(30, 80), right_wrist=(2, 80), right_index=(1, 80))
    person = _person(size, arms_out, torso_half_width=45)  # a thick torso (seen from the side)
    region = torso_region(_marks(arms_out, size), size, person)
    assert region[150, 57] and region[150, 143]  # 20 px outside the quadrilateral's edges
    old = np.zeros(region.shape, np.uint8)
    import cv2
    cv2.fillConvexPoly(old, np.array([(130, 80), (70, 80), (80, 180), (120, 180)], np.int32), 1)
    old = cv2.dilate(old.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)  # 0.12 x 60 px
    assert not old[150, 57]


def test_arm_in_front_is_cut_out_of_the_torso():
    from avatar_wardrobe.ar.fit import torso_region

    size = (200, 300)
    folded = dict(STANDING, left_elbow=(110, 140), left_wrist=(80, 120), left_index=(72, 115),
                  left_pinky=(73, 118), left_thumb=(75, 112))
    marks = _marks(folded, size, z={"left_elbow": -0.3, "left_wrist": -0.4, "left_shoulder": 0.0})
    region = torso_region(marks, size, _person(size, folded))
    assert not region[130, 95]  # on the forearm across the belly
    assert region[170, 100]


def test_fit_points_pair_each_landmark_with_its_keypoint_left_then_right():
    from avatar_wardrobe.ar.fit import FIT_POINTS, fit_points
    from avatar_wardrobe.pose import landmarks as lm

    names, marks, weights = fit_points()
    assert names[:4] == ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]  # the torso first
    assert [lm.NAMES[i] for i in marks] == names
    assert len(weights) == 2 * len(FIT_POINTS) and weights[:4].min() > weights[4:].max()


def test_sleeve_share_measures_how_far_down_the_arm_a_garment_reaches():
    from avatar_wardrobe.ar.fit import sleeve_share

    shoulder, elbow, wrist = np.array([0.2, 1.35, 0]), np.array([0.45, 1.35, 0]), np.array([0.7, 1.35, 0])
    torso = np.array([[x, y, 0.05] for x in np.linspace(-0.15, 0.15, 7) for y in np.linspace(0.9, 1.4, 6)])
    short = np.array([[x, 1.35, 0.06] for x in np.linspace(0.2, 0.32, 5)])     # half the upper arm
    long = np.array([[x, 1.35, 0.06] for x in np.linspace(0.2, 0.68, 12)])     # to the wrist
    assert sleeve_share(torso, shoulder, elbow, wrist) == pytest.approx(0.0, abs=0.05)
    assert sleeve_share(np.vstack([torso, short]), shoulder, elbow, wrist) == pytest.approx(0.24, abs=0.02)
    assert sleeve_share(np.vstack([torso, long]), shoulder, elbow, wrist) == pytest.approx(0.96, abs=0.02)


def test_a_sleeve_keeps_the_top_of_an_arm_in_front_behind_the_garment():
    from avatar_wardrobe.ar.fit import arm_mask

    size = (200, 300)
    folded = dict(STANDING, left_elbow=(110, 140), left_wrist=(80, 120), left_index=(72, 115),
                  left_pinky=(73, 118), left_thumb=(75, 112))
    marks = _marks(folded, size, z={"left_elbow": -0.3, "left_wrist": -0.4, "left_shoulder": 0.0})
    bare, sleeved = arm_mask(marks, size), arm_mask(marks, size, covered_share=0.25)
    assert bare[85, 128] and not sleeved[85, 128]    # just below the shoulder: inside a short sleeve
    assert bare[135, 111] and sleeved[135, 111]      # the elbow passes in front either way
    assert arm_mask(marks, size, covered_share=1.0)[118, 76]  # the hand is never covered


def test_an_arm_a_little_nearer_than_its_shoulder_is_not_in_front():
    """MediaPipe reads a hanging arm's wrist slightly nearer than the shoulder; that arm is beside the body."""
    from avatar_wardrobe.ar.fit import arm_in_front

    hanging = _marks(STANDING, (200, 300), z={"left_wrist": -0.05, "left_shoulder": 0.0})
    forward = _marks(STANDING, (200, 300), z={"left_wrist": -0.5, "left_shoulder": 0.0})
    assert not arm_in_front(hanging, "left") and arm_in_front(forward, "left")
