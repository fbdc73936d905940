"""BVH export: a Y-up hierarchy from the bind offsets, ZXY Euler motion, and a parser that reads it
back within 0.5 degrees on every test rig."""
import numpy as np
import pytest

from avatar_wardrobe.record.bvh import (BVH_UNITS_PER_METRE, bvh_to_animation, euler_zxy, from_euler_zxy, read_bvh,
                                        rotation_errors_deg, write_bvh)
from avatar_wardrobe.transforms import normalize, quat_to_matrix
from motion_fixtures import DEFAULT_AVATAR, ROUND_TRIP_DEG, SHARED_RIGS, solved_clip

ROUND_TRIP_ROOT_M = 1e-5


def test_euler_zxy_round_trips_including_gimbal_lock():
    rng = np.random.default_rng(4)
    mats = list(quat_to_matrix(normalize(rng.normal(size=(200, 4)))))
    mats += [from_euler_zxy(0.3, np.pi / 2, -0.2), from_euler_zxy(-1.0, -np.pi / 2, 0.4)]
    for m in mats:
        assert np.allclose(from_euler_zxy(*euler_zxy(m)), m, atol=1e-9)


def _round_trip(path, out):
    avatar, anim = solved_clip(path)
    write_bvh(avatar.skeleton, avatar.solver.rest.body, anim, out)
    bvh = read_bvh(out)
    assert len(bvh.joints) == len(avatar.skeleton) and len(bvh.values) == len(anim.times_s)
    back = bvh_to_animation(bvh, avatar.skeleton, avatar.solver.rest.body)
    assert rotation_errors_deg(back.local_rotations, anim.local_rotations).max() < ROUND_TRIP_DEG
    assert np.abs(back.root_offsets - anim.root_offsets).max() < ROUND_TRIP_ROOT_M
    assert np.isclose(bvh.frame_time, np.median(np.diff(anim.times_s)), atol=1e-6)
    return avatar, bvh


def test_default_avatar_bvh_is_y_up_in_centimetres(tmp_path):
    out = tmp_path / "capture.bvh"
    avatar, bvh = _round_trip(DEFAULT_AVATAR, out)
    text = out.read_text()
    assert text.startswith("HIERARCHY\nROOT Root") and "CHANNELS 6 Xposition Yposition Zposition Zrotation" in text
    head = next(j for j in bvh.joints if j.name == "head")
    # The head sits ~1.5 m above the floor: the offsets down the chain add up along +Y, in cm.
    chain, k = 0.0, bvh.joints.index(head)
    while k >= 0:
        chain += bvh.joints[k].offset[1]
        k = bvh.joints[k].parent
    assert 1.3 * BVH_UNITS_PER_METRE < chain < 1.7 * BVH_UNITS_PER_METRE


@pytest.mark.parametrize("name", SHARED_RIGS)
def test_round_trip_on_other_rigs_and_y_up_whatever_the_rig(testdata, tmp_path, name):
    avatar, bvh = _round_trip(testdata / "gltf" / name, tmp_path / "capture.bvh")
    head = [j.name for j in bvh.joints].index(avatar.rig.head.replace(" ", "_"))
    height, k = np.zeros(3), head
    while k >= 0:
        height += bvh.joints[k].offset
        k = bvh.joints[k].parent
    assert height[1] > 0.8 * np.linalg.norm(height)  # Z-up and -Z-facing rigs come out Y-up
    assert all(" " not in j.name for j in bvh.joints)
