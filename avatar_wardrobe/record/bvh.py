"""Export solved poses as BVH (Biovision hierarchy + motion), and a small BVH reader for round trips.

BVH joints have no rest rotation: at zero angles every joint frame is aligned with the world. So the
HIERARCHY holds each joint's bind offset from its parent in world axes, and a frame's angles are
each joint's world turn away from the bind pose, relative to its parent's. World axes are the
avatar's canonical ones (Y up, the avatar facing +Z, its left +X), whatever the rig's own axes;
lengths are in centimetres (BVH_UNITS_PER_METRE). Channels: the root has Xposition Yposition
Zposition, every joint Zrotation Xrotation Yrotation (R = Rz @ Rx @ Ry), in degrees.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..avatar.skeleton import Skeleton
from ..errors import WardrobeError
from ..retarget.geometry import matrices_to_quats
from .gltf_anim import JointAnimation

BVH_UNITS_PER_METRE = 100.0  # centimetres, what most BVH tools (Blender, MotionBuilder) expect
ROTATION_CHANNELS = ("Zrotation", "Xrotation", "Yrotation")
POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
DECIMALS = 6
END_SITE_SHARE = 0.5  # a leaf's end site continues its bone by this share of the bone's length
INDENT = "  "


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def euler_zxy(m: np.ndarray) -> tuple[float, float, float]:
    """(z, x, y) radians with m = Rz(z) @ Rx(x) @ Ry(y)."""
    sx = max(-1.0, min(1.0, float(m[2, 1])))
    x = math.asin(sx)
    if abs(sx) < 1.0 - 1e-9:
        z = math.atan2(-m[0, 1], m[1, 1])
        y = math.atan2(-m[2, 0], m[2, 2])
    else:  # gimbal lock: put the whole turn about the (shared) vertical axis into z
        z = math.atan2(m[1, 0], m[0, 0])
        y = 0.0
    return z, x, y


def from_euler_zxy(z: float, x: float, y: float) -> np.ndarray:
    return _rz(z) @ _rx(x) @ _ry(y)


def _bvh_names(names: list[str]) -> list[str]:
    """Joint names BVH readers accept (no spaces), kept unique."""
    out, seen = [], set()
    for name in names:
        clean = re.sub(r"\s+", "_", name.strip()) or "joint"
        base, k = clean, 1
        while clean in seen:
            k += 1
            clean = f"{base}_{k}"
        seen.add(clean)
        out.append(clean)
    return out


class _Frames:
    """The skeleton's bind pose and posed frames in canonical axes (Y up, facing +Z)."""

    def __init__(self, skeleton: Skeleton, body: np.ndarray):
        self.skeleton = skeleton
        self.to_canon = np.asarray(body, dtype=np.float64).T  # rig space -> canonical
        bind = skeleton.bind_world
        self.rest_rot = bind[:, :3, :3] / np.linalg.norm(bind[:, :3, :3], axis=1, keepdims=True)
        self.rest_pos = bind[:, :3, 3] @ self.to_canon.T

    def turns(self, rotations: np.ndarray, root_offset: np.ndarray):
        """World turns away from the bind pose per joint (canonical axes) and joint positions."""
        world = self.skeleton.forward(rotations, root_offset)
        rot = world[:, :3, :3] / np.linalg.norm(world[:, :3, :3], axis=1, keepdims=True)
        turn = rot @ self.rest_rot.transpose(0, 2, 1)
        b = self.to_canon
        return b @ turn @ b.T, world[:, :3, 3] @ b.T


def write_bvh(skeleton: Skeleton, body: np.ndarray, animation: JointAnimation, out: str | Path) -> Path:
    """Write `out` (.bvh). `body` is the rig's rest body frame (Solver.rest.body: columns its left,
    up and facing directions) so the file is Y-up whatever the rig's axes."""
    frames = _Frames(skeleton, body)
    names = _bvh_names(skeleton.names)
    u = BVH_UNITS_PER_METRE
    lines = ["HIERARCHY"]
    parents = skeleton.parents
    order: list[int] = []

    def emit(j: int, depth: int) -> None:
        order.append(j)
        pad = INDENT * depth
        p = parents[j]
        offset = frames.rest_pos[j] - (frames.rest_pos[p] if p >= 0 else 0.0)
        kind = "ROOT" if p < 0 else "JOINT"
        channels = (POSITION_CHANNELS + ROTATION_CHANNELS) if p < 0 else ROTATION_CHANNELS
        lines.append(f"{pad}{kind} {names[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}{INDENT}OFFSET " + " ".join(f"{v * u:.{DECIMALS}f}" for v in offset))
        lines.append(f"{pad}{INDENT}CHANNELS {len(channels)} " + " ".join(channels))
        kids = skeleton.children(j)
        for c in kids:
            emit(c, depth + 1)
        if not kids:
            tip = (frames.rest_pos[j] - frames.rest_pos[p]) * END_SITE_SHARE if p >= 0 else np.array([0, 0.1, 0])
            lines.append(f"{pad}{INDENT}End Site")
            lines.append(f"{pad}{INDENT}{{")
            lines.append(f"{pad}{INDENT * 2}OFFSET " + " ".join(f"{v * u:.{DECIMALS}f}" for v in tip))
            lines.append(f"{pad}{INDENT}}}")
        lines.append(f"{pad}}}")

    roots = [int(j) for j in np.flatnonzero(parents < 0)]
    if len(roots) != 1:
        raise WardrobeError(f"BVH needs one root joint; this skeleton has {len(roots)}.")
    emit(roots[0], 0)
    times = np.asarray(animation.times_s, dtype=np.float64)
    frame_time = float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / 30.0
    lines += ["MOTION", f"Frames: {len(times)}", f"Frame Time: {frame_time:.6f}"]
    for t in range(len(times)):
        turn, pos = frames.turns(animation.local_rotations[t], animation.root_offsets[t])
        values = list(pos[roots[0]] * u)
        for j in order:
            p = parents[j]
            local = turn[j] if p < 0 else turn[p].T @ turn[j]
            values += [math.degrees(a) for a in euler_zxy(local)]
        lines.append(" ".join(f"{v:.{DECIMALS}f}" for v in values))
    out = Path(out)
    try:
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise WardrobeError(f"cannot write {out} ({exc.strerror}): choose a writable path.") from None
    return out


@dataclass
class BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str] = field(default_factory=list)


@dataclass
class Bvh:
    """A parsed BVH file: joints in file order, the frame time and the channel values per frame."""

    joints: list[BvhJoint]
    frame_time: float
    values: np.ndarray  # (frames, channels)

    def joint_rotations(self) -> np.ndarray:
        """(frames, joints, 3, 3) local rotations from the rotation channels (any order)."""
        out = np.empty((len(self.values), len(self.joints), 3, 3))
        axes = {"X": _rx, "Y": _ry, "Z": _rz}
        col = 0
        for j, joint in enumerate(self.joints):
            mats = np.tile(np.eye(3), (len(self.values), 1, 1))
            for ch in joint.channels:
                if ch.endswith("rotation"):
                    fn = axes[ch[0]]
                    mats = np.array([m @ fn(math.radians(v)) for m, v in zip(mats, self.values[:, col])])
                col += 1
            out[:, j] = mats
        return out

    def root_positions(self) -> np.ndarray:
        root = self.joints[0]
        idx = [root.channels.index(c) for c in POSITION_CHANNELS]
        return self.values[:, idx]


def read_bvh(path: str | Path) -> Bvh:
    """Parse a BVH file (HIERARCHY with ROOT/JOINT/End Site, then MOTION)."""
    tokens = Path(path).read_text(encoding="utf-8").split()
    pos = 0

    def take(expected: str | None = None) -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise WardrobeError(f"{Path(path).name}: the BVH file ends early.")
        tok = tokens[pos]
        pos += 1
        if expected is not None and tok != expected:
            raise WardrobeError(f"{Path(path).name}: expected '{expected}' in the BVH file, found '{tok}'.")
        return tok

    joints: list[BvhJoint] = []

    def joint(parent: int) -> None:
        name = take()
        take("{")
        take("OFFSET")
        offset = np.array([float(take()) for _ in range(3)])
        me = len(joints)
        joints.append(BvhJoint(name, parent, offset))
        while True:
            tok = take()
            if tok == "CHANNELS":
                joints[me].channels = [take() for _ in range(int(take()))]
            elif tok in ("JOINT",):
                joint(me)
            elif tok == "End":
                take("Site")
                take("{")
                take("OFFSET")
                for _ in range(3):
                    take()
                take("}")
            elif tok == "}":
                return
            else:
                raise WardrobeError(f"{Path(path).name}: unexpected '{tok}' in the BVH hierarchy.")

    take("HIERARCHY")
    take("ROOT")
    joint(-1)
    take("MOTION")
    take("Frames:")
    count = int(take())
    take("Frame")
    take("Time:")
    frame_time = float(take())
    width = sum(len(j.channels) for j in joints)
    values = np.array([float(t) for t in tokens[pos:pos + count * width]]).reshape(count, width)
    return Bvh(joints, frame_time, values)


def bvh_to_animation(bvh: Bvh, skeleton: Skeleton, body: np.ndarray) -> JointAnimation:
    """A parsed BVH (written by write_bvh for this skeleton) back in the numpy skeleton's terms."""
    frames = _Frames(skeleton, body)
    names = _bvh_names(skeleton.names)
    index = {j.name: k for k, j in enumerate(bvh.joints)}
    local = bvh.joint_rotations()
    b = frames.to_canon
    rotations = np.empty((len(bvh.values), len(skeleton), 4))
    offsets = np.empty((len(bvh.values), 3))
    root = int(np.flatnonzero(skeleton.parents < 0)[0])
    for f in range(len(bvh.values)):
        turn = np.empty((len(skeleton), 3, 3))
        for j, p in enumerate(skeleton.parents):
            q = local[f, index[names[j]]]
            turn[j] = q if p < 0 else turn[p] @ q
        rig_turn = b.T @ turn @ b
        world = rig_turn @ frames.rest_rot
        loc = np.array([world[j] if p < 0 else world[p].T @ world[j] for j, p in enumerate(skeleton.parents)])
        rotations[f] = matrices_to_quats(loc)
        root_pos = b.T @ (bvh.root_positions()[f] / BVH_UNITS_PER_METRE)
        offsets[f] = root_pos - skeleton.bind_world[root, :3, 3]
    times = np.arange(len(bvh.values)) * bvh.frame_time
    return JointAnimation(times, rotations, offsets)


def rotation_errors_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles (degrees) between matching unit quaternions (..., 4)."""
    dot = np.abs(np.sum(np.asarray(a) * np.asarray(b), axis=-1)).clip(0.0, 1.0)
    return np.degrees(2 * np.arccos(dot))
