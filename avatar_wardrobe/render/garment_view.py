"""Worn garments drawn in Panda3D: a dynamic mesh per garment, its materials, body hiding."""
from __future__ import annotations

import numpy as np

from ..garments.garment import Garment
from ..garments.openings import near_openings
from .dynamic_mesh import DynamicMesh, apply_material, load_texture


def panda_uvs(gltf_uvs: np.ndarray) -> np.ndarray:
    """glTF texture coordinates (origin at the image's top-left, v down) as Panda's (v up)."""
    return np.column_stack([gltf_uvs[:, 0], 1.0 - gltf_uvs[:, 1]]).astype(np.float32)


class GarmentView:
    """One garment under `parent`; `show(positions, normals)` each frame (glTF frame, metres)."""

    def __init__(self, garment: Garment, parent, cull_insides: bool = True):
        """cull_insides: draw the inner side only near the openings (garments/openings.py)."""
        self.garment = garment
        self.uvs = panda_uvs(garment.uvs)
        closed = ~near_openings(garment.positions, garment.faces) if cull_insides else None
        self.mesh = DynamicMesh(garment.name, garment.faces, self.uvs, garment.colors, garment.parts, closed)
        self.root = parent.attachNewNode(f"garment_{garment.name}")
        self.part_paths = []
        textures: dict[int, object] = {}
        for node, (_first, _count, mat_index) in zip(self.mesh.nodes, self.mesh.parts):
            material = garment.materials[mat_index]
            if mat_index not in textures and material.base_color_texture:
                textures[mat_index] = load_texture(material.base_color_texture, f"{garment.name}_{mat_index}", True)
            path = self.root.attachNewNode(node)
            apply_material(path, material, textures.get(mat_index))
            self.part_paths.append(path)
        self.set_order(garment.meta.layer)
        self.show(garment.positions, garment.normals)

    def set_order(self, rank: int) -> None:
        """Outer garments (higher rank) draw after inner ones and win where they touch."""
        self.root.setBin("fixed", rank)
        self.root.setDepthOffset(rank + 1)

    def show(self, positions: np.ndarray, normals: np.ndarray) -> None:
        self.mesh.update(positions, normals)

    def set_colors(self, colors: np.ndarray) -> None:
        """Per-vertex colours multiply the material (the fit heat map uses this)."""
        self.mesh.set_colors(colors, self.uvs)

    def remove(self) -> None:
        self.root.removeNode()
