"""Wardrobe: the plugin a Panda3D game attaches to its own ShowBase to get a pose-driven avatar."""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..avatar.model import AvatarModel, load_avatar
from ..avatar.skinning import skin_matrices, skin_points
from ..errors import WardrobeError
from ..garments.garment import Garment
from ..garments.wardrobe import Outfit
from ..records import Landmarks, Pose
from ..settings import AvatarSettings, model_path
from .avatar_actor import AvatarActor
from .garment_view import GarmentView

TASK_NAME = "avatar_wardrobe.update"
TASK_SORT = -10  # run before the game's own tasks that may read joint positions


class Wardrobe:
    """Attach an avatar to an existing ShowBase and drive it from landmarks.

    >>> wardrobe = Wardrobe(base)                       # the default avatar under base.render
    >>> wardrobe.play(read_motion("dance.jsonl").frames, fps=30)   # or a live tracker stream
    """

    def __init__(self, base, avatar: str | Path | AvatarModel | None = None, parent=None, rig: str = "auto"):
        self.base = base
        if not isinstance(avatar, AvatarModel):
            avatar = load_avatar(model_path(avatar or AvatarSettings().path), rig)
        self.avatar = avatar
        self.actor = AvatarActor(avatar.path, avatar.skeleton, parent if parent is not None else base.render)
        self.pose: Pose | None = None
        self._stream: Iterator[Landmarks] | None = None
        self._frames: list[Landmarks] | None = None
        self._fps = 30.0
        self._loop = True
        self._start = 0.0
        self._task = None
        self.timings_ms: dict[str, float] = {}
        self.outfit = Outfit()
        self._worn: dict[str, _Worn] = {}
        self.outfit.on_unequip.append(self._take_off)

    @property
    def node(self):
        """The avatar's NodePath: move, scale or reparent it like any model."""
        return self.actor.node

    def update(self, marks: Landmarks) -> Pose:
        """Solve one landmarks record and pose the avatar with it. A frame with nobody in it
        keeps the last pose."""
        t0 = time.perf_counter()
        if marks.found or self.pose is None:
            self.pose = self.avatar.solver.solve(marks)
        t1 = time.perf_counter()
        self.actor.apply_local(self.avatar.skeleton.local_matrices(self.pose.local_rotations, self.pose.root_offset))
        t2 = time.perf_counter()
        self.timings_ms = {"solve": (t1 - t0) * 1e3, "pose": (t2 - t1) * 1e3}
        if self._worn:
            self._dress(self.pose)
            self.timings_ms["garments"] = (time.perf_counter() - t2) * 1e3
        return self.pose

    # -- garments ---------------------------------------------------------------------------
    def equip(self, garment: Garment) -> Garment:
        """Wear a garment (replacing what is in its slot). It is skinned to this avatar's bones."""
        skeleton = self.avatar.skeleton
        if garment.joints is None or garment.joint_names is None:
            raise WardrobeError(f"garment {garment.name} has no skin weights: fit it to the avatar first.")
        joints = np.array([skeleton.index(n) for n in garment.joint_names])[garment.joints]
        self.outfit.equip(garment)
        worn = _Worn(garment, GarmentView(garment, self.actor.node), joints)
        self._worn[garment.meta.slot] = worn
        self._update_hiding()
        if self.pose is not None:
            self._dress(self.pose)
        return garment

    def unequip(self, slot: str) -> Garment | None:
        return self.outfit.unequip(slot)

    def _take_off(self, garment: Garment) -> None:
        worn = self._worn.pop(garment.meta.slot, None)
        if worn is not None:
            worn.view.remove()
        self._update_hiding()

    def _update_hiding(self) -> None:
        body = self.avatar.body
        self.actor.set_hidden_faces(self.outfit.hidden_faces(body.faces, body.regions))

    def _dress(self, pose: Pose) -> None:
        matrices = skin_matrices(self.avatar.skeleton, pose.local_rotations, pose.root_offset)
        for worn in self._worn.values():
            g = worn.garment
            positions, normals = skin_points(g.positions, worn.joints, g.weights, matrices, g.normals)
            worn.view.show(positions, normals)

    def play(self, landmarks: Iterable[Landmarks], fps: float = 30.0, loop: bool = True) -> None:
        """Drive the avatar from a stream of landmarks in a Panda3D task.

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
        if self._task is not None:
            self.base.taskMgr.remove(self._task)
            self._task = None

    def remove(self) -> None:
        """Detach everything this plugin added to the game."""
        self.stop()
        for slot in list(self._worn):
            self.outfit.unequip(slot)
        self.actor.remove()


@dataclass
class _Worn:
    garment: Garment
    view: GarmentView
    joints: np.ndarray  # skin joint indices into the avatar skeleton
