"""Frame pipeline: helper threads dress frame N+1 and finish frame N-1 while Panda draws frame N (Panda lets go of the GIL to draw)."""
from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..records import Landmarks

DRESS_THREAD = "aw-dress"
FINISH_THREAD = "aw-finish"


def freeze_startup_heap() -> None:
    """Move every object alive now (imports, models, Panda's and torch's startup objects, ~126k)
    out of the cyclic garbage collector's sight, for a job that owns its process and has finished
    starting: a full collection of that heap took 50-80 ms (one stalled frame, with the GIL held)
    during the 4-second demo; after this the collector only walks what the frames allocate
    (0.065-0.093 s -> 0.012 s of collection per 120 frames). Not for a game's own loop: it is the
    game's heap, the game decides."""
    gc.collect()
    gc.freeze()


@dataclass
class Shown:
    """One drawn (and finished) frame, handed to the pipeline's `emit`."""

    image: np.ndarray | None
    dressed: object            # render.plugin.Dressed: the landmarks, pose and stage times it was made from
    ms: dict = field(default_factory=dict)      # the draw's and finish's stages (as `clock` named them), wall ms
    cpu_ms: dict = field(default_factory=dict)  # ...CPU ms spent on them (see FramePipeline)


class FramePipeline:
    """`produce -> Wardrobe.prepare` in a helper thread, `Wardrobe.apply -> draw` here, `finish -> emit` after.

    Frame N is applied to the scene graph, then the dress helper starts on frame N+1 (`produce`
    may block, e.g. waiting for the camera's next landmarks) while this thread draws frame N;
    with `Wardrobe.cloth_lag` it first runs frame N's cloth physics (`advance_cloth`). With
    a `finish` stage (e.g. the refiner, which lets go of the GIL too) a second helper finishes and
    emits frame N while this thread goes on to draw frame N+1. Each frame's latency is its own
    stages one after another, as before; consecutive frames overlap, so on two cores a frame
    costs about the slowest stage instead of the sum. Panda is touched from this thread only;
    prepare touches numpy and PyBullet, finish only the image. Frames are emitted in order.
    `threaded=False` runs the same stages one after another in this thread (the serial baseline,
    and game loops that cannot spare a thread).

    CPU per stage: a helper's stages count that thread's CPU; this thread's stages count the
    process's CPU (so llvmpipe's own threads too) less the helpers' meanwhile.
    """

    def __init__(self, wardrobe, draw: Callable[[Callable], np.ndarray], threaded: bool = True,
                 finish: Callable[[np.ndarray, Callable], np.ndarray] | None = None):
        """draw(clock) renders the applied frame and returns it; finish(image, clock), if given,
        returns the image to emit. `with clock("render"): ...` times a part of either."""
        self.wardrobe = wardrobe
        self.draw = draw
        self.finish = finish
        self.threaded = threaded
        self._dress = ThreadPoolExecutor(1, thread_name_prefix=DRESS_THREAD) if threaded else None
        self._finisher = ThreadPoolExecutor(1, thread_name_prefix=FINISH_THREAD) if threaded and finish else None
        self._helper_clocks: dict[str, int] = {}

    def run(self, produce: Callable[[], Landmarks | None], emit: Callable[[Shown], bool | None]) -> int:
        """Drive frames until `produce` returns None or `emit` returns False; returns frames emitted.
        An exception in any stage stops the run and is raised here."""
        if not self.threaded:
            return self._run_serial(produce, emit)
        emitted = 0
        pending = self._dress.submit(self._prepare, produce)
        finishing = None
        try:
            while True:
                dressed = pending.result()
                pending = None
                if dressed is None:
                    break
                self.wardrobe.apply(dressed)
                pending = self._dress.submit(self._prepare, produce)  # frame N+1, while frame N is drawn
                frame = self._drawn(dressed)
                if self._finisher is None:
                    emitted += 1
                    if emit(frame) is False:
                        break
                    continue
                if finishing is not None:  # frame N-1 finished and emitted before frame N is handed over
                    emitted += 1
                    if finishing.result() is False:
                        finishing = None
                        break
                finishing = self._finisher.submit(self._finish_and_emit, frame, emit)
            if finishing is not None:
                emitted += 1
                finishing.result()
                finishing = None
        finally:
            for future in (pending, finishing):  # stages still running when the run stopped: let them end
                if future is not None:
                    future.exception()
        return emitted

    def _run_serial(self, produce, emit) -> int:
        emitted = 0
        while True:
            self.wardrobe.advance_cloth()
            marks = produce()
            if marks is None:
                return emitted
            dressed = self.wardrobe.prepare(marks)
            self.wardrobe.apply(dressed)
            frame = self._drawn(dressed)
            if self.finish is not None:
                frame.image = self.finish(frame.image, self._clock(frame, on_helper=False))
            emitted += 1
            if emit(frame) is False:
                return emitted

    def _register(self, name: str) -> None:
        if name not in self._helper_clocks:
            self._helper_clocks[name] = time.pthread_getcpuclockid(threading.get_ident())

    def _prepare(self, produce):
        self._register(DRESS_THREAD)
        self.wardrobe.advance_cloth()  # the last frame's cloth physics (Wardrobe.cloth_lag), before waiting
        marks = produce()
        return None if marks is None else self.wardrobe.prepare(marks)

    def _finish_and_emit(self, frame: Shown, emit) -> bool | None:
        self._register(FINISH_THREAD)
        frame.image = self.finish(frame.image, self._clock(frame, on_helper=True))
        return emit(frame)

    def _helpers_cpu_s(self) -> float:
        return sum(time.clock_gettime(c) for c in list(self._helper_clocks.values()))

    def _clock(self, shown: Shown, on_helper: bool):
        @contextmanager
        def clock(stage: str):
            t0 = time.perf_counter()
            if on_helper:
                c0 = time.thread_time()
            else:
                c0 = time.process_time() - self._helpers_cpu_s()
            yield
            c1 = time.thread_time() if on_helper else time.process_time() - self._helpers_cpu_s()
            shown.ms[stage] = (time.perf_counter() - t0) * 1e3
            shown.cpu_ms[stage] = max(c1 - c0, 0.0) * 1e3

        return clock

    def _drawn(self, dressed) -> Shown:
        shown = Shown(None, dressed)
        shown.image = self.draw(self._clock(shown, on_helper=False))
        return shown

    def close(self) -> None:
        for pool in (self._dress, self._finisher):
            if pool is not None:
                pool.shutdown(wait=True)
        self._dress = self._finisher = None

    def __enter__(self) -> "FramePipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
