"""The avatar as a Panda3D Actor whose joints are driven each frame from numpy local matrices."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from panda3d.core import Filename, GeomEnums, LMatrix4f, NodePath

from ..avatar.skeleton import Skeleton
from ..errors import WardrobeError

# glTF (+Y up, faces +Z) -> Panda3D (+Z up, faces -Y), as panda3d-gltf converts: (x, y, z) -> (x, -z, y).
GLTF_TO_PANDA = np.array([[1.0, 0, 0, 0], [0, 0, -1.0, 0], [0, 1.0, 0, 0], [0, 0, 0, 1.0]])
PART = "modelRoot"
CUSTOM_ATTRIBUTE_PREFIX = "_"


def _skip_custom_attributes() -> None:
    """panda3d-gltf 1.3 fails on glTF custom vertex attributes ("_REGION", "_PIN": it splits the
    name on "_"); they carry data for numpy, not for drawing, so leave them out of the Geom."""
    from gltf._converter import Converter

    if getattr(Converter.load_primitive, "_skips_custom", False):
        return
    original = Converter.load_primitive

    def load_primitive(self, geom_node, gltf_primitive, gltf_mesh, gltf_data):
        attributes = gltf_primitive.get("attributes", {})
        if any(name.startswith(CUSTOM_ATTRIBUTE_PREFIX) for name in attributes):
            gltf_primitive = {**gltf_primitive, "attributes": {
                k: v for k, v in attributes.items() if not k.startswith(CUSTOM_ATTRIBUTE_PREFIX)}}
        return original(self, geom_node, gltf_primitive, gltf_mesh, gltf_data)

    load_primitive._skips_custom = True
    Converter.load_primitive = load_primitive


_skip_custom_attributes()


def to_panda(matrices: np.ndarray) -> np.ndarray:
    """(N, 4, 4) glTF-frame column-vector matrices -> Panda frame (still column-vector)."""
    return GLTF_TO_PANDA @ matrices @ GLTF_TO_PANDA.T


def to_panda_points(points: np.ndarray) -> np.ndarray:
    return np.asarray(points) @ GLTF_TO_PANDA[:3, :3].T


class AvatarActor:
    """Loads a glTF avatar with panda3d-gltf and takes control of every skeleton joint."""

    def __init__(self, path: str | Path, skeleton: Skeleton, parent: NodePath | None = None,
                 lod_cells: np.ndarray | None = None):
        """lod_cells: (V,) the coarse triangle list's grid cell per vertex, over the skinned
        primitives' vertices in glTF order (avatar/lod.py cell_sizes); None or a count that does not
        match: one size for all."""
        from direct.actor.Actor import Actor

        path = Path(path).resolve()
        try:
            self.actor = Actor(Filename.fromOsSpecific(str(path)))
        except Exception as exc:
            raise WardrobeError(f"Panda3D could not load the avatar {path.name} ({exc}). "
                                "Check it with `avatar-wardrobe check` or re-export it as glTF 2.0.") from None
        if parent is not None:
            self.actor.reparentTo(parent)
        self.skeleton = skeleton
        self.character = self.actor.find("**/+Character")
        self._body_geoms = list(self.actor.findAllMatches("**/+GeomNode"))  # before anything is attached
        self._triangles = None
        self._hidden: np.ndarray | None = None
        self._lod_cells = lod_cells
        self.low_detail = False          # draw the coarse triangle list (avatar/lod.py)
        self.controls = []
        for name in skeleton.names:
            ctrl = self.actor.controlJoint(None, PART, name)
            if ctrl is None:
                raise WardrobeError(f"the avatar model has no joint '{name}' that Panda3D can drive.")
            self.controls.append(ctrl)
        self.set_hidden_faces(np.zeros(sum(len(t.faces) for t in self._triangle_arrays()), bool))  # cache order

    @property
    def node(self) -> NodePath:
        return self.actor

    def apply_local(self, local: np.ndarray) -> None:
        """Set every joint from (J, 4, 4) local matrices in the glTF frame."""
        rows = to_panda(local).transpose(0, 2, 1).reshape(len(local), 16)  # Panda is row-vector
        for ctrl, row in zip(self.controls, rows.tolist()):
            ctrl.setMat(LMatrix4f(*row))

    @property
    def body_geoms(self) -> list[NodePath]:
        """The avatar's own GeomNodes (not garments attached later)."""
        return list(self._body_geoms)

    def _triangle_arrays(self):
        """_Triangles for each body triangle list, in glTF primitive order."""
        if self._triangles is None:
            self._triangles = []
            for gn in self._body_geoms:
                node = gn.node()
                for gi in range(node.getNumGeoms()):
                    geom = node.modifyGeom(gi)
                    prim = geom.modifyPrimitive(0)
                    prim = prim.decompose() if not prim.isIndexed() else prim
                    dtype = np.uint16 if prim.getIndexType() == GeomEnums.NT_uint16 else np.uint32
                    faces = np.frombuffer(prim.getVertices().getHandle().getData(), dtype).reshape(-1, 3).copy()
                    self._triangles.append(_Triangles(prim, faces, geom.getVertexData()))
            counts = [t.vertex_count for t in self._triangles]
            cells = self._lod_cells
            if cells is not None and len(cells) == sum(counts):
                for t, part in zip(self._triangles, np.split(np.asarray(cells, np.float64), np.cumsum(counts)[:-1])):
                    t.cells = part
        return self._triangles

    def set_hidden_faces(self, hidden: np.ndarray) -> None:
        """Hide body triangles (mask over all triangles, in glTF primitive order); False shows them."""
        self._hidden = np.asarray(hidden, bool)
        self._write()

    def set_low_detail(self, low: bool) -> None:
        """Draw the coarse triangle list (True) or the full one; hidden triangles stay hidden."""
        if bool(low) != self.low_detail:
            self.low_detail = bool(low)
            self._write()

    def prepare_low_detail(self) -> None:
        """Make the coarse triangle lists now (~0.2 s) rather than on the first frame that wants them."""
        for tri in self._triangle_arrays():
            tri.coarse()

    def triangle_count(self) -> int:
        """Triangles drawn now (after hiding and level of detail)."""
        return sum(t.prim.getNumPrimitives() for t in self._triangle_arrays())

    def _write(self) -> None:
        start = 0
        for tri in self._triangle_arrays():
            hidden = self._hidden[start:start + len(tri.faces)] if self._hidden is not None else None
            start += len(tri.faces)
            keep = tri.shown(hidden, self.low_detail)
            handle = tri.prim.modifyVertices()
            handle.uncleanSetNumRows(keep.size)
            handle.modifyHandle().copyDataFrom(np.ascontiguousarray(keep, tri.faces.dtype).ravel())

    def expose(self, name: str) -> NodePath:
        """A node that follows joint `name` (for attaching things and for tests)."""
        return self.actor.exposeJoint(None, PART, name)

    def remove(self) -> None:
        self.actor.cleanup()
        self.actor.removeNode()


class _Triangles:
    """One body triangle list: its full faces and its coarse ones (avatar/lod.py, made on first
    use), each with a vertex-cache order; the shown triangles are written in that order (a subset
    of a cache order keeps its reuse)."""

    def __init__(self, prim, faces: np.ndarray, vdata):
        from ..avatar.lod import DEFAULT_CELL_M
        from .dynamic_mesh import cache_order

        self.prim, self.faces, self._vdata = prim, faces, vdata
        self.vertex_count = vdata.getNumRows()
        self.order = cache_order(faces, self.vertex_count)
        self.cells = DEFAULT_CELL_M      # the coarse list's grid cell: one size, or (vertex_count,)
        self._coarse = None

    def coarse(self):
        """(faces, the full face each came from, vertex-cache order) of the coarse list (~0.1 s for
        the default avatar, on first use)."""
        if self._coarse is None:
            from ..avatar.lod import cluster_faces
            from .dynamic_mesh import cache_order

            faces, source = cluster_faces(_column(self._vdata, "vertex"), self.faces, self.cells)
            self._coarse = (faces, source, cache_order(faces, self.vertex_count))
        return self._coarse

    def shown(self, hidden: np.ndarray | None, low: bool) -> np.ndarray:
        faces, source, order = self.coarse() if low else (self.faces, None, self.order)
        if hidden is not None:
            mask = hidden if source is None else hidden[source]
            order = order[~mask[order]]
        return faces[order]


def _column(vdata, name: str) -> np.ndarray:
    """(V, 3) float64 of a vertex column (read once, at load)."""
    from panda3d.core import GeomVertexReader

    reader = GeomVertexReader(vdata, name)
    out = np.empty((vdata.getNumRows(), 3))
    for i in range(len(out)):
        v = reader.getData3()
        out[i] = (v[0], v[1], v[2])
    return out
