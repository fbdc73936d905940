"""AR mode in the live window: the camera (or video) image with the garments drawn over the player."""
from __future__ import annotations

import time

import cv2
import numpy as np

from ..errors import WardrobeError
from .ar import ArView
from .offscreen import SceneBuffer, ScreenCard, main_camera_active

TASK_NAME = "avatar_wardrobe.ar_window"
TASK_SORT = 40      # before the refine pass (45) and before Panda draws the frame (igLoop, sort 50)
WORK_HEIGHT_PX = 480  # camera frames are tracked and composited at this height


class ArWindow:
    """While on, the window shows the source's frames with the worn garments composited over the
    player (ar.ArView into an offscreen buffer). Each shown frame is the previous frame's camera
    image with the garments drawn for that same image: one frame of latency, never a mismatch.

    The wardrobe's own motion task is stopped while AR runs (AR tracks the frames itself, with
    segmentation) and the avatar's transform is put back afterwards. srgb: the scene is shaded in
    linear space (simplepbr), so the buffer stores sRGB like the window's own picture."""

    def __init__(self, base, wardrobe, source, vertical_fov_deg: float, mirror=lambda: False, refiner=None,
                 studio=None, srgb: bool = False):
        from ..pose.sources import open_source
        from ..pose.tracker import PoseTracker

        self.base, self.wardrobe, self.source = base, wardrobe, source
        self.mirror, self.refiner, self.studio = mirror, refiner, studio
        self.frames = open_source(source)
        self._iter = iter(self.frames)
        self.error = ""  # why AR stopped reading frames, if it did
        first = self._next_frame()
        if first is None:
            self.frames.close()
            raise WardrobeError(self.error or f"AR mode: {self.frames.description} gave no image.")
        h, w = first.image.shape[:2]
        self.size = (round(w * WORK_HEIGHT_PX / h) // 2 * 2, WORK_HEIGHT_PX)
        self.tracker = PoseTracker(enable_segmentation=True)
        self._saved_mat = wardrobe.node.getMat()
        wardrobe.stop()
        self.buffer = SceneBuffer(base, self.size, clear=(0.0, 0.0, 0.0, 0.0), name="ar_scene", srgb=srgb)
        self.view = ArView(base, wardrobe, vertical_fov_deg, buffer=self.buffer)
        self.card = ScreenCard(base, "ar_card")
        if studio is not None:
            studio.root.hide()
        main_camera_active(base, False)
        self._pending = None
        self.last = None  # (landmarks, garment mask) of the frame shown last
        self.timings_ms: dict[str, float] = {}
        self._track(first)
        base.taskMgr.add(self._tick, TASK_NAME, sort=TASK_SORT)

    def _next_frame(self):
        if self.error:
            return None
        try:
            return self._read_frame()
        except WardrobeError as exc:  # e.g. a camera unplugged: keep the last picture, say why
            self.error = f"AR stopped: {exc}"
            return None

    def _read_frame(self):
        frame = next(self._iter, None)
        from ..pose.sources import WebcamSource, open_source

        if frame is None and not isinstance(self.frames, WebcamSource):  # a video: play it again
            self.frames.close()

            self.frames = open_source(self.source)
            self._iter = iter(self.frames)
            frame = next(self._iter, None)
        return frame

    def _track(self, frame) -> None:
        t0 = time.perf_counter()
        frame.image = cv2.resize(frame.image, self.size, interpolation=cv2.INTER_AREA)
        marks = self.tracker.track(frame)
        t1 = time.perf_counter()
        self.view.prepare(frame, marks)
        self.timings_ms.update(track=(t1 - t0) * 1e3, place=(time.perf_counter() - t1) * 1e3)
        self._pending = (frame, marks)

    def _tick(self, task):
        if self._pending is not None:
            rgba = self.buffer.read()
            if rgba is not None:
                t0 = time.perf_counter()
                frame, marks = self._pending
                image, mask = self.view.blend(frame, marks, rgba, mirror=self.mirror())
                self.last = (marks, mask)
                if self.refiner is not None and self.refiner.active:
                    image = self.refiner(image)
                self.card.show(np.ascontiguousarray(image))
                self.timings_ms["composite"] = (time.perf_counter() - t0) * 1e3
                if self.view.warp is not None:
                    self.timings_ms["warp"] = self.view.warp.last_ms
        frame = self._next_frame()
        if frame is not None:
            self._track(frame)
        return task.cont

    @property
    def tracking(self) -> bool | None:
        return None if self._pending is None else self._pending[1].found

    def remove(self) -> None:
        """Back to the normal view: the studio, the window's camera, the avatar where it was."""
        self.base.taskMgr.remove(TASK_NAME)
        self.view.remove()
        self.card.remove()
        self.buffer.remove()
        self.tracker.close()
        self.frames.close()
        self.wardrobe.node.setMat(self._saved_mat)
        if self.studio is not None:
            self.studio.root.show()
        main_camera_active(self.base, True)
