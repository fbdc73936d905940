"""Export the dressed avatar: the avatar's glTF plus every worn garment as a mesh skinned to its skeleton."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from .. import gltf_io
from ..errors import WardrobeError
from ..glb_writer import (ARRAY_BUFFER, FLOAT, TRIANGLES, UBYTE, USHORT, GlbWriter)
from .garment import Garment


def _start_from(doc: gltf_io.GltfDocument) -> GlbWriter:
    """A writer holding the avatar's own JSON and its single binary buffer, unchanged."""
    raw = copy.deepcopy(gltf_io.raw_json(doc))
    if len(doc.buffers) != 1:
        raise WardrobeError(f"{doc.path.name}: dressed export needs an avatar with one binary buffer (a .glb).")
    w = GlbWriter("avatar_wardrobe export-dressed")
    w.gltf = raw
    w.gltf.setdefault("accessors", [])
    w.gltf.setdefault("bufferViews", [])
    w.blob = bytearray(doc.buffers[0])
    return w


def export_dressed(avatar_path: str | Path, garments: list[Garment], out: str | Path) -> Path:
    """Write `out` (.glb): the avatar with the garments as extra skinned meshes, ready for Blender."""
    doc = gltf_io.validate(avatar_path)
    w = _start_from(doc)
    raw = w.gltf
    body_node = next(i for i, n in enumerate(raw["nodes"]) if "mesh" in n and "skin" in n)
    skin_index = raw["nodes"][body_node]["skin"]
    skin_joints = [raw["nodes"][j].get("name") for j in raw["skins"][skin_index]["joints"]]
    parent = next((i for i, n in enumerate(raw["nodes"]) if body_node in n.get("children", [])), None)
    for garment in garments:
        if garment.joints is None:
            raise WardrobeError(f"garment {garment.name} has no skin weights: fit it to the avatar before export.")
        try:
            remap = np.array([skin_joints.index(name) for name in garment.joint_names])
        except ValueError as exc:
            raise WardrobeError(f"garment {garment.name} uses a bone the avatar lacks ({exc}).") from None
        joint_type = UBYTE if len(skin_joints) <= 256 else USHORT
        attrs = {
            "POSITION": w.accessor(garment.positions.astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, True),
            "NORMAL": w.accessor(garment.normals.astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER),
            "TEXCOORD_0": w.accessor(garment.uvs.astype(np.float32), FLOAT, "VEC2", ARRAY_BUFFER),
            "JOINTS_0": w.accessor(remap[garment.joints].astype(np.uint8 if joint_type == UBYTE else np.uint16),
                                   joint_type, "VEC4", ARRAY_BUFFER),
            "WEIGHTS_0": w.accessor(garment.weights.astype(np.float32), FLOAT, "VEC4", ARRAY_BUFFER),
        }
        primitives = []
        for first, count, mat_index in garment.parts:
            material = garment.materials[mat_index]
            pbr = {"baseColorFactor": list(material.base_color), "metallicFactor": material.metallic,
                   "roughnessFactor": material.roughness}
            if material.base_color_texture:
                raw.setdefault("images", []).append({"mimeType": _mime(material.base_color_texture),
                                                     "bufferView": w.view(material.base_color_texture)})
                raw.setdefault("textures", []).append({"source": len(raw["images"]) - 1})
                pbr["baseColorTexture"] = {"index": len(raw["textures"]) - 1}
            raw.setdefault("materials", []).append({"name": f"{garment.name}_{material.name}",
                                                    "pbrMetallicRoughness": pbr, "doubleSided": material.double_sided,
                                                    "alphaMode": material.alpha_mode})
            primitives.append({"attributes": attrs, "mode": TRIANGLES, "material": len(raw["materials"]) - 1,
                               "indices": w.indices(garment.faces[first:first + count], garment.vertex_count)})
        raw["meshes"].append({"name": garment.name, "primitives": primitives})
        raw["nodes"].append({"name": garment.name, "mesh": len(raw["meshes"]) - 1, "skin": skin_index,
                             "extras": {"aw_slot": garment.meta.slot, "aw_size": garment.meta.size,
                                        "aw_fabric": garment.meta.fabric}})
        new = len(raw["nodes"]) - 1
        if parent is not None:
            raw["nodes"][parent].setdefault("children", []).append(new)
        else:
            raw["scenes"][raw.get("scene", 0)]["nodes"].append(new)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(w.glb())
    gltf_io.validate(out)
    return out


def _mime(data: bytes) -> str:
    return "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
