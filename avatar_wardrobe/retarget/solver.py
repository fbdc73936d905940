"""Retarget solver: MediaPipe world landmarks -> per-joint local rotations of any mapped rig (numpy).

Every rotation is found in world space as a delta on the joint's bind (rest) orientation, then
converted to the joint's local frame; so a rig's own bone axes never need per-rig flips.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..avatar.skeleton import Skeleton
from ..pose import landmarks as lm
from ..records import Landmarks, Pose
from ..transforms import axis_angle_matrix, frame_from_axes, matrix_to_quat, normalize, rotation_between, slerp_matrix
from .rigmap import SIDES, RigMap

UP = np.array([0.0, 1.0, 0.0])
NECK_SHARE = 0.5  # the neck takes this share of the head's turn relative to the chest
# Landmark pairs (start, end) that aim each limb bone, per side of the avatar.
LIMB_AIMS = {
    "upper_arm": ("shoulder", "elbow"),
    "lower_arm": ("elbow", "wrist"),
    "upper_leg": ("hip", "knee"),
    "lower_leg": ("knee", "ankle"),
    "foot": ("heel", "foot_index"),
}
# Which joint ends each aimed bone in the rig (its direction in the bind pose).
BONE_END = {"upper_arm": "lower_arm", "lower_arm": "hand", "upper_leg": "lower_leg",
            "lower_leg": "foot", "foot": "toes"}
SIDE_NAMES = {"l": "left", "r": "right"}
FOOT_ROLES = ("foot", "toes")


def _lm(points: np.ndarray, side: str, part: str) -> np.ndarray:
    return points[lm.INDEX[f"{SIDE_NAMES[side]}_{part}"]]


@dataclass
class RestFrame:
    """The bind pose measured once per skeleton: joint positions and world orientations."""

    positions: np.ndarray  # (J, 3)
    rotations: np.ndarray  # (J, 3, 3) world orientation of each joint
    body: np.ndarray       # (3, 3) body frame at rest: x = avatar's left, y = up, z = facing


class Solver:
    """Turns one Landmarks record into a Pose for one skeleton and rig map."""

    def __init__(self, skeleton: Skeleton, rig: RigMap):
        rig.check(skeleton.names)
        self.skeleton, self.rig = skeleton, rig
        self.j = {name: skeleton.index(name) for name in rig.all_joints()}
        world = skeleton.bind_world
        rot = world[:, :3, :3] / np.linalg.norm(world[:, :3, :3], axis=1, keepdims=True)
        pos = world[:, :3, 3]
        self.rest = RestFrame(pos, rot, frame_from_axes(self._rest_up(pos), self._rest_right(pos)))
        self._feet = [self.j[rig.limb(r, s)] for r in FOOT_ROLES for s in SIDES]

    # -- rest measurements -------------------------------------------------------------------
    def _mid(self, pos, role):
        return (pos[self.j[self.rig.limb(role, "l")]] + pos[self.j[self.rig.limb(role, "r")]]) / 2

    def _rest_up(self, pos):
        return self._mid(pos, "upper_arm") - self._mid(pos, "upper_leg")

    def _rest_right(self, pos):
        return pos[self.j[self.rig.limb("upper_leg", "l")]] - pos[self.j[self.rig.limb("upper_leg", "r")]]

    def _rest_dir(self, role: str, side: str) -> np.ndarray:
        p = self.rest.positions
        return normalize(p[self.j[self.rig.limb(BONE_END[role], side)]] - p[self.j[self.rig.limb(role, side)]])

    # -- solve -------------------------------------------------------------------------------
    def solve(self, marks: Landmarks) -> Pose:
        """Local rotations for every joint; the rest pose when nobody was tracked."""
        if not marks.found:
            return Pose(marks.index, marks.time_s, self.skeleton.rest_rotations())
        pts = lm.to_avatar_frame(marks.world)
        deltas: dict[int, np.ndarray] = {}
        hips = self._hips_delta(pts)
        chest = self._chest_delta(pts)
        deltas[self.j[self.rig.hips]] = hips
        n = len(self.rig.spine)
        for k, name in enumerate(self.rig.spine):
            deltas[self.j[name]] = slerp_matrix(hips, chest, (k + 1) / n)
        head = self._head_delta(pts)
        deltas[self.j[self.rig.neck]] = slerp_matrix(chest, head, NECK_SHARE)
        deltas[self.j[self.rig.head]] = head
        for side in SIDES:
            parent = chest
            for role in ("upper_arm", "lower_arm"):
                parent = deltas[self.j[self.rig.limb(role, side)]] = self._aim(pts, role, side, parent)
            parent = hips
            for role in ("upper_leg", "lower_leg", "foot"):
                parent = deltas[self.j[self.rig.limb(role, side)]] = self._aim(pts, role, side, parent)
        rotations = self._to_local(deltas)
        return Pose(marks.index, marks.time_s, matrix_to_quat(rotations), self._ground(rotations))

    def _hips_delta(self, pts):
        """Yaw of the hip line about the vertical."""
        hip_line = _lm(pts, "l", "hip") - _lm(pts, "r", "hip")
        rest_line = self.rest.body[:, 0]
        yaw = np.arctan2(hip_line[0], hip_line[2]) - np.arctan2(rest_line[0], rest_line[2])
        return axis_angle_matrix(UP, yaw)

    def _chest_delta(self, pts):
        """Full turn of the torso: up from mid-hip to mid-shoulder, side from the shoulder line."""
        mid_hip = (_lm(pts, "l", "hip") + _lm(pts, "r", "hip")) / 2
        mid_sh = (_lm(pts, "l", "shoulder") + _lm(pts, "r", "shoulder")) / 2
        target = frame_from_axes(mid_sh - mid_hip, _lm(pts, "l", "shoulder") - _lm(pts, "r", "shoulder"))
        return target @ self.rest.body.T

    def _head_delta(self, pts):
        """Head turn from the ear line (side) and the ear-to-eye direction (facing)."""
        mid_ear = (_lm(pts, "l", "ear") + _lm(pts, "r", "ear")) / 2
        mid_eye = (_lm(pts, "l", "eye") + _lm(pts, "r", "eye")) / 2
        right = _lm(pts, "l", "ear") - _lm(pts, "r", "ear")
        up = np.cross(mid_eye - mid_ear, right)
        return frame_from_axes(up, right) @ self.rest.body.T

    def _aim(self, pts, role, side, parent_delta):
        """Swing the bone from where its parent carried it onto the landmark direction."""
        start, end = LIMB_AIMS[role]
        target = _lm(pts, side, end) - _lm(pts, side, start)
        carried = parent_delta @ self._rest_dir(role, side)
        return rotation_between(carried, target) @ parent_delta

    def _to_local(self, deltas: dict[int, np.ndarray]) -> np.ndarray:
        """World deltas -> local rotation matrices; unsolved joints keep their parent's delta."""
        sk = self.skeleton
        world_delta = np.empty((len(sk), 3, 3))
        local = np.empty((len(sk), 3, 3))
        for j, p in enumerate(sk.parents):
            world_delta[j] = deltas.get(j, world_delta[p] if p >= 0 else np.eye(3))
            w = world_delta[j] @ self.rest.rotations[j]
            wp = world_delta[p] @ self.rest.rotations[p] if p >= 0 else np.eye(3)
            local[j] = wp.T @ w if p >= 0 else w
        return local

    def _ground(self, rotations: np.ndarray) -> np.ndarray:
        """Root offset that keeps the lowest foot joint at its rest height (feet on the floor)."""
        posed = self.skeleton.positions(rotations)
        drop = self.rest.positions[self._feet, 1].min() - posed[self._feet, 1].min()
        return drop * UP
