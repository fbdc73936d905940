"""GarmentSim: one garment's cloth on the moving avatar: settle, substeps, skinned/simulated blend, jumps, faults.

The final vertex is, as in Unreal's Chaos cloth, the skinned position plus the simulated
offset clamped to the vertex's max distance (0 = skinned), with a backstop that keeps it from
going inside its skinned place by more than its rest gap to the body. The physics lives in
`cloth/bullet.py`; this module only sees numpy.

PyBullet gets only the loose part of the sim mesh (max distance above TIGHT_MAX_DISTANCE_M) and
RING_ROWS rows of tight nodes around it, anchored: the other tight nodes are skinned (their max
distance would clamp any simulation away). Each connected piece is its own soft body. Each
anchored node has its own frame body skinned with its own weights (or small groups share one:
`anchor_group_nodes`), so it is held on its skinned place. Measured on the bundled motion (one
process, tradeoff_1k of docs/bench/cloth.json as of commit 68936a1, before the levers below): shipped tshirt_M 1,200 sim
nodes -> 676 simulated, physics 9.7 -> 6.0 ms/frame; trousers_M -> 534, 10.8 -> 5.3 ms; the
procedural shirt 1,000 -> 782, 7.3 -> 7.0 ms.

The sim nodes shown (ClothState.sim_positions: the strain map, the stretch measure, the render
mesh's ride) are PyBullet's clamped to each node's max distance, so the anchored ring, which sags
and lags its frames by 0.5-2 cm, sits on its skinned place, and then stretch-limited (`_shape`).
PyBullet's own nodes still drive fault checks and the anchor drift measure.

What was measured and tried, lever by lever (kept or not, with numbers), is in
docs/cloth_levers.md.

`ClothSettings(skin_tight=False)` simulates the whole sim mesh (size advice does: it drapes).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.spatial import cKDTree

from ..avatar.proxies import CAPSULE, BodyProxies, ProxyPose, angular_velocity
from ..errors import WardrobeError
from ..garments.garment import Garment, SimMesh
from ..transforms import matrix_to_quat, nlerp_quats, quat_to_matrix
from . import kernels
from .bullet import DEFORMABLE_CLOTH, DEFORMABLE_MASS_KG, ClothWorld
from .host import PhysicsHost, RemoteWorld
from .collide import LIMB_ROLES, BodyBackstop, LimbSkin, PushOut
from ..mesh_topology import components, face_edges, unique_edges
from .embedding import PIN_THRESHOLD, Embedding, build_sim_mesh
from .fabrics import Fabric, fabric as get_fabric
from .skin import Normals, SparseSkin, body_gap, kernel_matrices, top_influences, transfer_weights

# -- fault detection (checked every frame) ------------------------------------------------------
FAULT_SPEED_M_S = 25.0       # any node moving this fast relative to its skinned place
FAULT_ENERGY_J_KG = 8.0      # mean kinetic energy per kg of the motion relative to the skin
FAULT_STRETCH = 3.0          # any sim edge longer than this times its rest length
FAULT_DRIFT_M = 0.5          # any node this far beyond its max distance from its skinned place
BACKSTOP_RANGE_M = 0.06      # the backstop applies to vertices whose rest gap to the body is below this
ANCHOR_GROUP_NODES = 1       # anchored nodes per anchor frame: 1, each on its own skinned place (groups of 4,
                             # by place and skin weights, cost 1.3-1.6 ms/frame less on the shirt, t-shirt and
                             # trousers but drifted 1.9 cm against 1.35 on the shirt; each frame body costs two
                             # PyBullet calls a step)...
ANCHOR_GROUP_SIZE_M = 0.1    # ...a group's spread in metres weighs like...
ANCHOR_GROUP_WEIGHT = 0.1    # ...this difference in skin weight
ANCHOR_GROUP_SEED = 0
MAX_DISTANCE_SLOPE = 0.5     # max distance grows at most this much per metre away from the pins
TIGHT_MAX_DISTANCE_M = 1e-3  # sim nodes with a max distance up to this are skinned, not given to PyBullet...
RING_ROWS = 2                # ...but for this many rows of them around the loose part, anchored (PyBullet's
                             # anchors give a little under load; rows share it, and absorb a 100 m/s kick)
KNEE_REACH_M = 0.20          # sim nodes this near a knee (bind pose) are skinned up to KNEE_TIGHT_MAX_DISTANCE_M:
KNEE_TIGHT_MAX_DISTANCE_M = 5e-3  # near-tight cloth there is pinched between the thigh and calf proxies as the
                             # knee folds, and tears (trousers_M, 2-minute soak: 6 stretch resets -> 0; docstring)
PROXY_CLEARANCE_M = 0.003    # PyBullet's capsules end at least this below the cloth's bind-pose nodes (trousers_M on
                             # the bundled motion: 0 -> the energy reset stays, 0.006 -> a drift reset at frame 113,
                             # 0.003 -> none; 1 min soak resets 71 unthinned -> 52 / 49: fragile, trousers only)...
MIN_PROXY_SHARE = 0.3        # ...but keep this share of their radius
HEM_ANCHOR_MAX_DISTANCE_M = 0.0125  # loose nodes on an open edge (hem, cuff) with a max distance below this are
                             # anchored like the ring: trousers_M's legs (1.2 cm at the hem) hung from a ring at
                             # the knee, and deep knee bends folded the calf out of its leg (1 min soak: 15 drift
                             # resets -> 0); t-shirt hems (1.5-2 cm), jacket cuffs (2 cm), skirts (10-21 cm) are free...
HEM_MIN_NODES = 8            # ...if the open edge has at least this many nodes (a hem goes round a body part;
                             # decimation leaves open slivers of 2-3 nodes inside the procedural shirt)
EPS = 1e-12
STRETCH_PERCENTILE = 99.0    # ClothState.stretch_p99's percentile of the sim edges' stretch
STRETCH_LIMIT = 1.05         # the shown sim nodes' edges are shortened to this times rest...
STRETCH_ITERATIONS = 45      # ...by up to this many Gauss-Seidel passes over the edges with a loose end (6 Jacobi
                             # passes left the skirt at 1.24, 100 at 1.109; these: 1.095, ~+0.5 ms on the skirt)
WORLDS = ("classic", "deformable")
JUMP_MODES = ("sweep", "lerp", "teleport")
STORM_WINDOW_FRAMES = 10     # a fault this soon after the last one (in simulated frames) is a storm: the pose that tore
                             # the cloth is still there, and a rebuild at once is caught again (jacket_M on the bundled
                             # motion: 4 rebuilds on frames 116-119, each ~0.1-0.3 s)...
BACKOFF_FRAMES = 4           # ...so the garment stays skinned this many frames first, twice as long each storm
MAX_BACKOFF_FRAMES = 32      # fault in a row, up to this
MAX_LATE_FRAMES = 2          # a worker's physics that fell behind catches up over at most this many frames more in
                             # one advance (the proxies then sweep those frames' motion in that frame's steps)


@dataclass
class ClothSettings:
    """Tunables of one garment's cloth; None takes the fabric preset's value."""

    enabled: bool = True                 # False: the garment is skinned only
    sim_vertices: int | None = None      # sim mesh budget (nodes)
    substeps: int | None = None          # solver steps per frame
    time_step_s: float | None = None     # solver step
    sdf_voxel_m: float = 0.02            # sparse SDF voxel of the soft-rigid contact
    settle_steps: int = 30               # steps in the rest pose before the motion starts
    enter_substeps: int = 12             # steps to blend from the rest pose into the first pose
    jump_threshold_m: float = 0.15       # hips moving farther than this in one frame: a pose jump
    limb_jump_threshold_m: float = 0.5   # a joint moving this far relative to the hips in one frame: too
    jump_step_m: float = 0.03            # a jump's non-rigid part is spread so joints move <= this per step
    max_jump_substeps: int = 12
    jump_mode: str = "sweep"             # a jump's non-rigid part: "sweep" through the poses between, a step each;
                                         # "lerp": the proxies moved straight (chords through the body); "teleport": at once
    max_proxy_step_m: float = 0.04       # no body proxy moves farther than this in one step (no tunnelling)...
    max_substeps: int = 6                # ...up to this many steps per frame
    ramp_frames: int = 6                 # after a reset the simulation fades back in over these frames
    backstop_slack_m: float = 0.003      # the backstop keeps this much of the rest gap to the body
    proxy_reach_m: float = 0.08          # proxies farther than this (plus max distance) are left out
    world: str = "classic"               # "deformable": PyBullet's deformable world (benchmark baseline)
    push_out: bool = True                # push the final vertices out of the limb proxies (cloth/collide.py)
    skin_tight: bool = True              # classic world: tight nodes (max distance ~0) are skinned, not simulated
    push_fit: bool = False               # push-out margins also cover the limb skin outside its proxy (skirt: inside
                                         # share 3.4% -> 0.9%, but deeper max on the others, +1-2.4 ms)
    limb_skin: bool = True               # with push_out: loose cloth along the legs and arms is kept out of the posed
                                         # limb skin (cloth/collide.py LimbSkin; skirt inside share 3.1% -> 0.24%, depth
                                         # 3.4 -> 0.7 cm; shirt depth 1.16 -> 0.86 cm)
    anchor_group_nodes: int = ANCHOR_GROUP_NODES  # anchored nodes per anchor frame (4: ~1.5 ms less, more drift)
    process: bool | None = None          # run PyBullet in a worker process (cloth/host.py), outside this process's
                                         # GIL: a step then no longer stops the draw and the solver (None: no here;
                                         # the Wardrobe plugin takes its scene's [cloth] process)
    process_nice: int = 0                # the worker's CPU priority below this process's (nice steps): with the
                                         # physics a frame behind (follow/advance) it can yield to the frame's draw
    stretch_limit: float | None = STRETCH_LIMIT  # the sim nodes shown are clamped to their max distance and their
                                         # edges limited to this times rest (None: PyBullet's nodes as they are;
                                         # size advice reads the raw drape)


@dataclass
class ClothState:
    """One garment's cloth for one frame (render mesh order, glTF frame, metres)."""

    positions: np.ndarray      # (V, 3)
    normals: np.ndarray        # (V, 3)
    strain: np.ndarray         # (V,) edge length / rest length of the sim mesh around the vertex
    sim_positions: np.ndarray  # (S, 3) the sim nodes used (simulated or skinned)
    simulated: bool            # False: this frame is the skinned garment (off, fallback or reset)
    frame: int
    resets: int                # faults caught and reset so far
    jumps: int                 # pose jumps blended so far
    fault: str = ""            # why this frame reset ("" when it did not)
    stretch_p99: float = 1.0   # sim edge length / rest, 99th percentile
    stretch_max: float = 1.0
    anchor_drift_m: float = 0.0  # farthest pinned node from where its bone holds it
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class _InFlight:
    """One frame's physics, sent to the world and not yet read back (start/finish, advance)."""

    pose: object
    skin: np.ndarray
    prox: ProxyPose             # the body proxies at the frame's end...
    frames: "_Frames"           # ...and the anchor frames
    prev_nodes: np.ndarray      # the nodes it started from, and their skinned places (fault checks)
    prev_skinned: np.ndarray
    span_s: float               # simulated time
    root_shift: np.ndarray      # the hips' move over the frame (zero after a jump's rigid carry)
    started: float              # perf_counter when the frame was taken on...
    sent: float                 # ...and when its last call was sent
    timings_ms: dict


@dataclass
class _Frames:
    """Anchor frame poses; orientations None: point frames (each holds one node at its origin, so
    its turn does not matter and none is computed or sent)."""

    positions: np.ndarray
    orientations: np.ndarray | None


def percentile(values: np.ndarray, q: float) -> float:
    """np.percentile(values, q) (linear interpolation) from a partial sort: ~0.03 ms against ~0.25 ms on
    a garment's ~3k edges, each frame."""
    n = len(values)
    at = q / 100.0 * (n - 1)
    lo = int(np.floor(at))
    hi = min(lo + 1, n - 1)
    part = np.partition(values, (lo, hi))
    a, b, t = float(part[lo]), float(part[hi]), at - lo
    return b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t  # numpy's own two-sided lerp


def _rigid(m: np.ndarray) -> np.ndarray:
    """A 4x4 with its 3x3 part made a pure rotation (polar decomposition)."""
    u, _, vt = np.linalg.svd(m[:3, :3])
    r = u @ vt
    if np.linalg.det(r) < 0:
        u[:, -1] *= -1
        r = u @ vt
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = r, m[:3, 3]
    return out


def _pieces(nodes: np.ndarray, faces: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a mesh (faces over `nodes`' numbering) into edge-connected pieces: [(nodes, faces)]."""
    label = components(face_edges(faces), len(nodes))
    out = []
    for k in range(int(label.max()) + 1 if len(label) else 0):
        mine = np.flatnonzero(label == k)
        remap = np.full(len(nodes), -1)
        remap[mine] = np.arange(len(mine))
        out.append((nodes[mine], remap[faces[label[faces[:, 0]] == k]]))
    return out


def _open_edges(faces: np.ndarray, count: int) -> np.ndarray:
    """(count,) int: for each node on an edge that only one face uses, the number of its open edge
    (each hem, cuff or neckline is one connected loop); -1 elsewhere."""
    edges, uses = unique_edges(faces, counts=True)
    edges = edges[uses == 1]
    label = components(edges, count)
    on = np.zeros(count, bool)
    on[edges.ravel()] = True
    return np.where(on, label, -1)


def _reach_points(proxies: BodyProxies, index: np.ndarray) -> np.ndarray:
    """(C, 6, 3) local points at the far ends of each proxy along its local axes."""
    out = np.zeros((len(index), 6, 3))
    for k, c in enumerate(index):
        if proxies.hulls[c] is not None:
            h = proxies.hulls[c]
            out[k] = [h[h[:, a].argmax()] if s > 0 else h[h[:, a].argmin()] for a in range(3) for s in (1, -1)]
        else:
            r, h = proxies.radii[c], proxies.half_lengths[c]
            out[k] = [[r, 0, 0], [-r, 0, 0], [0, r, 0], [0, -r, 0], [0, 0, h + r], [0, 0, -h - r]]
    return out


def _sweep(points: np.ndarray, p0: ProxyPose, p1: ProxyPose) -> float:
    """The farthest any proxy's reach point moves from pose p0 to p1 (metres)."""
    if len(p0) == 0:
        return 0.0
    a = np.einsum("cij,ckj->cki", quat_to_matrix(p0.orientations), points) + p0.centres[:, None]
    b = np.einsum("cij,ckj->cki", quat_to_matrix(p1.orientations), points) + p1.centres[:, None]
    return float(np.sqrt(((b - a) ** 2).sum(axis=2)).max())


def _tight_limits(points: np.ndarray, skeleton, rig) -> np.ndarray:
    """Per sim node, the max distance up to which it is skinned rather than simulated:
    TIGHT_MAX_DISTANCE_M, or KNEE_TIGHT_MAX_DISTANCE_M within KNEE_REACH_M of a knee."""
    out = np.full(len(points), TIGHT_MAX_DISTANCE_M)
    knees = [skeleton.bind_world[skeleton.index(bone), :3, 3] for side in ("l", "r")
             if (bone := rig.limb("lower_leg", side)) is not None]
    if knees and len(points):
        out[cKDTree(np.array(knees)).query(points)[0] <= KNEE_REACH_M] = KNEE_TIGHT_MAX_DISTANCE_M
    return out


class GarmentSim:
    """Simulates one garment on one avatar.

    >>> sim = GarmentSim(garment, avatar)          # avatar: avatar.model.AvatarModel
    >>> state = sim.reset(first_pose)              # settle in the rest pose, blend into the pose
    >>> state = sim.step(pose)                     # each frame: a ClothState
    >>> sim.skinned(pose)                          # the garment skinned only (no physics)
    """

    def __init__(self, garment: Garment, avatar, fabric: str | Fabric | None = None,
                 settings: ClothSettings | None = None, proxies: BodyProxies | None = None,
                 host: PhysicsHost | None = None):
        """host: with settings.process, a worker shared with other garments (the caller owns and closes
        it; the garments' physics then run one after another in it); None: this garment starts its own."""
        garment.check_shapes()
        self.garment, self.avatar = garment, avatar
        self.settings = settings or ClothSettings()
        if self.settings.world not in WORLDS:
            raise WardrobeError(f"unknown cloth world '{self.settings.world}': use one of {', '.join(WORLDS)}.")
        if self.settings.jump_mode not in JUMP_MODES:
            raise WardrobeError(f"unknown jump mode '{self.settings.jump_mode}': use one of {', '.join(JUMP_MODES)}.")
        self.fabric = get_fabric(fabric if fabric is not None else garment.meta.fabric)
        s, f = self.settings, self.fabric
        self.time_step = s.time_step_s or f.time_step_s
        self.substeps = int(s.substeps or f.substeps)
        self.skeleton = sk = avatar.skeleton
        self._inv_bind = np.linalg.inv(sk.bind_world)
        body = avatar.body

        # Render vertices: skin weights (transferred from the body when the garment has none).
        if garment.joints is None:
            self.joints, self.weights = transfer_weights(garment.positions, body, faces=garment.faces,
                                                         skeleton=sk)
        else:
            names = garment.joint_names or sk.names
            to_sk = np.array([sk.index(n) for n in names])
            self.joints, self.weights = top_influences(to_sk[garment.joints], garment.weights)
        self.max_distance = garment.max_distance * f.max_distance_scale
        pinned_render = garment.pin >= PIN_THRESHOLD
        if pinned_render.any():  # ramp away from the pins: a jump from 0 tears the blend there
            from_pin = cKDTree(garment.positions[pinned_render]).query(garment.positions)[0]
            self.max_distance = np.minimum(self.max_distance, MAX_DISTANCE_SLOPE * from_pin)
        gap = body_gap(garment.positions, body)
        self.backstop = np.where(gap < BACKSTOP_RANGE_M, np.maximum(gap - s.backstop_slack_m, 0.0), np.inf)
        self._loose_candidates = np.flatnonzero(self.max_distance > 0)  # the render vertices that can leave the skin
        self._blend_max_distance = np.ascontiguousarray(self.max_distance, np.float64)  # the kernel's copies
        self._blend_backstop = np.ascontiguousarray(self.backstop, np.float64)

        # Sim mesh, its skin (from the nearest render vertex) and its rest edges.
        self.sim: SimMesh = build_sim_mesh(garment, int(s.sim_vertices or f.sim_vertices))
        self.sim.positions = np.asarray(self.sim.positions, np.float64)  # float32 files: no underflow in norms
        _, nearest = cKDTree(garment.positions).query(self.sim.positions)
        self.node_joints, self.node_weights = self.joints[nearest], self.weights[nearest]
        self.node_max_distance = self.max_distance[nearest]
        self.edges = unique_edges(self.sim.faces)
        self.rest_lengths = np.linalg.norm(self.sim.positions[self.edges[:, 0]] - self.sim.positions[self.edges[:, 1]],
                                           axis=1)
        self._edge_count = np.bincount(self.edges.ravel(), minlength=len(self.sim.positions))
        self._edges64 = np.ascontiguousarray(self.edges, np.int64)
        self._tight_limit = _tight_limits(self.sim.positions, sk, avatar.rig)  # (S,) skinned up to this max distance
        # The stretch limit moves only loose nodes: an edge's correction is shared by its loose ends.
        movable = (self.node_max_distance > self._tight_limit).astype(float)
        limit = np.flatnonzero(movable[self.edges].any(axis=1))
        self._limit_edges, self._limit_rest = np.ascontiguousarray(self.edges[limit]), self.rest_lengths[limit]
        m = movable[self._limit_edges]
        self._limit_share = np.ascontiguousarray(m / m.sum(axis=1, keepdims=True))
        self._limit_nodes = np.flatnonzero(movable)
        self._node_skin = SparseSkin(self.node_joints, self.node_weights, len(sk), self.sim.positions)
        self._render_skinning = SparseSkin(self.joints, self.weights, len(sk), garment.positions, garment.normals)
        self._normals = Normals(garment.faces, len(garment.positions))
        self._embedding = Embedding.of(self.sim)

        # What PyBullet simulates: the loose nodes and a ring of tight ones around them, anchored
        # (the rest of the sim mesh is skinned: its max distance would clamp any simulation away).
        # One soft body per connected piece (PyBullet hangs stepping one made of several pieces).
        nodes, faces, ring = self._loose_part(s.skin_tight and s.world == "classic")
        self._pieces = _pieces(nodes, faces)          # [(sim nodes, faces in their numbering)]
        self.bullet_nodes = np.concatenate([n for n, _ in self._pieces])
        self._piece_of = np.full(len(self.sim.positions), -1)   # sim node -> (piece, index in it)
        self._to_bullet = np.full(len(self.sim.positions), -1)
        for k, (n, _) in enumerate(self._pieces):
            self._piece_of[n], self._to_bullet[n] = k, np.arange(len(n))

        # Bodies: the capsules near the garment, and one anchor frame per bone that pins nodes.
        self.proxies = proxies or BodyProxies.for_avatar(avatar)
        # Proxies the cloth can reach: near a vertex that may leave its skinned place, by that
        # vertex's max distance plus a margin (pinned cloth never needs a proxy).
        free = self.max_distance > 0
        near = self.proxies.rest().distances(garment.positions[free]) - self.max_distance[free, None]
        self.proxy_index = np.flatnonzero(near.min(axis=0) <= s.proxy_reach_m) if free.any() else np.zeros(0, int)
        # PyBullet's capsules, thinned where the cloth starts inside them in the bind pose (tight trousers on
        # a fat calf capsule: PyBullet shoved a whole leg out at once, an energy reset on trousers_M's third
        # frame; left out instead, nothing held the legs up): each ends PROXY_CLEARANCE_M inside the cloth.
        self._bullet_radii = self.proxies.radii[self.proxy_index].astype(np.float64)
        if len(self.proxy_index) and len(self.bullet_nodes):
            depth = -self.proxies.rest(self.proxy_index).distances(self.sim.positions[self.bullet_nodes]).min(axis=0)
            thin = (self.proxies.kinds[self.proxy_index] == CAPSULE) & (depth > -PROXY_CLEARANCE_M)
            self._bullet_radii[thin] = np.maximum(self._bullet_radii[thin] - depth[thin] - PROXY_CLEARANCE_M,
                                                  MIN_PROXY_SHARE * self._bullet_radii[thin])
        self.pinned = np.union1d(np.intersect1d(np.flatnonzero(self.sim.pin >= PIN_THRESHOLD), self.bullet_nodes),
                                 ring)
        self.pin_frame, self._frame_centres, self._frame_weights = self._anchor_groups(self.pinned)
        self.frame_bones = np.flatnonzero(self._frame_weights.any(axis=0))
        # One node per frame, on the frame's origin: the anchor's pivot is the origin, so only the
        # frame's position matters (no polar decomposition, no turn sent to PyBullet).
        self._point_frames = len(self.pinned) > 0 and np.bincount(self.pin_frame).max() == 1
        self._free_nodes = np.setdiff1d(self.bullet_nodes, ring)  # simulated and not anchored as the ring
        free = np.zeros(len(self.sim.positions), bool)
        free[self._free_nodes] = True
        self._simulated_edges = np.flatnonzero(free[self.edges].any(axis=1))  # the edges a fault can tear
        self._reach_points = _reach_points(self.proxies, self.proxy_index)
        self.tracked = np.unique(np.concatenate([self.proxies.bones[self.proxy_index], self.frame_bones]))
        self.hips = sk.index(avatar.rig.hips)
        self._held_joints = np.union1d(np.flatnonzero(np.asarray(sk.parents) < 0), [self.hips])  # roots and hips:
                                                                # a sweep between poses holds them at the target's
        self._prev_pose = None  # the Pose record of self._prev
        trunk = [sk.index(n) for n in (avatar.rig.hips, *avatar.rig.spine)]
        self._push = (PushOut(self.proxies, trunk, self.joints, self.weights, rest_points=garment.positions,
                              parents=sk.parents, body=body if s.push_fit else None) if s.push_out else None)
        limbs = [LimbSkin(body, sk, avatar.rig, garment.positions, self._loose_candidates,
                          lambda j, w, p, n: SparseSkin(j, w, len(sk), p, n), roles=roles)
                 for roles in (LIMB_ROLES if s.push_out and s.limb_skin else ())]
        self._limbs = [limb for limb in limbs if len(limb)]
        self._body_backstop = (BodyBackstop(body, garment.positions, trunk, lambda j, w, p, n: SparseSkin(
            j, w, len(sk), p, n), BACKSTOP_RANGE_M, s.backstop_slack_m) if s.push_out else None)
        self.pushed = 0                  # render vertices the last frame moved out of the body (push-out, backstop)
        self.world: ClothWorld | RemoteWorld | None = None
        self._host: PhysicsHost | None = None   # this garment's own worker process (settings.process)
        self._shared_host = host                # ...or a worker shared with other garments
        self._world_host: PhysicsHost | None = None  # the one the world lives in now
        self.cloths: list[int] = []      # the world's cloth per piece
        self.frame = 0
        self.resets = 0
        self.jumps = 0
        self._ramp = 1.0
        self._prev: tuple | None = None  # (skin, ProxyPose, _Frames, nodes, skinned nodes)
        self.failure = ""                # why the physics could not start (the garment is then skinned)
        self.paused = 0                  # frames the garment stays skinned before its cloth is rebuilt (a fault storm)
        self._storm = 0                  # faults in a row, each within STORM_WINDOW_FRAMES of the last
        self._last_fault = -STORM_WINDOW_FRAMES - 1
        self._pending = None             # the pose follow() showed and advance() has not simulated yet
        self._advancing: _InFlight | None = None  # advance(wait=False)'s physics, sent and not yet collected
        self._late = 0                   # frames the worker's physics is behind (advance skipped them)
        self.late_frames = 0             # ...over the whole run
        self._started: ClothState | _InFlight | None = None  # start()'s frame, for finish()
        self._drift = 0.0                # the anchor drift of the last simulated frame
        # follow() carries the offsets of the simulated nodes with their own skin influences
        self._carried_joints = np.ascontiguousarray(self._node_skin.joints[self.bullet_nodes])
        self._carried_weights = np.ascontiguousarray(self._node_skin.weights[self.bullet_nodes])
        self.faults: dict[str, int] = {}  # resets by cause: nan, energy, stretch, drift

    # -- public API -----------------------------------------------------------------------------------
    def skinned(self, pose=None) -> ClothState:
        """The garment skinned to the pose (the simulation-off look and the fallback)."""
        skin = self._skin(pose)
        nodes = self._node_skin.positions(skin)
        return self._skinned_state(skin, nodes)

    def reset(self, pose=None) -> ClothState:
        """(Re)build the cloth: settle it in the rest pose, then blend the body into `pose`."""
        self._discard()
        self.frame = 0
        self.paused, self._storm = 0, 0
        skin = self._skin(pose)
        if not self.settings.enabled:
            self._prev = None
            return self.skinned(pose)
        t0 = time.perf_counter()
        try:
            nodes = self._rebuild(pose, self.settings.settle_steps, self.settings.enter_substeps)
        except WardrobeError as exc:  # no physics for this garment: it stays skinned (the fallback)
            self.close()
            self.failure = str(exc)
            return self.skinned(pose)
        self.failure = ""
        self._ramp = 1.0
        state = self._output(skin, nodes)
        state.timings_ms = {"reset": (time.perf_counter() - t0) * 1e3}
        return state

    def step(self, pose, dt: float | None = None) -> ClothState:
        """Advance one frame to `pose`. dt (s), when given, sets the number of fixed substeps."""
        self.start(pose, dt)
        return self.finish()

    def start(self, pose, dt: float | None = None) -> None:
        """The first half of step(): send the frame's physics. With `settings.process` it then runs in
        the worker while this thread goes on (to start the next garment: the garments step at the
        same time); finish() waits for it and returns the frame. Each start() needs its finish()."""
        self._finish_advance()
        if not self.settings.enabled or self.failure:
            self._started = self.skinned(pose)
        elif self.paused:
            self._started = self._paused_frame(pose)
        elif self._prev is None:
            self._started = self.reset(pose)
        else:
            try:
                self._started = self._send(pose, dt)
            except WardrobeError as exc:
                self._started = self._lost(exc, pose)

    def finish(self) -> ClothState:
        """The second half of step(): the frame start() sent, simulated, blended and checked."""
        started, self._started = self._started, None
        if started is None:
            raise WardrobeError("GarmentSim.finish() without start(): call start(pose) first.")
        if isinstance(started, ClothState):
            return started
        t0 = started.started
        try:
            skin, nodes, skinned_nodes, fault, timings = self._receive(started)
        except WardrobeError as exc:
            return self._lost(exc, started.pose)
        t3 = time.perf_counter()
        if fault:
            state = self._skinned_state(skin, skinned_nodes)
            state.fault = fault
        else:
            state = self._output(skin, nodes, skinned_nodes)
        t4 = time.perf_counter()
        state.timings_ms = {**timings, "blend": (t4 - t3) * 1e3, "total": (t4 - t0) * 1e3}
        return state

    def follow(self, pose) -> ClothState:
        """This frame's garment at once, with the physics a frame behind (as Chaos cloth runs when it
        simulates beside the game thread): the last simulated frame's offsets from the skin are
        turned with each node's skinning onto `pose`, then clamped, stretch-limited and pushed out
        of the body as in step(). Call advance() after, off the frame's critical path, to simulate
        to this pose. The first call settles the cloth (reset) at once. Physics a worker process
        has not finished yet (advance(wait=False)) is not waited for: the frame shows the last
        simulated one carried onto `pose`, and the physics catches up later (see advance)."""
        t0 = time.perf_counter()
        self._finish_advance(wait=not self.settings.process)
        waited = (time.perf_counter() - t0) * 1e3
        if not self.settings.enabled or self.failure:
            return self.skinned(pose)
        if self.paused:
            self._pending = None
            return self._paused_frame(pose)
        if self._prev is None:
            self._pending = None
            return self.reset(pose)
        t1 = time.perf_counter()
        skin = self._skin(pose)
        skinned_nodes = self._node_skin.positions(skin)
        prev_skin, _, _, prev_nodes, prev_skinned = self._prev
        nodes = skinned_nodes + self._carry(prev_nodes - prev_skinned, prev_skin, skin)
        state = self._output(skin, nodes, skinned_nodes, drift=False)
        state.anchor_drift_m = self._drift
        self._pending = pose
        state.timings_ms = {"physics_wait": waited, "blend": (time.perf_counter() - t1) * 1e3}
        return state

    def advance(self, wait: bool = True) -> dict[str, float]:
        """Simulate to the pose of the last follow() (nothing when none is waiting); returns the
        stage times (ms). A fault resets the cloth; the next follow() shows it skinned.
        wait=False only sends the physics: with `settings.process` the worker runs it while this
        thread goes on, and a later call to this sim collects it (follow() reports the time it
        waited for it as "physics_wait"). While the worker is still on an earlier frame nothing is
        sent: the physics falls behind instead of holding the frame, and its next frame spans the
        frames it missed (up to MAX_LATE_FRAMES)."""
        pose, self._pending = self._pending, None
        if self._advancing is not None and not wait and not self.world.nodes_ready():
            self._pending = pose  # the newest pose waits for the next advance()
            self.late_frames += 1
            self._late = min(self._late + 1, MAX_LATE_FRAMES)
            return {}
        self._finish_advance()
        if pose is None or self._prev is None or not self.settings.enabled or self.failure:
            return {}
        span = (1 + self._late) * self.substeps * self.time_step if self._late else None
        self._late = 0
        try:
            self._advancing = self._send(pose, span)
        except WardrobeError as exc:
            self._lost(exc, pose)
            return {}
        timings = dict(self._advancing.timings_ms)
        if wait:
            timings.update(self._finish_advance())
        return timings

    def _finish_advance(self, wait: bool = True) -> dict[str, float]:
        """Collect the physics advance(wait=False) sent (nothing when none is out, or, with wait
        False, when it has not arrived yet)."""
        if self._advancing is None or (not wait and not self.world.nodes_ready()):
            return {}
        flight, self._advancing = self._advancing, None
        try:
            _, nodes, _, fault, timings = self._receive(flight)
        except WardrobeError as exc:
            self._lost(exc, flight.pose)
            return {}
        if not fault:
            self._drift = self._anchor_drift(nodes)
        timings["total"] = (time.perf_counter() - flight.started) * 1e3
        return timings

    def _discard(self) -> None:
        """Drop physics sent and not yet collected (a reset rebuilds the cloth anyway)."""
        if self._advancing is not None or isinstance(self._started, _InFlight):
            self._advancing = self._started = None
            try:
                self.world.collect_nodes()
            except WardrobeError:  # a worker that died meanwhile: the rebuild starts a new one
                pass

    def _lost(self, exc: WardrobeError, pose) -> ClothState:
        """The physics stopped mid-run (its worker process died or hung): from now on the garment is
        skinned, `failure` says why, and reset() tries the physics again."""
        self.close()
        self._prev = None
        self.failure = str(exc)
        return self.skinned(pose)

    def _carry(self, offsets: np.ndarray, from_skin: np.ndarray, to_skin: np.ndarray) -> np.ndarray:
        """Node offsets from their skinned places under `from_skin`, turned by each node's blended
        skinning (3x3) from that pose to `to_skin`."""
        b, joints, weights = self.bullet_nodes, self._carried_joints, self._carried_weights
        out = np.zeros_like(offsets)
        if not len(b):
            return out
        before = np.empty((len(b), 3, 3))
        kernels.blend_linear(kernel_matrices(from_skin), joints, weights, before)
        rest = np.linalg.solve(before, offsets[b][:, :, None])[:, :, 0]   # in the bind pose's frame
        turned = np.empty((len(b), 3))
        kernels.skin(kernel_matrices(to_skin), joints, weights, rest, turned, False)
        out[b] = turned
        return out

    def _send(self, pose, dt: float | None) -> _InFlight:
        """The physics of one frame to `pose`, sent: the proxies and anchor frames swept over the
        frame's substeps, then the nodes asked for."""
        t0 = time.perf_counter()
        self.frame += 1
        skin = self._skin(pose)
        frame_time = self.substeps * self.time_step if dt is None else float(dt)
        prev_skin, prev_prox, prev_frames, prev_nodes, prev_skinned = self._prev
        cur_prox = self.proxies.pose(skin, index=self.proxy_index)
        cur_frames = self._frames(skin)
        if self._is_jump(skin, prev_skin):
            n, prev_prox, prev_frames, prev_nodes, prev_skinned = self._jump(skin, prev_skin, prev_prox, prev_frames,
                                                                              prev_nodes, prev_skinned)
            step_dt = self.time_step
            root_shift = np.zeros(3)  # the carry took the nodes along already
            swept = self.settings.jump_mode == "sweep"
        else:
            swept = False
            root_shift = self._hips_position(skin) - self._hips_position(prev_skin)
            # Fixed steps, more of them (and shorter) when a proxy would sweep too far in one.
            n = max(1, int(round(frame_time / self.time_step)))
            sweep = _sweep(self._reach_points, prev_prox, cur_prox)
            n = int(np.clip(np.ceil(sweep / self.settings.max_proxy_step_m), n, max(n, self.settings.max_substeps)))
            step_dt = frame_time / n
        t1 = time.perf_counter()
        if swept:  # through the poses between, a step each
            self._run_path(prev_prox, prev_frames, self._pose_path(self._prev_pose, pose, n), cur_prox, cur_frames,
                           step_dt)
        else:
            self._run(prev_prox, cur_prox, prev_frames, cur_frames, n, step_dt)
        self.world.request_nodes(self.cloths)
        t2 = time.perf_counter()
        return _InFlight(pose, skin, cur_prox, cur_frames, prev_nodes, prev_skinned, n * step_dt, root_shift, t0, t2,
                         {"prepare": (t1 - t0) * 1e3, "physics": (t2 - t1) * 1e3})

    def _receive(self, flight: _InFlight):
        """The frame _send sent, simulated: (skin, PyBullet's nodes, skinned nodes, fault ("" if
        none), stage ms). A fault resets the cloth (skinned, fading back in over ramp_frames)."""
        skin = flight.skin
        skinned_nodes = self._node_skin.positions(skin)
        nodes = self._read_nodes(skinned_nodes, self.world.collect_nodes())
        t3 = time.perf_counter()
        fault = self._fault(nodes, skinned_nodes, flight.prev_nodes, flight.prev_skinned, flight.span_s,
                            flight.root_shift)
        if fault:
            self.resets += 1
            self.faults[fault] = self.faults.get(fault, 0) + 1
            self._storm = self._storm + 1 if self.frame - self._last_fault <= STORM_WINDOW_FRAMES else 0
            self._last_fault = self.frame
            if self._storm:  # caught again at once: wait before rebuilding (_paused_frame)
                self.paused = min(BACKOFF_FRAMES << (self._storm - 1), MAX_BACKOFF_FRAMES)
            else:
                self._rebuild(flight.pose, 0, self.settings.max_jump_substeps)
            self._ramp = 0.0
        else:
            self._prev = (skin, flight.prox, flight.frames, nodes, skinned_nodes)
            self._prev_pose = flight.pose
            self._ramp = min(1.0, self._ramp + 1.0 / max(self.settings.ramp_frames, 1))
        return skin, nodes, skinned_nodes, fault, {**flight.timings_ms, "readback": (t3 - flight.sent) * 1e3}

    def _paused_frame(self, pose) -> ClothState:
        """A frame of a fault storm's pause: the garment skinned; on the pause's last frame the cloth
        is rebuilt on this pose (as after a single fault: fading back in over ramp_frames)."""
        self.paused -= 1
        if not self.paused:
            self._rebuild(pose, 0, self.settings.max_jump_substeps)
        return self.skinned(pose)

    def close(self) -> None:
        if self.world is not None:
            self.world.close()
            self.world = None
        if self._host is not None:
            self._host.close()
            self._host = None
        self._world_host = None
        self._prev = None

    def __enter__(self) -> "GarmentSim":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def simulated_render(self, state: ClothState) -> np.ndarray:
        """The render mesh carried by the sim nodes alone (no max-distance clamp, no backstop)."""
        return self._embedding.reconstruct(state.sim_positions)

    # -- faults (also reachable for drills: push a node through the world) ---------------------------------
    @property
    def worker_pid(self) -> int | None:
        """The process id of this garment's physics worker (None when PyBullet runs in this process)."""
        return self._world_host.process.pid if self._world_host is not None else None

    def push_node(self, node: int, force) -> None:
        """Apply a force (N) to one simulated sim node for the next frame (wind, pokes, fault drills)."""
        world = self._running()
        if not 0 <= node < len(self._to_bullet) or self._to_bullet[node] < 0:
            raise WardrobeError(f"sim node {node} is not simulated (it is skinned: its max distance is 0); "
                                "push a node with a max distance above 0.")
        world.push_node(self.cloths[self._piece_of[node]], int(self._to_bullet[node]), force)

    def kick(self, velocity) -> None:
        """Set every sim node's velocity (m/s) now (gusts, fault drills)."""
        world = self._running()
        for cloth in self.cloths:
            world.set_cloth_velocity(cloth, velocity)

    def _running(self) -> ClothWorld:
        if self.world is None:
            raise WardrobeError("the cloth is not running: call reset() first.")
        return self.world

    # -- internals -------------------------------------------------------------------------------------
    def _skin(self, pose) -> np.ndarray:
        """(J, 4, 4) skin matrices of a Pose record (None: the rest pose)."""
        return self._skin_of(*self._pose_parts(pose))

    def _skin_of(self, rotations: np.ndarray, offset: np.ndarray | None) -> np.ndarray:
        return self.skeleton.forward(rotations, offset) @ self._inv_bind

    def _is_jump(self, skin: np.ndarray, prev_skin: np.ndarray) -> bool:
        """A pose jump: the hips move too far in one frame, or a joint does relative to the hips."""
        s = self.settings
        joints, prev = self._joints(skin), self._joints(prev_skin)
        hips, prev_hips = self._hips_position(skin), self._hips_position(prev_skin)
        if np.linalg.norm(hips - prev_hips) > s.jump_threshold_m:
            return True
        if len(joints) == 0:
            return False
        relative = np.linalg.norm((joints - hips) - (prev - prev_hips), axis=1).max()
        return bool(relative > s.limb_jump_threshold_m)

    def _hips_position(self, skin: np.ndarray) -> np.ndarray:
        return skin[self.hips, :3, :3] @ self.skeleton.bind_world[self.hips, :3, 3] + skin[self.hips, :3, 3]

    def _joints(self, skin: np.ndarray) -> np.ndarray:
        """World positions of the joints this garment's capsules and anchors follow."""
        b = self.tracked
        return np.einsum("jik,jk->ji", skin[b, :3, :3], self.skeleton.bind_world[b, :3, 3]) + skin[b, :3, 3]

    def _loose_part(self, reduce: bool):
        """(sim nodes given to PyBullet, their faces in its numbering, the anchored ring): the nodes
        whose max distance exceeds TIGHT_MAX_DISTANCE_M and the tight nodes that share an edge with
        them; the ring also holds the loose hems that may barely leave the skin. Without `reduce` (or
        with nothing tight) the whole sim mesh and no ring."""
        count = len(self.sim.positions)
        loose = self.node_max_distance > self._tight_limit
        if not reduce or loose.all() or not loose.any():
            return np.arange(count), self.sim.faces, np.zeros(0, np.int64)
        a, b = self.edges[:, 0], self.edges[:, 1]
        keep = loose.copy()
        for _ in range(RING_ROWS):  # rows of tight nodes around the loose part
            grow = keep.copy()
            grow[a[keep[b]]] = True
            grow[b[keep[a]]] = True
            keep = grow
        ring = keep & ~loose
        # Hems that may barely leave the skin are held too (a tube hung from one ring let its limb fold out):
        # open edges of HEM_MIN_NODES or more whose every node is loose, with a max distance below
        # HEM_ANCHOR_MAX_DISTANCE_M.
        edge = _open_edges(self.sim.faces, count)
        on = edge >= 0
        short = loose & (self.node_max_distance < HEM_ANCHOR_MAX_DISTANCE_M)
        fails = np.bincount(edge[on], ~short[on], minlength=count)
        held = (fails == 0) & (np.bincount(edge[on], minlength=count) >= HEM_MIN_NODES)
        ring[on] |= held[edge[on]]
        faces = self.sim.faces[keep[self.sim.faces].all(axis=1)]
        nodes = np.unique(faces)  # every loose or ring node lies on such a face
        remap = np.full(count, -1)
        remap[nodes] = np.arange(len(nodes))
        return nodes, remap[faces], np.flatnonzero(ring)

    def _anchor_groups(self, nodes: np.ndarray):
        """Anchor frames for the pinned nodes: (frame per node, frame centres (G, 3), frame skin
        weights (G, J)). Nodes are grouped by place and skin weights (k-means, about
        ANCHOR_GROUP_NODES a group); a frame sits on its group's centre and moves with the group's
        mean skin weights, so each pinned node follows its own skinned place to within millimetres
        (a frame per bone would hold a node between two bones, at a knee or the waist, rigidly to
        one of them, and tear it from its skinned neighbours)."""
        joints = len(self.skeleton)
        if not len(nodes):
            return np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros((0, joints))
        dense = np.zeros((len(nodes), joints))
        np.add.at(dense, (np.repeat(np.arange(len(nodes)), self.node_joints.shape[1]), self.node_joints[nodes].ravel()),
                  self.node_weights[nodes].ravel())
        pos = self.sim.positions[nodes]
        k = int(np.ceil(len(nodes) / max(1, self.settings.anchor_group_nodes)))
        features = np.concatenate([pos / ANCHOR_GROUP_SIZE_M, dense / ANCHOR_GROUP_WEIGHT], axis=1)
        if k >= len(nodes):
            label = np.arange(len(nodes))
        elif k > 1:
            from scipy.cluster.vq import kmeans2

            _, label = kmeans2(features, k, minit="++", seed=ANCHOR_GROUP_SEED)
            label = np.unique(label, return_inverse=True)[1].reshape(-1)  # drop empty groups
        else:
            label = np.zeros(len(nodes), np.int64)
        count = np.bincount(label)
        centres = np.stack([np.bincount(label, pos[:, i]) for i in range(3)], axis=1) / count[:, None]
        weights = np.stack([np.bincount(label, dense[:, j], minlength=len(count)) for j in range(joints)],
                           axis=1) / count[:, None]
        return label, centres, weights

    def _frames(self, skin: np.ndarray) -> _Frames:
        """Anchor frame poses: each group's centre skinned with its mean weights, turned by the
        nearest rotation to the blended matrix."""
        if not len(self._frame_centres):
            return _Frames(np.zeros((0, 3)), np.zeros((0, 4)))
        blend = (self._frame_weights @ skin[:, :3, :].reshape(len(skin), 12)).reshape(-1, 3, 4)
        positions = np.einsum("gij,gj->gi", blend[:, :, :3], self._frame_centres) + blend[:, :, 3]
        if self._point_frames:
            return _Frames(positions, None)
        u, _, vt = np.linalg.svd(blend[:, :, :3])
        flip = np.linalg.det(u @ vt) < 0
        u[flip, :, -1] *= -1
        return _Frames(positions, matrix_to_quat(u @ vt))

    def _rebuild(self, pose, settle_steps: int, enter_substeps: int) -> np.ndarray:
        """New world with the cloth at rest in the rest pose; settle; carry it rigidly with the hips
        into the pose and blend the rest of the way over substeps (the proxies lerped: sweeping
        through the poses between instead took the skirt's stretch p99 1.095 -> 1.101 on the
        first second of the motion). Returns the node positions."""
        skin = self._skin(pose)
        if self.world is not None:
            self.world.close()
        f = self.fabric
        deformable = self.settings.world == "deformable"
        gravity = (0.0, -9.81 * f.gravity_scale, 0.0)
        self._world_host = None
        if self.settings.process:
            host = self._shared_host if self._shared_host is not None and self._shared_host.alive() else None
            if host is None:  # no shared worker (or it died): this garment's own
                if self._host is None or not self._host.alive():
                    self._host = PhysicsHost(self.settings.process_nice)
                host = self._host
            self._world_host = host
            self.world = w = host.world(self.time_step, self.settings.sdf_voxel_m, gravity, deformable)
        else:
            self.world = w = ClothWorld(self.time_step, self.settings.sdf_voxel_m, gravity=gravity,
                                        deformable=deformable)
        eye = np.broadcast_to(np.eye(4), skin.shape).copy()
        rest_prox = self.proxies.pose(eye, index=self.proxy_index)
        rest_frames = self._frames(eye)
        w.add_proxies(replace(rest_prox, radii=self._bullet_radii), f.friction)
        w.add_frames(rest_frames.positions, rest_frames.orientations)
        area = self._sim_area()
        mass = DEFORMABLE_MASS_KG if deformable else f.mass_kg_m2 * area
        extra = DEFORMABLE_CLOTH if deformable else {}
        self.cloths = []
        for k, (nodes, faces) in enumerate(self._pieces):
            share = len(nodes) / len(self.bullet_nodes)
            self.cloths.append(w.add_cloth(self.sim.positions[nodes], faces, mass=mass * share, margin=f.margin_m,
                                           **extra))
            mine = self._piece_of[self.pinned] == k
            w.anchor(self.cloths[-1], self._to_bullet[self.pinned[mine]], self.pin_frame[mine])
        for _ in range(settle_steps):
            w.step()
        # Rigid part: where the hips took the body.
        g = _rigid(skin[self.hips])
        start_skin = np.einsum("ij,njk->nik", g, eye)
        for cloth in self.cloths:
            w.move_cloth(cloth, g[:3, :3], g[:3, 3])
        start_prox = self.proxies.pose(start_skin, index=self.proxy_index)
        start_frames = self._frames(start_skin)
        cur_prox = self.proxies.pose(skin, index=self.proxy_index)
        cur_frames = self._frames(skin)
        residual = np.linalg.norm(self._joints(skin) - self._joints(start_skin), axis=1).max()
        n = int(np.clip(np.ceil(residual / self.settings.jump_step_m), 1, max(enter_substeps, 1)))
        self._run(start_prox, cur_prox, start_frames, cur_frames, n)
        # Come to rest in the pose: bodies still, so the next frame starts from zero velocity.
        zero = np.zeros_like(cur_prox.centres)
        w.move_proxies(cur_prox.centres, cur_prox.orientations, zero, zero)
        skinned_nodes = self._node_skin.positions(skin)
        nodes = self._read_nodes(skinned_nodes)
        self._prev = (skin, cur_prox, cur_frames, nodes, skinned_nodes)
        self._prev_pose = pose
        return nodes

    def _read_nodes(self, skinned_nodes: np.ndarray, simulated: np.ndarray | None = None) -> np.ndarray:
        """(S, 3) sim nodes: PyBullet's where it simulates (the anchored ring included; `simulated`,
        when already read), the skinned places elsewhere."""
        if simulated is None:
            simulated = self.world.nodes_of(self.cloths)
        if len(simulated) == len(skinned_nodes):
            return simulated
        out = skinned_nodes.copy()
        out[self.bullet_nodes] = simulated
        return out

    def _sim_area(self) -> float:
        p = self.sim.positions[self.sim.faces]
        return float(0.5 * np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1).sum())

    def _run(self, p0: ProxyPose, p1: ProxyPose, f0: _Frames, f1: _Frames, n: int, dt: float | None = None) -> None:
        """n solver steps of dt with the proxies and anchor frames moving from pose 0 to pose 1."""
        w = self.world
        dt = self.time_step if dt is None else dt
        w.set_time_step(dt)
        span = n * dt
        lin = (p1.centres - p0.centres) / span
        ang = angular_velocity(p0.orientations, p1.orientations, span)
        f_lin = (f1.positions - f0.positions) / span
        points = f0.orientations is None
        f_ang = (angular_velocity(f0.orientations, f1.orientations, span) if len(f0.positions) and not points
                 else None)
        for k in range(1, n + 1):
            t = k / n
            w.move_proxies((1 - t) * p0.centres + t * p1.centres, nlerp_quats(p0.orientations, p1.orientations, t),
                            lin, ang)
            if points:  # every step, with velocity (moved once a frame, or without velocity: stretch p99 1.13 ->
                w.move_frames((1 - t) * f0.positions + t * f1.positions, None, f_lin)  # 1.50 / 1.93 on the shirt)
            elif len(f0.positions):
                w.move_frames((1 - t) * f0.positions + t * f1.positions,
                              nlerp_quats(f0.orientations, f1.orientations, t), f_lin, f_ang)
            w.step()

    def _pose_parts(self, pose) -> tuple[np.ndarray, np.ndarray | None]:
        """(local rotations (J, 4), root offset) of a Pose record, or of the rest pose for None."""
        if pose is None:
            return self.skeleton.rest_rotations(), None
        return np.asarray(pose.local_rotations, np.float64), pose.root_offset

    def _pose_path(self, pose0, pose1, n: int) -> list[tuple[ProxyPose, "_Frames"]]:
        """The proxies and anchor frames at steps 1 .. n-1 of a sweep from pose0 to pose1 through
        the poses between: every joint's local turn interpolated, the roots and hips held at
        pose1's (the hips' part of a jump is carried rigidly first). Limbs swing along their arcs;
        lerping the proxies themselves cut chords through the body (soak frame 5400: an upper arm
        4.8 cm into the trunk mid-jump, 3.1 cm at either end; the shirt as painted before session
        10 tore there, swept through the poses it did not; jacket_M's jump at 3000 the same)."""
        r0, _ = self._pose_parts(pose0)
        r1, offset = self._pose_parts(pose1)
        path = []
        for k in range(1, n):
            r = nlerp_quats(r0, r1, k / n)
            r[self._held_joints] = r1[self._held_joints]
            skin = self._skin_of(r, offset)
            path.append((self.proxies.pose(skin, index=self.proxy_index), self._frames(skin)))
        return path

    def _run_path(self, p0: ProxyPose, f0: "_Frames", path: list, p1: ProxyPose, f1: "_Frames",
                  dt: float | None = None) -> None:
        """One solver step to each (proxies, frames) of `path`, then one to (p1, f1)."""
        for pk, fk in [*path, (p1, f1)]:
            self._run(p0, pk, f0, fk, 1, dt)
            p0, f0 = pk, fk

    def _jump(self, skin, prev_skin, prev_prox, prev_frames, prev_nodes, prev_skinned):
        """A pose jump: carry everything rigidly with the hips now, spread the rest over substeps."""
        self.jumps += 1
        g = _rigid(skin[self.hips]) @ np.linalg.inv(_rigid(prev_skin[self.hips]))
        r, t = g[:3, :3], g[:3, 3]
        for cloth in self.cloths:
            self.world.move_cloth(cloth, r, t)
        moved_skin = np.einsum("ij,njk->nik", g, prev_skin)
        if self.settings.jump_mode == "teleport":  # the rest of the jump happens at once, without sweeping
            return self.substeps, self.proxies.pose(skin, index=self.proxy_index), self._frames(skin), \
                prev_nodes @ r.T + t, prev_skinned @ r.T + t
        prox = self.proxies.pose(moved_skin, index=self.proxy_index)
        frames = self._frames(moved_skin)
        residual = np.linalg.norm(self._joints(skin) - self._joints(moved_skin), axis=1).max()
        n = int(np.clip(np.ceil(residual / self.settings.jump_step_m), self.substeps, self.settings.max_jump_substeps))
        return n, prox, frames, prev_nodes @ r.T + t, prev_skinned @ r.T + t

    def _fault(self, nodes, skinned, prev_nodes, prev_skinned, span: float, root_shift: np.ndarray) -> str:
        """Why this frame's nodes must be reset ("" when they need not). A node's speed for the
        energy checks is the lesser of its speed relative to its skinned place and relative to the
        body's root (the hips' move, `root_shift`): runaway cloth is fast against both, loose cloth
        lagging a limb that flicked is fast against its skinned place only (dress_M on the bundled
        motion's frame 26: skinned places moving 12.9 m/s, the cloth 2.6 m/s, mean energy against
        the skin 11.8 J/kg, an energy reset, against the root 1.0)."""
        if not np.isfinite(nodes).all():
            return "nan"
        moved = nodes - prev_nodes
        rel = (moved - (skinned - prev_skinned)) / span
        body = (moved - root_shift) / span
        speed2 = np.minimum(np.einsum("vi,vi->v", rel, rel), np.einsum("vi,vi->v", body, body))
        if speed2.max() > FAULT_SPEED_M_S ** 2 or 0.5 * speed2[self._free_nodes].mean() > FAULT_ENERGY_J_KG:
            return "energy"
        ratio = self._edge_ratio(nodes)[self._simulated_edges]  # skinned and anchored edges follow the skin
        if len(ratio) and ratio.max() > FAULT_STRETCH:
            return "stretch"
        off = np.linalg.norm(nodes - skinned, axis=1) - self.node_max_distance
        if off.max() > FAULT_DRIFT_M:
            return "drift"
        return ""

    def _edge_strain(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(each edge's length over its rest length, each node's mean over its edges)."""
        ratio, strain = np.empty(len(self._edges64)), np.empty(len(self.sim.positions))
        kernels.edge_strain(np.ascontiguousarray(nodes, np.float64), self._edges64, self.rest_lengths,
                            self._edge_count, ratio, strain)
        return ratio, strain

    def _edge_ratio(self, nodes: np.ndarray) -> np.ndarray:
        return self._edge_strain(nodes)[0]

    def _render_skin(self, skin):
        return self._render_skinning.positions_normals(skin)

    def _skinned_state(self, skin, nodes) -> ClothState:
        pos, _ = self._render_skin(skin)
        ratio, node_strain = self._edge_strain(nodes)
        strain = self._embedding.interpolate(node_strain)
        return ClothState(pos, self._normals(pos), strain, nodes, False, self.frame,
                          self.resets, self.jumps, stretch_p99=percentile(ratio, STRETCH_PERCENTILE),
                          stretch_max=float(ratio.max()))

    def _shape(self, nodes: np.ndarray, skinned_nodes: np.ndarray) -> np.ndarray:
        """The sim nodes shown: each within its max distance of its skinned place (the clamp the
        render vertices get; the anchored ring, which sags and lags in PyBullet, snaps to its
        skinned place), then edges longer than the stretch limit times rest shortened by moving
        their loose ends (up to STRETCH_ITERATIONS Gauss-Seidel passes, each clamped again). PyBullet's own
        state is left as it is: faults and anchor drift read that."""
        limit = self.settings.stretch_limit
        if limit is None:
            return nodes
        out = np.array(nodes, np.float64, order="C")
        kernels.clamp(out, skinned_nodes, self.node_max_distance, self.bullet_nodes)
        kernels.stretch_limit(out, skinned_nodes, self.node_max_distance, self._limit_edges,
                                         self._limit_rest, self._limit_share, self._limit_nodes, float(limit),
                                         STRETCH_ITERATIONS)
        return out

    def _anchor_drift(self, raw: np.ndarray) -> float:
        """How far PyBullet's pinned nodes `raw` are from where their anchor frames hold them (m)."""
        if not len(self.pinned):
            return 0.0
        frames = self._prev[2]
        local = self.sim.positions[self.pinned] - self._frame_centres[self.pin_frame]
        target = frames.positions[self.pin_frame]
        if frames.orientations is not None:
            target = target + np.einsum("pij,pj->pi", quat_to_matrix(frames.orientations)[self.pin_frame], local)
        return float(np.linalg.norm(raw[self.pinned] - target, axis=1).max())

    def _output(self, skin, nodes, skinned_nodes: np.ndarray | None = None, drift: bool = True) -> ClothState:
        """The frame's ClothState from PyBullet's nodes (`skinned_nodes`: the sim nodes skinned to
        `skin`, when the caller has them; drift: measure the anchor drift of these nodes)."""
        skinned, skinned_n = self._render_skin(skin)
        if skinned_nodes is None:
            skinned_nodes = self._node_skin.positions(skin)
        raw, nodes = nodes, self._shape(nodes, skinned_nodes)
        limbs = self.proxies.pose(skin, index=self._push.index) if self._push is not None else None
        if limbs is not None:  # the skinned place a limb swung into is moved out first: the clamp is around that
            skinned, _ = self._push(skinned, limbs)
        pos = np.empty_like(skinned)
        kernels.offset_blend(self._embedding.reconstruct(nodes), skinned, skinned_n, self._blend_max_distance,
                             self._blend_backstop, float(self._ramp), pos)
        if limbs is not None:
            # A vertex with no max distance is its pushed skinned place already: only loose ones can be inside.
            pos, pushed = self._push(pos, limbs, candidates=self._loose_candidates)
            pos, lifted = self._body_backstop(pos, skin)  # over the trunk, the trunk wins over the capsules
            for limb in self._limbs:  # cloth along the legs and arms: out of their skin, not only their capsules
                pos, on_limb = limb(pos, skin)
                pushed += on_limb
            self.pushed = lifted + pushed
        ratio, node_strain = self._edge_strain(nodes)
        strain = self._embedding.interpolate(node_strain)
        drift = self._anchor_drift(raw) if drift else 0.0
        return ClothState(pos, self._normals(pos), strain, nodes, True, self.frame,
                          self.resets, self.jumps, stretch_p99=percentile(ratio, STRETCH_PERCENTILE),
                          stretch_max=float(ratio.max()), anchor_drift_m=drift)
