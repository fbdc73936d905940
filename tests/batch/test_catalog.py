"""Catalog parsing: the example catalog, every combination as a task, and errors that name the bad key."""
from __future__ import annotations

from pathlib import Path

import pytest

from avatar_wardrobe.batch.catalog import ID_SEPARATOR, load_catalog
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.settings import MODELS_DIR, SCENES_DIR

VALID = """
[outputs]
clip_frames = 8
[[garments]]
name = "tshirt"
file = "garments/tshirt_{size}.glb"
sizes = ["S", "M"]
[[bodies]]
preset = "female_165_58"
[[bodies]]
preset = "male_180_80"
[[motions]]
preset = "pose_1"
"""


def _load(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_catalog(path)


def test_example_catalog_lists_every_combination():
    catalog = load_catalog(SCENES_DIR / "catalog.toml")
    tasks = catalog.tasks()
    sizes = sum(len(files) for _, files in catalog.garments)
    assert len(tasks) == sizes * len(catalog.bodies) * len(catalog.motions)
    assert len({t.id for t in tasks}) == len(tasks)
    combos = {(t.garment, t.size, t.body, t.motion) for t in tasks}
    assert len(combos) == len(tasks)
    for t in tasks:
        for path in (t.garment_file, t.body_file, t.motion_file):
            assert MODELS_DIR in Path(path).parents, path
        assert t.id.split(ID_SEPARATOR) == [f"{t.garment}_{t.size}", t.body, t.motion]


def test_template_and_defaults(tmp_path):
    catalog = _load(tmp_path, VALID)
    assert catalog.outputs.clip_frames == 8 and catalog.outputs.turntable_views == 8  # default kept
    assert [t.id for t in catalog.tasks()] == [
        "tshirt_S__female_165_58__pose_1", "tshirt_S__male_180_80__pose_1",
        "tshirt_M__female_165_58__pose_1", "tshirt_M__male_180_80__pose_1"]
    assert catalog.tasks()[0].garment_file.endswith("garments/tshirt_S.glb")


def test_paths_next_to_the_catalog_come_first(tmp_path):
    (tmp_path / "mine_M.glb").write_bytes(b"not checked until the task runs")
    catalog = _load(tmp_path, VALID.replace('file = "garments/tshirt_{size}.glb"\nsizes = ["S", "M"]',
                                            'files = { M = "mine_M.glb" }'))
    assert catalog.tasks()[0].garment_file == str(tmp_path / "mine_M.glb")


def test_a_missing_garment_file_is_left_to_its_task(tmp_path):
    catalog = _load(tmp_path, VALID.replace("garments/tshirt_{size}.glb", "nowhere_{size}.glb"))
    assert len(catalog.tasks()) == 4  # each of those tasks fails alone and says so in the summary


@pytest.mark.parametrize("old,new,expect", [
    ("[outputs]", "colour = 1\n[outputs]", "'colour'"),
    ("clip_frames = 8", "clip_frame = 8", "'clip_frame' in [outputs]"),
    ("clip_frames = 8", "clip_frames = \"many\"", "outputs.clip_frames should be int"),
    ("clip_frames = 8", "clip_frames = 0", "outputs.clip_frames must be at least 1"),
    ("clip_frames = 8", "width = 241", "must be even"),
    ("clip_frames = 8", "clip = false\nturntable = false\ncontact_sheet = false\nfit_report = false",
     "asks for nothing"),
    ('name = "tshirt"', 'name = "tshirt"\ncolor = "red"', "'color' in this entry"),
    ('sizes = ["S", "M"]', 'sizes = ["S", "XXL"]', "XXL"),
    ('sizes = ["S", "M"]', 'sizes = ["S", "S"]', "distinct"),
    ('sizes = ["S", "M"]', 'sizes = "S"', "sizes should be a list"),
    ("garments/tshirt_{size}.glb", "garments/tshirt.glb", "{size} placeholder"),
    ('sizes = ["S", "M"]', 'sizes = ["S"]\nfiles = { S = "a.glb" }', "either file"),
    ('name = "tshirt"', 'name = "t shirt/1"', "not usable in file names"),
    ('preset = "female_165_58"', 'preset = "giant"', "unknown body preset 'giant'"),
    ('preset = "female_165_58"', 'preset = "female_165_58"\nfile = "x.glb"', "exactly one of"),
    ('preset = "male_180_80"', 'preset = "female_165_58"', "appear(s) twice"),
    ('preset = "pose_1"', 'preset = "moonwalk"', "unknown motion preset 'moonwalk'"),
    ('preset = "pose_1"', 'file = "missing.jsonl"', "motion file not found"),
    ('[[motions]]\npreset = "pose_1"', "", "no [[motions]] entries"),
    ('preset = "male_180_80"', "height_m = 1.8\nmass_kg = 80", "missing gender"),
])
def test_errors_name_the_bad_key(tmp_path, old, new, expect):
    assert old in VALID
    with pytest.raises(WardrobeError) as err:
        _load(tmp_path, VALID.replace(old, new, 1))
    assert expect in str(err.value)
    assert "c.toml" in str(err.value)


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(WardrobeError, match="not valid TOML"):
        _load(tmp_path, "[[garments]\n")
    with pytest.raises(WardrobeError, match="catalog file not found"):
        load_catalog(tmp_path / "none.toml")


def test_bodies_by_measurement_are_checked_without_building(tmp_path):
    pytest.importorskip("avatar_wardrobe.shape.bodies", reason="the body builder (avatar_wardrobe.shape) is absent")
    text = VALID.replace('preset = "male_180_80"', 'height_m = 1.92\nmass_kg = 88\ngender = "male"')
    catalog = _load(tmp_path, text)
    body = catalog.bodies[1]
    assert body.needs_build and body.name == "male_192_88" and body.gender == 0.0
    with pytest.raises(WardrobeError, match="height"):
        _load(tmp_path, text.replace("1.92", "2.9"))
    with pytest.raises(WardrobeError, match="gender"):
        _load(tmp_path, text.replace('"male"', '"robot"'))
