"""Reading glTF 2.0 / GLB files into numpy: the only module that imports gltflib.

Loading never trusts the file: the GLB container is taken apart with `struct` before gltflib sees
it, every accessor is bounds-checked against the bytes actually present before anything is
allocated, and every failure is a WardrobeError. The structural checks that go further (indices,
skins, weights, animation keys) live in gltf_check.py; `check` and `validate` are re-exported here.
"""
from __future__ import annotations

import base64
import json
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

import numpy as np
from gltflib import GLTFModel

from .errors import WardrobeError

COMPONENT_DTYPES = {
    5120: np.int8, 5121: np.uint8, 5122: np.int16,
    5123: np.uint16, 5125: np.uint32, 5126: np.float32,
}
TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
UNSIGNED_INDEX_TYPES = (5121, 5123, 5125)
DATA_URI_PREFIX = "data:"
GLB_SUFFIXES = (".glb", ".vrm")  # .vrm is a GLB with the VRM extension
GLB_MAGIC = b"glTF"
GLB_VERSION = 2
GLB_HEADER = struct.Struct("<4sII")    # magic, version, total length
GLB_CHUNK_HEADER = struct.Struct("<I4s")  # chunk length, chunk type
GLB_JSON_CHUNK = b"JSON"
GLB_BIN_CHUNK = b"BIN\x00"
GLB_ALIGNMENT = 4
# An accessor with no bufferView is all zeros (plus sparse values): cap what such a file can
# make us allocate.
MAX_UNBACKED_ACCESSOR_BYTES = 64 * 2**20
REEXPORT_ADVICE = "Re-export it from Blender as glTF 2.0 (.glb)."
# Objects in the top-level arrays (nodes, accessors, meshes, ...) together: avatars and garments
# have a few hundred, and gltflib takes about a second per few thousand, so a larger count is refused
# before gltflib sees it (a 2 MB file of 100k nodes would otherwise hold the app for a minute).
MAX_GLTF_OBJECTS = 10_000


@dataclass
class GltfDocument:
    """A loaded glTF: the gltflib model plus its buffers as bytes, in buffer order.

    raw is the glTF JSON exactly as parsed. Accessor decoding and the structural checks read it,
    because gltflib's model drops what it has no field for (JOINTS_1, WEIGHTS_1, TEXCOORD_2, ...)
    and coerces numbers (a count of 2.5 becomes 2). None when a document is built from a model.
    """

    path: Path
    model: object
    buffers: list[bytes]
    raw: dict | None = None


@dataclass
class SkinData:
    """One skin's joints: names, parents (index into this list, -1 for a root) and bind matrices.

    bind_world: (J, 4, 4) column-vector matrices, the inverse of each inverseBindMatrix: where
    each joint sits in the skinned mesh's space at bind time. This is what Panda3D builds its
    joint rest poses from, so the numpy skeleton uses it too.
    """

    joint_names: list[str]
    parents: np.ndarray
    bind_world: np.ndarray


# --- loading ---------------------------------------------------------------------------------

def load(path: str | Path) -> GltfDocument:
    """Load a .gltf or .glb with its buffers; raise WardrobeError on anything unreadable."""
    path = Path(path)
    if not path.is_file():
        raise WardrobeError(f"glTF file not found: {path}. Check the path, or export the model again.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WardrobeError(f"cannot read {path}: {exc.strerror}. Check the file's permissions.") from None
    if not data:
        raise WardrobeError(f"{path.name} is empty (0 bytes). {REEXPORT_ADVICE}")
    if data[:4] == GLB_MAGIC or path.suffix.lower() in GLB_SUFFIXES:
        json_bytes, bin_chunk = _split_glb(data, path.name)
    else:
        json_bytes, bin_chunk = data, None
    raw = _parse_json(json_bytes, path.name)
    _check_object_count(raw, path.name)
    buffers = [_buffer_bytes(path, i, buf, bin_chunk) for i, buf in enumerate(_dicts(raw.get("buffers")))]
    doc = GltfDocument(path=path, model=None, buffers=buffers, raw=raw)
    doc.model = _build_model(doc)
    return doc


def _split_glb(data: bytes, name: str) -> tuple[bytes, bytes | None]:
    """The JSON and BIN chunks of a GLB container, checked with struct before anything parses them."""
    if len(data) < GLB_HEADER.size:
        raise WardrobeError(f"{name} is {len(data)} bytes, too short for the 12-byte GLB header: "
                            f"the file is truncated. {REEXPORT_ADVICE}")
    magic, version, length = GLB_HEADER.unpack_from(data)
    if magic != GLB_MAGIC:
        raise WardrobeError(f"{name} is not a GLB file: it starts with {magic!r} instead of the magic "
                            f"b'glTF'. Check that it is a .glb, or {REEXPORT_ADVICE[0].lower()}{REEXPORT_ADVICE[1:]}")
    if version != GLB_VERSION:
        raise WardrobeError(f"{name} is GLB version {version}; only version 2 (glTF 2.0) is supported. "
                            f"{REEXPORT_ADVICE}")
    problems = []
    if length != len(data):
        problems.append(f"the GLB header declares {length} bytes but the file has {len(data)} "
                        "(truncated or padded)")
    chunks = _glb_chunks(data, min(length, len(data)), problems)
    if problems:
        listed = "; ".join(problems)
        raise WardrobeError(f"{name} has a broken GLB container: {listed}. {REEXPORT_ADVICE}")
    return chunks[GLB_JSON_CHUNK], chunks.get(GLB_BIN_CHUNK)


def _glb_chunks(data: bytes, end: int, problems: list[str]) -> dict[bytes, bytes]:
    """Walk the chunks after the header; append what is wrong to `problems`."""
    chunks: dict[bytes, bytes] = {}
    offset, number = GLB_HEADER.size, 0
    while offset < end:
        if offset + GLB_CHUNK_HEADER.size > end:
            problems.append(f"chunk {number} at byte {offset} is cut off inside its 8-byte header")
            break
        size, kind = GLB_CHUNK_HEADER.unpack_from(data, offset)
        start = offset + GLB_CHUNK_HEADER.size
        label = f"chunk {number} ({_chunk_name(kind)}) at byte {offset}"
        if start + size > end:
            problems.append(f"{label} declares {size} bytes but only {end - start} remain: the file is truncated")
            break
        if size % GLB_ALIGNMENT:
            problems.append(f"{label} is {size} bytes long, not a multiple of 4")
        if number == 0 and kind != GLB_JSON_CHUNK:
            problems.append(f"the first chunk must be JSON, found {_chunk_name(kind)}")
        elif number == 1 and kind == GLB_JSON_CHUNK:
            problems.append("the second chunk is JSON again; only one JSON chunk is allowed")
        if kind in chunks:
            problems.append(f"{label} repeats a {_chunk_name(kind)} chunk")
        elif kind in (GLB_JSON_CHUNK, GLB_BIN_CHUNK):  # other chunk types are skipped, as the spec says
            chunks[kind] = data[start:start + size]
        offset, number = start + size, number + 1
    if GLB_JSON_CHUNK not in chunks and not problems:
        problems.append("there is no JSON chunk")
    return chunks


def _chunk_name(kind: bytes) -> str:
    return kind.rstrip(b"\x00").decode("ascii") if kind.rstrip(b"\x00").isalpha() else f"type {kind!r}"


def _parse_json(text: bytes, name: str) -> dict:
    """The glTF JSON object; WardrobeError when it is not UTF-8 JSON with an object at the top."""
    try:
        obj = json.loads(text.rstrip(b"\x00").decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise WardrobeError(f"{name}: the glTF JSON is not valid UTF-8 (byte {exc.start}): the file is "
                            f"corrupted. {REEXPORT_ADVICE}") from None
    except json.JSONDecodeError as exc:
        raise WardrobeError(f"{name}: the glTF JSON is invalid ({exc.msg} at line {exc.lineno}, column "
                            f"{exc.colno}): the file is corrupted. {REEXPORT_ADVICE}") from None
    except (RecursionError, MemoryError):
        raise WardrobeError(f"{name}: the glTF JSON is nested too deeply to read. {REEXPORT_ADVICE}") from None
    if not isinstance(obj, dict):
        raise WardrobeError(f"{name}: the glTF JSON must be an object {{...}}, found {type(obj).__name__}. "
                            f"{REEXPORT_ADVICE}")
    return obj


def _check_object_count(raw: dict, name: str) -> None:
    counts = {key: len(value) for key, value in raw.items() if isinstance(value, list)}
    total = sum(counts.values())
    if total > MAX_GLTF_OBJECTS:
        largest = ", ".join(f"{n} {key}" for key, n in sorted(counts.items(), key=lambda kv: -kv[1])[:3])
        raise WardrobeError(f"{name} declares {total} glTF objects ({largest}), more than the {MAX_GLTF_OBJECTS} "
                            f"this loader reads; an avatar or garment has a few hundred. Join meshes and remove "
                            f"unused nodes before export. {REEXPORT_ADVICE}")


def _build_model(doc: GltfDocument):
    """gltflib's model of doc.raw; when gltflib refuses it, report the structural problems instead."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dataclasses_json warns about missing required fields
            return GLTFModel.from_dict(doc.raw)
    except Exception as exc:  # gltflib / dataclasses_json raise many kinds on mistyped fields
        reason = f"{type(exc).__name__}: {exc}"
    from .gltf_check import problems_message  # gltf_check imports this module: import it late

    problems = check(doc)
    if problems:
        raise WardrobeError(problems_message(doc.path.name, problems))
    raise WardrobeError(f"{doc.path.name} is not a readable glTF file ({reason}). {REEXPORT_ADVICE}")


def _dicts(value) -> list:
    """A JSON array of objects, with anything malformed replaced by an empty object (check() reports it)."""
    return [v if isinstance(v, dict) else {} for v in value] if isinstance(value, list) else []


def _buffer_bytes(path: Path, index: int, buf: dict, bin_chunk: bytes | None) -> bytes:
    uri = buf.get("uri")
    if uri is None:  # GLB binary chunk
        if index == 0 and bin_chunk is not None:
            return bin_chunk
        raise WardrobeError(f"{path.name}: buffer {index} has no data (no uri and no GLB BIN chunk). "
                            f"{REEXPORT_ADVICE}")
    if not isinstance(uri, str):
        raise WardrobeError(f"{path.name}: buffer {index} has a uri that is not a string. {REEXPORT_ADVICE}")
    if uri.startswith(DATA_URI_PREFIX):
        return _data_uri_bytes(path, index, uri)
    return _external_buffer(path, index, uri)


def _data_uri_bytes(path: Path, index: int, uri: str) -> bytes:
    header, sep, payload = uri.partition(",")
    try:
        if not sep:
            raise ValueError("no comma")
        if header.endswith(";base64"):
            return base64.b64decode(payload)
        return unquote_to_bytes(payload)
    except ValueError:  # binascii.Error is a ValueError
        raise WardrobeError(f"{path.name}: buffer {index} has a broken data: URI. {REEXPORT_ADVICE}") from None


def _external_buffer(path: Path, index: int, uri: str) -> bytes:
    """A buffer file next to the .gltf; only plain relative paths, never URLs or absolute paths."""
    name = unquote(uri)
    if "://" in name or Path(name).is_absolute() or ":" in name.split("/")[0]:
        raise WardrobeError(f"{path.name}: buffer {index} points outside the model ('{uri}'); only files "
                            "next to the .gltf are read. Export as .glb to embed the data.")
    folder = path.parent.resolve()
    file = (folder / name).resolve()
    if not file.is_relative_to(folder):  # "../secret.bin", or a symlink leading out of the folder
        raise WardrobeError(f"{path.name}: buffer {index} points outside the model's folder ('{uri}'); only "
                            "files inside the .gltf's folder are read. Export as .glb to embed the data.")
    if not file.is_file():  # also refuses devices and folders
        raise WardrobeError(f"{path.name}: buffer file '{uri}' is missing. Keep it next to the .gltf.")
    try:
        return file.read_bytes()
    except OSError as exc:
        raise WardrobeError(f"{path.name}: cannot read buffer file '{uri}': {exc.strerror}.") from None


# --- accessors -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Span:
    """Where `count` elements of `elem` bytes lie: data[start + i * stride : ... + elem]."""

    data: bytes
    start: int
    stride: int


def raw_json(doc: GltfDocument) -> dict:
    """The document's glTF JSON (rebuilt from the model when the document was not loaded from a file)."""
    if doc.raw is None:
        doc.raw = _without_nulls(doc.model.to_dict()) if doc.model is not None else {}
    return doc.raw


def _without_nulls(value):
    """gltflib's to_dict() writes every unset field as None; the JSON would omit them."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _item(raw: dict, key: str, index) -> dict | None:
    items = raw.get(key)
    if _is_int(index) and isinstance(items, list) and 0 <= index < len(items) and isinstance(items[index], dict):
        return items[index]
    return None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _member(value, options) -> bool:
    """`value in options` for any JSON value (lists and objects are unhashable) and no bools."""
    return isinstance(value, (int, str)) and not isinstance(value, bool) and value in options


def accessor_problem(doc: GltfDocument, index: int) -> str | None:
    """Why accessor `index` cannot be decoded (a phrase to follow "accessor N"), or None if it can."""
    try:
        _locate(doc, index)
    except _Unreadable as exc:
        return str(exc)
    return None


class _Unreadable(Exception):
    """An accessor whose bytes are not where it says; the message is a phrase."""


def _locate(doc: GltfDocument, index) -> tuple[dict, np.dtype, int, _Span | None]:
    """Accessor `index` with its dtype, components and byte span, every bound checked."""
    raw = raw_json(doc)
    acc = _item(raw, "accessors", index)
    if acc is None:
        raise _Unreadable("does not exist")
    if not _member(acc.get("componentType"), COMPONENT_DTYPES):
        raise _Unreadable(f"has componentType {acc.get('componentType')!r}, which is not a glTF component type")
    if not _member(acc.get("type"), TYPE_SIZES):
        raise _Unreadable(f"has type {acc.get('type')!r}, which is not a glTF accessor type")
    count = acc.get("count")
    if not _is_int(count) or count < 1:
        raise _Unreadable(f"has count {count!r}; it must be a whole number >= 1")
    dtype, ncomp = np.dtype(COMPONENT_DTYPES[acc["componentType"]]), TYPE_SIZES[acc["type"]]
    elem = dtype.itemsize * ncomp
    span = None
    if acc.get("bufferView") is not None:
        span = _span(doc, acc["bufferView"], acc.get("byteOffset") or 0, dtype, elem, count)
    elif count * elem > MAX_UNBACKED_ACCESSOR_BYTES:
        raise _Unreadable(f"has no bufferView but declares {count} elements ({count * elem} bytes of zeros)")
    if acc.get("sparse") is not None:
        _sparse_spans(doc, acc["sparse"], count, dtype, ncomp)
    return acc, dtype, ncomp, span


def _span(doc, view_index, offset, dtype: np.dtype, elem: int, count: int) -> _Span:
    raw = raw_json(doc)
    view = _item(raw, "bufferViews", view_index)
    if view is None:
        raise _Unreadable(f"refers to bufferView {view_index!r}, which does not exist")
    buffer_index = view.get("buffer")
    if not _is_int(buffer_index) or not 0 <= buffer_index < len(doc.buffers):
        raise _Unreadable(f"uses bufferView {view_index}, whose buffer {buffer_index!r} does not exist")
    view_offset, view_length = view.get("byteOffset") or 0, view.get("byteLength")
    stride = view.get("byteStride") or elem
    if not all(_is_int(v) and v >= 0 for v in (offset, view_offset, view_length, stride)):
        raise _Unreadable(f"or its bufferView {view_index} has a byteOffset, byteLength or byteStride "
                          "that is not a whole number >= 0")
    if offset % dtype.itemsize:
        raise _Unreadable(f"has byteOffset {offset}, not a multiple of its component size {dtype.itemsize}")
    if stride < elem:
        raise _Unreadable(f"has {elem}-byte elements but bufferView {view_index} has byteStride {stride}")
    end = offset + stride * (count - 1) + elem
    if end > view_length:
        raise _Unreadable(f"needs {end} bytes of bufferView {view_index} ({count} elements of {elem} bytes, "
                          f"stride {stride}, offset {offset}) but the view is {view_length} bytes long")
    data = doc.buffers[buffer_index]
    if view_offset + end > len(data):
        raise _Unreadable(f"reads up to byte {view_offset + end} of buffer {buffer_index}, which holds only "
                          f"{len(data)} bytes")
    return _Span(data, view_offset + offset, stride)


def _sparse_spans(doc, sparse, count: int, dtype: np.dtype, ncomp: int) -> tuple[np.dtype, _Span, _Span, int]:
    if not isinstance(sparse, dict) or not isinstance(sparse.get("indices"), dict) \
            or not isinstance(sparse.get("values"), dict):
        raise _Unreadable("has a sparse block without indices and values objects")
    n = sparse.get("count")
    if not _is_int(n) or not 1 <= n <= count:
        raise _Unreadable(f"has sparse.count {n!r}; it must be between 1 and the accessor count {count}")
    indices, values = sparse["indices"], sparse["values"]
    if indices.get("componentType") not in UNSIGNED_INDEX_TYPES:
        raise _Unreadable(f"has sparse indices of componentType {indices.get('componentType')!r}; "
                          "they must be unsigned byte, short or int")
    idx_dtype = np.dtype(COMPONENT_DTYPES[indices["componentType"]])
    idx_span = _span(doc, indices.get("bufferView"), indices.get("byteOffset") or 0,
                     idx_dtype, idx_dtype.itemsize, n)
    val_span = _span(doc, values.get("bufferView"), values.get("byteOffset") or 0,
                     dtype, dtype.itemsize * ncomp, n)
    return idx_dtype, idx_span, val_span, n


def _rows(span: _Span, count: int, dtype: np.dtype, ncomp: int) -> np.ndarray:
    elem = dtype.itemsize * ncomp
    raw = np.frombuffer(span.data, dtype=np.uint8, count=span.stride * (count - 1) + elem, offset=span.start)
    rows = np.lib.stride_tricks.as_strided(raw, shape=(count, elem), strides=(span.stride, 1))
    return np.ascontiguousarray(rows).view(dtype).reshape(count, ncomp).copy()


def read_accessor(doc: GltfDocument, index: int) -> np.ndarray:
    """Decode accessor `index` to a numpy array of shape (count, components)."""
    try:
        acc, dtype, ncomp, span = _locate(doc, index)
        count = acc["count"]
        out = _rows(span, count, dtype, ncomp) if span else np.zeros((count, ncomp), dtype=dtype)
        if acc.get("sparse") is not None:
            idx_dtype, idx_span, val_span, n = _sparse_spans(doc, acc["sparse"], count, dtype, ncomp)
            idx = _rows(idx_span, n, idx_dtype, 1)[:, 0].astype(np.int64)
            if idx.max() >= count:
                raise _Unreadable(f"has a sparse index {idx.max()} beyond its count {count}")
            out[idx] = _rows(val_span, n, dtype, ncomp)
    except _Unreadable as exc:
        raise WardrobeError(f"{doc.path.name}: accessor {index} {exc}. {REEXPORT_ADVICE}") from None
    return out


# --- nodes and skins -------------------------------------------------------------------------

def node_parents(model) -> dict[int, int]:
    """Map child node index -> parent node index."""
    parents = {}
    for i, node in enumerate(model.nodes or []):
        for child in node.children or []:
            parents[child] = i
    return parents


def read_skin(doc: GltfDocument, skin_index: int = 0) -> SkinData:
    """The joints of skin `skin_index`, ordered so that every parent comes before its children."""
    model = doc.model
    if not model.skins or not 0 <= skin_index < len(model.skins):
        raise WardrobeError(f"{doc.path.name} has no skin: export the avatar with its armature (skinned mesh).")
    skin = model.skins[skin_index]
    joints = list(skin.joints or [])
    node_count = len(model.nodes or [])
    if not joints or not all(_is_int(j) and 0 <= j < node_count for j in joints):
        raise WardrobeError(f"{doc.path.name}: skin {skin_index} has no joints or refers to missing nodes. "
                            f"{REEXPORT_ADVICE}")
    bind = _bind_matrices(doc, skin, len(joints))
    node_parent = node_parents(model)
    joint_set = set(joints)

    def joint_parent(node: int) -> int | None:
        p, steps = node_parent.get(node), 0
        while p is not None and p not in joint_set:
            p, steps = node_parent.get(p), steps + 1
            if steps > node_count:
                raise WardrobeError(f"{doc.path.name}: the node hierarchy has a cycle. {REEXPORT_ADVICE}")
        return p

    order = _parents_first(joints, joint_parent, doc.path.name)
    pos = {node: i for i, node in enumerate(order)}
    src = {node: i for i, node in enumerate(joints)}
    names = [model.nodes[n].name or f"joint{n}" for n in order]
    parents = np.array([pos[joint_parent(n)] if joint_parent(n) is not None else -1 for n in order])
    bind_world = bind[[src[n] for n in order]]
    return SkinData(joint_names=names, parents=parents, bind_world=bind_world)


def _bind_matrices(doc: GltfDocument, skin, joint_count: int) -> np.ndarray:
    """(J, 4, 4) inverses of the skin's inverse bind matrices (identity when it has none)."""
    if skin.inverseBindMatrices is None:
        return np.repeat(np.eye(4)[None], joint_count, axis=0)
    ibm = read_accessor(doc, skin.inverseBindMatrices).astype(np.float64)
    if ibm.shape != (joint_count, 16):
        raise WardrobeError(f"{doc.path.name}: skin has {joint_count} joints but {len(ibm)} bind matrices.")
    # glTF stores matrices column-major: reshape gives the transpose.
    ibm = ibm.reshape(-1, 4, 4).transpose(0, 2, 1)
    try:
        with np.errstate(all="ignore"):
            bind = np.linalg.inv(ibm)
    except np.linalg.LinAlgError:
        raise WardrobeError(f"{doc.path.name}: a joint's inverse bind matrix is singular.") from None
    if not np.isfinite(bind).all():
        raise WardrobeError(f"{doc.path.name}: a joint's inverse bind matrix is not finite. {REEXPORT_ADVICE}")
    return bind


def _parents_first(joints: list[int], joint_parent, name: str) -> list[int]:
    """Joints ordered so each comes after its parent joint (iterative: deep rigs need no recursion)."""
    order, placed = [], set()
    for j in joints:
        chain = []
        node = j
        while node is not None and node not in placed:
            if node in chain:
                raise WardrobeError(f"{name}: the joint hierarchy has a cycle.")
            chain.append(node)
            node = joint_parent(node)
        for node in reversed(chain):
            placed.add(node)
            order.append(node)
    return order


# --- structural checks: gltf_check.py, imported late because it imports this module ---------

def check(doc: GltfDocument, notes: list[str] | None = None, stricter: list[str] | None = None) -> list[str]:
    """Every structural problem in `doc`, each a sentence naming the object; [] when clean.

    Non-fatal observations (a point-cloud primitive on a skinned mesh, an unused skin) are
    appended to `notes` when a list is given; findings stricter than the glTF specification go to
    `stricter` when a list is given (see gltf_check).
    """
    from .gltf_check import check as check_document

    return check_document(doc, notes, stricter)


def validate(path: str | Path, notes: list[str] | None = None) -> GltfDocument:
    """Load `path` and apply the structural checks; one WardrobeError lists what is wrong."""
    from .gltf_check import validate as validate_path

    return validate_path(path, notes)
