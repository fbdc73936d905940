"""Scene files: the bundled scenes load, and a bad key or value is an error that names it."""
import pytest

from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.settings import SCENES_DIR, load_scene


@pytest.mark.parametrize("name", ["default", "runway", "ar_mirror"])
def test_bundled_scenes_load(name):
    scene = load_scene(SCENES_DIR / f"{name}.toml")
    assert scene.render.width > 0


def test_scene_values_arrive():
    assert load_scene(SCENES_DIR / "runway.toml").set.kind == "runway"
    ar = load_scene(SCENES_DIR / "ar_mirror.toml")
    assert ar.ar.enabled and ar.input.mirror and ar.input.source == "0"


@pytest.mark.parametrize("text, named", [
    ("[render]\nwidht = 3\n", "widht"),
    ("[render]\nwidth = 'big'\n", "render.width"),
    ("[render]\npbr = 1\n", "render.pbr"),
    ("[nonsense]\nx = 1\n", "nonsense"),
    ("render = 3\n", "render"),
    ("[render\n", "not valid TOML"),
])
def test_bad_key_or_value_names_it(tmp_path, text, named):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(WardrobeError, match=named):
        load_scene(path)


def test_missing_scene_file_is_a_clear_error(tmp_path):
    with pytest.raises(WardrobeError, match="scene file not found"):
        load_scene(tmp_path / "none.toml")
