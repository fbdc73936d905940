"""The structural checks the project applies to imported glTF (avatars and artists' garments).

`check(doc)` lists every problem it finds as a sentence that names the object ("accessor 3
(POSITION of mesh 0 'Body') ..."); `validate(path)` loads a file and raises one WardrobeError
listing them. The checks read the glTF JSON as parsed (GltfDocument.raw), never trusting a type,
an index or a count, and decode accessor data only through gltf_io after its bounds are known
to fit. This module does not import gltflib: gltf_io owns that.

They follow the glTF 2.0 specification and the Khronos glTF-Validator's errors, and are stricter
in a few places where the project needs it: a skin's inverseBindMatrices must have exactly one
matrix per joint and be invertible, weights must sum to 1, and a mesh with joint weights must be
shown by a node with a skin. Where the validator itself accepts the file (an accessor without a
bufferView holds zeros; weights on a node without a skin are only its warning), such a finding is
"stricter than glTF": a caller that passes a `stricter` list gets those there, apart from the errors,
so `garment check --gltf-only` agrees with the validator while avatars and garments stay strict.
"""
from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path

import numpy as np

from . import gltf_io
from .errors import WardrobeError
from .gltf_io import TYPE_SIZES, UNSIGNED_INDEX_TYPES, GltfDocument

FLOAT = 5126
COMPONENT_NAMES = {5120: "byte", 5121: "unsigned byte", 5122: "short", 5123: "unsigned short",
                   5125: "unsigned int", FLOAT: "float"}
JOINT_COMPONENT_TYPES = (5121, 5123)  # unsigned byte, unsigned short
NORMALIZED_MAX = {5120: 127.0, 5121: 255.0, 5122: 32767.0, 5123: 65535.0}
WEIGHT_COMPONENT_TYPES = (FLOAT, 5121, 5123)
ROTATION_COMPONENT_TYPES = (FLOAT, 5120, 5121, 5122, 5123)
WEIGHT_SUM_TOLERANCE = 1e-2
UNIT_QUATERNION_TOLERANCE = 1e-3
MATRIX_LAST_ROW = np.array([0.0, 0.0, 0.0, 1.0])
MATRIX_LAST_ROW_TOLERANCE = 1e-5
SINGULAR_RATIO = 1e-9          # smallest / largest singular value below which a matrix is singular
BOUNDS_TOLERANCE = 1e-4        # of the bounding box size, for POSITION min/max
MIN_BYTE_STRIDE, MAX_BYTE_STRIDE, STRIDE_ALIGNMENT = 4, 252, 4
PRIMITIVE_MODES = range(7)     # POINTS .. TRIANGLE_FAN
TRIANGLE_MODES = (4, 5, 6)
DEFAULT_MODE = 4
ANIMATION_OUTPUT = {            # target path -> (accessor type, allowed component types)
    "translation": ("VEC3", (FLOAT,)),
    "rotation": ("VEC4", ROTATION_COMPONENT_TYPES),
    "scale": ("VEC3", (FLOAT,)),
    "weights": ("SCALAR", ROTATION_COMPONENT_TYPES),
}
KEY_ELEMENTS = {"LINEAR": 1, "STEP": 1, "CUBICSPLINE": 3}  # output elements per key (in, value, out)
CUBICSPLINE_VALUE = 1          # which of the three CUBICSPLINE elements is the value
DRACO = "KHR_draco_mesh_compression"
MATERIAL_TEXTURES = (("pbrMetallicRoughness", "baseColorTexture"),
                     ("pbrMetallicRoughness", "metallicRoughnessTexture"),
                     (None, "normalTexture"), (None, "occlusionTexture"), (None, "emissiveTexture"))
SINGULAR = {"accessors": "accessor", "animations": "animation", "buffers": "buffer",
            "bufferViews": "bufferView", "cameras": "camera", "images": "image", "materials": "material",
            "meshes": "mesh", "nodes": "node", "samplers": "sampler", "scenes": "scene", "skins": "skin",
            "textures": "texture"}
MAX_PROBLEMS_SHOWN = 10
MAX_NAME_CHARS = 40
FIX_ADVICE = ("Fix the model and export it again: in Blender, File > Export > glTF 2.0 as glTF Binary "
              "(.glb) with Skinning on, after Apply > All Transforms and Weights > Normalize All. "
              "The Khronos glTF-Validator (https://github.khronos.org/glTF-Validator) shows each issue "
              "with its JSON pointer.")


def check(doc: GltfDocument, notes: list[str] | None = None, stricter: list[str] | None = None) -> list[str]:
    """Every structural problem in `doc`, each a sentence naming the object; [] when clean.

    Non-fatal observations are appended to `notes` when a list is given. The project's findings
    that the glTF specification allows go to `stricter` when a list is given, else into the result.
    """
    checker = _Checker(doc)
    checker.run()
    if notes is not None:
        notes.extend(checker.notes)
    if stricter is None:
        return checker.problems + checker.stricter
    stricter.extend(checker.stricter)
    return checker.problems


def validate(path: str | Path, notes: list[str] | None = None) -> GltfDocument:
    """Load `path` and apply the structural checks: the document, or one WardrobeError listing problems."""
    try:
        doc = gltf_io.load(path)
        problems = check(doc, notes)
    except WardrobeError:
        raise
    except Exception as exc:  # the promise is: nothing but WardrobeError, whatever the file holds
        raise WardrobeError(f"{Path(path).name} could not be read as glTF ({type(exc).__name__}: {exc}). "
                            f"{FIX_ADVICE}") from None
    if problems:
        raise WardrobeError(problems_message(Path(path).name, problems))
    return doc


def problems_message(name: str, problems: list[str]) -> str:
    """One message for a list of problems: the first MAX_PROBLEMS_SHOWN, then what to do."""
    shown = "\n".join(f"  - {p}" for p in problems[:MAX_PROBLEMS_SHOWN])
    more = len(problems) - MAX_PROBLEMS_SHOWN
    tail = f"\n  - ... and {more} more" if more > 0 else ""
    plural = "s" if len(problems) > 1 else ""
    return f"{name} is not a usable glTF 2.0 file ({len(problems)} problem{plural}):\n{shown}{tail}\n{FIX_ADVICE}"


# --- small helpers ---------------------------------------------------------------------------

def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _member(value, options) -> bool:
    """`value in options` for any JSON value (lists and objects are unhashable)."""
    return isinstance(value, (int, str)) and not isinstance(value, bool) and value in options


def _is_number(value) -> bool:
    """A finite JSON number (huge integers that overflow a float are not)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _numbers(value, length: int) -> np.ndarray | None:
    """`value` as a float array when it is a list of `length` finite numbers, else None."""
    if isinstance(value, list) and len(value) == length and all(_is_number(v) for v in value):
        return np.array(value, dtype=np.float64)
    return None


def _as_float(data: np.ndarray, component_type: int) -> np.ndarray:
    """Accessor data as float64, normalized integers mapped to [0, 1] or [-1, 1]."""
    if component_type in NORMALIZED_MAX:
        return np.maximum(data.astype(np.float64) / NORMALIZED_MAX[component_type], -1.0)
    return data.astype(np.float64)


def _count(n, noun: str) -> str:
    """'1 joint', '3 joints'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


class _Checker:
    """One pass over a document; problems and notes collect in lists."""

    def __init__(self, doc: GltfDocument):
        self.doc = doc
        self.raw = gltf_io.raw_json(doc)
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.stricter: list[str] = []  # findings the specification allows but the project refuses
        self.arrays = {key: self._array(key) for key in SINGULAR}
        self.roles: dict[int, str] = {}
        self.readable: dict[int, bool] = {}
        self.parents: dict[int, int] = {}
        self.acyclic = True
        self._cache: dict[int, np.ndarray | None] = {}

    def run(self) -> None:
        steps = (self._asset, self._buffers, self._buffer_views, self._collect_roles, self._accessors,
                 self._nodes, self._scenes, self._meshes, self._skins, self._skinned_nodes,
                 self._animations, self._textures)
        with np.errstate(all="ignore"):  # non-finite data is reported, never raised
            for step in steps:
                try:
                    step()
                except Exception as exc:  # a hostile shape we did not foresee must still end in a report
                    name = step.__name__.strip("_").replace("_", " ")
                    self.problems.append(f"the {name} checks could not finish ({type(exc).__name__}: {exc})")

    # -- bookkeeping --

    def _array(self, key: str) -> list[dict]:
        value = self.raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problems.append(f"'{key}' must be an array, found {type(value).__name__}")
            return []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.problems.append(f"{SINGULAR[key]} {i} must be an object, found {type(item).__name__}")
        return [_obj(item) for item in value]

    def label(self, key: str, index: int) -> str:
        """'mesh 2' or "mesh 2 'Body'" (names cut short and with control characters escaped)."""
        name = self.arrays[key][index].get("name") if 0 <= index < len(self.arrays[key]) else None
        if isinstance(name, str) and name:
            shown = repr(name[:MAX_NAME_CHARS])[1:-1] + ("..." if len(name) > MAX_NAME_CHARS else "")
            return f"{SINGULAR[key]} {index} '{shown}'"
        return f"{SINGULAR[key]} {index}"

    def accessor(self, index: int) -> str:
        role = self.roles.get(index)
        return f"accessor {index} ({role})" if role else f"accessor {index}"

    def ref(self, value, key: str, where: str, what: str | None = None, required: bool = False) -> int | None:
        """`value` when it indexes arrays[key]; otherwise report it and return None."""
        what = what or SINGULAR[key]
        if value is None:
            if required:
                self.problems.append(f"{where} has no {what}")
            return None
        count = len(self.arrays[key])
        if _is_int(value) and 0 <= value < count:
            return value
        have = f"only {count} {key} (0..{count - 1})" if count else f"no {key}"
        self.problems.append(f"{where} refers to {what} {value!r}, but the file has {have}")
        return None

    def acc(self, index) -> dict:
        """Accessor `index` as a dict; {} when the index is not valid (already reported by ref())."""
        accessors = self.arrays["accessors"]
        return accessors[index] if _is_int(index) and 0 <= index < len(accessors) else {}

    def read(self, index: int) -> np.ndarray | None:
        """Accessor data when its bounds were found sound (cached), else None (already reported)."""
        if not _is_int(index) or not self.readable.get(index):
            return None
        if index not in self._cache:
            try:
                self._cache[index] = gltf_io.read_accessor(self.doc, index)
            except WardrobeError as exc:
                self.problems.append(f"{self.accessor(index)} cannot be decoded: {exc}")
                self._cache[index] = None
        return self._cache[index]

    def _no_data(self, index: int) -> bool:
        """An accessor with neither a bufferView nor sparse data: the specification says it holds zeros."""
        acc = self.acc(index)
        return acc.get("bufferView") is None and acc.get("sparse") is None

    def expect_format(self, index: int, types: tuple[str, ...], components: tuple[int, ...], use: str) -> bool:
        """Report when accessor `index` is not one of `types` x `components`; True when it is."""
        acc = self.acc(index)
        if acc.get("type") in types and acc.get("componentType") in components:
            return True
        names = "/".join(types)
        allowed = " or ".join(COMPONENT_NAMES[c] for c in components)
        self.problems.append(f"{self.accessor(index)} is {acc.get('type')} of componentType "
                             f"{acc.get('componentType')!r}; {use} must be {names} of {allowed}")
        return False

    # -- asset, buffers, bufferViews --

    def _asset(self) -> None:
        version = _obj(self.raw.get("asset")).get("version")
        if not isinstance(version, str):
            self.problems.append("the file has no asset.version: it is not a glTF 2.0 file")
        elif not (version.startswith("2.") and version[2:].isdigit()):
            self.problems.append(f"asset.version is {version!r}; only glTF 2.x is supported")
        for name in _list(self.raw.get("extensionsRequired")):
            self.notes.append(f"the file requires the extension {name!r}")

    def _buffers(self) -> None:
        for i, buf in enumerate(self.arrays["buffers"]):
            length = buf.get("byteLength")
            if not _is_int(length) or length < 1:
                self.problems.append(f"{self.label('buffers', i)} has byteLength {length!r}; it must be >= 1")
            elif i < len(self.doc.buffers) and length > len(self.doc.buffers[i]):
                self.problems.append(f"{self.label('buffers', i)} declares byteLength {length} but its data "
                                     f"holds only {len(self.doc.buffers[i])} bytes (truncated file or wrong .bin)")

    def _buffer_views(self) -> None:
        for i, view in enumerate(self.arrays["bufferViews"]):
            where = self.label("bufferViews", i)
            buffer = self.ref(view.get("buffer"), "buffers", where, required=True)
            offset, length = view.get("byteOffset", 0), view.get("byteLength")
            if not _is_int(offset) or offset < 0 or not _is_int(length) or length < 1:
                self.problems.append(f"{where} has byteOffset {offset!r} and byteLength {length!r}; "
                                     "they must be whole numbers, the length >= 1")
            elif buffer is not None:
                size = self.arrays["buffers"][buffer].get("byteLength")
                if _is_int(size) and offset + length > size:
                    self.problems.append(f"{where} covers bytes {offset}..{offset + length} but buffer {buffer} "
                                         f"is only {size} bytes long")
            stride = view.get("byteStride")
            if stride is not None and not (_is_int(stride) and MIN_BYTE_STRIDE <= stride <= MAX_BYTE_STRIDE
                                           and stride % STRIDE_ALIGNMENT == 0):
                self.problems.append(f"{where} has byteStride {stride!r}; it must be a multiple of 4 "
                                     f"from {MIN_BYTE_STRIDE} to {MAX_BYTE_STRIDE}")

    # -- accessors --

    def _collect_roles(self) -> None:
        """Name each accessor by its first use, so problems say what the data is for."""
        def note(index, role):
            if _is_int(index):
                self.roles.setdefault(index, role)

        for m, mesh in enumerate(self.arrays["meshes"]):
            prims = _list(mesh.get("primitives"))
            for p, prim in enumerate(prims):
                where = self.label("meshes", m) + (f" primitive {p}" if len(prims) > 1 else "")
                for name, index in _obj(_obj(prim).get("attributes")).items():
                    note(index, f"{name} of {where}")
                note(_obj(prim).get("indices"), f"indices of {where}")
                for t, target in enumerate(_list(_obj(prim).get("targets"))):
                    for name, index in _obj(target).items():
                        note(index, f"morph target {t} {name} of {where}")
        for s, skin in enumerate(self.arrays["skins"]):
            note(skin.get("inverseBindMatrices"), f"inverseBindMatrices of {self.label('skins', s)}")
        for a, anim in enumerate(self.arrays["animations"]):
            for k, sampler in enumerate(_list(anim.get("samplers"))):
                note(_obj(sampler).get("input"), f"key times of {self.label('animations', a)} sampler {k}")
                note(_obj(sampler).get("output"), f"key values of {self.label('animations', a)} sampler {k}")

    def _accessors(self) -> None:
        for i, acc in enumerate(self.arrays["accessors"]):
            reason = gltf_io.accessor_problem(self.doc, i)
            self.readable[i] = reason is None
            if reason:
                self.problems.append(f"{self.accessor(i)} {reason}")
                continue
            ncomp = TYPE_SIZES[acc["type"]]
            for bound in ("min", "max"):
                if acc.get(bound) is not None and _numbers(acc[bound], ncomp) is None:
                    self.problems.append(f"{self.accessor(i)} has a {bound} that is not {ncomp} finite numbers")

    # -- nodes and scenes --

    def _nodes(self) -> None:
        nodes = self.arrays["nodes"]
        for i, node in enumerate(nodes):
            where = self.label("nodes", i)
            children = node.get("children")
            if children is not None and not isinstance(children, list):
                self.problems.append(f"{where} has children that are not an array")
            for child in _list(children):
                self._link(i, child, where)
            self.ref(node.get("mesh"), "meshes", where)
            self.ref(node.get("skin"), "skins", where)
            self.ref(node.get("camera"), "cameras", where)
            if node.get("skin") is not None and node.get("mesh") is None:
                self.problems.append(f"{where} has a skin but no mesh to deform")
            self._transform(node, where)
        self._find_loops(len(nodes))

    def _link(self, parent: int, child, where: str) -> None:
        if self.ref(child, "nodes", where, "child node") is None:
            return
        if child == parent:
            self.problems.append(f"{where} lists itself as its own child")
        elif child in self.parents and self.parents[child] != parent:
            self.problems.append(f"{self.label('nodes', child)} has two parents (nodes {self.parents[child]} "
                                 f"and {parent}); the node hierarchy must be a tree")
        elif child in self.parents:
            self.problems.append(f"{where} lists child node {child} twice")
        else:
            self.parents[child] = parent

    def _find_loops(self, count: int) -> None:
        """Follow parent links from every node; report each loop once."""
        state = [0] * count  # 0 unseen, 1 on the current walk, 2 known to reach a root
        for start in range(count):
            path, node = [], start
            while node is not None and state[node] == 0:
                state[node] = 1
                path.append(node)
                node = self.parents.get(node)
            if node is not None and state[node] == 1:
                loop = path[path.index(node):]
                chain = " -> ".join(str(n) for n in [*reversed(loop), loop[-1]])
                self.problems.append(f"nodes {chain} form a loop (each is the parent of the next); "
                                     "the node hierarchy must be a tree")
                self.acyclic = False
            for n in path:
                state[n] = 2

    def _transform(self, node: dict, where: str) -> None:
        trs = [key for key in ("translation", "rotation", "scale") if node.get(key) is not None]
        if node.get("matrix") is not None:
            matrix = _numbers(node["matrix"], 16)
            if trs:
                self.problems.append(f"{where} has both a matrix and {'/'.join(trs)}; use one or the other")
            if matrix is None:
                self.problems.append(f"{where} has a matrix that is not 16 finite numbers")
            elif not np.allclose(matrix[3::4], MATRIX_LAST_ROW, atol=MATRIX_LAST_ROW_TOLERANCE):
                row = ", ".join(f"{v:g}" for v in matrix[3::4])
                self.problems.append(f"{where} has a matrix that is not a translation/rotation/scale: its last "
                                     f"row is ({row}), it must be (0, 0, 0, 1)")
        for key, size in (("translation", 3), ("rotation", 4), ("scale", 3)):
            if node.get(key) is not None and _numbers(node[key], size) is None:
                self.problems.append(f"{where} has a {key} that is not {size} finite numbers")
        rotation = _numbers(node.get("rotation"), 4)
        if rotation is not None and abs(np.linalg.norm(rotation) - 1) > UNIT_QUATERNION_TOLERANCE:
            self.problems.append(f"{where} has a rotation of length {np.linalg.norm(rotation):.4g}; "
                                 "it must be a unit quaternion")

    def root_of(self, node: int) -> int:
        while node in self.parents:
            node = self.parents[node]
        return node

    def ancestors(self, node: int) -> list[int]:
        """`node` and its ancestors, nearest first (only called when the hierarchy has no loops)."""
        chain = [node]
        while chain[-1] in self.parents:
            chain.append(self.parents[chain[-1]])
        return chain

    def _scenes(self) -> None:
        self.ref(self.raw.get("scene"), "scenes", "the default scene", "scene")
        for s, scene in enumerate(self.arrays["scenes"]):
            where = self.label("scenes", s)
            for node in _list(scene.get("nodes")):
                index = self.ref(node, "nodes", where)
                if index is not None and index in self.parents:
                    self.problems.append(f"{where} lists node {index}, which is a child of node "
                                         f"{self.parents[index]}; a scene lists only root nodes")

    # -- meshes --

    def _meshes(self) -> None:
        for m, mesh in enumerate(self.arrays["meshes"]):
            prims = mesh.get("primitives")
            if not isinstance(prims, list) or not prims:
                self.problems.append(f"{self.label('meshes', m)} has no primitives")
                continue
            for p, prim in enumerate(prims):
                where = f"{self.label('meshes', m)} primitive {p}"
                attributes = self._primitive_refs(_obj(prim), where)
                if DRACO in _obj(_obj(prim).get("extensions")):
                    self.notes.append(f"{where} is Draco-compressed; its vertex data was not checked")
                elif attributes is not None:
                    self._primitive_data(_obj(prim), attributes, where)

    def _primitive_refs(self, prim: dict, where: str) -> dict[str, int] | None:
        """Check a primitive's references; its attribute name -> accessor map when all resolve."""
        attributes = prim.get("attributes")
        if not isinstance(attributes, dict) or not attributes:
            self.problems.append(f"{where} has no attributes")
            return None
        resolved = {name: self.ref(index, "accessors", f"{where} attribute {name}")
                    for name, index in attributes.items()}
        self.ref(prim.get("indices"), "accessors", f"{where} indices", "accessor")
        self.ref(prim.get("material"), "materials", where)
        mode = prim.get("mode", DEFAULT_MODE)
        if mode not in PRIMITIVE_MODES or not _is_int(mode):
            self.problems.append(f"{where} has mode {mode!r}; it must be 0 (points) .. 6 (triangle fan)")
        for t, target in enumerate(_list(prim.get("targets"))):
            for name, index in _obj(target).items():
                self.ref(index, "accessors", f"{where} morph target {t} {name}")
        if None in resolved.values():
            return None
        return resolved

    def _primitive_data(self, prim: dict, attributes: dict[str, int], where: str) -> None:
        counts = {name: self.acc(i).get("count") for name, i in attributes.items()}
        if len(set(map(repr, counts.values()))) > 1:
            listed = ", ".join(f"{name} {count}" for name, count in counts.items())
            self.problems.append(f"{where} has attributes of different lengths ({listed}); "
                                 "every attribute needs one value per vertex")
        if "POSITION" not in attributes:
            self.problems.append(f"{where} has no POSITION attribute")
        else:
            self._positions(attributes["POSITION"])
        for name, index in attributes.items():
            if name in ("NORMAL", "TANGENT"):
                self.expect_format(index, ("VEC3",) if name == "NORMAL" else ("VEC4",), (FLOAT,), name)
            data = self.read(index)
            if data is not None and self.acc(index).get("componentType") == FLOAT and not np.isfinite(data).all():
                self.problems.append(f"{self.accessor(index)} holds NaN or infinite values at vertex "
                                     f"{_first(~np.isfinite(data).all(axis=1))}")
        self._weights(attributes, where)
        index = prim.get("indices")
        if self.acc(index) and "POSITION" in attributes:
            self._indices(index, self.acc(attributes["POSITION"]).get("count"), prim.get("mode", DEFAULT_MODE))

    def _positions(self, index: int) -> None:
        if not self.expect_format(index, ("VEC3",), (FLOAT,), "POSITION"):
            return
        acc = self.acc(index)
        low, high = _numbers(acc.get("min"), 3), _numbers(acc.get("max"), 3)
        if low is None or high is None:
            self.problems.append(f"{self.accessor(index)} has no min and max; POSITION needs its bounds")
            return
        data = self.read(index)
        if data is None or not np.isfinite(data).all():
            return
        slack = BOUNDS_TOLERANCE * max(float(np.max(high - low)), 1.0)
        outside = (data < low - slack) | (data > high + slack)
        if outside.any():
            vertex = _first(outside.any(axis=1))
            self.problems.append(f"{self.accessor(index)} has vertex {vertex} at {data[vertex].tolist()}, outside "
                                 f"its declared min {low.tolist()} / max {high.tolist()}")

    def _indices(self, index: int, vertex_count, mode) -> None:
        acc = self.acc(index)
        if not self.expect_format(index, ("SCALAR",), UNSIGNED_INDEX_TYPES, "indices"):
            return
        data = self.read(index)
        if data is None or not _is_int(vertex_count):
            return
        values = data[:, 0].astype(np.int64)
        if values.max() >= vertex_count:
            at = _first(values >= vertex_count)
            self.problems.append(f"{self.accessor(index)} has index {values[at]} at position {at}, but the "
                                 f"primitive has only {vertex_count} vertices (0..{vertex_count - 1})")
        if mode == DEFAULT_MODE and acc["count"] % 3:
            self.notes.append(f"{self.accessor(index)} has {acc['count']} indices, not a multiple of 3 "
                              "for a triangle list")

    def _weights(self, attributes: dict[str, int], where: str) -> None:
        """JOINTS_n / WEIGHTS_n pairs: formats, weights non-negative and summing to 1, no repeated joints."""
        sets = sorted({name.split("_", 1)[1] for name in attributes if name.startswith(("JOINTS_", "WEIGHTS_"))})
        joints, weights = [], []
        for n in sets:
            j, w = attributes.get(f"JOINTS_{n}"), attributes.get(f"WEIGHTS_{n}")
            if j is None or w is None:
                self.problems.append(f"{where} has {'JOINTS' if w is None else 'WEIGHTS'}_{n} without its "
                                     f"{'WEIGHTS' if w is None else 'JOINTS'}_{n}")
                return
            ok = self.expect_format(j, ("VEC4",), JOINT_COMPONENT_TYPES, "joints")
            ok = self.expect_format(w, ("VEC4",), WEIGHT_COMPONENT_TYPES, "weights") and ok
            jd, wd = self.read(j), self.read(w)
            if not ok or jd is None or wd is None or len(jd) != len(wd) or (weights and len(wd) != len(weights[0])):
                return  # formats or lengths already reported
            wf = _as_float(wd, self.acc(w)["componentType"])
            bad = ~np.isfinite(wf) | (wf < 0)
            if bad.any():
                vertex = _first(bad.any(axis=1))
                self.problems.append(f"{self.accessor(w)} has weight {wf[bad][0]:g} at vertex {vertex}; "
                                     "weights must be finite and >= 0")
                return
            joints.append(jd.astype(np.int64))
            weights.append(wf)
        if not sets:
            return
        total = np.concatenate(weights, axis=1)
        sums = total.sum(axis=1)
        off = np.abs(sums - 1) > WEIGHT_SUM_TOLERANCE
        if off.any():
            vertex = _first(off)
            no_data = any(self._no_data(attributes[f"WEIGHTS_{n}"]) for n in sets)
            found = self.stricter if no_data else self.problems
            found.append(f"{where}: the weights of vertex {vertex} sum to {sums[vertex]:.4g} "
                         f"({int(off.sum())} of {len(sums)} vertices are off); each vertex's weights "
                         f"must sum to 1 +- {WEIGHT_SUM_TOLERANCE:g}")
        self._repeated_joints(np.concatenate(joints, axis=1), total, where)

    def _repeated_joints(self, joints: np.ndarray, weights: np.ndarray, where: str) -> None:
        used = weights > 0
        for a, b in combinations(range(joints.shape[1]), 2):
            repeated = used[:, a] & used[:, b] & (joints[:, a] == joints[:, b])
            if repeated.any():
                vertex = _first(repeated)
                self.problems.append(f"{where}: vertex {vertex} lists joint {joints[vertex, a]} twice "
                                     "with non-zero weights")
                return

    # -- skins --

    def _skins(self) -> None:
        users = {node.get("skin") for node in self.arrays["nodes"] if _is_int(node.get("skin"))}
        for s, skin in enumerate(self.arrays["skins"]):
            where = self.label("skins", s)
            joints = [self.ref(j, "nodes", where, "joint node") for j in _list(skin.get("joints"))]
            if not _list(skin.get("joints")):
                self.problems.append(f"{where} has no joints")
                continue
            if len(set(joints)) < len(joints) and None not in joints:
                self.problems.append(f"{where} lists the same joint node more than once")
            self._bind_matrices(skin, len(joints), where)
            skeleton = self.ref(skin.get("skeleton"), "nodes", f"{where} skeleton", "node")
            if None not in joints and self.acyclic:
                self._skin_root(joints, skeleton, where)
            if s not in users:
                self.notes.append(f"{where} is not used by any node")

    def _bind_matrices(self, skin: dict, joint_count: int, where: str) -> None:
        index = self.ref(skin.get("inverseBindMatrices"), "accessors", f"{where} inverseBindMatrices", "accessor")
        if index is None or not self.expect_format(index, ("MAT4",), (FLOAT,), "inverse bind matrices"):
            return
        acc = self.acc(index)
        if acc.get("count") != joint_count:
            self.problems.append(f"{where} has {_count(joint_count, 'joint')} but its inverseBindMatrices "
                                 f"(accessor {index}) holds {acc.get('count')!r} matrices; it needs one per joint")
            return
        data = self.read(index)
        if data is None:
            return
        if self._no_data(index):
            self.stricter.append(f"{self.accessor(index)} has no data (no bufferView), so every inverse bind "
                                 "matrix is zero")
            return
        matrices = data.astype(np.float64).reshape(-1, 4, 4).transpose(0, 2, 1)  # column-major in the file
        if not np.isfinite(matrices).all():
            self.problems.append(f"{self.accessor(index)} holds NaN or infinite values")
            return
        bad_row = ~np.isclose(matrices[:, 3, :], MATRIX_LAST_ROW, atol=MATRIX_LAST_ROW_TOLERANCE).all(axis=1)
        if bad_row.any():
            j = _first(bad_row)
            row = ", ".join(f"{v:g}" for v in matrices[j, 3])
            self.problems.append(f"{self.accessor(index)}: the matrix of joint {j} has last row ({row}); it "
                                 f"must be (0, 0, 0, 1) ({int(bad_row.sum())} of {len(matrices)} matrices)")
        singular = self._singular(matrices[:, :3, :3])
        if singular.any():
            self.problems.append(f"{self.accessor(index)}: the matrix of joint {_first(singular)} cannot be "
                                 f"inverted ({int(singular.sum())} of {len(matrices)} matrices)")

    @staticmethod
    def _singular(blocks: np.ndarray) -> np.ndarray:
        values = np.linalg.svd(blocks, compute_uv=False)
        return values[:, -1] <= SINGULAR_RATIO * values[:, 0]

    def _skin_root(self, joints: list[int], skeleton: int | None, where: str) -> None:
        roots = sorted({self.root_of(j) for j in joints})
        if len(roots) > 1:
            self.problems.append(f"{where} has joints under {len(roots)} separate roots (nodes "
                                 f"{', '.join(map(str, roots[:5]))}); a skin's joints need one common root")
        elif skeleton is not None and any(skeleton not in self.ancestors(j) for j in joints):
            self.problems.append(f"{where} names node {skeleton} as its skeleton, but that node is not an "
                                 "ancestor of all its joints")

    def _skinned_nodes(self) -> None:
        """A node's skin and mesh agree: joint weights present, joint indices within the skin."""
        checked = set()
        for n, node in enumerate(self.arrays["nodes"]):
            mesh, skin = node.get("mesh"), node.get("skin")
            if not (_is_int(mesh) and 0 <= mesh < len(self.arrays["meshes"])):
                continue
            has_skin = _is_int(skin) and 0 <= skin < len(self.arrays["skins"])
            for p, prim in enumerate(_list(self.arrays["meshes"][mesh].get("primitives"))):
                attributes = _obj(_obj(prim).get("attributes"))
                where = f"{self.label('nodes', n)} (mesh {mesh} primitive {p})"
                weighted = "JOINTS_0" in attributes and "WEIGHTS_0" in attributes
                if has_skin and not weighted:
                    self.problems.append(f"{where} has skin {skin}, but the primitive has no JOINTS_0/WEIGHTS_0, "
                                         "so nothing would follow the skeleton")
                elif weighted and skin is None:
                    self.stricter.append(f"{where} has joint weights but the node has no skin: the mesh would "
                                         "not follow the skeleton (parent it to the armature)")
                if has_skin and weighted:
                    if _obj(prim).get("mode", DEFAULT_MODE) not in TRIANGLE_MODES:
                        self.notes.append(f"{where} is skinned but is not drawn as triangles")
                    for name, index in attributes.items():
                        if name.startswith("JOINTS_") and _is_int(index) and (index, skin) not in checked:
                            checked.add((index, skin))
                            self._joint_range(index, skin)

    def _joint_range(self, index, skin: int) -> None:
        joint_count = len(_list(self.arrays["skins"][skin].get("joints")))
        if self.acc(index).get("componentType") not in JOINT_COMPONENT_TYPES:
            return
        data = self.read(index)
        if data is None or not joint_count:
            return
        too_big = data >= joint_count
        if too_big.any():
            vertex = _first(too_big.any(axis=1))
            self.problems.append(f"{self.accessor(index)} has joint index {int(data[too_big][0])} at vertex "
                                 f"{vertex}, but skin {skin} has only {joint_count} joints (0..{joint_count - 1})")

    # -- animations --

    def _animations(self) -> None:
        for a, anim in enumerate(self.arrays["animations"]):
            where = self.label("animations", a)
            samplers = anim.get("samplers")
            if not isinstance(samplers, list) or not isinstance(anim.get("channels"), list):
                self.problems.append(f"{where} needs arrays of samplers and channels")
                continue
            for k, sampler in enumerate(samplers):
                self._sampler(_obj(sampler), f"{where} sampler {k}")
            targets = set()
            for c, channel in enumerate(anim["channels"]):
                self._channel(_obj(channel), samplers, f"{where} channel {c}", targets)

    def _sampler(self, sampler: dict, where: str) -> None:
        source = self.ref(sampler.get("input"), "accessors", f"{where} input", "accessor", required=True)
        self.ref(sampler.get("output"), "accessors", f"{where} output", "accessor", required=True)
        if not _member(sampler.get("interpolation", "LINEAR"), KEY_ELEMENTS):
            self.problems.append(f"{where} has interpolation {sampler.get('interpolation')!r}; it must be "
                                 "LINEAR, STEP or CUBICSPLINE")
        if source is None or not self.expect_format(source, ("SCALAR",), (FLOAT,), "key times"):
            return
        times = self.read(source)
        if times is None:
            return
        times = times[:, 0].astype(np.float64)
        if not np.isfinite(times).all():
            self.problems.append(f"{self.accessor(source)} holds NaN or infinite key times")
        elif times[0] < 0:
            self.problems.append(f"{self.accessor(source)} starts at negative time {times[0]:g}; "
                                 "key times must be >= 0")
        steps = np.diff(times) <= 0
        if steps.any():
            k = _first(steps) + 1
            self.problems.append(f"{self.accessor(source)} has key {k} at time {times[k]:g}, not after key {k - 1} "
                                 f"at {times[k - 1]:g}; key times must strictly increase "
                                 f"({_count(steps.sum(), 'such key')})")

    def _channel(self, channel: dict, samplers: list, where: str, targets: set) -> None:
        k = channel.get("sampler")
        if not (_is_int(k) and 0 <= k < len(samplers)):
            self.problems.append(f"{where} refers to sampler {k!r}, but the animation has {len(samplers)}")
            return
        target = _obj(channel.get("target"))
        node, path = target.get("node"), target.get("path")
        if not _member(path, ANIMATION_OUTPUT):
            self.problems.append(f"{where} animates {path!r}; the path must be translation, rotation, scale "
                                 "or weights")
            return
        if node is not None:
            node = self.ref(node, "nodes", f"{where} target")
            if node is not None and self.arrays["nodes"][node].get("matrix") is not None:
                self.problems.append(f"{where} animates node {node}, which has a matrix; animated nodes must use "
                                     "translation/rotation/scale")
            if (node, path) in targets:
                self.problems.append(f"{where} animates the {path} of node {node} a second time")
            targets.add((node, path))
        self._outputs(_obj(samplers[k]), path, node, where)

    def _outputs(self, sampler: dict, path: str, node, where: str) -> None:
        source, output = sampler.get("input"), sampler.get("output")
        if not all(_is_int(i) and 0 <= i < len(self.arrays["accessors"]) for i in (source, output)):
            return  # reported with the sampler
        kind, components = ANIMATION_OUTPUT[path]
        if not self.expect_format(output, (kind,), components, f"{path} keys"):
            return
        interpolation = sampler.get("interpolation", "LINEAR")
        per_key = KEY_ELEMENTS[interpolation] if _member(interpolation, KEY_ELEMENTS) else 1
        targets = self._morph_targets(node) if path == "weights" else 1
        if targets is None:
            return  # no mesh to say how many morph weights each key holds
        keys, values = self.acc(source).get("count"), self.acc(output).get("count")
        if _is_int(keys) and values != keys * per_key * targets:
            self.problems.append(f"{where}: {self.accessor(output)} holds {values!r} values for {keys} key times; "
                                 f"it needs {keys * per_key * targets}")
            return
        if path == "rotation":
            self._unit_quaternions(output, per_key, where)

    def _morph_targets(self, node) -> int | None:
        if node is None:
            return None
        mesh = self.arrays["nodes"][node].get("mesh")
        if not (_is_int(mesh) and 0 <= mesh < len(self.arrays["meshes"])):
            return None
        prims = _list(self.arrays["meshes"][mesh].get("primitives"))
        return len(_list(_obj(prims[0]).get("targets"))) if prims else None

    def _unit_quaternions(self, output: int, per_key: int, where: str) -> None:
        data = self.read(output)
        if data is None:
            return
        quats = _as_float(data, self.acc(output)["componentType"])
        if per_key == KEY_ELEMENTS["CUBICSPLINE"]:
            quats = quats[CUBICSPLINE_VALUE::per_key]
        lengths = np.linalg.norm(quats, axis=1)
        off = ~(np.abs(lengths - 1) <= UNIT_QUATERNION_TOLERANCE)
        if off.any():
            k = _first(off)
            self.problems.append(f"{where}: {self.accessor(output)} has rotation key {k} of length "
                                 f"{lengths[k]:.4g}; rotations must be unit quaternions "
                                 f"({int(off.sum())} of {len(lengths)} keys)")

    # -- textures, images, materials --

    def _textures(self) -> None:
        for t, texture in enumerate(self.arrays["textures"]):
            self.ref(texture.get("source"), "images", self.label("textures", t))
            self.ref(texture.get("sampler"), "samplers", self.label("textures", t))
        for i, image in enumerate(self.arrays["images"]):
            where = self.label("images", i)
            self.ref(image.get("bufferView"), "bufferViews", where)
            if image.get("uri") is None and image.get("bufferView") is None:
                self.problems.append(f"{where} has neither a uri nor a bufferView")
        for m, material in enumerate(self.arrays["materials"]):
            for group, slot in MATERIAL_TEXTURES:
                info = _obj(_obj(material.get(group)).get(slot) if group else material.get(slot))
                if info:
                    self.ref(info.get("index"), "textures", f"{self.label('materials', m)} {slot}",
                             "texture", required=True)
