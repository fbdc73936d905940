"""The avatar's painted texture: skin tone with a neutral base layer, made from rest positions."""
from __future__ import annotations

import cv2
import numpy as np
from tqdm import tqdm

from .spec import EYE_GROUPS, Body

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
IRIS_COS = 0.88  # iris: eyeball texels within this cosine of the forward axis (0.80 filled the whole
                 # opening between the lids: the eyes looked like dark sockets with a white rim; a pupil
                 # within 0.97 came out as a dark cross on the coarse eyeball, so there is none)
ARM_BONE_PREFIXES = ("upperarm", "lowerarm", "hand", "thumb", "index", "middle", "ring", "pinky")

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


