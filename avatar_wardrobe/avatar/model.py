"""An avatar on the numpy side: its glTF file, skeleton, rig map and retarget solver."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import gltf_io
from ..retarget.rigmap import RigMap, resolve
from ..retarget.solver import Solver
from .body import BodyMesh
from .skeleton import Skeleton


@dataclass
class AvatarModel:
    path: Path
    skeleton: Skeleton
    rig: RigMap
    solver: Solver
    _body: BodyMesh | None = field(default=None, repr=False)

    @property
    def body(self) -> BodyMesh:
        """The skinned body mesh (read on first use)."""
        if self._body is None:
            self._body = BodyMesh.from_gltf(self.path, self.skeleton)
        return self._body

    @property
    def height_m(self) -> float:
        """Standing height estimate: the top joint's height at rest (head joint) scaled to the crown."""
        pos = self.skeleton.bind_world[:, :3, 3]
        return float(pos[:, 1].max() - min(0.0, pos[:, 1].min())) * HEAD_TOP_FACTOR


HEAD_TOP_FACTOR = 1.08  # the crown sits above the highest joint (the head joint) by about this much


def load_avatar(path: str | Path, rig: str = "auto") -> AvatarModel:
    """Load an avatar's skeleton and pick its rig map: "auto" reads a VRM humanoid or detects the map
    from the joint names; else a map name, a rigs/<name>.toml name or a .toml path (retarget.rigmap)."""
    path = Path(path)
    skeleton = Skeleton.from_gltf(path)
    rig_map = resolve(rig, skeleton.names, gltf_io.raw_json(gltf_io.load(path)))
    return AvatarModel(path, skeleton, rig_map, Solver(skeleton, rig_map))
