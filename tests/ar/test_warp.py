"""Silhouette warp: the garment layer's torso edges move onto the person's, within bounds, smoothly in time."""
from dataclasses import replace

import numpy as np
import pytest

from avatar_wardrobe.ar import warp as wp
from avatar_wardrobe.ar.masks import iou, torso_part

from .test_masks import STANDING, _marks, _person

SIZE = (200, 300)
MID_ROW = 130  # a chest row (shoulders at y 80, hips at y 180)
# Arms held out sideways: the torso's sides are free (hanging arms make the garment's edge an arm's).
ARMS_OUT = dict(STANDING, left_elbow=(170, 80), left_wrist=(198, 80), left_index=(199, 80),
                right_elbow=(30, 80), right_wrist=(2, 80), right_index=(1, 80))


def _layer(left: int, right: int, top: int = 74, bottom: int = 176) -> np.ndarray:
    """A BGRA garment layer: a white box from column left to right (inclusive)."""
    layer = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    layer[top:bottom + 1, left:right + 1] = 255
    return layer


def _edges(layer: np.ndarray, row: int) -> tuple[int, int]:
    on = np.flatnonzero(layer[row, :, 3] > 127)
    return int(on[0]), int(on[-1])


def test_torso_side_agrees_with_the_drawn_torso_part_in_a_window():
    marks = _marks(STANDING, SIZE)
    px = marks.image[:, :2] * np.array(SIZE)
    drawn = torso_part(marks, SIZE)
    window = wp.torso_side(px, 40, 60, 120, 150)  # a window of the image
    assert window.sum() > 3000
    assert (window != drawn[60:210, 40:160]).mean() < 0.01, (window != drawn[60:210, 40:160]).sum()


def test_a_too_wide_shifted_garment_is_brought_onto_the_torso():
    person = _person(SIZE, ARMS_OUT) > 0.5  # torso columns 72..128
    marks = _marks(ARMS_OUT, SIZE)
    layer = _layer(64, 131)                 # 8 px too far left, 11 px too wide
    out = wp.SilhouetteWarp()(layer, person, marks)
    left, right = _edges(out, MID_ROW)
    assert abs(left - 72) <= 1 and abs(right - 128) <= 1, (left, right)
    torso = person & torso_part(marks, SIZE)
    assert iou(out[..., 3] > 127, torso) > iou(layer[..., 3] > 127, torso) + 0.05
    assert (out[MID_ROW, 80:120, :3] == 255).all()  # the garment's colour is carried, not left behind


def test_rows_outside_the_torso_are_left_alone():
    person = _person(SIZE, STANDING) > 0.5
    layer = _layer(73, 137, top=20, bottom=290)
    out = wp.SilhouetteWarp()(layer, person, _marks(STANDING, SIZE))
    assert _edges(out, 30) == (73, 137) and _edges(out, 280) == (73, 137)  # above the neck, at the knees


@pytest.mark.parametrize("bad", ["everywhere", "sliver", "noise"])
def test_a_bad_mask_moves_edges_at_most_the_bound(bad):
    rng = np.random.default_rng(3)
    person = {"everywhere": np.ones((SIZE[1], SIZE[0]), bool),
              "sliver": np.zeros((SIZE[1], SIZE[0]), bool),
              "noise": rng.random((SIZE[1], SIZE[0])) > 0.5}[bad]
    if bad == "sliver":
        person[:, 98:103] = True   # a 5 px wide "person"
    marks = _marks(STANDING, SIZE)
    layer = _layer(72, 128)
    out = wp.SilhouetteWarp()(layer, person, marks)
    shoulder_px = 60.0
    limit = wp.MAX_SHIFT_OF_SHOULDERS * shoulder_px + 1.5
    for row in range(76, 176, 4):
        left, right = _edges(out, row)
        assert abs(left - 72) <= limit and abs(right - 128) <= limit, (bad, row, left, right)
        assert wp.MIN_SCALE - 0.05 <= (right - left) / 56 <= wp.MAX_SCALE + 0.05
    assert (out[..., 3] > 127).sum() > 0.75 * (layer[..., 3] > 127).sum()


def test_no_person_or_no_torso_leaves_the_layer_unchanged():
    layer = _layer(73, 137)
    marks = _marks(STANDING, SIZE)
    assert (wp.SilhouetteWarp()(layer, np.zeros((SIZE[1], SIZE[0]), bool), marks) == layer).all()
    squashed = _marks(dict(STANDING, left_hip=(120, 81), right_hip=(80, 81)), SIZE)  # hips on the shoulder line
    assert (wp.SilhouetteWarp()(layer, _person(SIZE, STANDING) > 0.5, squashed) == layer).all()


def test_the_edges_follow_a_jump_in_the_mask_over_a_few_frames():
    """A person mask that suddenly reads 10 px wider on one side (a mask glitch or a fast turn):
    the warp eases there over ~TIME_CONSTANT_S, so one bad frame moves the garment only partly."""
    marks = _marks(ARMS_OUT, SIZE)
    narrow = _person(SIZE, ARMS_OUT) > 0.5
    wide = narrow.copy()
    wide[72:190, 129:139] = True
    warp = wp.SilhouetteWarp()
    layer = _layer(72, 128)
    for i in range(5):
        warp(layer, narrow, replace(marks, time_s=i / 30))
    first = _edges(warp(layer, wide, replace(marks, time_s=5 / 30)), MID_ROW)[1]
    for i in range(6, 30):
        later = _edges(warp(layer, wide, replace(marks, time_s=i / 30)), MID_ROW)[1]
    assert 128 < first < 136, first   # part of the way after one frame
    assert abs(later - 138) <= 1, later  # there after most of a second
    back = _edges(warp(layer, wide, replace(marks, time_s=5.0)), MID_ROW)[1]  # a gap restarts
    assert abs(back - 138) <= 1


def test_unseen_hips_leave_the_layer_alone_and_the_warp_eases_off():
    """Hips below the frame (a webcam close-up): MediaPipe still guesses them, with low visibility;
    the torso rows would be guesses, so nothing is warped, and earlier offsets ease back to none."""
    from avatar_wardrobe.pose import landmarks as lm

    person = _person(SIZE, ARMS_OUT) > 0.5
    marks = _marks(ARMS_OUT, SIZE)
    hidden = marks.visibility.copy()
    hidden[[lm.LEFT_HIP, lm.RIGHT_HIP]] = 0.1
    layer = _layer(64, 131)
    assert (wp.SilhouetteWarp()(layer, person, replace(marks, visibility=hidden)) == layer).all()
    warp = wp.SilhouetteWarp()
    warp(layer, person, marks)
    before = np.abs(warp._offsets).max()
    for i in range(1, 10):
        warp(layer, person, replace(marks, visibility=hidden, time_s=i / 30))
    assert before > 0.05 and np.abs(warp._offsets).max() < 0.1 * before
