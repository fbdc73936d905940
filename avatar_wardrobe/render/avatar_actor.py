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

    def __init__(self, path: str | Path, skeleton: Skeleton, parent: NodePath | None = None):
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
        self.controls = []
        for name in skeleton.names:
            ctrl = self.actor.controlJoint(None, PART, name)
            if ctrl is None:
                raise WardrobeError(f"the avatar model has no joint '{name}' that Panda3D can drive.")
            self.controls.append(ctrl)
        self.set_hidden_faces(np.zeros(sum(len(f) for _p, f, _o in self._triangle_arrays()), bool))  # cache order

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
        """(primitive, original face indices, vertex-cache order) for each body triangle list, in glTF
        primitive order."""
        if self._triangles is None:
            from .dynamic_mesh import cache_order

            self._triangles = []
            for gn in self._body_geoms:
                node = gn.node()
                for gi in range(node.getNumGeoms()):
                    prim = node.modifyGeom(gi).modifyPrimitive(0)
                    prim = prim.decompose() if not prim.isIndexed() else prim
                    dtype = np.uint16 if prim.getIndexType() == GeomEnums.NT_uint16 else np.uint32
                    faces = np.frombuffer(prim.getVertices().getHandle().getData(), dtype).reshape(-1, 3).copy()
                    self._triangles.append((prim, faces, cache_order(faces)))
        return self._triangles

    def set_hidden_faces(self, hidden: np.ndarray) -> None:
        """Hide body triangles (mask over all triangles, in glTF primitive order); False shows them.
        The shown ones are written in vertex-cache order (a subset of a cache order keeps its reuse)."""
        start = 0
        for prim, faces, order in self._triangle_arrays():
            shown = order[~hidden[start:start + len(faces)][order]]
            keep = faces[shown]
            start += len(faces)
            handle = prim.modifyVertices()
            handle.uncleanSetNumRows(keep.size)
            handle.modifyHandle().copyDataFrom(np.ascontiguousarray(keep).ravel())

    def expose(self, name: str) -> NodePath:
        """A node that follows joint `name` (for attaching things and for tests)."""
        return self.actor.exposeJoint(None, PART, name)

    def remove(self) -> None:
        self.actor.cleanup()
        self.actor.removeNode()
