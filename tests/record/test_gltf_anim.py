"""glTF animation export: the avatar .glb plus a clip that validates, reads back within 0.5 degrees on
every test rig, and plays in Panda3D on the same joint positions as numpy FK."""
import numpy as np
import pytest

from avatar_wardrobe import gltf_io
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.record.bvh import rotation_errors_deg
from avatar_wardrobe.record.gltf_anim import (ANIMATION_NAME, JointAnimation, key_times_s, read_gltf_animation,
                                              write_gltf_animation)
from motion_fixtures import DEFAULT_AVATAR, ROUND_TRIP_DEG, SHARED_RIGS, solved_clip

ROUND_TRIP_ROOT_M = 1e-4    # float32 keys
FK_TOLERANCE_M = 1e-3


def _check_round_trip(path, out):
    avatar, anim = solved_clip(path)
    write_gltf_animation(path, avatar.skeleton, anim, out)
    gltf_io.validate(out)  # the project's structural checks, animations included
    back = read_gltf_animation(out, avatar.skeleton)
    assert back.local_rotations.shape == anim.local_rotations.shape
    assert rotation_errors_deg(back.local_rotations, anim.local_rotations).max() < ROUND_TRIP_DEG
    assert np.abs(back.root_offsets - anim.root_offsets).max() < ROUND_TRIP_ROOT_M
    np.testing.assert_allclose(back.times_s, anim.times_s - anim.times_s[0], atol=1e-3)
    # The motion really moves (a round trip of the rest pose would prove nothing).
    rest = avatar.skeleton.rest_rotations()
    assert rotation_errors_deg(anim.local_rotations, rest[None]).max() > 20
    return avatar, anim


def test_default_avatar_round_trip_keeps_the_avatar(tmp_path):
    out = tmp_path / "capture.glb"
    _check_round_trip(DEFAULT_AVATAR, out)
    src, dst = (gltf_io.raw_json(gltf_io.load(p)) for p in (DEFAULT_AVATAR, out))
    assert len(dst["meshes"]) == len(src["meshes"]) and len(dst["skins"]) == len(src["skins"])
    assert [a["name"] for a in dst["animations"]] == [ANIMATION_NAME]
    assert out.read_bytes()[:4] == b"glTF"


@pytest.mark.parametrize("name", SHARED_RIGS)
def test_round_trip_on_other_rigs_keeps_their_own_clips(testdata, tmp_path, name):
    path = testdata / "gltf" / name
    _check_round_trip(path, tmp_path / "capture.glb")
    before = [a.get("name") for a in gltf_io.raw_json(gltf_io.load(path)).get("animations", [])]
    after = [a.get("name") for a in gltf_io.raw_json(gltf_io.load(tmp_path / "capture.glb"))["animations"]]
    assert after == before + [ANIMATION_NAME]


def test_panda_plays_the_clip_on_numpy_joint_positions(panda_base, tmp_path):
    """Each Panda3D frame shows one of our keys exactly. (panda3d-gltf 1.3 samples a LINEAR clip
    one key late: its lerp factor is max(..., 1) where min is meant; so frame f shows key f or f + 1.)"""
    from direct.actor.Actor import Actor
    from panda3d.core import Filename

    from avatar_wardrobe.render.avatar_actor import to_panda_points

    out = tmp_path / "capture.glb"
    avatar, anim = solved_clip(DEFAULT_AVATAR)
    write_gltf_animation(DEFAULT_AVATAR, avatar.skeleton, anim, out)
    actor = Actor(Filename.fromOsSpecific(str(out)))
    actor.reparentTo(panda_base.render)
    try:
        assert ANIMATION_NAME in actor.getAnimNames()
        character = actor.find("**/+Character")
        exposed = [actor.exposeJoint(None, "modelRoot", n) for n in avatar.skeleton.names]
        keys = [to_panda_points(avatar.skeleton.positions(r, o)) for r, o in zip(anim.local_rotations, anim.root_offsets)]
        for frame in range(0, actor.getNumFrames(ANIMATION_NAME), 5):
            actor.pose(ANIMATION_NAME, frame)
            actor.update(force=True)
            panda = np.array([list(e.getPos(character)) for e in exposed])
            best = min(np.linalg.norm(panda - keys[k], axis=1).max() for k in (frame, min(frame + 1, len(keys) - 1)))
            assert best < FK_TOLERANCE_M, f"frame {frame}: {best:.4f} m from our keys"
    finally:
        actor.cleanup()
        actor.removeNode()


def test_steady_frame_times_snap_to_a_grid():
    times = np.round(np.arange(10) / 30.0, 5) + 2.0
    assert np.allclose(key_times_s(times), np.arange(10) * np.median(np.diff(times)))
    uneven = np.array([0.0, 0.1, 0.15, 0.4])
    assert np.allclose(key_times_s(uneven), uneven)


def test_bad_animations_are_refused(tmp_path, testdata):
    avatar, anim = solved_clip(DEFAULT_AVATAR)
    backwards = JointAnimation(anim.times_s[::-1], anim.local_rotations, anim.root_offsets)
    with pytest.raises(WardrobeError, match="increasing"):
        write_gltf_animation(DEFAULT_AVATAR, avatar.skeleton, backwards, tmp_path / "x.glb")
    with pytest.raises(WardrobeError, match="not in the avatar file"):  # solved for another rig
        write_gltf_animation(testdata / "gltf" / "RiggedFigure.glb", avatar.skeleton, anim, tmp_path / "y.glb")
