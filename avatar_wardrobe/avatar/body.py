"""The avatar's skinned body mesh in numpy (bind pose, glTF frame): for fitting, proxies and hiding."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import gltf_io
from ..errors import WardrobeError
from .skeleton import Skeleton

REGION_ATTRIBUTE = "_REGION"
NO_REGION = 255


@dataclass
class BodyMesh:
    """Vertices, triangles and skin weights of the avatar's body; joints index the Skeleton."""

    positions: np.ndarray  # (V, 3) float64
    normals: np.ndarray    # (V, 3)
    faces: np.ndarray      # (T, 3) int64
    joints: np.ndarray     # (V, 4) int64, skeleton indices
    weights: np.ndarray    # (V, 4) float64
    regions: np.ndarray    # (V,) uint8 index into garments.garment.BODY_REGIONS, NO_REGION if unknown

    @classmethod
    def from_gltf(cls, path: str | Path, skeleton: Skeleton, doc: gltf_io.GltfDocument | None = None) -> "BodyMesh":
        doc = doc or gltf_io.validate(path)
        raw = gltf_io.raw_json(doc)
        node = next((n for n in raw.get("nodes", []) if "mesh" in n and "skin" in n), None)
        if node is None:
            raise WardrobeError(f"{Path(path).name} has no skinned mesh: export the avatar's body with its armature.")
        skin = raw["skins"][node["skin"]]
        to_skeleton = np.array([skeleton.index(raw["nodes"][j].get("name", f"joint{j}")) for j in skin["joints"]])
        parts = []
        offset = 0
        for prim in raw["meshes"][node["mesh"]]["primitives"]:
            attrs = prim["attributes"]
            if "JOINTS_0" not in attrs or "WEIGHTS_0" not in attrs:
                continue
            pos = gltf_io.read_accessor(doc, attrs["POSITION"]).astype(np.float64)
            nrm = gltf_io.read_accessor(doc, attrs["NORMAL"]).astype(np.float64) if "NORMAL" in attrs else None
            faces = (gltf_io.read_accessor(doc, prim["indices"]).astype(np.int64).reshape(-1, 3)
                     if "indices" in prim else np.arange(len(pos)).reshape(-1, 3))
            region = (gltf_io.read_accessor(doc, attrs[REGION_ATTRIBUTE])[:, 0].astype(np.uint8)
                      if REGION_ATTRIBUTE in attrs else np.full(len(pos), NO_REGION, np.uint8))
            parts.append((pos, nrm, faces + offset, gltf_io.read_accessor(doc, attrs["JOINTS_0"]).astype(np.int64),
                          gltf_io.read_accessor(doc, attrs["WEIGHTS_0"]).astype(np.float64), region))
            offset += len(pos)
        if not parts:
            raise WardrobeError(f"{Path(path).name}: the skinned mesh has no JOINTS_0/WEIGHTS_0.")
        pos = np.concatenate([p[0] for p in parts])
        faces = np.concatenate([p[2] for p in parts])
        nrm = (np.concatenate([p[1] for p in parts]) if all(p[1] is not None for p in parts) else None)
        if nrm is None:
            from .skinning import vertex_normals
            nrm = vertex_normals(pos, faces)
        weights = np.concatenate([p[4] for p in parts])
        weights /= np.maximum(weights.sum(1, keepdims=True), 1e-12)
        return cls(pos, nrm, faces, to_skeleton[np.concatenate([p[3] for p in parts])], weights,
                   np.concatenate([p[5] for p in parts]))
