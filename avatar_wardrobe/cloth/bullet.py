"""ClothWorld: the only pybullet user. DIRECT mode, soft-body cloth around kinematic body proxies.

Facts this module relies on (measured with pybullet 3.2.7 on these machines, see
cloth/fabrics.py for the parameter sweep):
- The classic soft-body world (`resetSimulation()` with no flags) is the fast one; the
  deformable world (`RESET_USE_DEFORMABLE_WORLD`) is kept only as a benchmark baseline.
- Body proxies (capsules, convex hulls) have mass 0 and are moved every step with `resetBasePositionAndOrientation`
  AND `resetBaseVelocity`: the soft-rigid contact reads the body's velocity, without it the
  cloth tunnels through a moving capsule. Convex hulls (`GEOM_MESH` from points) keep a ~1 mm
  margin: cloth rests on them as on a capsule.
- `sparseSdfVoxelSize` 0.02 (the default 0.25 lets cloth sink into capsules).
- Anchored nodes stop colliding with the body they are anchored to, so pins go to separate
  bodies without a collision shape that follow the bones. Those must be maximal-coordinate
  bodies (a multibody anchor does not hold in the classic world), and `createSoftBodyAnchor`'s
  `bodyFramePosition` is the node's pivot in the body's frame: left out, every pinned node is
  pulled onto the body's origin.
- `loadSoftBody` caches meshes by file name, for the life of the process: a name must never
  stand for two meshes, and a new name for every load grows the process by the mesh's size each
  time (a 900-node cloth loaded under fresh names: +48 MB RSS over 200 loads; under one name:
  flat). So a mesh's file is named by its content (and the loading process and thread): a
  garment rebuilt after a reset, or put on again, is read from the cache, and the cache holds one
  entry per distinct mesh.
- `createCollisionShape(GEOM_MESH, vertices=...)` keeps two references to the list it is given
  and to each of its rows, for ever: a hull made from a fresh `tolist()` leaks that list (a
  t-shirt's 13 hulls: ~85 KB of Python objects per world). Each distinct hull's list is made once
  and handed over every time (`_hull_list`), so a rebuilt world leaks nothing new.
- A soft body made of two disconnected pieces never returns from `stepSimulation` in the classic
  world (two 6x6 squares in one .obj hang; each alone steps in 0.4 ms): `add_cloth` refuses one,
  and a garment's loose part is loaded as one cloth per connected piece.
- Anchors are soft: a row of anchored nodes holding a hanging cloth sags ~5-7 mm below its
  frames at rest and 1-3 cm in fast motion; a heavily anchored cloth also pulls a 40 m/s
  `resetBaseVelocity` kick back within a frame (a third of its nodes anchored).
- Node positions cannot be written in the classic world (`resetMeshData` is deformable-only);
  what can be done to a whole cloth is a rigid move (`resetBasePositionAndOrientation`, which
  moves it relative to its centre of mass), one velocity for all nodes (`resetBaseVelocity`),
  and a force on one node (`applyExternalForce` with the node as link).
- Where a step's time goes (callgrind instruction counts, 1,000-node procedural shirt on the
  bundled motion, after the first second): ~20 M instructions per step, about half in the link
  solver (`PSolve_Links`: PyBullet fixes 20 position iterations and adds bending links in the
  classic world, none of it settable), a third in soft-rigid collision (mostly building sparse-
  SDF cells with GJK as limbs move relative to the cloth; a cloth at rest on a still proxy reuses
  its cells), a tenth in motion prediction. Capsules instead of convex hulls saved 2%; a cell of
  0.01 m cost 1.7x the 0.02 m one. Cost per step is set by the node count.
- The whole frame sampled (perf, session 10; 1k shirt at 782 PyBullet nodes, bundled motion looped):
  pybullet's library 53% of the process's time (`PSolve_Links` 14%, `btSparseSdf::Evaluate` 7%,
  the nodes' tree re-inserted in `predictMotion` ~9%, broadphase pairs ~5%, anchors 1.6%), the
  interpreter 17%, the numba kernels 15%, numpy 11%. Thread time on a 10.8 ms frame: stepSimulation
  4.9 ms (2.15 ms a step, 2.28 steps), the moves 1.7 ms. PyBullet's share alone is about the 5 ms
  target. The same pieces stepped bare (no proxies, anchors still) take 0.9 ms a step, the 1k tube
  1.18: the rest is the moving body's contact. Frames left out of collision filtering
  (`setCollisionFilterGroupMask` 0) and `gc.freeze()` changed nothing measurable.
- Moving bodies: one `resetBasePositionAndOrientation` and one `resetBaseVelocity` per body per
  step, no batched form. With positional arguments each is ~0.3-0.8 us (keywords add ~0.3-0.5 us);
  the 1k shirt's 268 anchor frames cost ~0.2 ms a step (thread time) against ~1.4 ms for
  `stepSimulation` itself. Frames that hold one node at their origin are sent no turn
  (`move_frames(..., None, ...)`): the anchor's pivot is the origin, so the turn cannot matter.
  Their velocity does: moved without it, or moved once a frame, the shirt's stretch p99 went
  1.13 -> 1.93 / 1.50. `resetBasePositionAndOrientation` zeroes the body's velocity, so the
  velocity call cannot be saved by setting it once a frame: both go every step, pose first.
  Flying them instead (session 9: heavy dynamic bodies without a shape, no damping, never asleep,
  one velocity a frame with gravity taken off so they land exactly): the moves went 2.55 -> 1.53
  ms a frame on the 1k shirt, but stepSimulation 7.35 -> 10.19 ms (268 more dynamic bodies to
  integrate and island every step) and anchor drift 1.36 -> 2.32 cm (the soft-body solve saw them
  a step behind). Not kept.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass

import numpy as np
import pybullet as p

from ..errors import WardrobeError
from ..mesh_topology import components, face_edges
from ..transforms import matrix_to_quat, quat_to_matrix

DEFAULT_TIME_STEP = 1 / 60
DEFAULT_SDF_VOXEL_M = 0.02
GRAVITY = (0.0, -9.81, 0.0)  # glTF frame: +Y up
MIN_HALF_LENGTH_M = 1e-4     # shorter capsules are made spheres
# PyBullet's own deformable cloth example settings (examples/pybullet/examples/deformable_anchor.py):
# the "default settings" of the deformable-world baseline.
DEFORMABLE_CLOTH = dict(useNeoHookean=0, useBendingSprings=1, useMassSpring=1, springElasticStiffness=40,
                        springDampingStiffness=0.1, springDampingAllDirections=1, useSelfCollision=0,
                        frictionCoeff=0.5, useFaceContact=1)
DEFORMABLE_MASS_KG = 1.0            # the example's cloth mass (at garment masses of ~0.1 kg it explodes)
DEFORMABLE_TIME_STEP = 1 / 240      # PyBullet's default step (at 1/60 the deformable cloth explodes)
IDENTITY_XYZW = (0.0, 0.0, 0.0, 1.0)
_HULL_LISTS: dict[tuple, list] = {}  # (shape, bytes) of a hull's points -> the list PyBullet was given
ZERO3 = (0.0, 0.0, 0.0)


def _tmp_dir() -> str:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _mesh_path(positions: np.ndarray, faces: np.ndarray) -> str:
    """The .obj path a cloth mesh is loaded from: named by its content (loadSoftBody's cache is
    keyed by name), the process and the thread (no other loader shares the file)."""
    digest = hashlib.sha1(np.ascontiguousarray(positions, np.float64).tobytes())
    digest.update(np.ascontiguousarray(faces, np.int64).tobytes())
    name = f"aw_cloth_{os.getpid()}_{threading.get_ident()}_{digest.hexdigest()[:20]}.obj"
    return os.path.join(_tmp_dir(), name)


def _hull_list(points) -> list:
    """The vertex list handed to PyBullet for a hull: one list object per distinct hull (PyBullet
    never lets go of the lists it is given)."""
    key = np.ascontiguousarray(points, np.float64)
    key = (key.shape, key.tobytes())
    found = _HULL_LISTS.get(key)
    if found is None:
        found = _HULL_LISTS[key] = np.asarray(points, np.float64).tolist()
    return found


def _xyzw(q_wxyz: np.ndarray) -> list[float]:
    return [float(q_wxyz[1]), float(q_wxyz[2]), float(q_wxyz[3]), float(q_wxyz[0])]


def _piece_count(faces: np.ndarray, count: int) -> int:
    """Edge-connected pieces of a triangle mesh (its `count` vertices)."""
    if len(faces) == 0:
        return 0
    return int(components(face_edges(faces), count).max()) + 1


@dataclass
class ClothHandle:
    body: int
    nodes: int


class ClothWorld:
    """One PyBullet DIRECT client holding kinematic capsules, anchor frames and soft-body cloths.

    All poses are numpy arrays in the glTF frame; quaternions are (w, x, y, z) like the rest of
    the project. Call `close()` (or use `with`) to free the client.
    """

    def __init__(self, time_step: float = DEFAULT_TIME_STEP, sdf_voxel: float = DEFAULT_SDF_VOXEL_M,
                 gravity=GRAVITY, deformable: bool = False):
        self.client = p.connect(p.DIRECT)
        if self.client < 0:
            raise WardrobeError("PyBullet could not start a DIRECT physics client.")
        self.deformable = deformable
        self.time_step = float(time_step)
        p.resetSimulation(p.RESET_USE_DEFORMABLE_WORLD if deformable else 0, physicsClientId=self.client)
        p.setGravity(*gravity, physicsClientId=self.client)
        p.setTimeStep(self.time_step, physicsClientId=self.client)
        if not deformable:  # the baseline keeps PyBullet's defaults
            p.setPhysicsEngineParameter(sparseSdfVoxelSize=sdf_voxel, physicsClientId=self.client)
        self.proxies: list[int] = []
        self.frames: list[int] = []
        self.cloths: list[ClothHandle] = []
        self.steps = 0
        self._requested: np.ndarray | None = None  # request_nodes()'s answer

    # -- lifetime ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Disconnect the client (safe to call twice)."""
        client, self.client = getattr(self, "client", None), None
        if client is not None and client >= 0:
            try:
                p.disconnect(physicsClientId=client)
            except Exception:  # already gone (interpreter shutdown, or a failed start)
                pass

    def __enter__(self) -> "ClothWorld":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self.close()

    # -- kinematic bodies ---------------------------------------------------------------------------
    def add_proxies(self, proxies, friction: float = 0.5) -> None:
        """Mass-0 body proxies (an avatar.proxies.ProxyPose: capsules along local +Z and convex
        hulls) at their first pose; friction is the body side of the soft-rigid contact friction
        (the cloth side is fixed in the classic world)."""
        c = self.client
        for k in range(len(proxies)):
            r, h = float(proxies.radii[k]), float(proxies.half_lengths[k])
            if proxies.hulls[k] is not None:
                shape = p.createCollisionShape(p.GEOM_MESH, vertices=_hull_list(proxies.hulls[k]), physicsClientId=c)
            elif h < MIN_HALF_LENGTH_M:
                shape = p.createCollisionShape(p.GEOM_SPHERE, radius=r, physicsClientId=c)
            else:
                shape = p.createCollisionShape(p.GEOM_CAPSULE, radius=r, height=2 * h, physicsClientId=c)
            body = p.createMultiBody(0, shape, -1, proxies.centres[k].tolist(), _xyzw(proxies.orientations[k]),
                                     useMaximalCoordinates=True, physicsClientId=c)
            p.changeDynamics(body, -1, lateralFriction=float(friction), physicsClientId=c)
            self.proxies.append(body)

    def add_frames(self, positions: np.ndarray, orientations: np.ndarray) -> None:
        """Bodies without a collision shape that anchors hang on; orientations None: unturned."""
        for k, pos in enumerate(positions):
            q = IDENTITY_XYZW if orientations is None else _xyzw(orientations[k])
            self.frames.append(p.createMultiBody(0, -1, -1, pos.tolist(), q, useMaximalCoordinates=True,
                                                 physicsClientId=self.client))

    def move_proxies(self, centres, orientations, linear_velocity, angular_velocity) -> None:
        self._move(self.proxies, centres, orientations, linear_velocity, angular_velocity)

    def move_frames(self, positions, orientations, linear_velocity, angular_velocity=None) -> None:
        """orientations None: the frames keep no turn (anchors hung at their frame's origin need
        none); angular_velocity None: zero."""
        self._move(self.frames, positions, orientations, linear_velocity, angular_velocity)

    def _move(self, bodies, positions, orientations, lin, ang) -> None:
        # One pose and one velocity call per body (PyBullet has no batched form); positional
        # arguments: keywords cost ~0.3-0.5 us a call, and this runs ~1,000 times a frame.
        c = self.client
        reset_pose, reset_vel = p.resetBasePositionAndOrientation, p.resetBaseVelocity
        pos, lv = positions.tolist(), lin.tolist()
        q = [IDENTITY_XYZW] * len(pos) if orientations is None else orientations[:, [1, 2, 3, 0]].tolist()
        av = [ZERO3] * len(pos) if ang is None else ang.tolist()
        for body, x, r, v, w in zip(bodies, pos, q, lv, av):
            reset_pose(body, x, r, c)
            reset_vel(body, v, w, c)

    # -- cloth --------------------------------------------------------------------------------------
    def add_cloth(self, positions: np.ndarray, faces: np.ndarray, mass: float = 0.2, margin: float = 0.005,
                  **soft_body_args) -> int:
        """Load a triangle mesh as a soft body; returns its index in `self.cloths`.

        Node i is vertex i. In the classic world only `margin` (and the mesh itself) changes the
        result; `mass` and `soft_body_args` matter in the deformable world only. The mesh must be
        one connected piece.
        """
        faces = np.asarray(faces, int)
        if _piece_count(faces, len(positions)) > 1:
            raise WardrobeError("a cloth mesh must be one connected piece (PyBullet hangs on several): "
                                "load each piece as its own cloth.")
        path = _mesh_path(positions, faces)
        try:
            with open(path, "w") as fh:
                fh.write("".join(f"v {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in np.asarray(positions, float)))
                fh.write("".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces))
            body = p.loadSoftBody(path, mass=float(mass), collisionMargin=float(margin),
                                  physicsClientId=self.client, **soft_body_args)
        except p.error as exc:
            raise WardrobeError(f"PyBullet could not load the cloth mesh ({exc}): check the garment's "
                                "sim mesh.") from None
        finally:
            if os.path.exists(path):
                os.unlink(path)
        if body < 0:
            raise WardrobeError("PyBullet could not load the cloth mesh: check that the sim mesh is a "
                                "non-empty triangle mesh.")
        count = p.getMeshData(body, flags=p.MESH_DATA_SIMULATION_MESH, physicsClientId=self.client)[0]
        if count != len(positions):
            raise WardrobeError(f"PyBullet made {count} cloth nodes from {len(positions)} vertices: "
                                "the sim mesh must not hold unused vertices.")
        self.cloths.append(ClothHandle(body, count))
        return len(self.cloths) - 1

    def remove_cloth(self, cloth: int) -> None:
        p.removeBody(self.cloths[cloth].body, physicsClientId=self.client)
        self.cloths[cloth] = ClothHandle(-1, 0)

    def replace_cloth(self, cloth: int, positions: np.ndarray, faces: np.ndarray, **kwargs) -> None:
        """Remove a cloth and load a new one in its slot (anchors must be made again)."""
        self.remove_cloth(cloth)
        new = self.add_cloth(positions, faces, **kwargs)
        self.cloths[cloth] = self.cloths.pop(new)

    def anchor(self, cloth: int, nodes: np.ndarray, frames: np.ndarray) -> None:
        """Pin each node to a frame body where the node is now (it then rides with the frame)."""
        body = self.cloths[cloth].body
        where = self.nodes(cloth)
        poses = [p.getBasePositionAndOrientation(self.frames[f], physicsClientId=self.client)
                 for f in range(len(self.frames))]
        for n, f in zip(np.asarray(nodes, int).tolist(), np.asarray(frames, int).tolist()):
            origin, q = poses[f]
            rot = quat_to_matrix(np.array([q[3], q[0], q[1], q[2]]))
            local = rot.T @ (where[n] - np.asarray(origin))
            p.createSoftBodyAnchor(body, n, self.frames[f], -1, local.tolist(), physicsClientId=self.client)

    def nodes(self, cloth: int) -> np.ndarray:
        """(N, 3) node positions."""
        return np.asarray(p.getMeshData(self.cloths[cloth].body, flags=p.MESH_DATA_SIMULATION_MESH,
                                        physicsClientId=self.client)[1], dtype=np.float64)

    def nodes_of(self, cloths: list[int]) -> np.ndarray:
        """(N, 3) the node positions of several cloths, one after another."""
        return np.concatenate([self.nodes(c) for c in cloths]) if cloths else np.zeros((0, 3))

    def request_nodes(self, cloths: list[int]) -> None:
        """nodes_of(cloths), kept for collect_nodes() (a RemoteWorld reads them in its worker meanwhile)."""
        self._requested = self.nodes_of(cloths)

    def collect_nodes(self) -> np.ndarray:
        out, self._requested = self._requested, None
        return out

    def nodes_ready(self) -> bool:
        """Whether collect_nodes() would answer at once (here it always does)."""
        return True

    def move_cloth(self, cloth: int, rotation: np.ndarray, translation: np.ndarray) -> None:
        """Apply a rigid motion x -> R x + t to every node (used when the body teleports)."""
        body = self.cloths[cloth].body
        pos, q = p.getBasePositionAndOrientation(body, physicsClientId=self.client)
        current = quat_to_matrix(np.array([q[3], q[0], q[1], q[2]]))
        new_pos = rotation @ np.asarray(pos) + translation
        new_q = matrix_to_quat(rotation @ current)
        p.resetBasePositionAndOrientation(body, new_pos.tolist(), _xyzw(new_q), physicsClientId=self.client)

    def set_cloth_velocity(self, cloth: int, velocity) -> None:
        """Give every node of a cloth the same velocity (zero it after a reset)."""
        p.resetBaseVelocity(self.cloths[cloth].body, list(map(float, velocity)), [0.0, 0.0, 0.0],
                            physicsClientId=self.client)

    def push_node(self, cloth: int, node: int, force) -> None:
        """Apply a world-frame force (N) to one node for the next step (pokes, wind, fault drills)."""
        p.applyExternalForce(self.cloths[cloth].body, int(node), list(map(float, force)), [0.0, 0.0, 0.0],
                             p.WORLD_FRAME, physicsClientId=self.client)

    # -- time ----------------------------------------------------------------------------------------
    def set_time_step(self, dt: float) -> None:
        if dt != self.time_step:
            self.time_step = float(dt)
            p.setTimeStep(self.time_step, physicsClientId=self.client)

    def step(self) -> None:
        p.stepSimulation(physicsClientId=self.client)
        self.steps += 1
