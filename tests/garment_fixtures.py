"""Small garments for the garment tests: a tube with every feature, a patch of the avatar's own skin,
and GLB take-apart/put-together helpers for editing a saved file's JSON."""
from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from avatar_wardrobe.garments.garment import Garment, GarmentMaterial, GarmentMeta, SimMesh

REPO = Path(__file__).resolve().parents[1]
AVATARS = ("female_165_58", "male_180_80")
TORSO_BONES = ("spine_01", "spine_02", "spine_03", "pelvis")
PATCH_EASE_M = 0.015          # the skin patch stands this far off the body
FAKE_PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))  # image bytes pass through unread
FAKE_NORMAL_PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40, 0, -1))


def avatar_body(name: str):
    """(skeleton, body) of a default avatar; skips when models/avatar lacks it."""
    from avatar_wardrobe.garments.fitting import load_avatar_body

    path = REPO / "models" / "avatar" / f"{name}.glb"
    if not path.is_file():
        pytest.skip(f"{path} missing: run `make avatars` to build the default avatars")
    return load_avatar_body(name)


def tube_garment(rings: int = 6, around: int = 12, radius: float = 0.15, height: float = 0.5,
                 with_skin: bool = True) -> Garment:
    """A tube around y in [1.0, 1.0 + height], two parts with two materials, colours, pins, a skin
    on two named joints and a coarse simulation mesh: something of every field."""
    angle = np.linspace(0, 2 * np.pi, around, endpoint=False)
    ys = np.linspace(1.0, 1.0 + height, rings)
    grid = np.stack(np.meshgrid(angle, ys), -1).reshape(-1, 2)
    positions = np.stack([radius * np.sin(grid[:, 0]), grid[:, 1], radius * np.cos(grid[:, 0])], 1)
    normals = np.stack([np.sin(grid[:, 0]), np.zeros(len(grid)), np.cos(grid[:, 0])], 1)
    uvs = np.stack([grid[:, 0] / (2 * np.pi), (grid[:, 1] - 1.0) / height], 1)
    faces = []
    for r in range(rings - 1):
        for a in range(around):
            i, j = r * around + a, r * around + (a + 1) % around
            faces += [[i, j, j + around], [i, j + around, i + around]]
    faces = np.array(faces)
    half = len(faces) // 2
    n = len(positions)
    pin = (positions[:, 1] >= ys[-1] - 1e-6).astype(np.float32)
    joints = weights = names = None
    if with_skin:
        names = ["spine_02", "spine_03"]
        t = (positions[:, 1] - 1.0) / height
        joints = np.tile([0, 1, 0, 0], (n, 1))
        weights = np.stack([1 - t, t, np.zeros(n), np.zeros(n)], 1).astype(np.float32)
    sim = SimMesh(positions[::2].astype(np.float32), np.array([[0, 1, 2], [2, 3, 0]]),
                  np.array(pin[::2]))
    return Garment(
        name="tube", meta=GarmentMeta(slot="top", layer=1, fabric="knit", size="L",
                                      made_for={"height_m": 1.65, "chest_m": 0.86}, hides=("torso",),
                                      variants={"red": {"base_color": [0.8, 0.1, 0.1, 1.0]}},
                                      kind="tube top", source_avatar="female_165_58"),
        positions=positions.astype(np.float32), normals=normals.astype(np.float32), uvs=uvs.astype(np.float32),
        faces=faces, parts=[(0, half, 0), (half, len(faces) - half, 1)],
        materials=[GarmentMaterial(name="cloth", base_color=(0.2, 0.3, 0.4, 1.0), base_color_texture=FAKE_PNG,
                                   normal_texture=FAKE_NORMAL_PNG, metallic=0.0, roughness=0.7),
                   GarmentMaterial(name="lace", base_color=(1.0, 1.0, 1.0, 0.5), alpha_mode="MASK",
                                   alpha_cutoff=0.3, double_sided=False, roughness=0.4)],
        pin=pin, max_distance=np.where(pin > 0, 0.0, 0.05).astype(np.float32),
        joint_names=names, joints=joints, weights=weights,
        colors=np.tile([0.5, 0.6, 0.7, 1.0], (n, 1)).astype(np.float32), sim=sim)


def skin_patch_garment(skeleton, body, bones=TORSO_BONES, ease: float = PATCH_EASE_M,
                       source_avatar: str = "female_165_58") -> Garment:
    """The body's triangles whose corners all follow `bones` most, lifted `ease` off the skin."""
    dominant = body.joints[np.arange(len(body.joints)), np.argmax(body.weights, axis=1)]
    chosen = np.isin(dominant, [skeleton.index(b) for b in bones])
    faces = body.faces[chosen[body.faces].all(axis=1)]
    used, inverse = np.unique(faces, return_inverse=True)
    positions = body.positions[used] + ease * body.normals[used]
    n = len(used)
    pin = (positions[:, 1] > np.quantile(positions[:, 1], 0.9)).astype(np.float32)
    return Garment(
        name="patch", meta=GarmentMeta(slot="top", layer=1, source_avatar=source_avatar),
        positions=positions.astype(np.float32), normals=body.normals[used].astype(np.float32),
        uvs=np.zeros((n, 2), np.float32), faces=inverse.reshape(-1, 3), parts=[(0, len(faces), 0)],
        materials=[GarmentMaterial()], pin=pin, max_distance=np.where(pin > 0, 0, 0.05).astype(np.float32))


# --- editing saved .glb files ----------------------------------------------------------------

def split_glb(data: bytes) -> tuple[dict, bytes]:
    json_len = struct.unpack_from("<I", data, 12)[0]
    bin_at = 20 + json_len
    bin_len = struct.unpack_from("<I", data, bin_at)[0]
    return json.loads(data[20:bin_at]), data[bin_at + 8:bin_at + 8 + bin_len]


def pack_glb(doc: dict, bin_chunk: bytes) -> bytes:
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    bin_chunk += b"\0" * (-len(bin_chunk) % 4)
    body = (struct.pack("<I4s", len(text), b"JSON") + text + struct.pack("<I4s", len(bin_chunk), b"BIN\0")
            + bin_chunk)
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def edit_glb(path: Path, change, out: Path | None = None) -> Path:
    """Apply change(doc_json) to a .glb (in place, or written to `out`)."""
    doc, bin_chunk = split_glb(path.read_bytes())
    change(doc)
    target = out or path
    target.write_bytes(pack_glb(doc, bin_chunk))
    return target
