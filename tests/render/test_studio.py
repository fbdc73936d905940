"""An offscreen render shows the avatar where its joints project, and only there."""
import numpy as np
import pytest

from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.render.avatar_actor import to_panda_points
from avatar_wardrobe.render.capture import FrameGrabber
from avatar_wardrobe.render.plugin import Wardrobe
from avatar_wardrobe.render.studio import Studio
from avatar_wardrobe.settings import MODELS_DIR
from landmark_fixtures import make_landmarks, timed

AVATAR = MODELS_DIR / "avatar" / "female_165_58.glb"
PIXEL_CHANGE = 30          # summed BGR difference that counts as "the avatar is drawn here"
BODY_JOINTS = ("spine_02", "pelvis", "head", "thigh_l", "calf_r")
SETTLE_FRAMES = 12


@pytest.fixture(scope="module")
def scene(panda_base):
    model = load_avatar(AVATAR)
    Studio(panda_base, model.height_m, pbr=True, msaa=0)
    grabber = FrameGrabber(panda_base)
    empty = grabber.render()
    wardrobe = Wardrobe(panda_base, model)
    yield panda_base, model, wardrobe, grabber, empty
    wardrobe.remove()


def _project(base, point_panda):
    from panda3d.core import Point2, Point3

    p3 = base.cam.getRelativePoint(base.render, Point3(*point_panda))
    p2 = Point2()
    assert base.camLens.project(p3, p2), "joint outside the view"
    w, h = base.win.getXSize(), base.win.getYSize()
    return int((p2.x + 1) / 2 * w), int((1 - p2.y) / 2 * h)


def test_avatar_pixels_where_the_avatar_is(scene):
    base, model, wardrobe, grabber, empty = scene
    frame = grabber.render()
    diff = np.abs(frame.astype(int) - empty.astype(int)).sum(axis=2)
    assert frame.std() > 5, "the frame is flat: nothing was drawn"
    sk = model.skeleton
    for name in BODY_JOINTS:
        x, y = _project(base, to_panda_points(sk.bind_world[sk.index(name), :3, 3]))
        assert diff[y, x] > PIXEL_CHANGE, f"no avatar pixel at joint {name} ({x}, {y})"
    # Far from the body (top corners) the picture is the empty studio.
    assert diff[:10, :10].max() < PIXEL_CHANGE and diff[:10, -10:].max() < PIXEL_CHANGE
    # The avatar covers a plausible share of the frame (a standing body, not the whole view).
    share = (diff > PIXEL_CHANGE).mean()
    assert 0.03 < share < 0.5, share


def test_posing_moves_the_drawn_arm(scene):
    base, model, wardrobe, grabber, empty = scene
    wardrobe.filter.reset()
    wardrobe.update(timed(make_landmarks(), 0))
    down = grabber.render()
    for i in range(1, SETTLE_FRAMES + 1):  # the pose filter follows a sudden move within a few frames
        wardrobe.update(timed(make_landmarks(left_elbow=(0.46, -0.5, 0), left_wrist=(0.72, -0.5, 0)), i))
    out = grabber.render()
    sk = model.skeleton
    hand = sk.positions(wardrobe.pose.local_rotations, wardrobe.pose.root_offset)[sk.index("hand_l")]
    x, y = _project(base, to_panda_points(hand))
    assert np.abs(out[y, x].astype(int) - down[y, x].astype(int)).sum() > PIXEL_CHANGE
    assert np.abs(out[y, x].astype(int) - empty[y, x].astype(int)).sum() > PIXEL_CHANGE
