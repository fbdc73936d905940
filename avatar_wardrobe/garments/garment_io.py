"""Garment files (glTF 2.0, format v1 in docs/garment-format.md) to and from the Garment record.

`load_garment` validates the file's structure (gltf_io), then reads the render mesh nodes, their
materials, skin, custom attributes and extras metadata into one Garment; `read_garment` does the
same on a loaded document and returns every problem found (with a code) instead of raising, which
is what `garment check` uses. `save_garment` writes the v1 format with GlbWriter.
"""
from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

import numpy as np

from .. import gltf_io
from ..avatar.skinning import vertex_normals
from ..errors import WardrobeError
from ..glb_writer import (ARRAY_BUFFER, FLOAT, JOINT_DTYPES, REPEAT, TRIANGLES, UBYTE, USHORT,
                          GlbWriter)
from ..transforms import quat_to_matrix
from .garment import (ALPHA_MODES, BODY_REGIONS, DEFAULT_LAYER, EXTRAS_KEY, FABRICS, INFLUENCES, SIZES,
                      SLOTS, Garment, GarmentMaterial, GarmentMeta, SimMesh)

# --- the format's names ----------------------------------------------------------------------
EXTRAS_PREFIX = "aw_"
ROLE_KEY = "aw_role"
SIM_ROLE = "simulation"
PIN_CHANNEL_KEY = "aw_pin_channel"      # e.g. "COLOR_0.r": pins painted into a vertex-colour channel
PIN_ATTRIBUTE = "_PIN"
MAX_DISTANCE_ATTRIBUTE = "_MAX_DISTANCE"
COLOR_CHANNELS = "rgba"
MADE_FOR_KEYS = ("height_m", "mass_kg", "chest_m", "waist_m", "hips_m", "shoulder_m")
SOURCE_AVATAR_KEY = "avatar"             # inside aw_made_for: the avatar the garment was modelled on
DEFAULT_SOURCE_AVATAR = "female_165_58"  # models/avatar/<name>.glb, the default avatar
AVATAR_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_LAYER = 9
MAX_TEXT_CHARS = 64                      # longest size label / garment type name accepted
PIN_FULL = 1.0 - 1e-6                    # pin values at or above this are held (max distance 0)
# How far (metres) a free vertex may move from its skinned place, per fabric, where the file has
# no _MAX_DISTANCE: stiff fabrics stay closer to the body. Scaled by (1 - pin).
FABRIC_MAX_DISTANCE_M = {"cotton": 0.06, "denim": 0.04, "silk": 0.10, "knit": 0.05, "leather": 0.03}
DEFAULT_META = GarmentMeta()              # slot top, fabric cotton, size M
DEFAULT_MATERIAL = GarmentMaterial()
# glTF material defaults (the specification's, used where a material omits a field).
GLTF_BASE_COLOR = (1.0, 1.0, 1.0, 1.0)
GLTF_METALLIC = GLTF_ROUGHNESS = 1.0
GLTF_ALPHA_CUTOFF = 0.5

# --- reading limits and glTF constants --------------------------------------------------------
MAX_IMAGE_BYTES = 64 * 2**20             # an image file or data: URI larger than this is refused
MAX_TEXTURE_SIDE = 8192                  # a PNG/JPEG header declaring a wider or taller image is refused
TRIANGLE_LIST, TRIANGLE_STRIP, TRIANGLE_FAN = 4, 5, 6
NORMALIZED_MAX = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}
IDENTITY = np.eye(4)
MIME_BY_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
DEFAULT_MIME = "image/png"
MAT4_SIZE = 16

# --- problem codes (documented in docs/garment-format.md) -------------------------------------
ERROR, WARNING = "error", "warning"
CODES = {
    "GLTF_STRUCTURE": "the file is not valid glTF 2.0 (the Khronos glTF-Validator's kind of problem)",
    "GLTF_STRICTER": "valid glTF 2.0, but refused by the project's stricter skin checks (zero inverse bind "
                     "matrices or weights, joint weights on a node without a skin)",
    "URI_OUTSIDE": "a buffer or image URI points outside the file's folder (or to a URL)",
    "MISSING_IMAGE": "an image file named by a URI is missing, unreadable or too large",
    "NO_MESH": "no render mesh with triangles",
    "NOT_TRIANGLES": "a primitive is points or lines; it is skipped",
    "NO_NORMALS": "a primitive has no NORMAL; smooth normals were computed",
    "NO_UV": "a primitive has no TEXCOORD_0; textures cannot be mapped",
    "PARTIAL_SKIN": "some render primitives are skinned and others not; the skin is dropped",
    "BAD_SLOT": "aw_slot is not one of the slots",
    "BAD_LAYER": "aw_layer is not a whole number from 0 to 9",
    "BAD_FABRIC": "aw_fabric is not one of the fabric presets",
    "BAD_SIZE": "aw_size is not a short text (warning when it is not S, M, L or XL)",
    "BAD_MADE_FOR": "aw_made_for is not a set of body measurements",
    "BAD_HIDES": "aw_hides names something that is not a body region",
    "BAD_VARIANTS": "aw_variants is not name -> {base_color: [r, g, b, a]}",
    "BAD_METADATA": "another aw_ property has the wrong type",
    "MISSING_DEFAULTS": "metadata was missing and defaults were filled in",
    "NO_PIN": "nothing is pinned (no _PIN attribute or pin channel)",
    "BAD_PIN_CHANNEL": "aw_pin_channel does not name a vertex-colour channel the mesh has",
    "PIN_RANGE": "_PIN values outside 0..1 or not finite",
    "MAX_DISTANCE_RANGE": "_MAX_DISTANCE values negative or not finite",
    "BAD_SIM_MESH": "the simulation mesh (aw_role simulation) is unusable",
    "UNKNOWN_BONE": "the skin uses joints that the avatar's skeleton does not have",
    "NOT_METRES": "the bounding box is implausible for a garment on a human (over 3 m or under 2 cm)",
    "NOT_Y_UP": "the garment is tall along Z rather than Y (exported Z-up)",
    "FAR_FROM_BODY": "the garment does not sit on the reference avatar",
    "INSIDE_BODY": "many vertices lie inside the reference avatar's body",
    "NO_REFERENCE_AVATAR": "the reference avatar could not be loaded; body checks were skipped",
    "CHECK_FAILED": "an internal check could not finish (please report it)",
}


@dataclass
class Problem:
    """One finding of the garment checks: a code from CODES, its severity and a sentence."""

    code: str
    severity: str
    message: str

    def as_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "message": self.message}


def problem(code: str, message: str, severity: str = ERROR) -> Problem:
    assert code in CODES, code
    return Problem(code, severity, message)


def errors_message(name: str, problems: list[Problem]) -> str:
    """One user message for the error-severity problems of a file."""
    errors = [p for p in problems if p.severity == ERROR]
    lines = "\n".join(f"  - [{p.code}] {p.message}" for p in errors)
    return (f"{name} is not a usable garment ({len(errors)} problem{'s' if len(errors) != 1 else ''}):\n"
            f"{lines}\nFix them and export again; `avatar-wardrobe garment check {name}` lists every "
            "problem, and docs/garment-format.md describes the format.")


# --- loading ---------------------------------------------------------------------------------

def load_garment(path: str | Path) -> Garment:
    """Read a garment file (.glb / .gltf): validated first; WardrobeError with what to fix."""
    path = Path(path)
    outside = outside_uri_problems(path)
    if outside:
        raise WardrobeError(errors_message(path.name, outside))
    doc = gltf_io.validate(path)
    garment, problems = read_garment(doc)
    if garment is None or any(p.severity == ERROR for p in problems):
        raise WardrobeError(errors_message(path.name, problems))
    return garment


def outside_uri_problems(path: Path) -> list[Problem]:
    """URI_OUTSIDE problems for buffer and image URIs that leave the file's folder; checked before
    gltf_io reads any buffer, so nothing outside the folder is ever opened."""
    try:
        data = path.read_bytes() if path.is_file() else b""
        if not data:
            return []
        if data[:4] == gltf_io.GLB_MAGIC or path.suffix.lower() in gltf_io.GLB_SUFFIXES:
            json_bytes, _ = gltf_io._split_glb(data, path.name)  # noqa: SLF001 - same checks as load()
        else:
            json_bytes = data
        raw = gltf_io._parse_json(json_bytes, path.name)  # noqa: SLF001
    except (WardrobeError, OSError):
        return []  # load() reports these with its own message
    found = []
    for key in ("buffers", "images"):
        items = raw.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            uri = item.get("uri") if isinstance(item, dict) else None
            if isinstance(uri, str) and not uri.startswith(gltf_io.DATA_URI_PREFIX) and _outside(path, uri):
                found.append(problem("URI_OUTSIDE", f"{key[:-1]} {i} has the URI '{uri[:80]}', which is not a "
                                     "file inside the garment's folder; only files next to the .gltf are read. "
                                     "Export as .glb to embed the data."))
    return found


def _outside(path: Path, uri: str) -> bool:
    name = unquote(uri)
    if "://" in name or ":" in name.split("/")[0] or name.startswith(("/", "\\")) or Path(name).is_absolute():
        return True
    folder = path.parent.resolve()
    try:
        return not (folder / name).resolve().is_relative_to(folder)
    except (OSError, RuntimeError, ValueError):  # symlink loops, NUL bytes
        return True


def read_garment(doc: gltf_io.GltfDocument) -> tuple[Garment | None, list[Problem]]:
    """The garment in a structurally valid document and every problem found; never raises for
    anything the file holds (the Garment is None when there is no usable render mesh)."""
    reader = _Reader(doc)
    try:
        with np.errstate(under="ignore"):  # tiny values in a file are not an error
            garment = reader.read()
    except WardrobeError as exc:  # an accessor that cannot be decoded after all
        reader.problems.append(problem("GLTF_STRUCTURE", str(exc)))
        garment = None
    return garment, reader.problems


@dataclass
class _Block:
    """One primitive's vertices after baking, before merging into the garment."""

    positions: np.ndarray
    normals: np.ndarray | None
    uvs: np.ndarray | None
    colors: np.ndarray | None
    pin: np.ndarray | None
    max_distance: np.ndarray | None
    joints: np.ndarray | None      # (V, K) into joint_names of the garment
    weights: np.ndarray | None     # (V, K)
    mirrored: bool = False         # baked through a mirroring transform: faces must flip


@dataclass
class _Part:
    faces: np.ndarray              # into the block's vertices
    block: int
    material: int


@dataclass
class _Reader:
    doc: gltf_io.GltfDocument
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self):
        self.raw = gltf_io.raw_json(self.doc)
        self.nodes = self._dicts("nodes")
        self.meshes = self._dicts("meshes")
        self.parents = {c: i for i, n in enumerate(self.nodes) for c in n.get("children", []) if _is_int(c)}
        self._world: dict[int, np.ndarray] = {}
        self.joint_names: list[str] = []
        self.materials: list[GarmentMaterial] = []
        self._material_of: dict[int | None, int] = {}

    def _dicts(self, key: str) -> list[dict]:
        value = self.raw.get(key)
        return [v if isinstance(v, dict) else {} for v in value] if isinstance(value, list) else []

    def warn(self, code: str, message: str) -> None:
        self.problems.append(problem(code, message, WARNING))

    def error(self, code: str, message: str) -> None:
        self.problems.append(problem(code, message, ERROR))

    # -- the whole garment --

    def read(self) -> Garment | None:
        render, sim = [], []
        for n in self._scene_nodes():
            node = self.nodes[n]
            if _is_int(node.get("mesh")):
                (sim if _obj(node.get("extras")).get(ROLE_KEY) == SIM_ROLE else render).append(n)
        meta = self._meta(render)
        blocks, parts = self._render_blocks(render)
        if not parts:
            self.error("NO_MESH", "the file has no render mesh with triangles: export the garment's mesh "
                                  "object (a node with a mesh of triangles).")
            return None
        garment = self._assemble(blocks, parts, meta, render)
        garment.sim = self._sim_mesh(sim)
        return garment

    def _scene_nodes(self) -> list[int]:
        """Nodes of the default scene (all nodes when the file has no scene), parents first."""
        scenes = self._dicts("scenes")
        scene = self.raw.get("scene", 0)
        roots = scenes[scene].get("nodes") if _is_int(scene) and 0 <= scene < len(scenes) else None
        if not isinstance(roots, list):
            return list(range(len(self.nodes)))
        order, stack = [], [r for r in reversed(roots) if _is_int(r) and 0 <= r < len(self.nodes)]
        seen = set()
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            order.append(n)
            stack.extend(c for c in reversed(self.nodes[n].get("children", [])) if _is_int(c)
                         and 0 <= c < len(self.nodes))
        return order

    def world(self, n: int) -> np.ndarray:
        """Node n's world matrix (column vectors)."""
        if n not in self._world:
            chain, node = [], n
            while node is not None and node not in self._world and len(chain) <= len(self.nodes):
                chain.append(node)
                node = self.parents.get(node)
            base = self._world.get(node, IDENTITY) if node is not None else IDENTITY
            for c in reversed(chain):
                base = base @ _local_matrix(self.nodes[c])
                self._world[c] = base
        return self._world[n]

    # -- render mesh --

    def _render_blocks(self, render: list[int]) -> tuple[list[_Block], list[_Part]]:
        blocks, parts, cache = [], [], {}
        skinned = []
        for n in render:
            node = self.nodes[n]
            mesh = self.meshes[node["mesh"]] if node["mesh"] < len(self.meshes) else {}
            for p, prim in enumerate(_list(mesh.get("primitives"))):
                prim = _obj(prim)
                attributes = _obj(prim.get("attributes"))
                where = f"node {n} '{node.get('name', '')}' primitive {p}"
                mode = prim.get("mode", TRIANGLE_LIST)
                if mode not in (TRIANGLE_LIST, TRIANGLE_STRIP, TRIANGLE_FAN):
                    self.warn("NOT_TRIANGLES", f"{where} is drawn as points or lines (mode {mode}); it is "
                                               "skipped. Garments are triangle meshes.")
                    continue
                if "POSITION" not in attributes:
                    continue
                key = (n, tuple(sorted((k, v) for k, v in attributes.items() if _is_int(v))))
                if key not in cache:
                    cache[key] = len(blocks)
                    blocks.append(self._block(n, attributes, where))
                    skinned.append(blocks[-1].joints is not None)
                block = cache[key]
                faces = self._faces(prim, len(blocks[block].positions), mode)
                if blocks[block].mirrored:
                    faces = faces[:, ::-1]
                if len(faces):
                    parts.append(_Part(faces, block, self._material(prim.get("material"))))
        if any(skinned) and not all(skinned):
            self.warn("PARTIAL_SKIN", "some render primitives have a skin (JOINTS_0/WEIGHTS_0) and others "
                                      "do not; the skin is dropped and weights come from the body when "
                                      "the garment is fitted. Skin every part, or none.")
            for b in blocks:
                b.joints = b.weights = None
        return blocks, parts

    def _block(self, n: int, attributes: dict, where: str) -> _Block:
        node = self.nodes[n]
        positions = self.data(attributes["POSITION"]).astype(np.float64)
        count = len(positions)
        normals = self.data(attributes["NORMAL"]).astype(np.float64) if "NORMAL" in attributes else None
        if normals is None:
            self.warn("NO_NORMALS", f"{where} has no NORMAL attribute; smooth normals were computed. "
                                    "Export with Normals on.")
        uvs = self.data(attributes["TEXCOORD_0"]).astype(np.float64) if "TEXCOORD_0" in attributes else None
        if uvs is None:
            self.warn("NO_UV", f"{where} has no TEXCOORD_0 (UV map); textures cannot be mapped onto it. "
                               "Unwrap the mesh and export with UVs on.")
        colors = self._colors(attributes.get("COLOR_0")) if "COLOR_0" in attributes else None
        pin = self._scalar(attributes, PIN_ATTRIBUTE, where)
        if pin is None:
            pin = self._pin_channel(node, attributes, where)
        if pin is not None and not (np.isfinite(pin).all() and pin.min() >= 0 and pin.max() <= 1):
            bad = ~(np.isfinite(pin) & (pin >= 0) & (pin <= 1))
            self.error("PIN_RANGE", f"{where}: {int(bad.sum())} of {count} pin values are outside 0..1 "
                                    f"(vertex {int(np.flatnonzero(bad)[0])} has {pin[bad][0]:g}); paint "
                                    "_PIN between 0 (free) and 1 (held).")
            pin = np.clip(np.nan_to_num(pin), 0, 1)
        max_distance = self._scalar(attributes, MAX_DISTANCE_ATTRIBUTE, where)
        if max_distance is not None and not (np.isfinite(max_distance).all() and max_distance.min() >= 0):
            self.error("MAX_DISTANCE_RANGE", f"{where}: _MAX_DISTANCE has negative or non-finite values; "
                                             "it is a distance in metres, 0 or more.")
            max_distance = np.clip(np.nan_to_num(max_distance), 0, None)
        joints = weights = None
        mirrored = False
        skin = node.get("skin")
        if _is_int(skin) and "JOINTS_0" in attributes and "WEIGHTS_0" in attributes:
            local_joints, weights = self._influences(attributes)
            joint_nodes = _list(self._dicts("skins")[skin].get("joints"))
            matrices = self._skin_matrices(skin, joint_nodes)
            blend = np.einsum("vk,vkij->vij", weights, matrices[local_joints])
            positions = np.einsum("vij,vj->vi", blend[:, :3, :3], positions) + blend[:, :3, 3]
            if normals is not None:
                normals = _transform_normals(blend[:, :3, :3], normals)
            names = [self._joint_name(j) for j in joint_nodes]
            joints = np.array([self._joint_index(name) for name in names], np.int64)[local_joints]
            joints, weights = top_influences(joints, weights)
        else:
            matrix = self.world(n)
            positions = positions @ matrix[:3, :3].T + matrix[:3, 3]
            mirrored = bool(np.linalg.det(matrix[:3, :3]) < 0)
            if normals is not None:
                normals = _transform_normals(np.broadcast_to(matrix[:3, :3], (count, 3, 3)), normals)
        return _Block(positions, normals, uvs, colors, pin, max_distance, joints, weights, mirrored)

    def data(self, index) -> np.ndarray:
        return gltf_io.read_accessor(self.doc, index)

    def _as_float(self, index) -> np.ndarray:
        data = self.data(index)
        acc = self._dicts("accessors")[index]
        if acc.get("componentType") in NORMALIZED_MAX and acc.get("normalized", True):
            return data.astype(np.float64) / NORMALIZED_MAX[acc["componentType"]]
        return data.astype(np.float64)

    def _colors(self, index) -> np.ndarray:
        rgba = self._as_float(index)
        if rgba.shape[1] == 3:
            rgba = np.concatenate([rgba, np.ones((len(rgba), 1))], axis=1)
        return rgba[:, :4]

    def _scalar(self, attributes: dict, name: str, where: str) -> np.ndarray | None:
        if name not in attributes:
            return None
        data = self._as_float(attributes[name])
        if data.shape[1] != 1:
            self.warn("BAD_METADATA", f"{where}: {name} has {data.shape[1]} components; only the first is "
                                      "used. Export it as a float attribute (one value per vertex).")
        return data[:, 0]

    def _pin_channel(self, node: dict, attributes: dict, where: str) -> np.ndarray | None:
        spec = _extras(node, self.meshes).get(PIN_CHANNEL_KEY)
        if spec is None:
            return None
        match = re.fullmatch(r"(\w+)\.([rgba])", spec) if isinstance(spec, str) else None
        if match is None or match.group(1) not in attributes:
            self.error("BAD_PIN_CHANNEL", f"{where}: {PIN_CHANNEL_KEY} is {spec!r}; name a vertex-colour channel "
                                          "the mesh has, like 'COLOR_0.r', or paint a _PIN attribute instead.")
            return None
        data = self._as_float(attributes[match.group(1)])
        channel = COLOR_CHANNELS.index(match.group(2))
        if channel >= data.shape[1]:
            self.error("BAD_PIN_CHANNEL", f"{where}: {match.group(1)} has no '{match.group(2)}' channel.")
            return None
        return data[:, channel]

    def _influences(self, attributes: dict) -> tuple[np.ndarray, np.ndarray]:
        """All JOINTS_n/WEIGHTS_n sets side by side: (V, 4 * sets) joint indices and weights."""
        joints, weights, n = [], [], 0
        while f"JOINTS_{n}" in attributes and f"WEIGHTS_{n}" in attributes:
            joints.append(self.data(attributes[f"JOINTS_{n}"]).astype(np.int64))
            weights.append(self._as_float(attributes[f"WEIGHTS_{n}"]))
            n += 1
        return np.concatenate(joints, axis=1), np.concatenate(weights, axis=1)

    def _skin_matrices(self, skin: int, joint_nodes: list) -> np.ndarray:
        """Per joint: world(joint) @ inverseBind, which carries a vertex to where the rest pose shows it."""
        ibm_index = self._dicts("skins")[skin].get("inverseBindMatrices")
        if ibm_index is None:
            ibm = np.repeat(IDENTITY[None], len(joint_nodes), axis=0)
        else:
            ibm = self.data(ibm_index).astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)
        return np.stack([self.world(j) for j in joint_nodes]) @ ibm

    def _joint_name(self, node: int) -> str:
        name = self.nodes[node].get("name")
        return name if isinstance(name, str) and name else f"joint{node}"

    def _joint_index(self, name: str) -> int:
        if name not in self.joint_names:
            self.joint_names.append(name)
        return self.joint_names.index(name)

    def _faces(self, prim: dict, vertex_count: int, mode: int) -> np.ndarray:
        index = prim.get("indices")
        flat = self.data(index)[:, 0].astype(np.int64) if index is not None else np.arange(vertex_count)
        if mode == TRIANGLE_LIST:
            faces = flat[: len(flat) // 3 * 3].reshape(-1, 3)
        elif len(flat) < 3:
            faces = np.zeros((0, 3), np.int64)
        elif mode == TRIANGLE_STRIP:
            i = np.arange(len(flat) - 2)
            even = (i % 2 == 0)[:, None]
            faces = np.where(even, np.stack([flat[i], flat[i + 1], flat[i + 2]], 1),
                             np.stack([flat[i + 1], flat[i], flat[i + 2]], 1))
        else:  # fan
            i = np.arange(1, len(flat) - 1)
            faces = np.stack([np.full(len(i), flat[0]), flat[i], flat[i + 1]], 1)
        degenerate = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
        return faces[~degenerate]

    # -- materials --

    def _material(self, index) -> int:
        if index not in self._material_of:
            materials = self._dicts("materials")
            material = (self._read_material(index, materials[index]) if _is_int(index) and index < len(materials)
                        else GarmentMaterial())
            self._material_of[index] = len(self.materials)
            self.materials.append(material)
        return self._material_of[index]

    def _read_material(self, index: int, m: dict) -> GarmentMaterial:
        pbr = _obj(m.get("pbrMetallicRoughness"))
        color = pbr.get("baseColorFactor", GLTF_BASE_COLOR)
        alpha = m.get("alphaMode", "OPAQUE")
        return GarmentMaterial(
            name=str(m.get("name") or f"material{index}"),
            base_color=tuple(float(c) for c in color) if _numbers(color, 4) else GLTF_BASE_COLOR,
            base_color_texture=self._texture(pbr.get("baseColorTexture"), f"material {index} base colour"),
            metallic=_number(pbr.get("metallicFactor"), GLTF_METALLIC),
            roughness=_number(pbr.get("roughnessFactor"), GLTF_ROUGHNESS),
            normal_texture=self._texture(m.get("normalTexture"), f"material {index} normal map"),
            alpha_mode=alpha if alpha in ALPHA_MODES else "OPAQUE",
            alpha_cutoff=_number(m.get("alphaCutoff"), GLTF_ALPHA_CUTOFF),
            double_sided=bool(m.get("doubleSided", False)),
        )

    def _texture(self, info, what: str) -> bytes | None:
        data = self._texture_bytes(info, what)
        if data is not None:
            refusal = image_size_problem(data)
            if refusal:
                self.error("MISSING_IMAGE", f"the {what} image {refusal}")
                return None
        return data

    def _texture_bytes(self, info, what: str) -> bytes | None:
        textures, images = self._dicts("textures"), self._dicts("images")
        t = _obj(info).get("index")
        if not (_is_int(t) and t < len(textures)):
            return None
        source = textures[t].get("source")
        if not (_is_int(source) and source < len(images)):
            return None
        image = images[source]
        if _is_int(image.get("bufferView")):
            return self._view_bytes(image["bufferView"], what)
        uri = image.get("uri")
        if not isinstance(uri, str):
            return None
        if uri.startswith(gltf_io.DATA_URI_PREFIX):
            return self._data_uri(uri, what)
        return self._image_file(uri, what)

    def _view_bytes(self, index: int, what: str) -> bytes | None:
        view = self._dicts("bufferViews")[index]
        buffer, offset, length = view.get("buffer"), view.get("byteOffset", 0), view.get("byteLength")
        if not (_is_int(buffer) and buffer < len(self.doc.buffers) and _is_int(offset) and _is_int(length)
                and 0 <= offset and offset + length <= len(self.doc.buffers[buffer])):
            self.error("GLTF_STRUCTURE", f"the {what} image's bufferView {index} lies outside its buffer.")
            return None
        return bytes(self.doc.buffers[buffer][offset:offset + length])

    def _data_uri(self, uri: str, what: str) -> bytes | None:
        header, _, payload = uri.partition(",")
        if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
            self.error("MISSING_IMAGE", f"the {what} image's data: URI is larger than {MAX_IMAGE_BYTES >> 20} MiB.")
            return None
        try:
            return base64.b64decode(payload) if header.endswith(";base64") else unquote_to_bytes(payload)
        except ValueError:
            self.error("MISSING_IMAGE", f"the {what} image has a broken data: URI; export with images embedded.")
            return None

    def _image_file(self, uri: str, what: str) -> bytes | None:
        if _outside(self.doc.path, uri):
            self.error("URI_OUTSIDE", f"the {what} image URI '{uri[:80]}' points outside the garment's folder; "
                                      "keep textures next to the .gltf, or export a .glb.")
            return None
        file = self.doc.path.parent / unquote(uri)
        try:
            if not file.is_file():
                raise FileNotFoundError
            size = file.stat().st_size
            if size > MAX_IMAGE_BYTES:
                self.error("MISSING_IMAGE", f"the {what} image '{uri[:80]}' is {size >> 20} MiB, over the "
                                            f"{MAX_IMAGE_BYTES >> 20} MiB limit; use a smaller texture.")
                return None
            return file.read_bytes()
        except OSError:
            self.error("MISSING_IMAGE", f"the {what} image '{uri[:80]}' is missing or unreadable; keep it next "
                                        "to the .gltf, or export a .glb with the images embedded.")
            return None

    # -- metadata --

    def _meta(self, render: list[int]) -> GarmentMeta:
        extras: dict = {}  # lowest priority first: file and scene, then render nodes, the first one last
        for source in [_root_extras(self.raw, self._dicts("scenes"))] + [_extras(self.nodes[n], self.meshes)
                                                                         for n in reversed(render)]:
            extras.update(source)
        return read_meta(extras, self.problems)

    # -- assembling --

    def _assemble(self, blocks: list[_Block], parts: list[_Part], meta: GarmentMeta, render: list[int]) -> Garment:
        used = sorted({p.block for p in parts})
        offsets, total = {}, 0
        for b in used:
            offsets[b] = total
            total += len(blocks[b].positions)
        order = sorted(range(len(parts)), key=lambda i: (parts[i].material, i))  # one part per material run
        faces, garment_parts = [], []
        first = 0
        for i in order:
            part = parts[i]
            f = part.faces + offsets[part.block]
            if garment_parts and garment_parts[-1][2] == part.material:
                start, count, mat = garment_parts[-1]
                garment_parts[-1] = (start, count + len(f), mat)
            else:
                garment_parts.append((first, len(f), part.material))
            faces.append(f)
            first += len(f)
        faces = np.concatenate(faces)
        chosen = [blocks[b] for b in used]
        positions = np.concatenate([b.positions for b in chosen])
        normals = self._normals(chosen, positions, faces, offsets, used)
        uvs = np.concatenate([b.uvs[:, :2] if b.uvs is not None else np.zeros((len(b.positions), 2))
                              for b in chosen])
        colors = None
        if any(b.colors is not None for b in chosen):
            colors = np.concatenate([b.colors if b.colors is not None else np.ones((len(b.positions), 4))
                                     for b in chosen]).astype(np.float32)
        if all(b.pin is None for b in chosen):
            self.warn("NO_PIN", "nothing is pinned: paint a float attribute _PIN (1 = held to the body, e.g. "
                                "waistband or collar; 0 = free) or name a colour channel in aw_pin_channel. "
                                "Without pins the garment only follows the skin.")
        pin = np.concatenate([b.pin if b.pin is not None else np.zeros(len(b.positions)) for b in chosen])
        default_distance = default_max_distance(pin, meta.fabric)
        max_distance = np.concatenate([
            b.max_distance if b.max_distance is not None else default_distance[offsets[u]:offsets[u] + len(b.positions)]
            for u, b in zip(used, chosen)])
        joints = weights = None
        if chosen[0].joints is not None:
            joints = np.concatenate([b.joints for b in chosen])
            weights = np.concatenate([b.weights for b in chosen]).astype(np.float32)
        first_node = self.nodes[render[0]] if render else {}
        name = first_node.get("name") if isinstance(first_node.get("name"), str) and first_node.get("name") \
            else self.doc.path.stem
        return Garment(
            name=name, meta=meta, positions=positions.astype(np.float32), normals=normals.astype(np.float32),
            uvs=uvs.astype(np.float32), faces=faces.astype(np.int64), parts=garment_parts,
            materials=self.materials, pin=pin.astype(np.float32), max_distance=max_distance.astype(np.float32),
            joint_names=list(self.joint_names) if joints is not None else None, joints=joints, weights=weights,
            colors=colors, source=self.doc.path)

    @staticmethod
    def _normals(blocks, positions, faces, offsets, used) -> np.ndarray:
        computed = None
        out = []
        for u, b in zip(used, blocks):
            if b.normals is not None:
                n = b.normals
                length = np.linalg.norm(n, axis=1, keepdims=True)
                out.append(np.where(length > 0, n / np.where(length > 0, length, 1), 0))
            else:
                if computed is None:
                    computed = vertex_normals(positions, faces)
                out.append(computed[offsets[u]:offsets[u] + len(b.positions)])
        return np.concatenate(out)

    def _sim_mesh(self, sim: list[int]) -> SimMesh | None:
        if not sim:
            return None
        positions, faces, pins, offset = [], [], [], 0
        for n in sim:
            mesh = self.meshes[self.nodes[n]["mesh"]]
            for p, prim in enumerate(_list(mesh.get("primitives"))):
                prim, where = _obj(prim), f"simulation node {n} primitive {p}"
                attributes = _obj(prim.get("attributes"))
                mode = prim.get("mode", TRIANGLE_LIST)
                if "POSITION" not in attributes or mode not in (TRIANGLE_LIST, TRIANGLE_STRIP, TRIANGLE_FAN):
                    continue
                matrix = self.world(n)
                pos = self.data(attributes["POSITION"]).astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
                pin = self._scalar(attributes, PIN_ATTRIBUTE, where)
                if pin is not None and not (np.isfinite(pin).all() and pin.min() >= 0 and pin.max() <= 1):
                    self.error("PIN_RANGE", f"{where}: _PIN values must lie in 0..1.")
                    pin = np.clip(np.nan_to_num(pin), 0, 1)
                positions.append(pos)
                faces.append(self._faces(prim, len(pos), mode) + offset)
                pins.append(pin if pin is not None else np.zeros(len(pos)))
                offset += len(pos)
        if not positions or not sum(len(f) for f in faces):
            self.error("BAD_SIM_MESH", "the node marked aw_role 'simulation' has no triangles; export the coarse "
                                       "simulation mesh as triangles, or remove the aw_role property.")
            return None
        pin = np.concatenate(pins)
        if not pin.any():
            self.warn("NO_PIN", "the simulation mesh pins nothing: paint _PIN on it too.")
        return SimMesh(np.concatenate(positions).astype(np.float32), np.concatenate(faces).astype(np.int64),
                       pin.astype(np.float32))


def default_max_distance(pin: np.ndarray, fabric: str) -> np.ndarray:
    """The v1 default for _MAX_DISTANCE: 0 where fully pinned, else the fabric's allowance x (1 - pin)."""
    allowance = FABRIC_MAX_DISTANCE_M.get(fabric, FABRIC_MAX_DISTANCE_M[DEFAULT_META.fabric])
    pin = np.asarray(pin, dtype=np.float64)
    return np.where(pin >= PIN_FULL, 0.0, allowance * (1.0 - pin))


# --- metadata --------------------------------------------------------------------------------

def read_meta(extras: dict, problems: list[Problem]) -> GarmentMeta:
    """GarmentMeta from the aw_ extras; problems gets what is wrong, meta.warnings what was defaulted."""
    def bad(code: str, message: str, severity: str = ERROR) -> None:
        problems.append(problem(code, message, severity))

    meta, filled = GarmentMeta(), []
    slot = extras.get("aw_slot")
    if slot is None:
        filled.append(f"aw_slot = '{meta.slot}'")
    elif slot in SLOTS:
        meta.slot = slot
    else:
        bad("BAD_SLOT", f"aw_slot is {_show(slot)}; use one of {', '.join(SLOTS)}.")
    layer = extras.get("aw_layer")
    meta.layer = DEFAULT_LAYER[meta.slot]
    if layer is None:
        filled.append(f"aw_layer = {meta.layer}")
    else:
        value = _whole(layer)
        if value is None or not 0 <= value <= MAX_LAYER:
            bad("BAD_LAYER", f"aw_layer is {_show(layer)}; use a whole number from 0 (innermost) to {MAX_LAYER}.")
        else:
            meta.layer = value
    fabric = extras.get("aw_fabric")
    if fabric is None:
        filled.append(f"aw_fabric = '{meta.fabric}'")
    elif isinstance(fabric, str) and fabric.lower() in FABRICS:
        meta.fabric = fabric.lower()
    else:
        bad("BAD_FABRIC", f"aw_fabric is {_show(fabric)}; use one of {', '.join(FABRICS)}.")
    size = extras.get("aw_size")
    if size is None:
        filled.append(f"aw_size = '{meta.size}'")
    elif isinstance(size, str) and 0 < len(size.strip()) <= MAX_TEXT_CHARS:
        meta.size = size.strip()
        if meta.size not in SIZES:
            bad("BAD_SIZE", f"aw_size is '{meta.size}', not one of the wardrobe's sizes {', '.join(SIZES)}; "
                            "it is kept as a label.", WARNING)
    else:
        bad("BAD_SIZE", f"aw_size is {_show(size)}; use a size label such as {', '.join(SIZES)}.")
    made_for = extras.get("aw_made_for")
    if made_for is None:
        filled.append(f"aw_made_for = the default avatar {DEFAULT_SOURCE_AVATAR}")
    else:
        meta.made_for, meta.source_avatar = _made_for(made_for, bad)
    hides = extras.get("aw_hides")
    if hides is not None:
        meta.hides = _hides(hides, bad)
    variants = extras.get("aw_variants")
    if variants is not None:
        meta.variants = _variants(variants, bad)
    kind = extras.get("aw_garment")
    if kind is not None:
        if isinstance(kind, str) and len(kind) <= MAX_TEXT_CHARS:
            meta.kind = kind
        else:
            bad("BAD_METADATA", f"aw_garment is {_show(kind)}; use a short type name such as 't-shirt'.")
    meta.warnings = [f"missing {item} (default)" for item in filled]
    if filled:
        bad("MISSING_DEFAULTS", "missing metadata, defaults used: " + "; ".join(filled) + ". Set these as "
                                "custom properties on the garment object (docs/garment-format.md).", WARNING)
    return meta


def _made_for(value, bad) -> tuple[dict[str, float], str]:
    if isinstance(value, str):
        pairs = [item.partition("=") for item in value.split(",") if item.strip()]
        if not pairs or any(not sep for _, sep, _ in pairs):
            bad("BAD_MADE_FOR", f"aw_made_for is {_show(value)}; write it as 'height_m=1.65, chest_m=0.86' or "
                                "as an object.")
            return {}, ""
        value = {k.strip(): v.strip() for k, _, v in pairs}
    if not isinstance(value, dict):
        bad("BAD_MADE_FOR", f"aw_made_for is {_show(value)}; give body measurements in metres and kg, e.g. "
                            "{'height_m': 1.65, 'chest_m': 0.86}.")
        return {}, ""
    out, avatar = {}, ""
    for key, v in value.items():
        if key == SOURCE_AVATAR_KEY:
            if isinstance(v, str) and AVATAR_NAME_PATTERN.match(v):
                avatar = v
            else:
                bad("BAD_MADE_FOR", f"aw_made_for.avatar is {_show(v)}; name an avatar in models/avatar/ "
                                    f"such as '{DEFAULT_SOURCE_AVATAR}'.")
            continue
        number = _number(v, None)
        if key not in MADE_FOR_KEYS:
            bad("BAD_MADE_FOR", f"aw_made_for has an unknown measurement {_show(key)}; the known ones are "
                                f"{', '.join(MADE_FOR_KEYS)} and avatar.", WARNING)
        elif number is None or number <= 0:
            bad("BAD_MADE_FOR", f"aw_made_for.{key} is {_show(v)}; give a positive number (metres, or kg).")
        else:
            out[key] = number
    return out, avatar


def _hides(value, bad) -> tuple[str, ...]:
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        bad("BAD_HIDES", f"aw_hides is {_show(value)}; list body regions, e.g. 'torso, upper_arms'.")
        return ()
    unknown = [v for v in items if v not in BODY_REGIONS]
    if unknown:
        bad("BAD_HIDES", f"aw_hides names {', '.join(_show(v) for v in unknown[:5])}; the body regions are "
                         f"{', '.join(BODY_REGIONS)}.")
    return tuple(dict.fromkeys(v for v in items if v in BODY_REGIONS))


def _variants(value, bad) -> dict[str, dict]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            value = None
    if not isinstance(value, dict):
        bad("BAD_VARIANTS", "aw_variants must be an object (or JSON text) of name -> "
                            "{\"base_color\": [r, g, b, a]}.")
        return {}
    out = {}
    for name, spec in value.items():
        color = _obj(spec).get("base_color")
        if isinstance(color, list) and len(color) == 3:
            color = [*color, 1.0]
        if not (_numbers(color, 4) and all(0 <= c <= 1 for c in color)):
            bad("BAD_VARIANTS", f"aw_variants[{_show(name)}] needs base_color as 3 or 4 numbers from 0 to 1 "
                                "(linear RGBA).")
            continue
        out[str(name)] = {**_obj(spec), "base_color": [float(c) for c in color]}
    return out


def _extras(node: dict, meshes: list[dict]) -> dict:
    """The aw_ properties of a node, falling back to its mesh's (Blender puts object properties on the
    node and mesh-data properties on the mesh), with a nested {"avatar_wardrobe": {...}} flattened."""
    merged = {}
    mesh = node.get("mesh")
    sources = [meshes[mesh].get("extras")] if _is_int(mesh) and mesh < len(meshes) else []
    for extras in [*sources, node.get("extras")]:
        merged.update(_aw_keys(extras))
    return merged


def _root_extras(raw: dict, scenes: list[dict]) -> dict:
    merged = _aw_keys(raw.get("extras"))
    scene = raw.get("scene", 0)
    if _is_int(scene) and 0 <= scene < len(scenes):
        merged.update(_aw_keys(scenes[scene].get("extras")))
    return merged


def _aw_keys(extras) -> dict:
    extras = _obj(extras)
    out = {k: v for k, v in extras.items() if isinstance(k, str) and k.startswith(EXTRAS_PREFIX)}
    for k, v in _obj(extras.get(EXTRAS_KEY)).items():
        if isinstance(k, str):
            out[k if k.startswith(EXTRAS_PREFIX) else EXTRAS_PREFIX + k] = v
    return out


# --- saving ----------------------------------------------------------------------------------

def save_garment(garment: Garment, path: str | Path, skeleton=None) -> Path:
    """Write `garment` as a v1 garment .glb. With the avatar's `skeleton` (avatar.skeleton.Skeleton)
    the skin is written on the avatar's joint hierarchy with its bind matrices; without it, joints are
    plain nodes at the origin (bind pose = what you see)."""
    garment.check_shapes()
    path = Path(path)
    w = GlbWriter("avatar_wardrobe garments/garment_io.py")
    n = garment.vertex_count
    attributes = {
        "POSITION": w.accessor(garment.positions.astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, bounds=True),
        "NORMAL": w.accessor(_unit(garment.normals).astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER),
        "TEXCOORD_0": w.accessor(garment.uvs.astype(np.float32), FLOAT, "VEC2", ARRAY_BUFFER),
        PIN_ATTRIBUTE: w.accessor(garment.pin.astype(np.float32), FLOAT, "SCALAR", ARRAY_BUFFER),
        MAX_DISTANCE_ATTRIBUTE: w.accessor(garment.max_distance.astype(np.float32), FLOAT, "SCALAR", ARRAY_BUFFER),
    }
    if garment.colors is not None:
        colors = np.asarray(garment.colors, np.float32)
        if colors.shape[1] == 3:
            colors = np.concatenate([colors, np.ones((n, 1), np.float32)], axis=1)
        attributes["COLOR_0"] = w.accessor(colors, FLOAT, "VEC4", ARRAY_BUFFER)
    parts = garment.parts or [(0, len(garment.faces), 0)]
    materials = garment.materials or [GarmentMaterial()]
    primitives = [{"attributes": attributes, "indices": w.indices(garment.faces[first:first + count], n),
                   "material": min(material, len(materials) - 1), "mode": TRIANGLES}
                  for first, count, material in parts if count]
    meshes = [{"name": garment.name, "primitives": primitives}]
    garment_node = {"name": garment.name, "mesh": 0, "extras": meta_extras(garment.meta)}
    nodes, roots = [garment_node], [0]
    if garment.joints is not None:
        skin, joint_nodes, skin_root = _write_skin(w, garment, skeleton, len(nodes))
        joint_type = UBYTE if len(skin["joints"]) <= np.iinfo(np.uint8).max + 1 else USHORT
        joints, weights = _skin_attributes(garment, skeleton)
        attributes["JOINTS_0"] = w.accessor(joints.astype(JOINT_DTYPES[joint_type]), joint_type, "VEC4", ARRAY_BUFFER)
        attributes["WEIGHTS_0"] = w.accessor(weights, FLOAT, "VEC4", ARRAY_BUFFER)
        garment_node["skin"] = 0
        nodes.extend(joint_nodes)
        armature = len(nodes)
        nodes.append({"name": "Armature", "children": [0, skin_root]})
        roots = [armature]
        w.gltf["skins"] = [skin]
    if garment.sim is not None:
        sim = garment.sim
        sim_attributes = {"POSITION": w.accessor(sim.positions.astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, True),
                          PIN_ATTRIBUTE: w.accessor(sim.pin.astype(np.float32), FLOAT, "SCALAR", ARRAY_BUFFER)}
        meshes.append({"name": f"{garment.name}_sim", "primitives": [
            {"attributes": sim_attributes, "indices": w.indices(sim.faces, len(sim.positions)), "mode": TRIANGLES}]})
        roots.append(len(nodes))
        nodes.append({"name": f"{garment.name}_sim", "mesh": 1, "extras": {ROLE_KEY: SIM_ROLE}})
    gltf_materials, textures, images = [], [], []
    for m in materials:
        gltf_materials.append(_material_json(w, m, textures, images))
    w.gltf.update(scene=0, scenes=[{"name": garment.name, "nodes": roots}], nodes=nodes, meshes=meshes,
                  materials=gltf_materials)
    if textures:
        w.gltf.update(textures=textures, images=images, samplers=[{"wrapS": REPEAT, "wrapT": REPEAT}])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(w.glb())
    return path


def meta_extras(meta: GarmentMeta) -> dict:
    """The node extras that carry `meta` in format v1."""
    extras = {"aw_slot": meta.slot, "aw_layer": int(meta.layer), "aw_fabric": meta.fabric, "aw_size": meta.size}
    made_for = {k: float(v) for k, v in meta.made_for.items()}
    if meta.source_avatar:
        made_for[SOURCE_AVATAR_KEY] = meta.source_avatar
    if made_for:
        extras["aw_made_for"] = made_for
    if meta.hides:
        extras["aw_hides"] = list(meta.hides)
    if meta.variants:
        extras["aw_variants"] = meta.variants
    if meta.kind:
        extras["aw_garment"] = meta.kind
    return extras


def _write_skin(w: GlbWriter, garment: Garment, skeleton, first_node: int) -> tuple[dict, list[dict], int]:
    """The skin, its joint nodes (indices from first_node) and the root joint node."""
    if skeleton is not None and all(name in skeleton.names for name in garment.joint_names):
        names = list(skeleton.names)
        nodes = []
        for j, name in enumerate(names):
            rot = skeleton.bind_rotation[j]
            nodes.append({"name": name, "translation": skeleton.bind_translation[j].tolist(),
                          "rotation": [float(rot[1]), float(rot[2]), float(rot[3]), float(rot[0])],
                          "scale": skeleton.bind_scale[j].tolist()})
        for j, p in enumerate(skeleton.parents):
            if p >= 0:
                nodes[p].setdefault("children", []).append(first_node + j)
        for node in nodes:
            if np.allclose(node["scale"], 1.0, atol=1e-6):
                del node["scale"]
        roots = [j for j, p in enumerate(skeleton.parents) if p < 0]
        if len(roots) != 1:
            raise WardrobeError("the avatar skeleton has several root joints; a garment skin needs one.")
        inverse = np.linalg.inv(skeleton.bind_world)
        root = first_node + roots[0]
    else:
        names = list(garment.joint_names)
        root_node = {"name": "garment_joints", "children": [first_node + 1 + j for j in range(len(names))]}
        nodes = [root_node] + [{"name": name} for name in names]
        inverse = np.repeat(IDENTITY[None], len(names), axis=0)
        root = first_node
        first_node += 1
    ibm = w.accessor(inverse.transpose(0, 2, 1).reshape(-1, MAT4_SIZE).astype(np.float32), FLOAT, "MAT4")
    skin = {"name": "garment_skin", "joints": [first_node + j for j in range(len(names))],
            "inverseBindMatrices": ibm}
    return skin, nodes, root


def _skin_attributes(garment: Garment, skeleton) -> tuple[np.ndarray, np.ndarray]:
    """JOINTS_0 into the written skin and WEIGHTS_0 summing to 1 (an all-zero row goes to joint 0)."""
    joints = np.asarray(garment.joints, np.int64)
    if skeleton is not None and all(name in skeleton.names for name in garment.joint_names):
        joints = np.array([skeleton.names.index(n) for n in garment.joint_names], np.int64)[joints]
    joints, weights = top_influences(joints, np.asarray(garment.weights, np.float64))
    return joints, weights.astype(np.float32)


def _material_json(w: GlbWriter, m: GarmentMaterial, textures: list, images: list) -> dict:
    pbr = {"baseColorFactor": [float(c) for c in m.base_color], "metallicFactor": float(m.metallic),
           "roughnessFactor": float(m.roughness)}
    out = {"name": m.name, "pbrMetallicRoughness": pbr, "alphaMode": m.alpha_mode, "doubleSided": bool(m.double_sided)}
    if m.alpha_mode == "MASK":
        out["alphaCutoff"] = float(m.alpha_cutoff)
    for data, put in ((m.base_color_texture, lambda i: pbr.__setitem__("baseColorTexture", {"index": i})),
                      (m.normal_texture, lambda i: out.__setitem__("normalTexture", {"index": i}))):
        if data:
            images.append({"bufferView": w.view(bytes(data)), "mimeType": _mime(data)})
            textures.append({"source": len(images) - 1, "sampler": 0})
            put(len(textures) - 1)
    return out


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG IHDR or JPEG SOF header, read without decoding; None if neither."""
    data = bytes(data[:2**16])
    if data[:8] == MIME_BY_MAGIC[0][0] and len(data) >= 24 and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:3] == MIME_BY_MAGIC[1][0]:
        at = 2
        while at + 9 <= len(data) and data[at] == 0xFF:
            marker, length = data[at + 1], int.from_bytes(data[at + 2:at + 4], "big")
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
                return int.from_bytes(data[at + 7:at + 9], "big"), int.from_bytes(data[at + 5:at + 7], "big")
            at += 2 + length
    return None


def image_size_problem(data: bytes) -> str | None:
    """Why encoded image bytes must not be decoded (a phrase), or None: the header's size is checked
    before any decoder allocates width x height pixels."""
    size = image_size(data)
    if size is not None and max(size) > MAX_TEXTURE_SIDE:
        return (f"declares {size[0]} x {size[1]} pixels, over the {MAX_TEXTURE_SIDE} x {MAX_TEXTURE_SIDE} "
                "limit; scale the texture down before export.")
    return None


def _mime(data: bytes) -> str:
    return next((mime for magic, mime in MIME_BY_MAGIC if bytes(data[:len(magic)]) == magic), DEFAULT_MIME)


# --- small helpers ---------------------------------------------------------------------------

def top_influences(joints: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The INFLUENCES strongest distinct joints per vertex, weights renormalised (repeats summed)."""
    joints = np.asarray(joints, np.int64)
    weights = np.clip(np.nan_to_num(np.asarray(weights, np.float64)), 0, None)
    order = np.argsort(joints, axis=1, kind="stable")
    joints, weights = np.take_along_axis(joints, order, 1), np.take_along_axis(weights, order, 1)
    start = np.zeros_like(joints)  # fold each run of a repeated joint into the run's first slot
    for k in range(1, joints.shape[1]):
        start[:, k] = np.where(joints[:, k] == joints[:, k - 1], start[:, k - 1], k)
    folded = np.zeros_like(weights)
    np.add.at(folded, (np.repeat(np.arange(len(joints)), joints.shape[1]), start.ravel()), weights.ravel())
    weights = folded
    order = np.argsort(-weights, axis=1, kind="stable")[:, :INFLUENCES]
    joints, weights = np.take_along_axis(joints, order, 1), np.take_along_axis(weights, order, 1)
    if joints.shape[1] < INFLUENCES:
        pad = INFLUENCES - joints.shape[1]
        joints = np.pad(joints, ((0, 0), (0, pad)))
        weights = np.pad(weights, ((0, 0), (0, pad)))
    total = weights.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    weights = np.where(total > 0, weights / np.where(total > 0, total, 1), 0)
    weights[empty, 0] = 1.0
    joints = np.where(weights > 0, joints, 0)
    joints[empty, 0] = 0
    return joints, weights


def _local_matrix(node: dict) -> np.ndarray:
    m = node.get("matrix")
    if _numbers(m, MAT4_SIZE):
        return np.array(m, np.float64).reshape(4, 4).T
    t = node.get("translation") if _numbers(node.get("translation"), 3) else [0.0, 0.0, 0.0]
    r = node.get("rotation") if _numbers(node.get("rotation"), 4) else [0.0, 0.0, 0.0, 1.0]
    s = node.get("scale") if _numbers(node.get("scale"), 3) else [1.0, 1.0, 1.0]
    out = np.eye(4)
    out[:3, :3] = quat_to_matrix(np.array([r[3], r[0], r[1], r[2]], np.float64)) * np.array(s, np.float64)
    out[:3, 3] = t
    return out


def _transform_normals(linear: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Normals under per-vertex linear maps (V, 3, 3): the inverse transpose, renormalised."""
    with np.errstate(all="ignore"):
        det = np.linalg.det(linear)
        ok = np.abs(det) > 1e-12
        inv_t = np.where(ok[:, None, None], np.linalg.inv(np.where(ok[:, None, None], linear, np.eye(3))), np.eye(3))
    out = np.einsum("vji,vj->vi", inv_t, normals)
    return _unit(out)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, np.float64)
    length = np.linalg.norm(v, axis=1, keepdims=True)
    return np.where(length > 1e-12, v / np.where(length > 1e-12, length, 1), 0.0)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _number(value, default):
    """A finite float from a JSON number or numeric text, else `default`."""
    if isinstance(value, bool):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if math.isfinite(number) else default


def _numbers(value, length: int) -> bool:
    return (isinstance(value, list) and len(value) == length
            and all(_number(v, None) is not None and not isinstance(v, str) for v in value))


def _whole(value) -> int | None:
    number = _number(value, None)
    return int(number) if number is not None and number == int(number) and abs(number) < 2**31 else None


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "..."
