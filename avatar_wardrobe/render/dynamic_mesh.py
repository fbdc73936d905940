"""A Panda3D mesh whose vertices are rewritten from numpy every frame (garments, cloth, heat maps)."""
from __future__ import annotations

import numpy as np
from panda3d.core import (CullFaceAttrib, Geom, GeomEnums, GeomNode, GeomTriangles, GeomVertexArrayFormat,
                          GeomVertexData, GeomVertexFormat, InternalName, Material, PNMImage, RenderState,
                          StringStream, Texture, TextureStage, TransparencyAttrib, Vec4)

from ..errors import WardrobeError
from .avatar_actor import GLTF_TO_PANDA

_POSITION_NORMAL = GeomVertexArrayFormat()
_POSITION_NORMAL.addColumn(InternalName.getVertex(), 3, GeomEnums.NT_float32, GeomEnums.C_point)
_POSITION_NORMAL.addColumn(InternalName.getNormal(), 3, GeomEnums.NT_float32, GeomEnums.C_normal)
_UV_COLOR = GeomVertexArrayFormat()
_UV_COLOR.addColumn(InternalName.getTexcoord(), 2, GeomEnums.NT_float32, GeomEnums.C_texcoord)
_UV_COLOR.addColumn(InternalName.getColor(), 4, GeomEnums.NT_float32, GeomEnums.C_color)
_FORMAT = GeomVertexFormat()
_FORMAT.addArray(_POSITION_NORMAL)
_FORMAT.addArray(_UV_COLOR)
FORMAT = GeomVertexFormat.registerFormat(_FORMAT)
_AXES = np.ascontiguousarray(GLTF_TO_PANDA[:3, :3].T)  # float64, as the cloth and skinning results
# Triangle order for the post-transform vertex cache. llvmpipe (Mesa's draw module) shades each
# index chunk's vertices through a small cache, so an order that reuses recent vertices shades
# fewer of them: the garment's glTF order misses 2.2 vertices per triangle, this order 0.6, and
# the frame's render CPU drops by about a seventh (docs/bench/live_*.json, "tipsify" A/B).
VERTEX_CACHE_SIZE = 32


def cache_order(faces: np.ndarray, vertex_count: int | None = None, cache_size: int = VERTEX_CACHE_SIZE) -> np.ndarray:
    """A permutation of the triangles for vertex-cache reuse (Tipsify: Sander, Nehab and Barczak,
    "Fast Triangle Reordering for Vertex Locality and Reduced Overdraw", 2007). Linear time:
    ~0.2 s for the avatar's 27k triangles, once per mesh."""
    faces = np.asarray(faces)
    if len(faces) == 0:
        return np.zeros(0, np.int64)
    n = int(vertex_count if vertex_count is not None else faces.max() + 1)
    flat = faces.ravel()
    offsets = np.concatenate([[0], np.cumsum(np.bincount(flat, minlength=n))]).tolist()
    by_vertex = (np.argsort(flat, kind="stable") // 3).tolist()  # triangles of each vertex, grouped
    tris = faces.tolist()
    live = np.bincount(flat, minlength=n).tolist()  # triangles not yet emitted, per vertex
    stamp = [0] * n
    emitted = [False] * len(faces)
    order, dead_end = [], []
    clock, cursor, fan = cache_size + 1, 0, int(flat[0])
    while fan >= 0:
        candidates = []
        for t in by_vertex[offsets[fan]:offsets[fan + 1]]:
            if emitted[t]:
                continue
            emitted[t] = True
            order.append(t)
            for v in tris[t]:
                dead_end.append(v)
                candidates.append(v)
                live[v] -= 1
                if clock - stamp[v] > cache_size:  # not in the cache: it enters now
                    stamp[v] = clock
                    clock += 1
        fan, best = -1, -1
        for v in candidates:  # the next fan: a live vertex that will still be cached when reached
            if live[v] > 0:
                age = clock - stamp[v]
                priority = age if age + 2 * live[v] <= cache_size else 0
                if priority > best:
                    fan, best = v, priority
        if fan < 0:
            while dead_end:
                v = dead_end.pop()
                if live[v] > 0:
                    fan = v
                    break
            else:
                while cursor < n and live[cursor] <= 0:
                    cursor += 1
                fan = cursor if cursor < n else -1
    return np.asarray(order, np.int64)


def load_texture(data: bytes, name: str, srgb: bool) -> Texture:
    """A Panda texture from encoded PNG/JPEG bytes (the declared size is checked before decoding)."""
    from ..garments.garment_io import image_size_problem

    refusal = image_size_problem(data)
    if refusal:
        raise WardrobeError(f"texture '{name}' {refusal}")
    image = PNMImage()
    if not image.read(StringStream(data)):
        raise WardrobeError(f"texture '{name}' could not be decoded: embed PNG or JPEG images.")
    tex = Texture(name)
    tex.load(image)
    if srgb:
        tex.setFormat(Texture.F_srgb_alpha if image.hasAlpha() else Texture.F_srgb)
    tex.setMinfilter(Texture.FT_linear_mipmap_linear)
    return tex


class DynamicMesh:
    """Triangles with static UVs/colours and positions/normals replaced per frame (glTF frame in)."""

    def __init__(self, name: str, faces: np.ndarray, uvs: np.ndarray, colors: np.ndarray | None = None,
                 parts: list[tuple[int, int, int]] | None = None, closed: np.ndarray | None = None):
        """closed: (T,) bool, faces whose inside no one can see (garments/openings.py): those are
        drawn front side only even where the material is two-sided (each part then holds two Geoms,
        one per side rule). llvmpipe's cost goes with triangles, and a two-sided garment's inner
        faces were a fifth of the demo's draw."""
        n = len(uvs)
        self.count = n
        self.vdata = GeomVertexData(name, FORMAT, GeomEnums.UH_dynamic)
        self.vdata.uncleanSetNumRows(n)
        static = np.empty((n, 6), np.float32)
        static[:, :2] = uvs
        static[:, 2:] = 1.0 if colors is None else colors
        self.vdata.modifyArrayHandle(1).copyDataFrom(static)
        self._buffer = np.zeros((n, 6), np.float32)   # positions + normals, reused every frame
        self._scratch = np.empty((n, 3))               # one of them in float64 on its way there
        self._static = static                          # UVs + colours, reused by set_colors
        self.parts = parts or [(0, len(faces), 0)]
        self.nodes = []  # one GeomNode per part (material), all sharing the vertex data
        front_only = RenderState.make(CullFaceAttrib.makeDefault())
        for first, count, _material in self.parts:
            part = np.asarray(faces[first:first + count])
            shut = np.zeros(len(part), bool) if closed is None else np.asarray(closed[first:first + count], bool)
            node = GeomNode(f"{name}_{len(self.nodes)}")
            for group, state in ((part[~shut], RenderState.makeEmpty()), (part[shut], front_only)):
                if len(group):
                    node.addGeom(self._geom(group), state)
            self.nodes.append(node)

    def _geom(self, faces: np.ndarray) -> Geom:
        tris = GeomTriangles(GeomEnums.UH_static)
        tris.setIndexType(GeomEnums.NT_uint32)
        tris.modifyVertices().uncleanSetNumRows(len(faces) * 3)
        tris.modifyVertices().modifyHandle().copyDataFrom(
            np.ascontiguousarray(faces[cache_order(faces, self.count)], np.uint32).ravel())
        geom = Geom(self.vdata)
        geom.addPrimitive(tris)
        return geom

    def update(self, positions: np.ndarray, normals: np.ndarray) -> None:
        """Replace positions and normals ((V, 3) each, glTF frame)."""
        buf, scratch = self._buffer, self._scratch
        for values, columns in ((positions, slice(0, 3)), (normals, slice(3, 6))):
            np.matmul(values, _AXES, out=scratch)  # no per-frame arrays: reused buffers only
            buf[:, columns] = scratch
        self.vdata.modifyArrayHandle(0).copyDataFrom(buf)

    def set_colors(self, colors: np.ndarray, uvs: np.ndarray) -> None:
        """Replace per-vertex colours (heat maps); UVs are written alongside."""
        static = self._static
        static[:, :2] = uvs
        static[:, 2:] = colors
        self.vdata.modifyArrayHandle(1).copyDataFrom(static)


def apply_material(node_path, material, texture: Texture | None) -> None:
    """A GarmentMaterial onto a NodePath, the way simplepbr reads it."""
    mat = Material(material.name)
    mat.setBaseColor(Vec4(*material.base_color))
    mat.setMetallic(material.metallic)
    mat.setRoughness(material.roughness)
    node_path.setMaterial(mat, 1)
    if texture is not None:
        node_path.setTexture(TextureStage.getDefault(), texture, 1)
    node_path.setTwoSided(material.double_sided)
    if material.alpha_mode == "BLEND":
        node_path.setTransparency(TransparencyAttrib.M_alpha)
    elif material.alpha_mode == "MASK":
        node_path.setTransparency(TransparencyAttrib.M_binary)
