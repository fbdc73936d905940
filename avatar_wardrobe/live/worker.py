"""The capture + pose worker: a paced source and MediaPipe in a child process, publishing to a FrameSlot."""
from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import dataclass

import numpy as np

from ..errors import WardrobeError

START_METHOD = "spawn"        # no fork: the parent may hold Panda3D, GL and torch threads
WORKER_CV2_THREADS = 1        # decode/colour conversion on the worker's own core only
WORKER_START_TIMEOUT_S = 60.0 # MediaPipe's graph takes seconds to build on a busy machine
WORKER_STOP_TIMEOUT_S = 5.0
PARENT_CHECK_EVERY = 30       # frames between checks that the parent is still alive (no orphans)
# Just-in-time tracking: when the scene takes frames more slowly than they can be tracked, the
# worker starts each frame so that it is ready just before the scene comes back for it (the
# scene reports when it took a frame and how long it works on one), instead of tracking frames
# that a newer one replaces unseen: the scene gets that CPU and a fresher frame. Alternating runs
# at load 2.6-3.2 (bench live --no-serial, 12 s): 11.8 and 10.3 fps, 169 and 199 ms median
# latency against 8.5 and 3.9 fps, 180 and 320 ms free-running; with the refiner 7.1 and 6.6 fps,
# 243 and 279 ms against 3.8 and 4.1 fps, 322 and 317 ms. (A first version that timed frames by
# the scene's period between takes fed its own lateness back and was no better.)
JIT_MARGIN_NS = 4_000_000     # have the frame ready this long before the scene is expected
JIT_MAX_HOLD_S = 0.25         # never hold off longer than this (a scene that stalled or stopped)
TRACK_EMA = 0.2               # smoothing of the worker's own track time
NS = 1_000_000_000


@dataclass
class WorkerStats:
    """What the worker reports back when it stops."""

    frames_tracked: int = 0
    frames_skipped: int = 0       # source frames that came due while the tracker was busy
    track_ms_median: float = 0.0
    track_ms_p95: float = 0.0
    cpu_s: float = 0.0            # user + system CPU of the worker process
    peak_rss_mb: float = 0.0
    track_cpu_ms_median: float = 0.0  # CPU (all of MediaPipe's threads) per tracked frame: what load does not inflate


class PacedVideo:
    """A video file played like a camera: frame k is due at start + k / fps, looping; a reader that
    falls behind gets the newest due frame (the ones in between are skipped and counted)."""

    def __init__(self, path: str, loop: bool = True, paced: bool = True):
        import cv2

        self._cv2 = cv2
        self.path, self.loop, self.paced = str(path), loop, paced
        self._cap = cv2.VideoCapture(self.path)
        if not self._cap.isOpened():
            raise WardrobeError(f"cannot open video {self.path}: check the path or pass --camera N")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if np.isfinite(fps) and fps > 0 else 30.0
        self.size = (int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self._start_ns = None
        self._next = 0          # the next source frame number (counting across loops)
        self.skipped = 0

    def _grab(self, decode: bool):
        cap = self._cap
        ok = cap.grab()
        if not ok and self.loop:
            cap.set(self._cv2.CAP_PROP_POS_FRAMES, 0)
            ok = cap.grab()
        if not ok:
            return None
        if not decode:
            return True
        ok, image = cap.retrieve()
        return image if ok else None

    def read(self):
        """(frame number, capture time ns, BGR image) of the newest due frame, or None at the end.
        Unpaced, every frame in turn at once, stamped when it is read (for per-frame stage costs)."""
        if not self.paced:
            image = self._grab(decode=True)
            if image is None:
                return None
            self._next += 1
            return self._next - 1, time.monotonic_ns(), image
        now = time.monotonic_ns()
        if self._start_ns is None:
            self._start_ns = now
        due = self._start_ns + int(self._next * NS / self.fps)
        if due > now:
            time.sleep((due - now) / NS)
        newest = max(self._next, int((time.monotonic_ns() - self._start_ns) * self.fps / NS))
        while self._next < newest:  # frames that came and went while we were busy
            if self._grab(decode=False) is None:
                return None
            self._next += 1
            self.skipped += 1
        image = self._grab(decode=True)
        if image is None:
            return None
        number = self._next
        self._next += 1
        return number, self._start_ns + int(number * NS / self.fps), image

    def close(self) -> None:
        self._cap.release()


class CameraFeed:
    """A webcam: each read is the camera's newest frame, stamped when it arrived."""

    def __init__(self, index: int):
        from ..pose.sources import WebcamSource

        self._source = WebcamSource(index)
        self.fps, self.size = self._source.fps, self._source.size
        self._frames = iter(self._source)
        self.skipped = 0

    def read(self):
        frame = next(self._frames, None)
        return None if frame is None else (frame.index, time.monotonic_ns(), frame.image)

    def close(self) -> None:
        self._source.close()


def open_feed(source: str | int, paced: bool = True):
    if isinstance(source, int) or str(source).isdigit():
        return CameraFeed(int(source))
    return PacedVideo(source, paced=paced)


def probe_size(source: str | int) -> tuple[tuple[int, int], float]:
    """(width, height) and fps of a source, read in this process before the worker starts."""
    feed = open_feed(source)
    try:
        return feed.size, feed.fps
    finally:
        feed.close()


def process_stats() -> tuple[float, float]:
    """(user + system CPU seconds, peak RSS MB) of this process."""
    t = os.times()
    return t.user + t.system, peak_rss_mb(os.getpid())


def peak_rss_mb(pid: int) -> float:
    return _status_kb(pid, "VmHWM") / 1024.0


def rss_mb(pid: int) -> float:
    return _status_kb(pid, "VmRSS") / 1024.0


def _status_kb(pid: int, key: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def hold_off_s(reader_timing: tuple[int, int], track_ns: float, now_ns: int) -> float:
    """Seconds to wait before tracking the next frame so it is ready when the scene next takes one."""
    taken, busy = reader_timing
    if not taken or not busy:
        return 0.0
    start_at = taken + busy - track_ns - JIT_MARGIN_NS
    return min(max(0.0, (start_at - now_ns) / NS), JIT_MAX_HOLD_S)


def worker_main(source, slot_name: str, size: tuple[int, int], stop, ready, results, just_in_time: bool = True) -> None:
    """Child process body: capture, track, publish to the slot until `stop` is set or the source ends."""
    import cv2

    cv2.setNumThreads(WORKER_CV2_THREADS)
    from ..pose.tracker import PoseTracker
    from .shm import FrameSlot

    parent = os.getppid()
    slot = FrameSlot.attach(slot_name, *size)
    feed = open_feed(source)
    times, cpu_times = [], []
    try:
        with PoseTracker(smooth_landmarks=False) as tracker:  # the scene's One Euro filter smooths
            from ..records import Frame

            # MediaPipe's first inference sets up its interpreters: ~0.75 s here against ~20 ms a
            # frame after. A blank frame takes that before `ready` (the scene's clock), not the
            # first camera frame (the next real frame then takes ~40 ms: only the landmark model is new).
            tracker.track(Frame(index=-1, time_s=0.0, image=np.zeros((size[1], size[0], 3), np.uint8)))
            ready.set()

            track_ns = 0.0
            while not stop.is_set():
                if just_in_time and track_ns:
                    wait = hold_off_s(slot.reader_timing(), track_ns, time.monotonic_ns())
                    if wait > 0 and stop.wait(wait):
                        break
                got = feed.read()
                if got is None:
                    break
                number, captured_ns, image = got
                t0, c0 = time.perf_counter(), time.process_time()
                marks = tracker.track(Frame(index=number, time_s=captured_ns / NS, image=image))
                times.append((time.perf_counter() - t0) * 1e3)
                cpu_times.append((time.process_time() - c0) * 1e3)
                track_ns = times[-1] * 1e6 if not track_ns else (1 - TRACK_EMA) * track_ns + TRACK_EMA * times[-1] * 1e6
                slot.write(number, captured_ns, image, marks.image, marks.world, marks.visibility, feed.skipped)
                if len(times) % PARENT_CHECK_EVERY == 0 and os.getppid() != parent:
                    break  # the parent died without stopping us: do not linger as an orphan
    finally:
        feed.close()
        cpu, peak = process_stats()
        arr = np.asarray(times or [0.0])
        results.put(WorkerStats(len(times), feed.skipped, float(np.median(arr)), float(np.percentile(arr, 95)),
                                cpu, peak, float(np.median(cpu_times or [0.0]))))
        slot.close()


class PoseWorker:
    """Starts the worker process and owns the slot; `with PoseWorker(src) as w: w.slot.wait(...)`."""

    def __init__(self, source: str | int, just_in_time: bool = True):
        self.source = source
        self.size, self.fps = probe_size(source)
        ctx = mp.get_context(START_METHOD)
        self.slot = None
        from .shm import FrameSlot

        self.slot = FrameSlot.create(*self.size)
        self._stop, self._ready, self._results = ctx.Event(), ctx.Event(), ctx.Queue()
        self.process = ctx.Process(target=worker_main, name="avatar-wardrobe-pose",
                                   args=(source, self.slot.name, self.size, self._stop, self._ready, self._results,
                                         just_in_time),
                                   daemon=True)
        self.stats: WorkerStats | None = None

    def start(self) -> "PoseWorker":
        self.process.start()
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while not self._ready.wait(0.2):
            if not self.process.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise WardrobeError("the pose worker did not start (MediaPipe failed to load?): "
                                    "run `avatar-wardrobe track` on the same input to see the error.")
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> WorkerStats | None:
        """Stop the worker, collect its stats, free the slot; safe to call twice."""
        if self.process.pid is not None and self.stats is None:
            self._stop.set()
            try:
                self.stats = self._results.get(timeout=WORKER_STOP_TIMEOUT_S)
            except Exception:
                self.stats = None
            self.process.join(WORKER_STOP_TIMEOUT_S)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(WORKER_STOP_TIMEOUT_S)
            self.stats = self.stats or WorkerStats()
        if self.slot is not None:
            self.slot.close()
            self.slot = None
        return self.stats

    def __enter__(self) -> "PoseWorker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
