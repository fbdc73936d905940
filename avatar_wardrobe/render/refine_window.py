"""The refinement pass in the live window: the scene drawn offscreen, refined (PyTorch), shown on a card."""
from __future__ import annotations

import numpy as np

from ..settings import RefineSettings
from .offscreen import SceneBuffer, ScreenCard, main_camera_active

TASK_NAME = "avatar_wardrobe.refine_window"
TASK_SORT = 45  # after the scene's tasks, before Panda draws the frame (igLoop, sort 50)


class RefineView:
    """While on, the window shows the refined picture: each frame shows the previous frame's
    render refined (one frame of latency; the UI is drawn on top, unrefined)."""

    def __init__(self, base, style: str, settings: RefineSettings | None = None, srgb: bool = False):
        """srgb: the scene is shaded in linear space (simplepbr) and must be stored as sRGB."""
        from ..refine.runner import Refiner

        self.base = base
        self.refiner = Refiner.create(style, settings)
        self.reason = self.refiner.reason  # why it passes frames through, if it does
        self.srgb = srgb
        self._buffer = self._card = None

    @property
    def active(self) -> bool:
        return self._buffer is not None

    def start(self) -> None:
        if self.active:
            return
        base = self.base
        size = (base.win.getXSize(), base.win.getYSize())
        self._buffer = SceneBuffer(base, size, lens=base.camLens, clear=base.getBackgroundColor(),
                                   name="refine_scene", srgb=self.srgb)
        self._buffer.camera.reparentTo(base.camera)
        self._card = ScreenCard(base, "refine_card")
        main_camera_active(base, False)
        base.taskMgr.add(self._tick, TASK_NAME, sort=TASK_SORT)

    def _tick(self, task):
        image = self._buffer.read()
        if image is not None:
            self._card.show(self.refiner(np.ascontiguousarray(image[..., :3])))
        return task.cont

    def stop(self) -> None:
        if not self.active:
            return
        self.base.taskMgr.remove(TASK_NAME)
        main_camera_active(self.base, True)
        self._card.remove()
        self._buffer.remove()
        self._buffer = self._card = None
