"""Reading glTF 2.0 / GLB files into numpy: the only module that imports gltflib."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gltflib import GLTF

from .errors import WardrobeError

COMPONENT_DTYPES = {
    5120: np.int8, 5121: np.uint8, 5122: np.int16,
    5123: np.uint16, 5125: np.uint32, 5126: np.float32,
}
TYPE_SIZES = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
DATA_URI_PREFIX = "data:"
GLB_MAGIC = b"glTF"


@dataclass
class GltfDocument:
    """A loaded glTF: the gltflib model plus its buffers as bytes, in buffer order."""

    path: Path
    model: object
    buffers: list[bytes]


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


def load(path: str | Path) -> GltfDocument:
    """Load a .gltf or .glb with its buffers; raise WardrobeError on anything unreadable."""
    path = Path(path)
    if not path.is_file():
        raise WardrobeError(f"glTF file not found: {path}. Check the path, or export the model again.")
    try:
        if path.read_bytes()[:4] == GLB_MAGIC:  # .glb, and .vrm (a GLB with the VRM extension)
            gltf = GLTF.load_glb(str(path), load_file_resources=True)
        else:
            gltf = GLTF.load_gltf(str(path), load_file_resources=True)
    except Exception as exc:  # gltflib raises many kinds on broken input
        raise WardrobeError(
            f"{path.name} is not a readable glTF/GLB file ({type(exc).__name__}: {exc}). "
            "Re-export it from Blender as glTF 2.0 (.glb)."
        ) from None
    buffers = []
    for i, buf in enumerate(gltf.model.buffers or []):
        buffers.append(_buffer_bytes(gltf, path, i, buf))
    return GltfDocument(path=path, model=gltf.model, buffers=buffers)


def _buffer_bytes(gltf, path: Path, index: int, buf) -> bytes:
    uri = buf.uri
    if uri is None:  # GLB binary chunk
        for res in gltf.resources:
            if getattr(res, "uri", None) is None and getattr(res, "data", None) is not None:
                return bytes(res.data)
        raise WardrobeError(f"{path.name}: buffer {index} has no data (GLB BIN chunk missing).")
    if uri.startswith(DATA_URI_PREFIX):
        try:
            return base64.b64decode(uri.split(",", 1)[1])
        except Exception:
            raise WardrobeError(f"{path.name}: buffer {index} has a broken data: URI.") from None
    for res in gltf.resources:
        if getattr(res, "uri", None) == uri:
            return bytes(res.data)
    raise WardrobeError(f"{path.name}: buffer file '{uri}' is missing. Keep it next to the .gltf.")


def read_accessor(doc: GltfDocument, index: int) -> np.ndarray:
    """Decode accessor `index` to a numpy array of shape (count, components)."""
    model = doc.model
    try:
        acc = model.accessors[index]
        dtype = np.dtype(COMPONENT_DTYPES[acc.componentType])
        ncomp = TYPE_SIZES[acc.type]
    except (IndexError, KeyError, TypeError):
        raise WardrobeError(f"{doc.path.name}: accessor {index} is missing or has an unknown type.") from None
    out = np.zeros((acc.count, ncomp), dtype=dtype)
    if acc.bufferView is not None:
        view = model.bufferViews[acc.bufferView]
        data = doc.buffers[view.buffer]
        start = (view.byteOffset or 0) + (acc.byteOffset or 0)
        elem = dtype.itemsize * ncomp
        stride = view.byteStride or elem
        end = start + stride * (acc.count - 1) + elem if acc.count else start
        if end > (view.byteOffset or 0) + view.byteLength or end > len(data):
            raise WardrobeError(f"{doc.path.name}: accessor {index} reads past the end of its buffer.")
        raw = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
        rows = np.lib.stride_tricks.as_strided(raw, shape=(acc.count, elem), strides=(stride, 1))
        out = np.ascontiguousarray(rows).view(dtype).reshape(acc.count, ncomp).copy()
    if acc.sparse is not None:
        sp = acc.sparse
        idx_view = model.bufferViews[sp.indices.bufferView]
        idx = np.frombuffer(doc.buffers[idx_view.buffer], dtype=COMPONENT_DTYPES[sp.indices.componentType],
                            count=sp.count, offset=(idx_view.byteOffset or 0) + (sp.indices.byteOffset or 0))
        val_view = model.bufferViews[sp.values.bufferView]
        vals = np.frombuffer(doc.buffers[val_view.buffer], dtype=dtype, count=sp.count * ncomp,
                             offset=(val_view.byteOffset or 0) + (sp.values.byteOffset or 0))
        out[idx.astype(np.int64)] = vals.reshape(sp.count, ncomp)
    return out


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
    if not model.skins or skin_index >= len(model.skins):
        raise WardrobeError(f"{doc.path.name} has no skin: export the avatar with its armature (skinned mesh).")
    skin = model.skins[skin_index]
    joints = list(skin.joints)
    if skin.inverseBindMatrices is not None:
        ibm = read_accessor(doc, skin.inverseBindMatrices).astype(np.float64)
        if ibm.shape != (len(joints), 16):
            raise WardrobeError(f"{doc.path.name}: skin has {len(joints)} joints but {len(ibm)} bind matrices.")
        # glTF stores matrices column-major: reshape gives the transpose.
        ibm = ibm.reshape(-1, 4, 4).transpose(0, 2, 1)
        try:
            bind = np.linalg.inv(ibm)
        except np.linalg.LinAlgError:
            raise WardrobeError(f"{doc.path.name}: a joint's inverse bind matrix is singular.") from None
    else:
        bind = np.repeat(np.eye(4)[None], len(joints), axis=0)
    node_parent = node_parents(model)
    joint_set = set(joints)

    def joint_parent(node: int) -> int | None:
        p = node_parent.get(node)
        while p is not None and p not in joint_set:
            p = node_parent.get(p)
        return p

    order = []
    placed = set()

    def place(node: int, trail: tuple = ()):
        if node in placed:
            return
        if node in trail:
            raise WardrobeError(f"{doc.path.name}: the joint hierarchy has a cycle.")
        p = joint_parent(node)
        if p is not None:
            place(p, trail + (node,))
        placed.add(node)
        order.append(node)

    for j in joints:
        place(j)
    pos = {node: i for i, node in enumerate(order)}
    src = {node: i for i, node in enumerate(joints)}
    names = [model.nodes[n].name or f"joint{n}" for n in order]
    parents = np.array([pos[joint_parent(n)] if joint_parent(n) is not None else -1 for n in order])
    bind_world = bind[[src[n] for n in order]]
    return SkinData(joint_names=names, parents=parents, bind_world=bind_world)
