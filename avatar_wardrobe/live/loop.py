"""The main-process scene loop: newest landmarks -> Wardrobe.update -> render -> refine -> output, with latency."""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..records import Landmarks
from ..settings import SceneSettings, load_scene

CLOTH_WORKER_NICE = 10       # the cloth workers' nice steps below the scene (with cloth_lag; 0 without it, where
                             # the frame waits for them): on two cores they then yield to the draw and MediaPipe
DEFAULT_LP_THREADS = 0        # llvmpipe threads in the scene process: 0, it draws in the drawing thread (the scene
                             # has about one core; two alternating pairs of 15 s bench runs at 00:20 on 2026-11-29:
                             # 450 / 450 frames shown against 445-447 / 450 with one llvmpipe thread)
DEFAULT_TORCH_THREADS = 1     # torch intra-op threads for the refiner in the scene process
DEFAULT_CLOTH_VERTICES = 1000
BENCH_OUTFIT = ("garments/tshirt_M.glb",)  # one simulated garment
WAIT_TIMEOUT_S = 2.0          # no frame from the worker this long: it has stopped
RSS_SAMPLE_EVERY_S = 1.0
RSS_WARM_SAMPLES = 3         # RSS samples skipped before measuring growth
BUSY_EMA = 0.2                # smoothing of the scene's time per frame reported to the worker
WARMUP_FRAMES = 5             # rendered before the clock starts: shader compiles, first cloth settle
WARMUP_FRAMES_PIPELINED = 30  # the live loop's warm-up, through its own pipeline's threads (about 1 s)
NS = 1_000_000_000
HELPER_STAGES = ("solve", "cloth", "physics", "garments")  # run by the pipeline's dress thread (most of "garments")
FINISH_STAGE = "refine"                         # run by the pipeline's finish thread


@dataclass
class LiveOptions:
    """Knobs of one live run (plain values, so a run can be described in JSON and sent to a child process)."""

    source: str | int = 0
    seconds: float | None = None            # None: until the source ends (a camera: until interrupted)
    scene_path: str | None = None
    window: bool = False
    refine: str = "off"
    cloth_vertices: int | None = None       # None: the garments' fabric presets
    outfit: tuple[str, ...] | None = None   # None: the scene's outfit
    msaa: int | None = 0                    # None: the scene's (4 in the default scene: ~10% more render CPU here)
    pbr: bool | None = False                # False: lite shading (render/lite.py); None: the scene's. simplepbr
                                            # costs about 5x the lite render on llvmpipe (docs/bench/live_*.json)
    lp_threads: int = DEFAULT_LP_THREADS
    torch_threads: int = DEFAULT_TORCH_THREADS
    out: str | None = None                  # write the shown frames to this video
    frames: int | None = None               # stop after this many shown frames
    paced: bool = True                      # False: a video's frames one after another, none skipped (serial only)
    just_in_time: bool = True               # the worker times its frames to the scene's pace (live/worker.py)
    pipelined: bool = True                  # dress frame N+1 in a helper thread while frame N is drawn
                                            # (render/pipeline.py); two-process runs only
    cloth_lag: bool = True                  # show each frame's cloth at once from the last simulated frame
                                            # and simulate after (Wardrobe.cloth_lag): the physics leaves the
                                            # latency path but runs beside the draw (docs/bench/live_pipeline_5.json)
    cloth_process: bool = True              # each garment's PyBullet in a worker process (cloth/host.py) below
                                            # the scene's CPU priority (CLOTH_WORKER_NICE), with cloth_lag: the
                                            # physics takes what the draw and the pose worker leave, and a late
                                            # frame of it is skipped, not waited for (docs/bench/live_pipeline_6.json)


@dataclass
class LiveResult:
    """What a live (or serial) run measured: per-frame latencies and stage times, drops, CPU, memory."""

    mode: str
    frames: int = 0
    elapsed_s: float = 0.0
    latency_ms: list = field(default_factory=list)
    stages: dict = field(default_factory=dict)      # stage -> list of ms (wall)
    stages_cpu: dict = field(default_factory=dict)  # stage -> list of CPU ms of this process (all its threads)
    source_frames: int = 0        # frames the source made due over the run
    dropped: int = 0              # source frames up to the last shown one that were never shown
    overwritten: int = 0          # frames the worker published that a newer one replaced before the scene looked
    worker_skipped: int = 0       # frames that came due while the tracker was busy (whole run, worker side)
    from_worker: int = 0          # shown frames whose landmarks came from the worker process
    landmarks_found: int = 0
    cpu_s: dict = field(default_factory=dict)       # process role -> CPU seconds
    peak_rss_mb: dict = field(default_factory=dict)
    rss_mb_samples: list = field(default_factory=list)  # the scene process, once a second
    worker_rss_mb_samples: list = field(default_factory=list)  # the pose worker, once a second
    worker_exited: bool | None = None
    worker_pid: int | None = None
    cloth_pids: list = field(default_factory=list)   # the garments' physics workers (cloth/host.py)
    cloth_rss_mb_samples: list = field(default_factory=list)  # ...all of them together, once a second
    cloth_late_frames: int = 0    # frames their physics fell behind and skipped (it is never waited for)
    cloth_vertices: int = 0
    torn_retries: int = 0
    source_fps: float = 0.0       # the camera's or clip's rate: no loop shows more frames than come in
    first_shown_s: float | None = None  # monotonic time the first frame was shown...
    last_shown_s: float | None = None   # ...and the last: the shown-frame rate is measured between them

    def shown(self) -> None:
        """Count one shown frame, now."""
        now = time.monotonic()
        self.first_shown_s = now if self.first_shown_s is None else self.first_shown_s
        self.last_shown_s = now
        self.frames += 1

    def add(self, stage: str, ms: float) -> None:
        self.stages.setdefault(stage, []).append(ms)

    def add_cpu(self, stage: str, ms: float) -> None:
        self.stages_cpu.setdefault(stage, []).append(ms)


def scene_settings(opts: LiveOptions) -> SceneSettings:
    scene = load_scene(opts.scene_path)
    render = scene.render
    if opts.msaa is not None:
        render = dataclasses.replace(render, msaa=opts.msaa)
    if opts.pbr is not None:
        render = dataclasses.replace(render, pbr=opts.pbr)
    outfit = list(opts.outfit) if opts.outfit is not None else scene.outfit
    refine = dataclasses.replace(scene.refine, threads=opts.torch_threads)
    return dataclasses.replace(scene, render=render, outfit=outfit, refine=refine)


class SceneLoop:
    """Panda3D scene of one process: the Wardrobe, a frame grabber, the refiner and an optional video out."""

    def __init__(self, opts: LiveOptions, size: tuple[int, int]):
        import cv2

        cv2.setNumThreads(1)
        from ..jobs import _avatar
        from ..refine.runner import Refiner
        from ..render.capture import FrameGrabber
        from ..render.engine import create_base
        from ..render.plugin import Wardrobe
        from ..render.studio import Studio

        self.scene = scene = scene_settings(opts)
        self.source_size = size
        model = _avatar(scene, None)
        r = scene.render
        # A later SceneLoop in the same process keeps the first one's llvmpipe thread count.
        self.base = create_base(opts.window or None, (r.width, r.height), msaa=0 if r.pbr else r.msaa,
                                lp_threads=opts.lp_threads)
        self.studio = Studio(self.base, model.height_m, pbr=r.pbr, msaa=r.msaa, camera=scene.camera,
                             kind=scene.set.kind)
        from ..cloth.simulator import ClothSettings

        cloth = ClothSettings(sim_vertices=None if opts.cloth_vertices is None else int(opts.cloth_vertices),
                              process=opts.cloth_process,
                              process_nice=CLOTH_WORKER_NICE if opts.cloth_lag else 0)
        self.wardrobe = Wardrobe(self.base, model, scene=scene, cloth_settings=cloth)
        self.wardrobe.cloth_lag = opts.cloth_lag
        self.cloth_vertices = self.wardrobe.cloth_nodes
        self.grabber = FrameGrabber(self.base)
        self.refiner = Refiner.create(opts.refine, scene.refine)
        self.video = None
        if opts.out:
            from ..record.video import VideoWriter

            self.video = VideoWriter(opts.out, r.fps, (self.base.win.getXSize(), self.base.win.getYSize()))

    def warm_up(self, frames: int = WARMUP_FRAMES, pipe=None) -> None:
        """Run a few rest-pose frames so shader compiles and caches do not count as frame time. Given
        the run's own pipeline, they go through its threads, so that each thread's first-use memory
        (its malloc arena, torch's buffers in the finish thread) is taken before the run, not during it."""
        todo = iter([Landmarks(index=i, time_s=0.0, image_size=self.source_size) for i in range(frames)])
        from ..render.pipeline import freeze_startup_heap

        (pipe or self.pipeline(threaded=False)).run(lambda: next(todo, None), lambda shown: None)
        freeze_startup_heap()  # the live job owns its process

    def step(self, marks: Landmarks, result: LiveResult, write: bool = True) -> np.ndarray:
        """Pose, dress, render (with read-back), refine and write one frame, one stage after another;
        stage times go to `result`. Wall times per stage, and CPU times (the thread's own for
        solve/cloth/garments; the process's, so llvmpipe's and torch's threads too, for render and
        refine): on a shared machine the wall times include waiting for a core, the CPU times do not."""
        shown = []
        self.pipeline(threaded=False).run(lambda: None if shown else marks, shown.append)
        self.record(shown[0], result, write)
        return shown[0].image

    def pipeline(self, threaded: bool = True):
        """A render.pipeline.FramePipeline over this scene: dress, draw, and refine as its finish stage."""
        from ..render.pipeline import FramePipeline

        return FramePipeline(self.wardrobe, self.draw, threaded=threaded,
                             finish=self.finish if self.refiner.active else None)

    def draw(self, clock) -> np.ndarray:
        """Render the applied frame (with read-back)."""
        with clock("render"):
            return self.grabber.render()

    def finish(self, image: np.ndarray, clock) -> np.ndarray:
        with clock("refine"):
            return self.refiner(image)

    def record(self, shown, result: LiveResult, write: bool = True) -> None:
        """Stage times of a shown frame into `result`, and the frame into the video when writing one."""
        for stage, ms in (shown.dressed.timings_ms | shown.ms).items():
            result.add(stage, ms)
        for stage, ms in (shown.dressed.timings_cpu_ms | shown.cpu_ms).items():
            result.add_cpu(stage, ms)
        if self.video is not None and write:
            t2 = time.perf_counter()
            self.video.write(shown.image)
            result.add("output", (time.perf_counter() - t2) * 1e3)

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
        self.wardrobe.remove()
        self.studio.remove()


def _landmarks(frame, size: tuple[int, int]) -> Landmarks:
    marks = Landmarks(index=frame.index, time_s=frame.captured_ns / NS, image_size=size)
    if frame.found:
        marks.image, marks.world, marks.visibility = frame.image_xyz, frame.world_xyz, frame.visibility
    return marks


def _sample_rss(result: LiveResult, last: float) -> float:
    from .worker import rss_mb

    now = time.monotonic()
    if now - last >= RSS_SAMPLE_EVERY_S:
        result.rss_mb_samples.append(round(rss_mb(os.getpid()), 1))
        if result.worker_pid is not None:
            result.worker_rss_mb_samples.append(round(rss_mb(result.worker_pid), 1))
        if result.cloth_pids:
            result.cloth_rss_mb_samples.append(round(sum(rss_mb(pid) for pid in result.cloth_pids), 1))
        return now
    return last


def _growth_pct(samples: list) -> float | None:
    """RSS growth from a few seconds in (caches filled) to the end, in percent."""
    warm = samples[min(len(samples) - 1, RSS_WARM_SAMPLES):] if samples else []
    return round(100.0 * (warm[-1] - warm[0]) / warm[0], 1) if len(warm) >= 2 and warm[0] else None


def run_live(opts: LiveOptions, on_frame=None) -> LiveResult:
    """Two processes: the pose worker publishes the newest landmarks, this process renders them.

    on_frame(image, marks, result) is called after each shown frame; returning False stops the loop."""
    from .worker import PoseWorker, cpu_seconds, peak_rss_mb, process_stats

    result = LiveResult(mode="two-process" if opts.pipelined else "two-process-unpipelined")
    worker = PoseWorker(opts.source, just_in_time=opts.just_in_time)
    result.source_fps = worker.fps
    result.worker_pid = None
    scene = pipe = None
    try:
        scene = SceneLoop(opts, worker.size)
        result.cloth_vertices = scene.cloth_vertices
        pipe = scene.pipeline(threaded=opts.pipelined)
        scene.warm_up(WARMUP_FRAMES_PIPELINED, pipe)
        worker.start()
        result.worker_pid = worker.pid
        slot = worker.slot
        cloth_pids = result.cloth_pids = scene.wardrobe.cloth_pids  # each garment's physics worker (cloth/host.py)
        cpu0, wcpu0 = process_stats()[0], cpu_seconds(worker.pid)
        ccpu0 = sum(cpu_seconds(pid) for pid in cloth_pids)
        start = time.monotonic()
        state = {"seq": 0, "taken": None, "busy": 0.0, "rss_at": 0.0}
        captured: dict[int, int] = {}   # frame index -> capture time (ns), until it is shown

        def produce():
            """Next landmarks from the worker (runs in the pipeline's helper thread when pipelined)."""
            now = time.monotonic_ns()
            if state["taken"] is not None:  # how long the scene was busy since the last take (not waiting)
                done = now - state["taken"]
                busy = state["busy"]
                state["busy"] = done if not busy else (1 - BUSY_EMA) * busy + BUSY_EMA * done
            if (opts.seconds is not None and time.monotonic() - start >= opts.seconds) or \
                    (opts.frames is not None and result.frames >= opts.frames):
                return None
            t0 = time.perf_counter()
            try:
                frame = slot.wait(state["seq"], WAIT_TIMEOUT_S, alive=worker.alive)
            except KeyboardInterrupt:  # Ctrl-C ends a camera session: still stop cleanly and report
                return None
            if frame is None:
                return None
            taken = state["taken"] = time.monotonic_ns()
            # When the next frame will be wanted: the scene's busy time per frame, not the period
            # between takes (that includes waiting for the worker, and would feed back into it).
            slot.report_taken(taken, int(state["busy"]))
            result.add("wait", (time.perf_counter() - t0) * 1e3)
            result.overwritten += frame.seq - state["seq"] - 1  # published, then replaced before we looked
            state["seq"] = frame.seq
            captured[frame.index] = frame.captured_ns
            return _landmarks(frame, worker.size)

        def emit(shown):
            marks = shown.dressed.marks
            scene.record(shown, result)
            result.latency_ms.append((time.monotonic_ns() - captured.pop(marks.index)) / 1e6)
            result.from_worker += 1
            result.landmarks_found += marks.found
            result.shown()
            result.source_frames = marks.index + 1
            state["rss_at"] = _sample_rss(result, state["rss_at"])
            if on_frame is not None and on_frame(shown.image, marks, result) is False:
                return False
            return opts.frames is None or result.frames < opts.frames

        with pipe:
            try:
                pipe.run(produce, emit)
            except KeyboardInterrupt:  # Ctrl-C ends a camera session: still stop cleanly and report
                pass
        result.elapsed_s = time.monotonic() - start
        result.cpu_s = {"scene": round(process_stats()[0] - cpu0, 3),
                        "worker": round(cpu_seconds(worker.pid) - wcpu0, 3)}
        result.peak_rss_mb = {"scene": round(peak_rss_mb(os.getpid()), 1),
                              "worker": round(peak_rss_mb(worker.pid), 1)}
        if cloth_pids:
            result.cpu_s["cloth"] = round(sum(cpu_seconds(pid) for pid in cloth_pids) - ccpu0, 3)
            result.peak_rss_mb["cloth"] = round(sum(peak_rss_mb(pid) for pid in cloth_pids), 1)
            result.cloth_late_frames = scene.wardrobe.cloth_late_frames
        result.torn_retries = slot.torn_retries
    finally:
        stats = worker.stop()
        if pipe is not None:
            pipe.close()
        if scene is not None:
            scene.close()
    result.worker_exited = not worker.process.is_alive()
    result.worker_skipped = stats.frames_skipped if stats else 0
    result.dropped = result.source_frames - result.frames
    result.stages["track (worker)"] = [stats.track_ms_median] if stats else []
    result.stages_cpu["track (worker)"] = [stats.track_cpu_ms_median] if stats else []
    return result


def run_serial(opts: LiveOptions, on_frame=None) -> LiveResult:
    """The baseline: capture, pose, scene and render one after another in this one process."""
    from ..pose.tracker import PoseTracker
    from ..records import Frame
    from .worker import open_feed, process_stats

    result = LiveResult(mode="serial" if opts.paced else "serial-unpaced")
    feed = open_feed(opts.source, paced=opts.paced)
    result.source_fps = feed.fps
    scene = None
    try:
        scene = SceneLoop(opts, feed.size)
        result.cloth_vertices = scene.cloth_vertices
        scene.warm_up()
        with PoseTracker(smooth_landmarks=False) as tracker:
            cpu0 = process_stats()[0]
            start = time.monotonic()
            rss_at = 0.0
            while (opts.seconds is None or time.monotonic() - start < opts.seconds) and \
                    (opts.frames is None or result.frames < opts.frames):
                t0 = time.perf_counter()
                got = feed.read()
                if got is None:
                    break
                result.add("wait", (time.perf_counter() - t0) * 1e3)
                number, captured_ns, image = got
                t1, c1 = time.perf_counter(), time.process_time()
                marks = tracker.track(Frame(index=number, time_s=captured_ns / NS, image=image))
                result.add("track", (time.perf_counter() - t1) * 1e3)
                result.add_cpu("track", (time.process_time() - c1) * 1e3)
                result.landmarks_found += marks.found
                out = scene.step(marks, result)
                result.latency_ms.append((time.monotonic_ns() - captured_ns) / 1e6)
                result.shown()
                result.source_frames = number + 1
                rss_at = _sample_rss(result, rss_at)
                if on_frame is not None and on_frame(out, marks, result) is False:
                    break
            result.elapsed_s = time.monotonic() - start
            result.cpu_s = {"serial": round(process_stats()[0] - cpu0, 3)}
            result.peak_rss_mb = {"serial": round(process_stats()[1], 1)}
        result.worker_skipped = feed.skipped
        result.dropped = result.source_frames - result.frames
    finally:
        feed.close()
        if scene is not None:
            scene.close()
    return result


def cpu_bound_fps(result: LiveResult) -> float | None:
    """The frame rate this run's CPU costs allow on two quiet cores: an estimate, not a measurement.

    Per shown frame the scene needs its CPU ms (update + render + refine) and the pose worker its
    track CPU ms; each process can use at most one core (the pipelined scene: one per thread, the
    helper's stages beside the drawing thread's) and both together two. On a loaded machine
    the measured fps is far lower; this says what the same work would reach without the others."""
    cpu = {k: float(np.median(v)) for k, v in result.stages_cpu.items() if v}
    source_fps = result.source_fps or float("inf")
    if result.mode.startswith("serial"):
        per_frame = sum(cpu.values())
        return round(min(source_fps, 1000.0 / per_frame), 1) if per_frame else None
    scene = sum(v for k, v in cpu.items() if k not in ("track (worker)", "wait"))
    worker = cpu.get("track (worker)", 0.0)
    if not scene:
        return None
    scene_period = scene
    if result.mode == "two-process":  # pipelined: the helpers' stages beside the drawing thread's
        helper, finish = sum(cpu.get(k, 0.0) for k in HELPER_STAGES), cpu.get(FINISH_STAGE, 0.0)
        scene_period = max(helper, finish, scene - helper - finish)
    return round(min(source_fps, 1000.0 / scene_period, 1000.0 / max(worker, 1e-9), 2000.0 / (scene + worker)), 1)


def shown_fps(result: LiveResult) -> float | None:
    """Frames shown per second between the first shown frame and the last (`fps` divides by the
    whole run instead, which also counts the start, before the first frame came through the
    stages, and the end: with a 30 fps source even a loop that shows every frame reads ~29.9)."""
    if result.frames < 2 or result.last_shown_s is None or result.last_shown_s <= result.first_shown_s:
        return None
    return round((result.frames - 1) / (result.last_shown_s - result.first_shown_s), 2)


def summary(result: LiveResult) -> dict:
    """Plain JSON numbers of a run: fps, latency median/p95, ms per stage, drops, CPU, memory."""
    lat = np.asarray(result.latency_ms or [np.nan])
    return {
        "mode": result.mode, "frames": result.frames, "seconds": round(result.elapsed_s, 2),
        "fps": round(result.frames / result.elapsed_s, 2) if result.elapsed_s else 0.0,
        "fps_shown": shown_fps(result),
        "latency_ms_median": round(float(np.median(lat)), 1), "latency_ms_p95": round(float(np.percentile(lat, 95)), 1),
        "stages_ms_median": {k: round(float(np.median(v)), 2) for k, v in result.stages.items() if v},
        "stages_cpu_ms_median": {k: round(float(np.median(v)), 2) for k, v in result.stages_cpu.items() if v},
        "fps_cpu_bound_estimate": cpu_bound_fps(result),
        "source_frames": result.source_frames, "dropped": result.dropped,
        "overwritten_in_slot": result.overwritten, "skipped_by_tracker": result.worker_skipped,
        "cpu_s": result.cpu_s,
        "cpu_share": {k: round(v / result.elapsed_s, 2) for k, v in result.cpu_s.items()} if result.elapsed_s else {},
        "peak_rss_mb": result.peak_rss_mb, "peak_rss_mb_total": round(sum(result.peak_rss_mb.values()), 1),
        "rss_growth_pct": {"scene": _growth_pct(result.rss_mb_samples),
                           **({"worker": _growth_pct(result.worker_rss_mb_samples)} if result.worker_rss_mb_samples else {}),
                           **({"cloth": _growth_pct(result.cloth_rss_mb_samples)} if result.cloth_rss_mb_samples else {})},
        "cloth_vertices": result.cloth_vertices, "landmarks_found": result.landmarks_found,
        "cloth_late_frames": result.cloth_late_frames,
    }


def profile_table(result: LiveResult) -> str:
    rows = [f"{'stage':<16}{'median ms':>11}{'p95 ms':>9}{'frames':>8}"]
    for stage, v in result.stages.items():
        if v:
            rows.append(f"{stage:<16}{np.median(v):>11.2f}{np.percentile(v, 95):>9.2f}{len(v):>8}")
    rows += ["", f"{'CPU of':<16}{'median ms':>11}"]
    rows += [f"{stage:<16}{np.median(v):>11.2f}" for stage, v in result.stages_cpu.items() if v]
    return "\n".join(rows)
