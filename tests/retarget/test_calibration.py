"""Calibration on renders of the bundled avatars in their own A-pose, tracked by MediaPipe: the stance
is recognised, proportions match the rig's, and a given height picks the right body and scale."""
import numpy as np
import pytest

from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.pose.calibration import calibrate, stance_problem, suggest_body
from avatar_wardrobe.records import Frame
from avatar_wardrobe.settings import MODELS_DIR
from landmark_fixtures import as_record, make_landmarks

AVATARS = {"female_165_58": 1.65, "male_180_80": 1.80}
CAMERA_YAWS = (-6.0, -3.0, 0.0, 3.0, 6.0)
PROPORTION_TOLERANCE = 0.15  # 2D landmark segments vs the rig's joints (measured: within 2-13 %)


CAMERA_DISTANCE_M = 5.0
VERTICAL_FOV_DEG = 30.0


@pytest.fixture(scope="module")
def captures(panda_base):
    """Each avatar in its bind A-pose, filmed from a few yaws. A private light rig lights only the
    avatar and the camera is put back afterwards, so the session's shared ShowBase is left as it was."""
    from panda3d.core import AmbientLight, DirectionalLight, Vec4

    from avatar_wardrobe.pose.tracker import PoseTracker
    from avatar_wardrobe.render.avatar_actor import AvatarActor
    from avatar_wardrobe.render.capture import FrameGrabber

    base = panda_base
    saved_cam, saved_fov = base.camera.getMat(), base.camLens.getFov()
    rig = base.render.attachNewNode("calibration_test")
    sun = rig.attachNewNode(DirectionalLight("key"))
    sun.node().setColor(Vec4(1.2, 1.2, 1.2, 1))
    sun.setHpr(-30, -40, 0)
    ambient = rig.attachNewNode(AmbientLight("fill"))
    ambient.node().setColor(Vec4(0.4, 0.4, 0.4, 1))
    aspect = base.win.getXSize() / base.win.getYSize()
    base.camLens.setFov(2 * np.degrees(np.arctan(np.tan(np.radians(VERTICAL_FOV_DEG / 2)) * aspect)), VERTICAL_FOV_DEG)
    grabber = FrameGrabber(base)
    out = {}
    try:
        for name in AVATARS:
            model = load_avatar(MODELS_DIR / "avatar" / f"{name}.glb")
            actor = AvatarActor(model.path, model.skeleton, rig)
            actor.node.setLight(sun)
            actor.node.setLight(ambient)
            actor.apply_local(model.skeleton.local_matrices(model.skeleton.rest_rotations()))
            actor.actor.update(force=True)
            centre = AVATARS[name] / 2
            with PoseTracker(static_image_mode=True) as tracker:
                frames = []
                for k, yaw in enumerate(CAMERA_YAWS):
                    t = np.radians(yaw)
                    base.camera.setPos(CAMERA_DISTANCE_M * np.sin(t), -CAMERA_DISTANCE_M * np.cos(t), centre)
                    base.camera.lookAt(0, 0, centre)
                    frames.append(tracker.track(Frame(k, k / 30, grabber.render())))
            actor.remove()
            out[name] = (model, frames)
    finally:
        rig.removeNode()
        base.camera.setMat(saved_cam)
        base.camLens.setFov(saved_fov)
    return out


def _rig_share(model, a, b, height, sides=("l", "l")):
    """Distance between two role joints of the rig at rest, as a share of the height."""
    p, j = model.solver.rest.positions, model.solver._idx
    return float(np.linalg.norm(p[j(b, sides[1])] - p[j(a, sides[0])])) / height


@pytest.mark.parametrize("name", sorted(AVATARS))
def test_a_pose_render_gives_the_rigs_proportions_and_body(captures, name):
    model, frames = captures[name]
    assert all(stance_problem(f) is None for f in frames)
    height = AVATARS[name]
    cal = calibrate(frames, height_m=height)
    assert cal.stance == "A" and cal.frames_used == len(CAMERA_YAWS) and cal.height_source == "given"
    for role, end in (("upper_arm", "lower_arm"), ("lower_arm", "hand")):
        want = _rig_share(model, role, end, height)
        assert abs(cal.proportions[role] - want) < PROPORTION_TOLERANCE * want, role
    want = _rig_share(model, "upper_arm", "upper_arm", height, sides=("l", "r"))
    assert abs(cal.proportions["shoulder_width"] - want) < PROPORTION_TOLERANCE * want
    assert np.isclose(cal.bone_lengths_m["upper_arm"], cal.proportions["upper_arm"] * height)
    suggestion = suggest_body(cal, MODELS_DIR / "avatar")
    assert suggestion.avatar == f"{name}.glb" and np.isclose(suggestion.scale, 1.0, atol=0.01)


def test_without_a_height_mediapipes_scale_is_used_and_flagged(captures):
    _, frames = captures["female_165_58"]
    cal = calibrate(frames)
    assert cal.height_source == "mediapipe" and cal.notes
    assert 1.3 < cal.height_m < 1.9


def test_a_non_stance_capture_is_refused_with_advice():
    frames = [as_record(make_landmarks()) for _ in range(6)]  # arms hanging down: not an A or T
    with pytest.raises(WardrobeError, match="arms not held out"):
        calibrate(frames)
    with pytest.raises(WardrobeError, match="in metres"):
        calibrate(frames, height_m=172)


def test_calibrated_lengths_replace_the_rigs_in_lifting(captures):
    model, frames = captures["female_165_58"]
    solver = model.solver
    rig = dict(solver.bone_lengths)
    solver.use_calibration(calibrate(frames, height_m=AVATARS["female_165_58"]))
    try:
        player = solver.bone_lengths
        assert set(rig) <= set(player) and ("mid_hip", "mid_shoulder") in player
        # The avatar measured as a player: its limbs, measured between MediaPipe's landmarks, come
        # out as the rig's own lifting lengths (also measured where MediaPipe marks them).
        for key in [k for k in rig if not k[0].startswith("mid")]:
            assert abs(player[key] - rig[key]) < PROPORTION_TOLERANCE * rig[key], key
        assert solver.solve(frames[2]).local_rotations.shape == (len(model.skeleton), 4)
    finally:
        solver.reset_lengths()
    assert solver.bone_lengths == rig
