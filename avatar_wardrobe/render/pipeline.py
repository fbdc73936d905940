"""Frame pipeline: a helper thread dresses frame N+1 while Panda draws frame N (Panda lets go of the GIL to draw)."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..records import Landmarks

THREAD_NAME = "aw-dress"


@dataclass
class Shown:
    """One drawn frame, handed to the pipeline's `emit`."""

    image: np.ndarray
    dressed: object            # render.plugin.Dressed: the landmarks, pose and stage times it was made from
    ms: dict = field(default_factory=dict)      # the draw's stages (as `clock` named them), wall ms
    cpu_ms: dict = field(default_factory=dict)  # ...CPU ms of this process, less the helper thread's meanwhile


class FramePipeline:
    """Runs `produce -> Wardrobe.prepare` in one helper thread and `Wardrobe.apply -> draw -> emit` here.

    Frame N is applied to the scene graph, then the helper starts on frame N+1 (`produce` may block,
    e.g. waiting for the camera's next landmarks) while this thread draws frame N. Each frame's
    latency is unchanged (its own prepare, apply and draw, one after another), but the two stages
    of consecutive frames overlap, so on two cores a frame costs max(prepare, draw) instead of their
    sum. Panda is touched from this thread only; prepare touches numpy and PyBullet only.
    `threaded=False` runs the same stages one after another (the serial baseline, and game loops
    that cannot spare a thread).
    """

    def __init__(self, wardrobe, draw: Callable[[Callable], np.ndarray], threaded: bool = True):
        """draw(clock) renders the applied frame and returns it; `with clock("render"): ...` times a
        part of it (wall and CPU; the CPU excludes what the helper thread spent meanwhile)."""
        self.wardrobe = wardrobe
        self.draw = draw
        self.threaded = threaded
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=THREAD_NAME) if threaded else None
        self._helper_clock = None

    def run(self, produce: Callable[[], Landmarks | None], emit: Callable[[Shown], bool | None]) -> int:
        """Drive frames until `produce` returns None or `emit` returns False; returns frames shown.
        An exception in either stage stops the run and is raised here."""
        if not self.threaded:
            return self._run_serial(produce, emit)
        shown = 0
        pending = self._pool.submit(self._prepare, produce)
        try:
            while True:
                dressed = pending.result()
                pending = None
                if dressed is None:
                    break
                self.wardrobe.apply(dressed)
                pending = self._pool.submit(self._prepare, produce)  # frame N+1, while frame N is drawn
                frame = self._draw(dressed)
                shown += 1
                if emit(frame) is False:
                    break
        finally:
            if pending is not None:  # a frame being prepared when the run stopped: let it finish, unused
                pending.exception()
        return shown

    def _run_serial(self, produce, emit) -> int:
        shown = 0
        while True:
            marks = produce()
            if marks is None:
                return shown
            dressed = self.wardrobe.prepare(marks)
            self.wardrobe.apply(dressed)
            shown += 1
            if emit(self._draw(dressed)) is False:
                return shown

    def _prepare(self, produce):
        if self._helper_clock is None:
            self._helper_clock = time.pthread_getcpuclockid(threading.get_ident())
        marks = produce()
        return None if marks is None else self.wardrobe.prepare(marks)

    def _helper_cpu_s(self) -> float:
        return time.clock_gettime(self._helper_clock) if self._helper_clock is not None else 0.0

    def _draw(self, dressed) -> Shown:
        shown = Shown(None, dressed)

        @contextmanager
        def clock(stage: str):
            t0, c0, h0 = time.perf_counter(), time.process_time(), self._helper_cpu_s()
            yield
            cpu = (time.process_time() - c0) - (self._helper_cpu_s() - h0)
            shown.ms[stage] = (time.perf_counter() - t0) * 1e3
            shown.cpu_ms[stage] = max(cpu, 0.0) * 1e3

        shown.image = self.draw(clock)
        return shown

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> "FramePipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
