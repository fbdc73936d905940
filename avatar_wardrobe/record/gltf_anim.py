"""Export solved poses as a glTF animation: the avatar's .glb with one more clip (and read it back).

The avatar's JSON and buffers are copied as they are (every buffer merged into the one GLB BIN
chunk) and an animation is appended: a rotation channel per skeleton joint and a translation
channel per root joint, LINEAR samplers on one shared key-time accessor. The poses are given in the
numpy skeleton's terms (skin space, see avatar.skeleton); each key is turned into the joint node's
own local transform, so the clip plays the same in any glTF viewer (Blender, three.js, Panda3D).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import gltf_io
from ..avatar.skeleton import Skeleton
from ..errors import WardrobeError
from ..glb_writer import FLOAT, GlbWriter
from ..retarget.geometry import matrices_to_quats
from ..transforms import quat_to_matrix

ANIMATION_NAME = "avatar_wardrobe_capture"
# A non-root joint gets a translation channel only when its posed offset from its parent differs
# from the file's node translation by more than this (a skin whose bind pose disagrees with its nodes).
TRANSLATION_TOLERANCE_M = 1e-4
STEADY_RATE_TOLERANCE_S = 1e-3  # frame times this close to a steady grid are snapped onto it
GENERATOR = "avatar_wardrobe gltf_anim"


@dataclass
class JointAnimation:
    """Poses over time in the numpy skeleton's terms (what the solver outputs)."""

    times_s: np.ndarray          # (T,) strictly increasing, from 0
    local_rotations: np.ndarray  # (T, J, 4) w, x, y, z
    root_offsets: np.ndarray     # (T, 3)


def _trs_matrix(node: dict) -> np.ndarray:
    if node.get("matrix") is not None:
        return np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T
    m = np.eye(4)
    x, y, z, w = node.get("rotation", (0.0, 0.0, 0.0, 1.0))
    m[:3, :3] = quat_to_matrix(np.array([w, x, y, z], dtype=np.float64)) * np.asarray(node.get("scale", (1, 1, 1)))
    m[:3, 3] = node.get("translation", (0.0, 0.0, 0.0))
    return m


def _decompose(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 4, 4) -> translations (N, 3), quaternions (N, 4) w, x, y, z, scales (N, 3)."""
    lin = m[:, :3, :3]
    scale = np.linalg.norm(lin, axis=1)
    det = np.sign(np.linalg.det(lin))
    scale[:, 0] *= det  # a mirror goes into the scale, never into the rotation
    rot = lin / scale[:, None, :]
    return m[:, :3, 3].copy(), matrices_to_quats(rot), scale


class _Rig:
    """How the skeleton's skin-space joints map onto the file's nodes."""

    def __init__(self, raw: dict, skeleton: Skeleton, skin_index: int = 0):
        nodes = raw.get("nodes") or []
        skins = raw.get("skins") or []
        if not 0 <= skin_index < len(skins):
            raise WardrobeError("the avatar has no skin to animate: export it with its armature.")
        joint_nodes = skins[skin_index]["joints"]
        by_name = {nodes[n].get("name") or f"joint{n}": n for n in joint_nodes}
        missing = [name for name in skeleton.names if name not in by_name]
        if missing:
            raise WardrobeError(f"the skeleton's joints {missing[:3]} are not in the avatar file: export with "
                                "the same avatar the motion was solved for.")
        self.node_of = np.array([by_name[name] for name in skeleton.names])
        self.parent_node = {c: i for i, n in enumerate(nodes) for c in n.get("children", [])}
        self.rest_local = {i: _trs_matrix(n) for i, n in enumerate(nodes)}
        self._world: dict[int, np.ndarray] = {}
        self.rest_world = {i: self._world_of(i) for i in range(len(nodes))}
        joint_index = {int(n): j for j, n in enumerate(self.node_of)}
        # For each joint: its parent joint (when the parent node is one) or the static parent world.
        self.parent_joint = np.array([joint_index.get(self.parent_node.get(int(n)), -1) for n in self.node_of])
        self.static_parent = [np.eye(4) if self.parent_node.get(int(n)) is None
                              else self.rest_world[self.parent_node[int(n)]] for n in self.node_of]
        # Skin space -> glTF world, from the first joint: its node world times its inverse bind matrix.
        root = int(np.flatnonzero(skeleton.parents < 0)[0])
        self.skin_to_world = self.rest_world[int(self.node_of[root])] @ np.linalg.inv(skeleton.bind_world[root])

    def _world_of(self, i: int) -> np.ndarray:
        if i not in self._world:
            p = self.parent_node.get(i)
            self._world[i] = self.rest_local[i] if p is None else self._world_of(p) @ self.rest_local[i]
        return self._world[i]

    def node_locals(self, skin_world: np.ndarray) -> np.ndarray:
        """(J, 4, 4) skin-space joint worlds -> each joint node's local matrix."""
        node_world = self.skin_to_world @ skin_world
        out = np.empty_like(node_world)
        for j, p in enumerate(self.parent_joint):
            parent = node_world[p] if p >= 0 else self.static_parent[j]
            out[j] = np.linalg.solve(parent, node_world[j])
        return out


def write_gltf_animation(avatar_path: str | Path, skeleton: Skeleton, animation: JointAnimation,
                         out: str | Path, name: str = ANIMATION_NAME) -> Path:
    """Write `out` (.glb): the avatar file plus `animation` as a clip named `name`."""
    times = np.asarray(animation.times_s, dtype=np.float64)
    if len(times) < 1 or np.any(np.diff(times) <= 0):
        raise WardrobeError("an animation needs at least one frame and strictly increasing frame times.")
    doc = gltf_io.load(avatar_path)
    raw = copy.deepcopy(gltf_io.raw_json(doc))
    rig = _Rig(raw, skeleton)
    rot = np.asarray(animation.local_rotations, dtype=np.float64)
    offsets = np.asarray(animation.root_offsets, dtype=np.float64)
    locals_ = np.array([rig.node_locals(skeleton.forward(rot[t], offsets[t])) for t in range(len(times))])
    trans, quats, _ = _decompose(locals_.reshape(-1, 4, 4))
    trans, quats = trans.reshape(len(times), -1, 3), quats.reshape(len(times), -1, 4)
    quats = _continuous(quats)

    writer = GlbWriter(GENERATOR)
    writer.gltf = {k: v for k, v in raw.items() if k not in ("buffers", "bufferViews", "accessors")}
    writer.gltf["asset"] = {**raw.get("asset", {}), "generator": GENERATOR}
    writer.gltf["bufferViews"], writer.gltf["accessors"] = [], copy.deepcopy(raw.get("accessors", []))
    starts = []
    for data in doc.buffers:  # merge every buffer into the one BIN chunk
        writer.blob += b"\0" * (-len(writer.blob) % 4)
        starts.append(len(writer.blob))
        writer.blob += data
    for view in raw.get("bufferViews", []):
        view = dict(view)
        view["byteOffset"] = starts[view.get("buffer", 0)] + view.get("byteOffset", 0)
        view["buffer"] = 0
        writer.gltf["bufferViews"].append(view)
    for node in set(rig.node_of.tolist()):  # animated nodes must use TRS, not a matrix
        n = writer.gltf["nodes"][node]
        if n.get("matrix") is not None:
            t, q, s = _decompose(_trs_matrix(n)[None])
            del n["matrix"]
            n.update(translation=t[0].tolist(), rotation=q[0, [1, 2, 3, 0]].tolist(), scale=s[0].tolist())

    key_times = writer.accessor(key_times_s(times).astype(np.float32)[:, None], FLOAT, "SCALAR", bounds=True)
    samplers, channels = [], []
    for j, node in enumerate(rig.node_of.tolist()):
        xyzw = quats[:, j][:, [1, 2, 3, 0]].astype(np.float32)
        samplers.append({"input": key_times, "output": writer.accessor(xyzw, FLOAT, "VEC4"), "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": "rotation"}})
        rest_t = np.asarray(writer.gltf["nodes"][node].get("translation", (0.0, 0.0, 0.0)))
        if rig.parent_joint[j] < 0 or np.abs(trans[:, j] - rest_t).max() > TRANSLATION_TOLERANCE_M:
            samplers.append({"input": key_times, "output": writer.accessor(trans[:, j].astype(np.float32), FLOAT, "VEC3"),
                             "interpolation": "LINEAR"})
            channels.append({"sampler": len(samplers) - 1, "target": {"node": node, "path": "translation"}})
    writer.gltf["animations"] = [*raw.get("animations", []), {"name": name, "samplers": samplers, "channels": channels}]
    for image in writer.gltf.get("images", []):
        if "uri" in image and not str(image["uri"]).startswith("data:"):
            raise WardrobeError("the avatar's textures are separate files; export from a .glb avatar.")
    out = Path(out)
    try:
        out.write_bytes(writer.glb())
    except OSError as exc:
        raise WardrobeError(f"cannot write {out} ({exc.strerror}): choose a writable path.") from None
    return out


def key_times_s(times: np.ndarray) -> np.ndarray:
    """Key times from 0; a clip sampled at a steady rate (up to the recording's rounding) is put on
    an exact grid, so players that step through keys by frame number land on each key."""
    t = np.asarray(times, dtype=np.float64) - times[0]
    if len(t) > 2:
        step = float(np.median(np.diff(t)))
        grid = np.arange(len(t)) * step
        if step > 0 and np.abs(t - grid).max() < STEADY_RATE_TOLERANCE_S:
            return grid
    return t


def _continuous(quats: np.ndarray) -> np.ndarray:
    """Flip signs so consecutive keys take the short way round (LINEAR interpolates componentwise)."""
    quats = quats.copy()
    for t in range(1, len(quats)):
        flip = np.sum(quats[t] * quats[t - 1], axis=1) < 0
        quats[t, flip] *= -1
    return quats


def read_gltf_animation(path: str | Path, skeleton: Skeleton, name: str = ANIMATION_NAME) -> JointAnimation:
    """The clip `name` of a .glb read back in the numpy skeleton's terms (for round-trip checks)."""
    doc = gltf_io.validate(path)
    raw = gltf_io.raw_json(doc)
    anims = [a for a in raw.get("animations", []) if a.get("name") == name]
    if not anims:
        raise WardrobeError(f"{Path(path).name} has no animation named '{name}'.")
    anim = anims[0]
    rig = _Rig(raw, skeleton)
    times = None
    keys: dict[tuple[int, str], np.ndarray] = {}
    for channel in anim["channels"]:
        sampler = anim["samplers"][channel["sampler"]]
        t = gltf_io.read_accessor(doc, sampler["input"])[:, 0].astype(np.float64)
        times = t if times is None else times
        keys[(channel["target"]["node"], channel["target"]["path"])] = gltf_io.read_accessor(
            doc, sampler["output"]).astype(np.float64)
    frames = len(times)
    node_local = np.empty((frames, len(skeleton), 4, 4))
    for j, node in enumerate(rig.node_of.tolist()):
        rest = raw["nodes"][node]
        t_rest = np.asarray(rest.get("translation", (0, 0, 0)), dtype=np.float64)
        s = np.asarray(rest.get("scale", (1, 1, 1)), dtype=np.float64)
        q = keys.get((node, "rotation"))
        w = np.tile(np.asarray(rest.get("rotation", (0, 0, 0, 1)), dtype=np.float64), (frames, 1)) if q is None else q
        tr = keys.get((node, "translation"), np.tile(t_rest, (frames, 1)))
        m = np.zeros((frames, 4, 4))
        m[:, :3, :3] = quat_to_matrix(w[:, [3, 0, 1, 2]]) * s
        m[:, :3, 3] = tr
        m[:, 3, 3] = 1
        node_local[:, j] = m
    to_skin = np.linalg.inv(rig.skin_to_world)
    rotations = np.empty((frames, len(skeleton), 4))
    offsets = np.empty((frames, 3))
    for f in range(frames):
        node_world = np.empty((len(skeleton), 4, 4))
        for j, p in enumerate(rig.parent_joint):
            parent = node_world[p] if p >= 0 else rig.static_parent[j]
            node_world[j] = parent @ node_local[f, j]
        skin_world = to_skin @ node_world
        local = np.array([skin_world[j] if p < 0 else np.linalg.solve(skin_world[p], skin_world[j])
                          for j, p in enumerate(skeleton.parents)])
        rotations[f] = matrices_to_quats(local[:, :3, :3] / skeleton.bind_scale[:, None, :])
        root = int(np.flatnonzero(skeleton.parents < 0)[0])
        offsets[f] = local[root, :3, 3] - skeleton.bind_translation[root]
    return JointAnimation(times, rotations, offsets)
