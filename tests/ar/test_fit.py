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


def test_fit_points_pair_each_landmark_with_its_keypoint_left_then_right():
    from avatar_wardrobe.ar.fit import FIT_POINTS, fit_points
    from avatar_wardrobe.pose import landmarks as lm

    names, marks, weights = fit_points()
    assert names[:4] == ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]  # the torso first
    assert [lm.NAMES[i] for i in marks] == names
    assert len(weights) == 2 * len(FIT_POINTS) and weights[:4].min() > weights[4:].max()
