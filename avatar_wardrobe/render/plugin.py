"""Wardrobe: the plugin a Panda3D game attaches to its own ShowBase to get a dressed, pose-driven avatar."""
from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..avatar.lod import cell_sizes
from ..avatar.model import AvatarModel, load_avatar
from ..avatar.skinning import skin_matrices, skin_points
from ..errors import WardrobeError
from ..garments.garment import Garment
from ..garments.wardrobe import Outfit
from ..records import Landmarks, Pose
from ..retarget.pose_filter import PoseFilter
from ..settings import AvatarSettings, SceneSettings, load_scene, model_path
from . import body_detail
from .avatar_actor import AvatarActor
from .garment_view import GarmentView

TASK_NAME = "avatar_wardrobe.update"
TASK_SORT = -10  # run before the game's own tasks that may read joint positions
# Events sent through Panda's messenger (argument: the garment, or the Wardrobe itself).
EVENT_EQUIP = "wardrobe-equip"
EVENT_UNEQUIP = "wardrobe-unequip"
EVENT_TRACKING_LOST = "wardrobe-tracking-lost"
EVENT_TRACKING_FOUND = "wardrobe-tracking-found"
EVENT_BODY_CHANGED = "wardrobe-body-changed"
MOTION_SUFFIX = ".jsonl"
# When a followed camera or video stops, nobody is seen for this long (GATE_EASE_OUT_S and more).
SOURCE_ENDED_EASE_S = 1.0


class SourceEndedWarning(UserWarning):
    """A followed camera or video stopped (unplugged, damaged, ended): said once per source."""


class Wardrobe:
    """Attach an avatar to an existing ShowBase, dress it and drive it from the player's motion.

    >>> wardrobe = Wardrobe(base)                          # default avatar under base.render
    >>> wardrobe.equip(load_garment("models/garments/tshirt_M.glb"))
    >>> wardrobe.follow("models/motions/pose_1.jsonl")     # or a camera index, a video file
    The game keeps its own camera and lights; `studio=True` adds the project's studio set.
    """

    def __init__(self, base, avatar: str | Path | AvatarModel | None = None, parent=None, rig: str | None = None,
                 scene: SceneSettings | str | Path | None = None, studio: bool = False, cloth_settings=None):
        """cloth_settings: a cloth.simulator.ClothSettings for every simulated garment (e.g. a sim
        mesh budget, `ClothSettings(sim_vertices=1000)`); None: each garment's fabric preset."""
        self.base = base
        self.cloth_settings = cloth_settings
        self.scene = scene if isinstance(scene, SceneSettings) else load_scene(scene)
        body_detail.check_mode(self.scene.render.body_lod)
        self._parent = parent if parent is not None else base.render
        self.timings_ms: dict[str, float] = {}      # the last update's stages, wall ms
        self.timings_cpu_ms: dict[str, float] = {}  # ...and CPU ms of the thread that ran it (what load does not inflate)
        self.outfit = Outfit()
        self.outfit.on_equip.append(lambda g: base.messenger.send(EVENT_EQUIP, [g]))
        self.outfit.on_unequip.append(self._take_off)
        self._worn: dict[str, _Worn] = {}
        self._task = None
        self._stream: Iterator[Landmarks] | None = None
        self._frames: list[Landmarks] | None = None
        self._fps, self._loop, self._start = 30.0, True, 0.0
        self._tracking = None
        self._close_source = None
        self.pose: Pose | None = None
        self.avatar: AvatarModel | None = None
        self.filter: PoseFilter | None = None
        self.cloth_enabled = self.scene.cloth.enabled
        self.fit_map = self.scene.cloth.fit_map
        # True: each frame shows the cloth at once from the last simulated frame (GarmentSim.follow)
        # and the physics catches up in advance_cloth(), off the frame's critical path (FramePipeline
        # runs it while the next landmarks are awaited): ~1 frame of cloth lag for less latency.
        self.cloth_lag = False
        # With [cloth] process: True runs every worn garment's physics in one worker process (one
        # interpreter and PyBullet instead of one per garment); False gives each garment its own.
        self.cloth_shared_process = self.scene.cloth.shared_process
        self._cloth_host = None
        self._physics_ms: tuple[float, float] | None = None  # the last advance_cloth's (wall, CPU) ms
        self.cloth_resets = 0
        self._proxies = self._proxies_for = None
        self.actor: AvatarActor | None = None
        self.set_body(avatar if avatar is not None else self.scene.avatar.path, rig or self.scene.avatar.rig)
        for garment in self.scene.outfit:
            self.equip(garment)
        self.studio = None
        if studio:
            from .studio import Studio

            r = self.scene.render
            self.studio = Studio(base, self.avatar.height_m, pbr=r.pbr, msaa=r.msaa, camera=self.scene.camera,
                                 kind=self.scene.set.kind)

    @property
    def node(self):
        """The avatar's NodePath: move, scale or reparent it like any model."""
        return self.actor.node

    # -- body ---------------------------------------------------------------------------------
    def set_body(self, avatar: str | Path | AvatarModel, rig: str = "auto") -> None:
        """Swap the avatar (a .glb path, a bundled name like "male_180_80", or a loaded model).
        Worn garments are put on the new body again."""
        if not isinstance(avatar, AvatarModel):
            path = model_path(avatar)
            if not path.suffix and not path.exists():
                path = model_path(Path(AvatarSettings().path).parent / f"{avatar}.glb")
            avatar = load_avatar(path, rig)
        worn = [w.original for w in self._worn.values()]
        for garment in worn:
            self._take_off(garment)
        if self.actor is not None:
            self.actor.remove()
        self.avatar = avatar
        self.actor = AvatarActor(avatar.path, avatar.skeleton, self._parent, lod_cells=cell_sizes(avatar.body.regions))
        if self.scene.render.body_lod != "full":
            self.actor.prepare_low_detail()
        self.pose = None
        self.filter = PoseFilter(avatar.solver)
        for garment in worn:
            self._put_on(garment)
        self.base.messenger.send(EVENT_BODY_CHANGED, [self])

    # -- motion -------------------------------------------------------------------------------
    def update(self, marks: Landmarks) -> Pose:
        """Solve one landmarks record and pose the avatar (and its garments) with it.
        Landmarks are smoothed, unseen limbs ease to rest, planted feet stay put (PoseFilter)."""
        pose = self.apply(self.prepare(marks))
        self.advance_cloth()
        return pose

    def settle(self, marks: Landmarks | None = None) -> None:
        """Build and settle every simulated garment now, entering the pose `marks` solve to (solved
        apart: the motion's own filter is not advanced; None: the rest pose), so that the first frame
        does not pay for it (the demo's t-shirt and trousers: ~0.9 s, their compiled kernels loaded)."""
        if not self.cloth_enabled:
            return
        pose = PoseFilter(self.avatar.solver).step(marks) if marks is not None else None
        for worn in self._worn.values():
            if worn.sim is not None:
                worn.sim.reset(pose)

    def advance_cloth(self) -> None:
        """With `cloth_lag`: simulate the worn garments to the last prepared pose (nothing otherwise,
        or when it is done already). Call it from the thread that prepares frames, between them;
        its stage time goes with the next prepared frame ("physics")."""
        if not self.cloth_lag:
            return
        t0, c0 = time.perf_counter(), time.thread_time()
        ran = False
        for worn in list(self._worn.values()):  # sent only: each garment's worker steps while this thread goes on
            if worn.sim is not None:
                ran = bool(worn.sim.advance(wait=not worn.sim.settings.process)) or ran
        if ran:
            self._physics_ms = ((time.perf_counter() - t0) * 1e3, (time.thread_time() - c0) * 1e3)

    def prepare(self, marks: Landmarks) -> "Dressed":
        """The numpy/PyBullet half of `update`: solve the pose and shape every worn garment, without
        touching Panda, so a helper thread may run it while Panda draws the previous frame
        (render/pipeline.py). Frames must be prepared and applied in order, one at a time."""
        t0, c0 = time.perf_counter(), time.thread_time()
        pose = self.filter.step(marks)
        local = self.avatar.skeleton.local_matrices(pose.local_rotations, pose.root_offset)
        t1, c1 = time.perf_counter(), time.thread_time()
        dressed = Dressed(marks, pose, local, timings_ms={"solve": (t1 - t0) * 1e3},
                          timings_cpu_ms={"solve": (c1 - c0) * 1e3})
        if self._physics_ms is not None:  # cloth_lag: the physics run since the last frame
            (dressed.timings_ms["physics"], dressed.timings_cpu_ms["physics"]), self._physics_ms = self._physics_ms, None
        if self._worn:
            dressed.shapes, cloth_s, cloth_cpu_s = self._shape_garments(pose)
            if self.cloth_enabled:
                dressed.timings_ms["cloth"] = cloth_s * 1e3
                dressed.timings_cpu_ms["cloth"] = cloth_cpu_s * 1e3
            dressed.timings_ms["garments"] = (time.perf_counter() - t1 - cloth_s) * 1e3
            dressed.timings_cpu_ms["garments"] = (time.thread_time() - c1 - cloth_cpu_s) * 1e3
        return dressed

    def apply(self, dressed: "Dressed") -> Pose:
        """The Panda half of `update` (call it from Panda's thread): pose the actor, upload the
        garments, send the tracking events. The frame's stage times (prepare's and apply's) are in
        `dressed.timings_ms`/`timings_cpu_ms`, and in `self.timings_ms`/`timings_cpu_ms` until the next."""
        t0, c0 = time.perf_counter(), time.thread_time()
        found = dressed.marks.found
        if found != self._tracking:
            self._tracking = found
            self.base.messenger.send(EVENT_TRACKING_FOUND if found else EVENT_TRACKING_LOST, [self])
        self.pose = dressed.pose
        self.actor.apply_local(dressed.local)
        self.update_detail()
        t1, c1 = time.perf_counter(), time.thread_time()
        self._show(dressed.shapes)
        wall, cpu = dressed.timings_ms, dressed.timings_cpu_ms
        wall["pose"], cpu["pose"] = (t1 - t0) * 1e3, (c1 - c0) * 1e3
        if dressed.shapes:
            wall["garments"] += (time.perf_counter() - t1) * 1e3
            cpu["garments"] += (time.thread_time() - c1) * 1e3
        self.timings_ms, self.timings_cpu_ms = dict(wall), dict(cpu)
        return self.pose

    def update_detail(self) -> bool:
        """Pick the avatar's triangle list for how tall it stands on screen now ([render] body_lod;
        `apply` calls this every frame). Returns whether the coarse one is drawn."""
        mode = self.scene.render.body_lod
        height = body_detail.screen_height_px(self.base, self.actor.node, self.avatar.height_m) if mode == "auto" else None
        self.actor.set_low_detail(body_detail.want_low(mode, self.actor.low_detail, height))
        return self.actor.low_detail

    def play(self, landmarks: Iterable[Landmarks], fps: float = 30.0, loop: bool = True) -> None:
        """Drive the avatar from landmarks in a Panda3D task.

        A list (a recording) plays back in real time at `fps`, looping if asked; any other
        iterable (a live tracker) is read one record per rendered frame.
        """
        self.stop()
        if isinstance(landmarks, list):
            self._frames, self._stream = landmarks, None
        else:
            self._frames, self._stream = None, iter(landmarks)
        self._fps, self._loop, self._start = fps, loop, time.perf_counter()
        self._task = self.base.taskMgr.add(self._tick, TASK_NAME, sort=TASK_SORT)

    def follow(self, source, loop: bool = True) -> None:
        """Follow a motion source: a recording (.jsonl), a video file, an image folder or a
        webcam index. Camera frames are tracked in memory and never stored."""
        if isinstance(source, (str, Path)) and str(source).endswith(MOTION_SUFFIX):
            from ..pose.recording import read_motion

            motion = read_motion(model_path(source))
            self.play(motion.frames, fps=motion.fps, loop=loop)
            return
        from ..pose.sources import open_source
        from ..pose.tracker import PoseTracker

        frames = open_source(source)
        tracker = PoseTracker()

        def stream():
            marks = None
            try:
                for frame in frames:
                    marks = tracker.track(frame)
                    yield marks
                reason = "it sent no more frames"
            except WardrobeError as exc:  # e.g. a camera that opened but never sent an image
                reason = str(exc)
            # Said once; then nobody is seen for a while, so the pose filter eases the avatar to rest.
            warnings.warn(f"{frames.description} stopped: {reason}. The avatar eases to rest; follow another "
                          "source to go on.", SourceEndedWarning, stacklevel=2)
            t, index = (marks.time_s, marks.index) if marks is not None else (0.0, -1)
            for i in range(1, int(np.ceil(SOURCE_ENDED_EASE_S * frames.fps)) + 1):
                yield Landmarks(index=index + i, time_s=t + i / frames.fps)

        self.play(stream())
        self._close_source = lambda: (frames.close(), tracker.close())

    def _tick(self, task):
        if self._frames is not None:
            if not self._frames:
                return task.done
            i = int((time.perf_counter() - self._start) * self._fps)
            if i >= len(self._frames):
                if not self._loop:
                    return task.done
                i %= len(self._frames)
            self.update(self._frames[i])
            return task.cont
        marks = next(self._stream, None)
        if marks is None:
            return task.done
        self.update(marks)
        return task.cont

    def stop(self) -> None:
        """Stop following; the avatar keeps its last pose."""
        if self._task is not None:
            self.base.taskMgr.remove(self._task)
            self._task = None
        if self._close_source is not None:
            self._close_source()
            self._close_source = None

    # -- garments -----------------------------------------------------------------------------
    def equip(self, garment: Garment | str | Path, variant: str | None = None) -> Garment:
        """Wear a garment (a Garment or a garment .glb), replacing what is in its slot."""
        if not isinstance(garment, Garment):
            from ..garments.garment_io import load_garment

            garment = load_garment(model_path(garment))
        if variant is not None:
            from ..garments.wardrobe import with_variant

            garment = with_variant(garment, variant)
        self.outfit.equip(garment)
        self._put_on(garment)
        return garment

    def unequip(self, slot: str) -> Garment | None:
        return self.outfit.unequip(slot)

    def undress(self) -> None:
        """Take every garment off."""
        for slot in list(self._worn):
            self.outfit.unequip(slot)

    def worn(self) -> list[Garment]:
        """What the avatar wears, each garment as fitted to the current body, inner layers first."""
        return [self._worn[g.meta.slot].garment for g in self.outfit.items() if g.meta.slot in self._worn]

    @property
    def cloth_nodes(self) -> int:
        """Simulated cloth nodes over all worn garments (0 when the cloth is off)."""
        return sum(len(w.sim.sim.positions) for w in self._worn.values() if w.sim is not None)

    @property
    def cloth_pids(self) -> list[int]:
        """Process ids of the worn garments' cloth workers (cloth/host.py; none with [cloth] process off)."""
        return sorted({w.sim.worker_pid for w in self._worn.values() if w.sim is not None and w.sim.worker_pid})

    @property
    def cloth_late_frames(self) -> int:
        """Frames the cloth workers' physics fell behind and skipped (cloth_lag with [cloth] process)."""
        return sum(w.sim.late_frames for w in self._worn.values() if w.sim is not None)

    @property
    def tracking(self) -> bool | None:
        """None before any frame, then whether the last frame had a person in it."""
        return self._tracking

    def _put_on(self, garment: Garment) -> None:
        skeleton = self.avatar.skeleton
        from ..garments.fitting import fitted_for

        fitted = fitted_for(garment, self.avatar)
        try:
            joints = np.array([skeleton.index(n) for n in fitted.joint_names])[fitted.joints]
        except (TypeError, WardrobeError):
            raise WardrobeError(f"garment {garment.name} is skinned to bones this avatar lacks: "
                                "rig it to the avatar's skeleton (see docs/garment-format.md).") from None
        sim = self._simulator(fitted) if self.cloth_enabled else None
        self._worn[garment.meta.slot] = _Worn(garment, fitted, GarmentView(fitted, self.actor.node, self.scene.render.cull_hidden_insides), joints, sim)
        self._update_hiding()
        self._update_order()
        if self.pose is not None:
            self._dress(self.pose)

    def _take_off(self, garment: Garment) -> None:
        worn = self._worn.pop(garment.meta.slot, None)
        if worn is not None:
            worn.view.remove()
            if worn.sim is not None:
                worn.sim.close()
            self._update_hiding()
            self.base.messenger.send(EVENT_UNEQUIP, [garment])

    def _simulator(self, garment: Garment):
        from ..avatar.proxies import BodyProxies
        from ..cloth.simulator import ClothSettings, GarmentSim

        if self._proxies is None or self._proxies_for is not self.avatar:
            self._proxies, self._proxies_for = BodyProxies.for_avatar(self.avatar), self.avatar
        settings = self.cloth_settings or ClothSettings()
        if settings.process is None:
            settings = replace(settings, process=self.scene.cloth.process)
        return GarmentSim(garment, self.avatar, garment.meta.fabric, settings=settings, proxies=self._proxies,
                          host=self._shared_cloth_host(settings) if settings.process else None)

    def _shared_cloth_host(self, settings):
        """The one cloth worker every worn garment's physics runs in (`cloth_shared_process`, from the
        scene's [cloth] shared_process), or None (each garment starts its own worker)."""
        if not self.cloth_shared_process:
            return None
        from ..cloth.host import PhysicsHost

        if self._cloth_host is None or not self._cloth_host.alive():
            self._cloth_host = PhysicsHost(settings.process_nice)
        return self._cloth_host

    def set_cloth(self, on: bool, settings=None) -> None:
        """Simulate the garments' cloth (PyBullet) or just skin them to the body.
        settings: a cloth.simulator.ClothSettings for the worn garments and later ones (None keeps the current)."""
        self.cloth_enabled = bool(on)
        if settings is not None:
            self.cloth_settings = settings
        for worn in self._worn.values():
            if worn.sim is not None:
                worn.sim.close()
            worn.sim = self._simulator(worn.garment) if on else None
        if self.pose is not None and self._worn:
            self._dress(self.pose)

    def set_fit_map(self, on: bool) -> None:
        """Colour garments by cloth strain (blue loose, green fits, red tight); needs cloth on."""
        self.fit_map = bool(on)
        for worn in self._worn.values():
            if not on:
                worn.view.set_colors(np.ones((worn.garment.vertex_count, 4), np.float32))
        if self.pose is not None and self._worn:
            self._dress(self.pose)

    def _rest_fit(self, worn: "_Worn") -> np.ndarray:
        """Strain the garment needs to clear this body at rest (a small size shows red where it is
        tight even before it moves); computed once per worn garment."""
        if worn.rest_fit is None:
            from ..cloth.fit import clearance_strain

            body = self.avatar.body
            margin = worn.sim.fabric.margin_m if worn.sim is not None else 0.0
            g = worn.garment
            worn.rest_fit, _ = clearance_strain(g.positions.astype(np.float64), g.positions.astype(np.float64),
                                                g.faces, body.positions, body.normals, margin)
        return worn.rest_fit

    def _update_order(self) -> None:
        for rank, garment in enumerate(self.outfit.items()):
            worn = self._worn.get(garment.meta.slot)
            if worn is not None:
                worn.view.set_order(rank)

    def _update_hiding(self) -> None:
        body = self.avatar.body
        self.actor.set_hidden_faces(self.outfit.hidden_faces(body.faces, body.regions))

    def _dress(self, pose: Pose) -> None:
        """Pose every worn garment (simulated or skinned) and upload it."""
        self._show(self._shape_garments(pose)[0])

    def _shape_garments(self, pose: Pose) -> tuple[list, float, float]:
        """Each worn garment's (worn, positions, normals, fit colours or None) for a pose, simulated
        or skinned, plus the (wall, CPU) seconds spent simulating. No Panda calls."""
        matrices = None
        shapes = []
        worn_now = list(self._worn.values())
        t0, c0 = time.perf_counter(), time.thread_time()
        if not self.cloth_lag:  # every garment's physics is sent before any is waited for: their workers step together
            for worn in worn_now:
                if worn.sim is not None:
                    worn.sim.start(pose)
        cloth_s, cloth_cpu_s = time.perf_counter() - t0, time.thread_time() - c0
        for worn in worn_now:
            g = worn.garment
            if worn.sim is not None:
                t0, c0 = time.perf_counter(), time.thread_time()
                state = worn.sim.follow(pose) if self.cloth_lag else worn.sim.finish()
                cloth_s += time.perf_counter() - t0
                cloth_cpu_s += time.thread_time() - c0
                self.cloth_resets = max(self.cloth_resets, state.resets)
                colors = None
                if self.fit_map:
                    from ..cloth.fit import strain_colors

                    colors = strain_colors(np.maximum(state.strain, self._rest_fit(worn)))
                shapes.append((worn, state.positions, state.normals, colors))
                continue
            if matrices is None:
                matrices = skin_matrices(self.avatar.skeleton, pose.local_rotations, pose.root_offset)
            positions, normals = skin_points(g.positions, worn.joints, g.weights, matrices, g.normals)
            shapes.append((worn, positions, normals, None))
        return shapes, cloth_s, cloth_cpu_s

    def _show(self, shapes: list) -> None:
        """Upload garment shapes to their views (a garment taken off since it was shaped is skipped)."""
        for worn, positions, normals, colors in shapes:
            if self._worn.get(worn.garment.meta.slot) is not worn:
                continue
            worn.view.show(positions, normals)
            if colors is not None:
                worn.view.set_colors(colors)

    # -- output -------------------------------------------------------------------------------
    def snapshot(self) -> np.ndarray:
        """The last rendered frame of the game's window, as BGR uint8 (H, W, 3)."""
        tex = self.base.win.getScreenshot()
        if tex is None:
            raise WardrobeError("no frame has been rendered yet: call snapshot() after base.taskMgr.step().")
        data = tex.getRamImageAs("BGR")
        img = np.frombuffer(data, np.uint8).reshape(tex.getYSize(), tex.getXSize(), 3)
        return np.ascontiguousarray(img[::-1])

    def remove(self) -> None:
        """Take out everything this plugin added to the game: task, garments, avatar, studio."""
        self.stop()
        self.undress()
        if self._cloth_host is not None:
            self._cloth_host.close()
            self._cloth_host = None
        self.actor.remove()
        if self.studio is not None:
            self.studio.remove()


@dataclass
class Dressed:
    """One frame made ready by `Wardrobe.prepare` (numpy only) for `Wardrobe.apply` (Panda)."""

    marks: Landmarks
    pose: Pose
    local: np.ndarray                # skeleton local matrices of the pose
    shapes: list = field(default_factory=list)   # (worn, positions, normals, fit colours or None)
    timings_ms: dict = field(default_factory=dict)
    timings_cpu_ms: dict = field(default_factory=dict)  # CPU of the thread that prepared it


@dataclass
class _Worn:
    original: Garment  # as equipped
    garment: Garment   # fitted to the current body
    view: GarmentView
    joints: np.ndarray  # skin joint indices into the avatar skeleton
    sim: object | None = None  # cloth.simulator.GarmentSim when the cloth is simulated
    rest_fit: np.ndarray | None = None  # per-vertex strain to clear the body at rest (fit map)
