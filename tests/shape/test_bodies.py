"""shape.bodies: any adult body built with anny, checked, named, cached; clear errors otherwise."""
from __future__ import annotations

import subprocess
import sys

import pytest

from avatar_wardrobe import gltf_io
from avatar_wardrobe.avatar.body import BodyMesh
from avatar_wardrobe.avatar.measure import measure_avatar
from avatar_wardrobe.avatar.skeleton import Skeleton
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.settings import MODELS_DIR
from avatar_wardrobe.shape.bodies import body_avatar, body_request
from conftest import THIRD_BODY

HEIGHT_TOL_M = 0.01
DEFAULT_JOINTS = 53  # the game_engine rig of the bundled avatars


@pytest.mark.parametrize("args, message", [
    ((3.0, 70, "male"), r"height 3.0 is outside 1.45..2.05 m"),
    ((1.7, 10, "male"), r"mass 10 is outside 40..140 kg"),
    ((1.7, 70, "robot"), r"gender 'robot' is not one of \['female', 'male'\]"),
    ((1.7, 70, 1.5), r"gender 1.5 is outside 0..1"),
])
def test_out_of_range_bodies_are_refused_with_the_range(args, message):
    with pytest.raises(WardrobeError, match=message):
        body_request(*args)


def test_names_say_what_body_it_is():
    assert body_request(1.58, 82, "female").name == "female_158_82"
    assert body_request(1.8, 80, 0.0).name == "male_180_80"
    assert body_request(1.7, 65, 0.5).name == "g050_170_65"


@pytest.mark.timeout(300)
def test_a_built_body_has_the_requested_height_and_the_default_rig(third_body):
    gltf_io.validate(third_body)  # the project's structural checks
    skeleton = Skeleton.from_gltf(third_body)
    body = BodyMesh.from_gltf(third_body, skeleton)
    measured = measure_avatar(body, skeleton)
    assert abs(measured["height_m"] - THIRD_BODY["height_m"]) < HEIGHT_TOL_M, measured
    assert len(skeleton.names) == DEFAULT_JOINTS
    assert skeleton.names == Skeleton.from_gltf(MODELS_DIR / "avatar" / "female_165_58.glb").names
    assert third_body.name == "female_158_82.glb"


def test_a_cached_body_is_not_built_again(third_body, monkeypatch):
    from avatar_wardrobe.shape import anny_model

    def refuse(*_):
        raise AssertionError("built again")
    monkeypatch.setattr(anny_model, "build_glb", refuse)
    assert body_avatar(**THIRD_BODY, cache=third_body.parent) == third_body


def test_without_anny_one_clear_error(tmp_path):
    code = ("import sys; sys.modules['anny'] = None\n"
            "from avatar_wardrobe.errors import WardrobeError\n"
            "from avatar_wardrobe.shape.bodies import body_avatar\n"
            "try:\n"
            f"    body_avatar(1.7, 70, 'male', cache={str(tmp_path)!r})\n"
            "except WardrobeError as e:\n"
            "    print('ERROR', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ERROR Bodies of any height, mass and gender need the anny extra" in out.stdout
    assert "pip install" in out.stdout
    assert not list(tmp_path.iterdir())  # nothing half-written
