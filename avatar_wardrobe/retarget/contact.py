"""Ground contact over time: the lowest foot on the floor, and a planted foot locked in place (root travel).

The solver already lifts or drops the root so the lowest foot joint rests at its bind height;
this object adds the horizontal part: while a foot is planted its floor position is held, and the
root moves so that the foot stays there. Feet plant when they come within PLANT_HEIGHT_M of the
floor and release above RELEASE_HEIGHT_M (hysteresis, so a foot resting on the floor does not
flicker between states).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..avatar.skeleton import Skeleton
from .rigmap import SIDES, RigMap

PLANT_HEIGHT_M = 0.03     # a foot joint this close to its rest height counts as on the floor
RELEASE_HEIGHT_M = 0.06   # and leaves the floor above this
FOOT_ROLES = ("foot", "toes")


@dataclass
class FootContact:
    """Per-frame planted-foot lock for one skeleton; call `update` once per frame, `reset` per clip."""

    skeleton: Skeleton
    rig: RigMap
    up: np.ndarray
    plant_height_m: float = PLANT_HEIGHT_M
    release_height_m: float = RELEASE_HEIGHT_M
    root_travel: np.ndarray = field(default_factory=lambda: np.zeros(3))
    anchors: dict[str, np.ndarray] = field(default_factory=dict)  # side -> locked floor point
    anchor_joint: dict[str, int] = field(default_factory=dict)    # side -> the joint held there
    planted: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self):
        self.up = np.asarray(self.up, dtype=np.float64)
        self._joints = {s: [self.skeleton.index(self.rig.limb(r, s)) for r in FOOT_ROLES if self.rig.has(r, s)]
                        for s in SIDES}
        rest = self.skeleton.bind_world[:, :3, 3] @ self.up
        self._rest_height = {s: rest[j] for s, j in self._joints.items()}

    def reset(self) -> None:
        self.root_travel = np.zeros(3)
        self.anchors.clear()
        self.anchor_joint.clear()
        self.planted.clear()

    def _flat(self, v: np.ndarray) -> np.ndarray:
        return v - np.dot(v, self.up) * self.up

    def update(self, rotations: np.ndarray, root_offset: np.ndarray, posed: np.ndarray | None = None) -> np.ndarray:
        """The root offset for this frame: `root_offset` (the solver's vertical grounding) plus the
        horizontal travel that keeps planted feet where they were put down. `posed`: the joints'
        world positions for these rotations and root offset, when the caller has them."""
        if posed is None:
            posed = self.skeleton.positions(rotations, root_offset)
        wanted = []
        for s, joints in self._joints.items():
            lift = posed[joints] @ self.up - self._rest_height[s]
            k = int(np.argmin(lift))
            was = self.planted.get(s, False)
            now = bool(lift[k] < (self.release_height_m if was else self.plant_height_m))
            if now and not was:  # put down: remember which joint touched, and where in the world
                self.anchor_joint[s] = joints[k]
                self.anchors[s] = self._flat(posed[joints[k]]) + self.root_travel
            self.planted[s] = now
            if now:
                wanted.append(self.anchors[s] - self._flat(posed[self.anchor_joint[s]]))
        if wanted:
            self.root_travel = self._flat(np.mean(wanted, axis=0))
        return np.asarray(root_offset, dtype=np.float64) + self.root_travel

    def foot_positions(self, rotations: np.ndarray, root_offset: np.ndarray) -> dict[str, np.ndarray]:
        """World floor points of each foot's lowest joint (for measuring sliding)."""
        posed = self.skeleton.positions(rotations, root_offset)
        out = {}
        for s, joints in self._joints.items():
            k = int(np.argmin(posed[joints] @ self.up - self._rest_height[s]))
            out[s] = posed[joints[k]]
        return out


def foot_sliding(skeleton: Skeleton, rig: RigMap, up: np.ndarray, poses) -> np.ndarray:
    """Per-frame floor travel (metres) of each foot that is on the floor (within PLANT_HEIGHT_M of
    its rest height) in two consecutive frames: the planted-foot sliding a viewer sees."""
    up = np.asarray(up, dtype=np.float64)
    joints = {s: [skeleton.index(rig.limb(r, s)) for r in FOOT_ROLES if rig.has(r, s)] for s in SIDES}
    rest = skeleton.bind_world[:, :3, 3] @ up
    slides, last = [], {}
    for pose in poses:
        posed = skeleton.positions(pose.local_rotations, pose.root_offset)
        for s, js in joints.items():
            lift = posed[js] @ up - rest[js]
            k = int(np.argmin(lift))
            point = posed[js[k]] - (posed[js[k]] @ up) * up
            low = lift[k] < PLANT_HEIGHT_M
            prev = last.get(s)
            if low and prev is not None and prev[0] and prev[1] == js[k]:
                slides.append(float(np.linalg.norm(point - prev[2])))
            last[s] = (low, js[k], point)
    return np.array(slides)
