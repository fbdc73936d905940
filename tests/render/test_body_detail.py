"""The avatar's level of detail: coarse while small on screen, full up close, the same picture, hidden parts kept hidden."""
import numpy as np
import pytest

from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.garments.garment import BODY_REGIONS
from avatar_wardrobe.render import body_detail
from avatar_wardrobe.render.capture import FrameGrabber
from avatar_wardrobe.render.plugin import Wardrobe
from avatar_wardrobe.settings import load_scene

FAR_M, NEAR_M = 8.0, 0.8          # camera distances: the avatar small, and over the (320x240) view
HEIGHT_TOLERANCE = 0.1            # screen height against the projected bounds
PIXEL_CHANGE = 40                 # summed BGR difference that counts as a different pixel
MAX_CHANGED_SHARE = 0.01          # of the avatar's pixels, between the full and the coarse body
MAX_MEAN_DIFF = 1.5               # grey levels over the avatar's box


def test_want_low_follows_the_mode_and_switches_back_with_a_margin():
    limit = body_detail.LOW_DETAIL_BELOW_PX
    assert body_detail.want_low("low", False, 5000) and not body_detail.want_low("full", True, 10)
    assert not body_detail.want_low("auto", True, None)  # no perspective camera: full
    assert body_detail.want_low("auto", False, limit * 0.9)
    assert not body_detail.want_low("auto", False, limit * 1.05)
    assert body_detail.want_low("auto", True, limit * 1.05)   # inside the margin: stays coarse
    assert not body_detail.want_low("auto", True, limit * body_detail.BACK_TO_FULL_SHARE * 1.01)
    with pytest.raises(WardrobeError, match="body_lod"):
        body_detail.check_mode("medium")


@pytest.fixture
def wardrobe(panda_base):
    w = Wardrobe(panda_base)
    cam = panda_base.camera  # the camera's rig (a studio places it; base.cam sits at its origin)
    saved = cam.getPos(), cam.getHpr()
    yield panda_base, w
    cam.setPos(saved[0])
    cam.setHpr(saved[1])
    w.remove()


def _look_from(base, w, distance):
    middle = w.node.getPos(base.render) + (0, 0, w.avatar.height_m / 2)
    base.camera.setPos(middle + (0, -distance, 0))
    base.camera.lookAt(middle)


def _projected_height(base, node):
    from panda3d.core import Point2, Point3

    lo, hi = node.getTightBounds(base.cam)
    ys = []
    for z in (lo.z, hi.z):
        p = Point2()
        base.camLens.project(Point3((lo.x + hi.x) / 2, (lo.y + hi.y) / 2, z), p)
        ys.append(p.y)
    return abs(ys[1] - ys[0]) / 2 * base.win.getYSize()


def test_auto_draws_the_coarse_list_far_away_and_the_full_one_up_close(wardrobe):
    base, w = wardrobe
    full = w.actor.triangle_count() if not w.actor.low_detail else None
    _look_from(base, w, FAR_M)
    assert w.update_detail()
    height = body_detail.screen_height_px(base, w.node, w.avatar.height_m)
    assert height == pytest.approx(_projected_height(base, w.node), rel=HEIGHT_TOLERANCE)
    coarse = w.actor.triangle_count()
    _look_from(base, w, NEAR_M)
    assert body_detail.screen_height_px(base, w.node, w.avatar.height_m) > body_detail.LOW_DETAIL_BELOW_PX
    assert not w.update_detail()
    assert w.actor.triangle_count() > 2 * coarse
    assert full is None or w.actor.triangle_count() == full


def test_forced_modes_ignore_the_camera(panda_base):
    for mode, low in (("low", True), ("full", False)):
        scene = load_scene()
        scene.render.body_lod = mode
        w = Wardrobe(panda_base, scene=scene)
        try:
            assert w.update_detail() is low
        finally:
            w.remove()


def test_hidden_regions_stay_hidden_in_the_coarse_list(wardrobe):
    base, w = wardrobe
    w.undress()  # nothing hidden yet
    body = w.avatar.body
    legs = np.isin(body.regions, [BODY_REGIONS.index("upper_legs")])
    hidden = legs[body.faces].all(axis=1)
    w.actor.set_low_detail(True)
    shown = w.actor.triangle_count()
    w.actor.set_hidden_faces(hidden)
    (tri,) = w.actor._triangle_arrays()
    drawn = np.frombuffer(tri.prim.getVertices().getHandle().getData(), tri.faces.dtype).reshape(-1, 3)
    assert 0 < len(drawn) < shown
    faces, source, _order = tri.coarse()
    visible = {tuple(f) for f in faces[~hidden[source]]}
    assert len(drawn) == len(visible) and all(tuple(f) in visible for f in drawn), \
        "a coarse triangle of a hidden face is drawn"
    assert legs[faces[hidden[source]]].any(axis=1).all()  # ...and those left out are the legs'
    w.actor.set_low_detail(False)
    assert w.actor.triangle_count() == int((~hidden).sum())


def test_the_coarse_body_looks_like_the_full_one(wardrobe):
    base, w = wardrobe
    _look_from(base, w, 3.0)  # ~ the demo's framing: the avatar a bit under a window tall
    grabber = FrameGrabber(base)
    try:
        shots = []
        for low in (False, True):
            w.actor.set_low_detail(low)
            grabber.render()
            shots.append(grabber.render().astype(int))
        w.node.hide()
        grabber.render()
        empty = grabber.render().astype(int)
        w.node.show()
    finally:
        base.win.clearRenderTextures()
    avatar = np.abs(shots[0] - empty).sum(axis=2) > PIXEL_CHANGE
    assert avatar.sum() > 1000, "the avatar is not in the picture"
    changed = np.abs(shots[0] - shots[1]).sum(axis=2) > PIXEL_CHANGE
    assert changed.sum() < MAX_CHANGED_SHARE * avatar.sum()
    ys, xs = np.nonzero(avatar)
    box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    assert np.abs(shots[0][box] - shots[1][box]).mean() < MAX_MEAN_DIFF
