"""Dressed-avatar export: the avatar plus its outfit as one valid .glb, garments skinned to its bones."""
import numpy as np

from avatar_wardrobe import gltf_io
from avatar_wardrobe.cli import main


def test_export_dressed_writes_a_valid_skinned_glb(tmp_path):
    out = tmp_path / "dressed.glb"
    assert main(["export-dressed", "--out", str(out), "--avatar", "male_180_80",
                 "--garment", "garments/tshirt_L.glb", "--garment", "garments/skirt_L.glb"]) == 0
    doc = gltf_io.validate(out)
    raw = gltf_io.raw_json(doc)
    meshes = {n["name"]: n for n in raw["nodes"] if "mesh" in n}
    assert {"tshirt_L", "skirt_L"} <= set(meshes)
    body_skin = next(n["skin"] for name, n in meshes.items() if name.endswith("_body"))
    joint_count = len(raw["skins"][body_skin]["joints"])
    for name in ("tshirt_L", "skirt_L"):
        node = meshes[name]
        assert node["skin"] == body_skin, "garments ride the avatar's own skeleton"
        prim = raw["meshes"][node["mesh"]]["primitives"][0]
        joints = gltf_io.read_accessor(doc, prim["attributes"]["JOINTS_0"])
        weights = gltf_io.read_accessor(doc, prim["attributes"]["WEIGHTS_0"])
        assert joints.max() < joint_count
        assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-3)
