"""garment_io: v1 garment files round-trip; every shared sample model imports; URIs stay in the folder."""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import pytest

from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.garments.garment import DEFAULT_LAYER
from avatar_wardrobe.garments.garment_io import (FABRIC_MAX_DISTANCE_M, load_garment, read_meta,
                                                 save_garment, top_influences)
from avatar_wardrobe.garments.validate import check_garment
from garment_fixtures import (FAKE_NORMAL_PNG, FAKE_PNG, avatar_body, edit_glb, split_glb,
                              tube_garment)

SHARED_MODELS = ["RiggedSimple.glb", "RiggedFigure.glb", "CesiumMan.glb", "Fox.glb",
                 "SimpleSkin/SimpleSkin.gltf", "cryptovoxels.vrm"]


def _influences(g) -> list[tuple]:
    """(vertex, joint name, weight) for every non-zero influence: comparable across joint orders."""
    names = [g.joint_names[j] for j in g.joints.ravel()]
    vertex = np.repeat(np.arange(g.vertex_count), g.joints.shape[1])
    return sorted((int(v), n, round(float(w), 5)) for v, n, w in zip(vertex, names, g.weights.ravel()) if w > 0)


def assert_same_garment(a, b, joints_by_name=True):
    np.testing.assert_allclose(a.positions, b.positions, atol=1e-6)
    np.testing.assert_allclose(a.normals, b.normals, atol=1e-5)
    np.testing.assert_allclose(a.uvs, b.uvs, atol=1e-7)
    np.testing.assert_array_equal(a.faces, b.faces)
    assert a.parts == b.parts
    assert a.meta == b.meta
    np.testing.assert_allclose(a.pin, b.pin)
    np.testing.assert_allclose(a.max_distance, b.max_distance)
    np.testing.assert_allclose(a.colors, b.colors)
    assert len(a.materials) == len(b.materials)
    for m, n in zip(a.materials, b.materials):
        assert m.name == n.name and m.alpha_mode == n.alpha_mode and m.double_sided == n.double_sided
        np.testing.assert_allclose(m.base_color, n.base_color, atol=1e-7)
        assert (m.metallic, m.roughness) == pytest.approx((n.metallic, n.roughness))
        assert m.base_color_texture == n.base_color_texture and m.normal_texture == n.normal_texture
        if m.alpha_mode == "MASK":
            assert m.alpha_cutoff == pytest.approx(n.alpha_cutoff)
    if joints_by_name:
        assert _influences(a) == _influences(b)
    np.testing.assert_allclose(a.sim.positions, b.sim.positions, atol=1e-6)
    np.testing.assert_array_equal(a.sim.faces, b.sim.faces)
    np.testing.assert_allclose(a.sim.pin, b.sim.pin)


@pytest.mark.timeout(30)
def test_round_trip_keeps_every_field(tmp_path):
    garment = tube_garment()
    path = save_garment(garment, tmp_path / "tube.glb")
    loaded = load_garment(path)
    assert_same_garment(garment, loaded)
    assert loaded.name == "tube" and loaded.meta.warnings == []
    assert all(p.severity == "warning" for p in check_garment(path))


@pytest.mark.timeout(30)
def test_round_trip_on_the_avatar_skeleton(tmp_path):
    skeleton, _ = avatar_body("female_165_58")
    garment = tube_garment()
    path = save_garment(garment, tmp_path / "tube.glb", skeleton)
    loaded = load_garment(path)
    assert_same_garment(garment, loaded)
    assert loaded.joint_names == skeleton.names  # the whole skeleton is written, bind matrices and all


@pytest.mark.timeout(30)
def test_a_garment_without_skin_pins_or_extras_gets_defaults(tmp_path):
    garment = tube_garment(with_skin=False)
    path = save_garment(garment, tmp_path / "bare.glb")

    def strip(doc):
        doc["nodes"][0].pop("extras")
        for prim in doc["meshes"][0]["primitives"]:
            del prim["attributes"]["_PIN"], prim["attributes"]["_MAX_DISTANCE"]
    edit_glb(path, strip)
    loaded = load_garment(path)
    assert loaded.joints is None and loaded.joint_names is None
    assert (loaded.meta.slot, loaded.meta.layer, loaded.meta.fabric, loaded.meta.size) == \
        ("top", DEFAULT_LAYER["top"], "cotton", "M")
    named = " ".join(loaded.meta.warnings)
    for key in ("aw_slot", "aw_layer", "aw_fabric", "aw_size", "aw_made_for"):
        assert key in named
    assert not loaded.pin.any()
    np.testing.assert_allclose(loaded.max_distance, FABRIC_MAX_DISTANCE_M["cotton"])
    codes = {p.code for p in check_garment(path)}
    assert {"MISSING_DEFAULTS", "NO_PIN"} <= codes


def test_metadata_as_blender_strings():
    problems = []
    meta = read_meta({"aw_slot": "bottom", "aw_made_for": "height_m=1.7, waist_m=0.7, avatar=male_180_80",
                      "aw_hides": "hips, upper_legs", "aw_variants": '{"navy": {"base_color": [0, 0, 0.3]}}',
                      "aw_fabric": "Denim", "aw_size": "XL", "aw_layer": 1.0, "aw_garment": "jeans"}, problems)
    assert problems == []
    assert meta.made_for == {"height_m": 1.7, "waist_m": 0.7} and meta.source_avatar == "male_180_80"
    assert meta.hides == ("hips", "upper_legs") and meta.fabric == "denim" and meta.layer == 1
    assert meta.variants["navy"]["base_color"] == [0, 0, 0.3, 1.0] and meta.kind == "jeans"
    assert meta.warnings == []


@pytest.mark.parametrize("extras, code", [
    ({"aw_slot": "shirt"}, "BAD_SLOT"),
    ({"aw_layer": "outer"}, "BAD_LAYER"),
    ({"aw_layer": 12}, "BAD_LAYER"),
    ({"aw_fabric": "tweed"}, "BAD_FABRIC"),
    ({"aw_size": 42}, "BAD_SIZE"),
    ({"aw_made_for": "tall"}, "BAD_MADE_FOR"),
    ({"aw_made_for": {"height_m": -1}}, "BAD_MADE_FOR"),
    ({"aw_made_for": {"avatar": "../../etc/passwd"}}, "BAD_MADE_FOR"),
    ({"aw_hides": ["torso", "tail"]}, "BAD_HIDES"),
    ({"aw_variants": {"red": {"base_color": [2, 0, 0, 1]}}}, "BAD_VARIANTS"),
    ({"aw_variants": "{not json"}, "BAD_VARIANTS"),
])
def test_bad_metadata_is_an_error_with_its_code(extras, code):
    problems = []
    read_meta(extras, problems)
    errors = [p for p in problems if p.severity == "error"]
    assert [p.code for p in errors] == [code]
    assert "aw_" in errors[0].message


@pytest.mark.timeout(30)
def test_bad_metadata_refuses_the_file(tmp_path):
    path = save_garment(tube_garment(), tmp_path / "t.glb")
    edit_glb(path, lambda d: d["nodes"][0]["extras"].update(aw_slot="shirt"))
    with pytest.raises(WardrobeError, match=r"\[BAD_SLOT\] aw_slot is 'shirt'; use one of top"):
        load_garment(path)


@pytest.mark.timeout(30)
def test_pins_from_a_vertex_colour_channel(tmp_path):
    garment = tube_garment(with_skin=False)
    garment.colors[:, 1] = np.linspace(0, 1, garment.vertex_count)
    path = save_garment(garment, tmp_path / "t.glb")

    def use_channel(doc):
        for prim in doc["meshes"][0]["primitives"]:
            del prim["attributes"]["_PIN"]
        doc["nodes"][0]["extras"]["aw_pin_channel"] = "COLOR_0.g"
    edit_glb(path, use_channel)
    np.testing.assert_allclose(load_garment(path).pin, np.linspace(0, 1, garment.vertex_count), atol=1e-6)
    edit_glb(path, lambda d: d["nodes"][0]["extras"].update(aw_pin_channel="COLOR_1.r"))
    assert "BAD_PIN_CHANNEL" in {p.code for p in check_garment(path)}


@pytest.mark.timeout(30)
def test_pin_values_outside_0_1_are_refused(tmp_path):
    garment = tube_garment(with_skin=False)
    garment.pin[3] = 1.5
    path = save_garment(garment, tmp_path / "t.glb")
    with pytest.raises(WardrobeError, match=r"PIN_RANGE.*vertex 3 has 1\.5"):
        load_garment(path)


@pytest.mark.timeout(30)
def test_node_transforms_are_baked_and_mirrors_flip_faces(tmp_path):
    garment = tube_garment(with_skin=False)
    path = save_garment(garment, tmp_path / "t.glb")
    moved = edit_glb(path, lambda d: d["nodes"][0].update(translation=[0.1, 0.2, 0.3], scale=[2, 2, 2]),
                     tmp_path / "moved.glb")
    np.testing.assert_allclose(load_garment(moved).positions, garment.positions * 2 + [0.1, 0.2, 0.3], atol=1e-5)
    mirrored = load_garment(edit_glb(path, lambda d: d["nodes"][0].update(scale=[-1, 1, 1]),
                                     tmp_path / "mirrored.glb"))
    np.testing.assert_allclose(mirrored.positions[:, 0], -garment.positions[:, 0], atol=1e-6)
    np.testing.assert_array_equal(mirrored.faces, garment.faces[:, ::-1])  # still facing outward
    np.testing.assert_allclose(mirrored.normals[:, 0], -garment.normals[:, 0], atol=1e-6)


@pytest.mark.timeout(30)
def test_primitives_are_merged_into_parts(tmp_path):
    """Two primitives with their own vertex arrays become one garment with two parts."""
    garment = tube_garment(with_skin=False)
    path = save_garment(garment, tmp_path / "t.glb")

    def separate_arrays(doc):
        prims = doc["meshes"][0]["primitives"]
        prims[1]["attributes"] = dict(prims[1]["attributes"])
        doc["accessors"].append(dict(doc["accessors"][prims[1]["attributes"]["POSITION"]]))
        prims[1]["attributes"]["POSITION"] = len(doc["accessors"]) - 1  # same data, separate accessor
    edit_glb(path, separate_arrays)
    loaded = load_garment(path)
    assert loaded.vertex_count == 2 * garment.vertex_count
    assert [(p[1], p[2]) for p in loaded.parts] == [(p[1], p[2]) for p in garment.parts]
    assert loaded.faces[loaded.parts[1][0]:].min() >= garment.vertex_count


# --- .gltf with external files and data: URIs --------------------------------------------------

def _as_gltf(glb: Path, out: Path, embed: bool) -> Path:
    """Rewrite a .glb as .gltf: the buffer and images as data: URIs (embed) or as files beside it."""
    doc, blob = split_glb(glb.read_bytes())
    images = doc.get("images", [])
    for i, image in enumerate(images):
        view = doc["bufferViews"][image.pop("bufferView")]
        data = blob[view.get("byteOffset", 0):view.get("byteOffset", 0) + view["byteLength"]]
        if embed:
            image["uri"] = "data:image/png;base64," + base64.b64encode(data).decode()
        else:
            (out.parent / f"image {i}.png").write_bytes(data)
            image["uri"] = f"image%20{i}.png"
    if embed:
        doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(blob).decode()
    else:
        (out.parent / "garment.bin").write_bytes(blob)
        doc["buffers"][0]["uri"] = "garment.bin"
    out.write_text(json.dumps(doc))
    return out


@pytest.mark.timeout(30)
@pytest.mark.parametrize("embed", [True, False], ids=["data-uri", "external-files"])
def test_gltf_with_data_uris_or_external_files(tmp_path, embed):
    garment = tube_garment()
    glb = save_garment(garment, tmp_path / "t.glb")
    folder = tmp_path / "gltf"
    folder.mkdir()
    loaded = load_garment(_as_gltf(glb, folder / "t.gltf", embed))
    assert_same_garment(garment, loaded)
    assert loaded.materials[0].base_color_texture == FAKE_PNG
    assert loaded.materials[0].normal_texture == FAKE_NORMAL_PNG


@pytest.fixture
def external_gltf(tmp_path) -> Path:
    folder = tmp_path / "garment"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(b"\0" * 4096)
    (tmp_path / "secret.png").write_bytes(FAKE_PNG)
    return _as_gltf(save_garment(tube_garment(), tmp_path / "t.glb"), folder / "t.gltf", embed=False)


def _set_uri(path: Path, key: str, uri: str) -> None:
    doc = json.loads(path.read_text())
    doc[key][0]["uri"] = uri
    path.write_text(json.dumps(doc))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("key", ["buffers", "images"])
@pytest.mark.parametrize("uri", ["../secret.bin", "..%2Fsecret.bin", "sub/../../secret.bin", "/etc/passwd",
                                 "file:///etc/passwd", "https://example.com/x.bin", "C:/Windows/x.bin"])
def test_uri_outside_the_folder_is_refused(external_gltf, key, uri):
    _set_uri(external_gltf, key, uri.replace("secret.bin", "secret.png") if key == "images" else uri)
    with pytest.raises(WardrobeError, match=r"URI_OUTSIDE.*not a file inside the garment's folder"):
        load_garment(external_gltf)
    assert [p.code for p in check_garment(external_gltf)] == ["URI_OUTSIDE"]


@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_symlink_out_of_the_folder_is_refused(external_gltf):
    link = external_gltf.parent / "linked.bin"
    link.symlink_to(external_gltf.parent.parent / "secret.bin")
    _set_uri(external_gltf, "buffers", "linked.bin")
    assert [p.code for p in check_garment(external_gltf)] == ["URI_OUTSIDE"]


@pytest.mark.timeout(30)
def test_missing_texture_file_is_a_clear_error(external_gltf):
    (external_gltf.parent / "image 0.png").unlink()
    with pytest.raises(WardrobeError, match=r"MISSING_IMAGE.*'image%20 ?0.png' is missing"):
        load_garment(external_gltf)


# --- every shared sample model imports --------------------------------------------------------

@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", SHARED_MODELS)
def test_every_shared_model_imports_as_a_garment(testdata, name):
    garment = load_garment(testdata / "gltf" / name)
    garment.check_shapes()
    assert garment.vertex_count > 0 and len(garment.faces) > 0
    assert sum(count for _, count, _ in garment.parts) == len(garment.faces)
    assert all(0 <= m < len(garment.materials) for _, _, m in garment.parts)
    assert np.isfinite(garment.normals).all()
    np.testing.assert_allclose(np.linalg.norm(garment.normals, axis=1), 1, atol=1e-4)
    assert garment.joint_names and garment.joints.max() < len(garment.joint_names)  # all are skinned
    np.testing.assert_allclose(garment.weights.sum(axis=1), 1, atol=1e-5)
    assert garment.meta.warnings  # no garment metadata: defaults, each named


@pytest.mark.timeout(30)
def test_skinned_models_are_read_in_the_pose_they_show(testdata):
    """CesiumMan's mesh is authored Z-up under a rotated armature: read through its skin it stands
    up along +Y, feet at 0, about 1.5 m tall."""
    garment = load_garment(testdata / "gltf" / "CesiumMan.glb")
    size = garment.positions.max(0) - garment.positions.min(0)
    assert np.argmax(size) == 1 and 1.3 < size[1] < 1.7
    assert abs(garment.positions[:, 1].min()) < 0.05
    assert garment.materials[0].base_color_texture.startswith((b"\x89PNG", b"\xff\xd8"))  # PNG or JPEG


@pytest.mark.timeout(30)
def test_non_garment_files_give_clear_errors(tmp_path):
    with pytest.raises(WardrobeError, match="not found"):
        load_garment(tmp_path / "missing.glb")
    empty = tmp_path / "empty.gltf"
    empty.write_text('{"asset": {"version": "2.0"}}')
    with pytest.raises(WardrobeError, match=r"NO_MESH.*export the garment's mesh"):
        load_garment(empty)


def test_top_influences_sums_repeated_joints():
    joints, weights = top_influences(np.array([[4, 1, 4, 4, 7, 9]]), np.array([[0.2, 0.3, 0.2, 0.1, 0.15, 0.05]]))
    assert dict(zip(joints[0].tolist(), weights[0].round(6).tolist())) == {4: 0.5, 1: 0.3, 7: 0.15, 9: 0.05}
    joints, weights = top_influences(np.array([[2, 3]]), np.array([[0.0, 0.0]]))  # no weight: joint 0 holds it
    assert joints.tolist() == [[0, 0, 0, 0]] and weights.tolist() == [[1, 0, 0, 0]]
