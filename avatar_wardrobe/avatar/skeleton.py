"""The avatar's joint hierarchy, bind pose and forward kinematics, in numpy (glTF frame, metres)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .. import gltf_io
from ..errors import WardrobeError
from ..transforms import matrix_to_quat, quat_to_matrix


@dataclass
class Skeleton:
    """Joints in parent-before-child order, with the bind pose split into local T, R, S.

    World matrices are column-vector 4x4 in the skinned mesh's space (glTF axes: +Y up).
    """

    names: list[str]
    parents: np.ndarray          # (J,) parent index, -1 for a root
    bind_world: np.ndarray       # (J, 4, 4)
    bind_translation: np.ndarray  # (J, 3) local
    bind_rotation: np.ndarray    # (J, 4) local quaternion w, x, y, z
    bind_scale: np.ndarray       # (J, 3) local

    @classmethod
    def from_bind_world(cls, names, parents, bind_world) -> "Skeleton":
        parents = np.asarray(parents, dtype=np.int64)
        for j, p in enumerate(parents):
            if p >= j:
                raise WardrobeError("skeleton joints must list each parent before its children.")
        local = np.empty_like(bind_world)
        for j, p in enumerate(parents):
            local[j] = bind_world[j] if p < 0 else np.linalg.solve(bind_world[p], bind_world[j])
        lin = local[:, :3, :3]
        scale = np.linalg.norm(lin, axis=1)
        rot = lin / np.maximum(scale[:, None, :], 1e-12)
        return cls(list(names), parents, np.asarray(bind_world, dtype=np.float64), local[:, :3, 3].copy(),
                   matrix_to_quat(rot), scale)

    @classmethod
    def from_gltf(cls, path: str | Path, skin_index: int = 0) -> "Skeleton":
        skin = gltf_io.read_skin(gltf_io.validate(path), skin_index)
        return cls.from_bind_world(skin.joint_names, skin.parents, skin.bind_world)

    def __len__(self) -> int:
        return len(self.names)

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise WardrobeError(f"the avatar has no joint named '{name}': check the rig map for this avatar.") from None

    def children(self, j: int) -> list[int]:
        return [int(c) for c in np.flatnonzero(self.parents == j)]

    def rest_rotations(self) -> np.ndarray:
        """Local rotations of the bind pose, (J, 4)."""
        return self.bind_rotation.copy()

    def local_matrices(self, rotations: np.ndarray, root_offset=None) -> np.ndarray:
        """(J, 4, 4) local matrices T * R * S with R from `rotations` ((J, 4) quats or (J, 3, 3))."""
        rot = np.asarray(rotations, dtype=np.float64)
        rmat = rot if rot.ndim == 3 else quat_to_matrix(rot)
        local = np.zeros((len(self), 4, 4))
        local[:, :3, :3] = rmat * self.bind_scale[:, None, :]
        local[:, :3, 3] = self.bind_translation
        local[:, 3, 3] = 1.0
        if root_offset is not None:
            local[self.parents < 0, :3, 3] += np.asarray(root_offset, dtype=np.float64)
        return local

    def forward(self, rotations: np.ndarray, root_offset=None) -> np.ndarray:
        """World matrices (J, 4, 4) for local rotations, roots placed at bind + root_offset."""
        local = self.local_matrices(rotations, root_offset)
        world = np.empty_like(local)
        for joints, parents in self._levels:  # a level at a time (the same products as joint by joint)
            world[joints] = local[joints] if parents is None else np.matmul(world[parents], local[joints])
        return world

    @cached_property
    def _levels(self) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """(joints, their parents) at each depth of the tree, roots first (parents None)."""
        depth = np.zeros(len(self.parents), dtype=np.int64)
        for j, p in enumerate(self.parents):
            depth[j] = 0 if p < 0 else depth[p] + 1
        levels = [np.flatnonzero(depth == d) for d in range(int(depth.max()) + 1)]
        return [(joints, None if d == 0 else np.asarray(self.parents)[joints]) for d, joints in enumerate(levels)]

    def positions(self, rotations: np.ndarray, root_offset=None) -> np.ndarray:
        """World joint positions (J, 3)."""
        return self.forward(rotations, root_offset)[:, :3, 3]
