"""gltf_io: loading, the structural checks (check / validate) and hostile input.

Valid models are the Khronos samples in ../shared/testdata/gltf; the negative cases are the
Khronos glTF-Validator's own test files in ../shared/testdata/gltf_invalid, each with the
validator's report beside it. Whatever a file holds, the only exception allowed out is
WardrobeError, and it must arrive quickly.
"""
from __future__ import annotations

import base64
import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from garment_fixtures import pack_glb, split_glb

from avatar_wardrobe import gltf_io
from avatar_wardrobe.errors import WardrobeError

VALID_MODELS = {  # file under testdata/gltf -> number of joints in skin 0
    "RiggedSimple.glb": 2,
    "RiggedFigure.glb": 19,
    "CesiumMan.glb": 19,
    "Fox.glb": 24,
    "SimpleSkin/SimpleSkin.gltf": 2,
    "cryptovoxels.vrm": 57,
}

# Every file in testdata/gltf_invalid -> patterns its WardrobeError message must match (the
# problem the validator's report names), or None for a file that must pass.
INVALID_CASES = {
    "animation_data/invalid_input_values.gltf": [r"negative time -1", r"key times must strictly increase"],
    "animation_data/quaternion_non_unit_values.gltf": [r"rotation key 1 of length 0\.54\d*; rotations must be "
                                                       r"unit quaternions"],
    "glb/empty_file.glb": [r"empty \(0 bytes\)"],
    "glb/invalid_json_chunk.glb": [r"glTF JSON is invalid"],
    "glb/invalid_magic.glb": [r"instead of the magic b'glTF'"],
    "glb/invalid_version.glb": [r"GLB version 0"],
    "glb/length_mismatch.glb": [r"declares 49 bytes but the file has 48"],
    "glb/truncated_chunk_data.glb": [r"declares 28 bytes but only 27 remain"],
    "glb/two_bin_chunks.glb": [r"first chunk must be JSON", r"repeats a BIN chunk"],
    "glb/unaligned_chunk.glb": [r"27 bytes long, not a multiple of 4"],
    "glb/valid.glb": None,
    "mesh_data/index_buffer_oob.gltf": [r"index 5 at position 5, but the primitive has only 4 vertices"],
    "mesh_data/joints_no_weights.gltf": [r"bufferView 0 covers bytes 0\.\.32 but buffer 0 is only 16 bytes"],
    "mesh_data/joints_weights_complex.gltf": [r"JOINTS_1 .* joint index 9 .* skin 1 has only 8 joints",
                                              r"WEIGHTS_1 .* weight -1"],
    "node/matrix_indecomposable.gltf": [r"node 0 has a matrix that is not a translation/rotation/scale"],
    "node/node_loop.gltf": [r"nodes .* form a loop"],
    "node/node_skin_without_skinned_mesh.gltf": [r"has skin 0, but the primitive has no JOINTS_0/WEIGHTS_0"],
    "node/unresolved_mesh.gltf": [r"node 0 refers to mesh 0, but the file has no meshes"],
    "node/unresolved_skin.gltf": [r"node 0 refers to skin 0, but the file has no skins", r"no mesh"],
    "skin/empty_joints_array.gltf": [r"skin 0 has no joints"],
    "skin/ibm_invalid_count.gltf": [r"skin 2 has 3 joints but its inverseBindMatrices \(accessor 0\) holds 2"],
    "skin/no_common_root.gltf": [r"one common root"],
    "skin/skeleton_invalid.gltf": [r"node 2 as its skeleton, but that node is not an ancestor"],
    "skin/unresolved_joint.gltf": [r"skin 0 refers to joint node 0, but the file has no nodes"],
    "skin_data/invalid_ibm.gltf": [r"joint 1 has last row \(1, 2, 3, 4\)"],
    # The validator reports only a warning or nothing for these; the project is stricter.
    "node/node_skinned_mesh_without_skin.gltf": [r"joint weights but the node has no skin"],
    "skin/valid.gltf": [r"no data \(no bufferView\), so every inverse bind matrix is zero"],
}
STRICTER_THAN_VALIDATOR = {"node/node_skinned_mesh_without_skin.gltf", "skin/valid.gltf"}

_INVALID_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "gltf_invalid"
INVALID_FILES = sorted(p.relative_to(_INVALID_DIR).as_posix() for suffix in ("*.gltf", "*.glb")
                       for p in _INVALID_DIR.rglob(suffix)) if _INVALID_DIR.is_dir() else []
INTERNAL_MARKERS = ("could not finish", "could not be read as glTF")


@pytest.fixture(autouse=True)
def _float_errors_raise():
    """The checks must hold under the test session's np.seterr(all="raise")."""
    with np.errstate(all="raise"):
        yield


def _rejection(path: Path) -> str:
    with pytest.raises(WardrobeError) as info:
        gltf_io.validate(path)
    message = str(info.value)
    assert message.strip()
    assert path.name in message
    assert not any(marker in message for marker in INTERNAL_MARKERS), message
    return message


# --- valid models ----------------------------------------------------------------------------

@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", sorted(VALID_MODELS))
def test_valid_models_pass_and_give_their_skeleton(testdata, name):
    path = testdata / "gltf" / name
    notes: list[str] = []
    doc = gltf_io.validate(path, notes)
    assert gltf_io.check(doc) == []
    skin = gltf_io.read_skin(doc)
    assert len(skin.joint_names) == VALID_MODELS[name]
    assert skin.bind_world.shape == (VALID_MODELS[name], 4, 4)
    assert all(p < j for j, p in enumerate(skin.parents))  # parents come first


PROJECT_MODELS = sorted((Path(__file__).resolve().parents[1] / "models").rglob("*.glb"))


@pytest.mark.timeout(10)
@pytest.mark.parametrize("path", PROJECT_MODELS, ids=lambda p: p.name)
def test_project_avatars_and_garments_pass(path):
    gltf_io.validate(path)


@pytest.mark.timeout(10)
def test_read_accessor_matches_declared_bounds(testdata):
    doc = gltf_io.load(testdata / "gltf" / "SimpleSkin" / "SimpleSkin.gltf")  # interleaved, byteStride 16
    for i, acc in enumerate(doc.raw["accessors"]):
        data = gltf_io.read_accessor(doc, i)
        assert data.shape == (acc["count"], gltf_io.TYPE_SIZES[acc["type"]])
        if "min" in acc:
            np.testing.assert_allclose(data.min(axis=0), acc["min"], rtol=1e-6)
            np.testing.assert_allclose(data.max(axis=0), acc["max"], rtol=1e-6)


# --- the glTF-Validator's negative suite -----------------------------------------------------

def test_invalid_case_table_covers_the_folder(testdata):
    assert set(INVALID_FILES) == set(INVALID_CASES)
    for name in INVALID_FILES:
        report = json.loads((testdata / "gltf_invalid" / f"{name}.report.json").read_text())
        if report["issues"]["numErrors"]:  # the validator's errors are always ours too
            assert INVALID_CASES[name] is not None, name
        else:  # a file the validator accepts passes, unless the project is knowingly stricter
            assert (INVALID_CASES[name] is None) == (name not in STRICTER_THAN_VALIDATOR), name


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", INVALID_FILES)
def test_validator_cases_give_a_clear_error(testdata, name):
    path = testdata / "gltf_invalid" / name
    expected = INVALID_CASES[name]
    if expected is None:
        gltf_io.validate(path)
        return
    message = _rejection(path)
    for pattern in expected:
        assert re.search(pattern, message), f"{pattern!r} not in:\n{message}"
    assert "export" in message.lower()  # says what to do


# --- hand-made corruptions of RiggedSimple.glb -----------------------------------------------

@pytest.fixture
def rigged_simple(testdata) -> bytes:
    return (testdata / "gltf" / "RiggedSimple.glb").read_bytes()


def test_repacking_keeps_the_model_valid(rigged_simple, tmp_path):
    path = tmp_path / "repacked.glb"
    path.write_bytes(pack_glb(*split_glb(rigged_simple)))
    gltf_io.validate(path)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("keep", [0, 3, 11, 12, 19, 20, 100, 4000, 7552, 15103])
def test_truncated_glb(rigged_simple, tmp_path, keep):
    path = tmp_path / "truncated.glb"
    path.write_bytes(rigged_simple[:keep])
    message = _rejection(path)
    assert re.search(r"empty|too short|truncated|declares", message), message


@pytest.mark.timeout(10)
@pytest.mark.parametrize("at", [0, 1, 57, 1000, 2500, 3939])
def test_flipped_bytes_in_the_json_chunk(rigged_simple, tmp_path, at):
    data = bytearray(rigged_simple)
    data[20 + at] ^= 0xFF  # offset 20: the JSON chunk's first byte
    path = tmp_path / "flipped.glb"
    path.write_bytes(bytes(data))
    assert "JSON" in _rejection(path)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("accessor", range(10))
@pytest.mark.parametrize("keep_buffer_view", [True, False])
def test_huge_accessor_count(rigged_simple, tmp_path, accessor, keep_buffer_view):
    doc, bin_chunk = split_glb(rigged_simple)
    doc["accessors"][accessor]["count"] = 10**9
    if not keep_buffer_view:
        del doc["accessors"][accessor]["bufferView"]
    path = tmp_path / "huge.glb"
    path.write_bytes(pack_glb(doc, bin_chunk))
    message = _rejection(path)
    assert re.search(rf"accessor {accessor} .*(needs \d+ bytes|declares 1000000000 elements)", message), message
    with pytest.raises(WardrobeError):  # load() alone does not check, but decoding still refuses
        gltf_io.read_accessor(gltf_io.load(path), accessor)


@pytest.mark.timeout(10)
def test_joint_index_beyond_the_skin(rigged_simple, tmp_path):
    doc, bin_chunk = split_glb(rigged_simple)
    joints = doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"]["JOINTS_0"]]
    start = doc["bufferViews"][joints["bufferView"]].get("byteOffset", 0) + joints.get("byteOffset", 0)
    data = bytearray(bin_chunk)
    struct.pack_into("<H", data, start, 200)  # unsigned short joint index of vertex 0
    path = tmp_path / "joint.glb"
    path.write_bytes(pack_glb(doc, bytes(data)))
    message = _rejection(path)
    assert re.search(r"JOINTS_0 .* joint index 200 at vertex 0, but skin 0 has only 2 joints", message), message


@pytest.mark.timeout(10)
def test_skin_joint_beyond_the_nodes(rigged_simple, tmp_path):
    doc, bin_chunk = split_glb(rigged_simple)
    doc["skins"][0]["joints"] = [3, 99]
    path = tmp_path / "skin.glb"
    path.write_bytes(pack_glb(doc, bin_chunk))
    assert "refers to joint node 99" in _rejection(path)
    with pytest.raises(WardrobeError):
        gltf_io.read_skin(gltf_io.load(path))


@pytest.mark.timeout(10)
@pytest.mark.parametrize("mutate, pattern", [
    (lambda d: d["nodes"][3].update(children=[3]), r"lists itself as its own child"),
    (lambda d: d["accessors"][4].update(componentType=[5126]), r"componentType \[5126\]"),
    (lambda d: d["bufferViews"][1].update(byteStride=6), r"byteStride 6"),
    (lambda d: d.update(asset={"version": "1.0"}), r"only glTF 2.x"),
    (lambda d: d.update(nodes="not a list"), r"'nodes' must be an array"),
    (lambda d: d["meshes"][0]["primitives"][0]["attributes"].update(POSITION=2.5), r"accessor 2\.5"),
], ids=["self-child", "list-component-type", "odd-stride", "gltf-1", "nodes-not-array", "float-index"])
def test_mistyped_json_is_reported(rigged_simple, tmp_path, mutate, pattern):
    doc, bin_chunk = split_glb(rigged_simple)
    mutate(doc)
    path = tmp_path / "mistyped.glb"
    path.write_bytes(pack_glb(doc, bin_chunk))
    message = _rejection(path)
    assert re.search(pattern, message), message


@pytest.mark.timeout(10)
def test_deeply_nested_json(tmp_path):
    path = tmp_path / "deep.gltf"
    path.write_text('{"asset": {"version": "2.0"}, "extras": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert "nested too deeply" in _rejection(path)


@pytest.mark.timeout(10)
def test_external_buffer_must_be_a_file_next_to_the_model(tmp_path):
    path = tmp_path / "outside.gltf"
    path.write_text(json.dumps({"asset": {"version": "2.0"}, "buffers": [{"byteLength": 4, "uri": "/dev/zero"}]}))
    assert "only files next to the .gltf are read" in _rejection(path)


# --- small synthetic files for paths the sample models do not take ---------------------------

COMPONENT_TYPES = {np.dtype(np.float32): 5126, np.dtype(np.uint16): 5123, np.dtype(np.uint8): 5121}
ACCESSOR_TYPES = {1: "SCALAR", 3: "VEC3", 4: "VEC4", 16: "MAT4"}


def _embedded_gltf(path: Path, arrays: list[np.ndarray], accessor_fields: dict | None = None, **gltf) -> Path:
    """Write a .gltf whose accessor i holds arrays[i] (shape (count, components)), in one data: URI.

    accessor_fields: accessor index -> extra fields for it; gltf: further top-level properties.
    """
    blob, views, accessors = b"", [], []
    for i, array in enumerate(arrays):
        data = np.ascontiguousarray(array).tobytes()
        views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data)})
        accessors.append({"bufferView": i, "componentType": COMPONENT_TYPES[array.dtype],
                          "count": len(array), "type": ACCESSOR_TYPES[array.shape[1]],
                          **(accessor_fields or {}).get(i, {})})
        blob += data + b"\0" * (-len(data) % 4)
    uri = "data:application/octet-stream;base64," + base64.b64encode(blob).decode()
    doc = {"asset": {"version": "2.0"}, "buffers": [{"byteLength": len(blob), "uri": uri}],
           "bufferViews": views, "accessors": accessors, **gltf}
    path.write_text(json.dumps(doc))
    return path


def _rotation_clip(tmp_path, values: np.ndarray, interpolation: str) -> Path:
    times = np.array([[0.0], [1.0]], dtype=np.float32)
    return _embedded_gltf(
        tmp_path / "clip.gltf", [times, values.astype(np.float32)], nodes=[{}],
        animations=[{"samplers": [{"input": 0, "output": 1, "interpolation": interpolation}],
                     "channels": [{"sampler": 0, "target": {"node": 0, "path": "rotation"}}]}])


@pytest.mark.timeout(10)
def test_cubicspline_rotation_checks_values_not_tangents(tmp_path):
    tangent, unit = [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]
    gltf_io.validate(_rotation_clip(tmp_path, np.array([tangent, unit, tangent] * 2), "CUBICSPLINE"))
    message = _rejection(_rotation_clip(tmp_path, np.array([tangent, [0, 0, 0, 2], tangent] * 2), "CUBICSPLINE"))
    assert "rotation key 0 of length 2" in message
    message = _rejection(_rotation_clip(tmp_path, np.array([unit, unit]), "CUBICSPLINE"))
    assert "holds 2 values for 2 key times; it needs 6" in message


@pytest.mark.timeout(10)
def test_sparse_accessor_is_decoded_and_bounds_checked(tmp_path):
    base = np.zeros((3, 3), dtype=np.float32)
    indices = np.array([[1]], dtype=np.uint16)
    values = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    sparse = {"count": 1, "indices": {"bufferView": 1, "componentType": 5123}, "values": {"bufferView": 2}}
    path = _embedded_gltf(tmp_path / "sparse.gltf", [base, indices, values],
                          accessor_fields={0: {"sparse": sparse}})
    doc = gltf_io.load(path)
    np.testing.assert_array_equal(gltf_io.read_accessor(doc, 0), [[0, 0, 0], [1, 2, 3], [0, 0, 0]])
    bad = _embedded_gltf(tmp_path / "sparse_oob.gltf", [base, np.array([[7]], dtype=np.uint16), values],
                         accessor_fields={0: {"sparse": sparse}})
    with pytest.raises(WardrobeError, match="sparse index 7 beyond its count 3"):
        gltf_io.read_accessor(gltf_io.load(bad), 0)


@pytest.mark.timeout(10)
def test_weights_must_sum_to_one(tmp_path):
    positions = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32)
    joints = np.zeros((3, 4), dtype=np.uint8)
    weights = np.array([[1, 0, 0, 0], [0.5, 0, 0, 0], [1, 0, 0, 0]], dtype=np.float32)
    path = _embedded_gltf(
        tmp_path / "weights.gltf", [positions, joints, weights],
        accessor_fields={0: {"min": [0, 0, 0], "max": [1, 1, 0]}},
        nodes=[{"mesh": 0, "skin": 0}, {}], skins=[{"joints": [1]}], scenes=[{"nodes": [0, 1]}],
        meshes=[{"primitives": [{"attributes": {"POSITION": 0, "JOINTS_0": 1, "WEIGHTS_0": 2}}]}])
    message = _rejection(path)
    assert "the weights of vertex 1 sum to 0.5 (1 of 3 vertices are off)" in message


def test_buffer_uri_leading_out_of_the_folder_is_refused(tmp_path, testdata):
    """A .gltf must not make the loader read files outside its own folder."""
    import json

    from avatar_wardrobe import gltf_io
    from avatar_wardrobe.errors import WardrobeError

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\0" * 64)
    inner = tmp_path / "model"
    inner.mkdir()
    gltf = json.loads((testdata / "gltf" / "SimpleSkin" / "SimpleSkin.gltf").read_text())
    gltf["buffers"][0]["uri"] = "../secret.bin"
    (inner / "x.gltf").write_text(json.dumps(gltf))
    with pytest.raises(WardrobeError, match="outside"):
        gltf_io.load(inner / "x.gltf")
