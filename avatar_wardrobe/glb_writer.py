"""Writing GLB files from numpy arrays (plain json + struct; reading stays in gltf_io)."""
from __future__ import annotations

import json
import struct

import numpy as np

FLOAT, UBYTE, USHORT, UINT = 5126, 5121, 5123, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963
TRIANGLES = 4
JOINT_DTYPES = {UBYTE: np.uint8, USHORT: np.uint16}
LINEAR, LINEAR_MIPMAP_LINEAR, CLAMP_TO_EDGE, REPEAT = 9729, 9987, 33071, 10497
GLB_MAGIC, GLB_VERSION, CHUNK_JSON, CHUNK_BIN = b"glTF", 2, 0x4E4F534A, 0x004E4942
ALIGN = 4


class GlbWriter:
    """Accumulates bufferViews/accessors in one binary buffer; the caller fills the rest of `gltf`."""

    def __init__(self, generator: str = "avatar_wardrobe"):
        self.gltf = {"asset": {"version": "2.0", "generator": generator},
                     "buffers": [], "bufferViews": [], "accessors": []}
        self.blob = bytearray()

    def view(self, data: bytes, target: int | None = None) -> int:
        self.blob += b"\0" * (-len(self.blob) % ALIGN)
        view = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target:
            view["target"] = target
        self.blob += data
        self.gltf["bufferViews"].append(view)
        return len(self.gltf["bufferViews"]) - 1

    def accessor(self, array: np.ndarray, component: int, kind: str, target: int | None = None,
                 bounds: bool = False) -> int:
        array = np.ascontiguousarray(array)
        acc = {"bufferView": self.view(array.tobytes(), target),
               "componentType": component, "count": len(array), "type": kind}
        if bounds:
            acc["min"] = array.min(0).tolist()
            acc["max"] = array.max(0).tolist()
        self.gltf["accessors"].append(acc)
        return len(self.gltf["accessors"]) - 1

    def indices(self, faces: np.ndarray, vertex_count: int) -> int:
        """Triangle indices with the smallest index type that fits."""
        small = vertex_count <= np.iinfo(np.uint16).max
        return self.accessor(np.asarray(faces).ravel().astype(np.uint16 if small else np.uint32),
                             USHORT if small else UINT, "SCALAR", ELEMENT_ARRAY_BUFFER)

    def glb(self) -> bytes:
        self.gltf["buffers"] = [{"byteLength": len(self.blob)}]
        text = json.dumps(self.gltf, separators=(",", ":")).encode()
        text += b" " * (-len(text) % ALIGN)
        blob = bytes(self.blob) + b"\0" * (-len(self.blob) % ALIGN)
        total = 12 + 8 + len(text) + 8 + len(blob)
        return (struct.pack("<4sII", GLB_MAGIC, GLB_VERSION, total)
                + struct.pack("<II", len(text), CHUNK_JSON) + text
                + struct.pack("<II", len(blob), CHUNK_BIN) + blob)
