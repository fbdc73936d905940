"""The product's main jobs, shared by the CLI and the plugin's users: track, render, demo."""
from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .avatar.model import AvatarModel, load_avatar
from .errors import WardrobeError
from .settings import SceneSettings, load_scene, model_path

ROTATION_DECIMALS = 5
# llvmpipe threads when a helper thread dresses the next frame beside the draw: on two cores the
# dress thread is the slower stage, and a render thread of llvmpipe's own takes its core. 0: llvmpipe
# rasterizes in the drawing thread, so two threads share the two cores (demo, three alternating pairs
# at 00:16 on 2026-11-29: 0.88-0.93x real time against 0.85-0.87x with 1; 1 had beaten one per core;
# docs/bench/demo_pipeline.json).
RENDER_LP_THREADS = 0


class StageTimer:
    """Per-stage wall times (ms) over many frames, summarised as median / mean / p95."""

    def __init__(self):
        self.samples: dict[str, list[float]] = defaultdict(list)

    def add(self, stage: str, ms: float) -> None:
        self.samples[stage].append(ms)

    def measure(self, stage: str):
        timer = self

        class _Span:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.add(stage, (time.perf_counter() - self.t0) * 1e3)

        return _Span()

    def summary(self) -> dict[str, dict[str, float]]:
        return {stage: {"median_ms": round(float(np.median(v)), 2), "mean_ms": round(float(np.mean(v)), 2),
                        "p95_ms": round(float(np.percentile(v, 95)), 2), "frames": len(v)}
                for stage, v in self.samples.items()}

    def table(self) -> str:
        rows = [f"{'stage':<10}{'median ms':>11}{'mean ms':>10}{'p95 ms':>9}{'frames':>8}"]
        for stage, s in self.summary().items():
            rows.append(f"{stage:<10}{s['median_ms']:>11.2f}{s['mean_ms']:>10.2f}{s['p95_ms']:>9.2f}{s['frames']:>8}")
        return "\n".join(rows)


def _avatar(scene: SceneSettings, avatar: str | None) -> AvatarModel:
    path = model_path(avatar or scene.avatar.path)
    if not path.is_file():
        raise WardrobeError(f"avatar file not found: {path}. Run `make avatars` to build the default "
                            "avatars, or pass --avatar PATH.glb.")
    return load_avatar(path, scene.avatar.rig)


def track(video: str, out: str | Path, max_frames: int | None = None, scene: SceneSettings | None = None,
          avatar: str | None = None, progress: bool = True, project: bool = False, static: bool = False,
          fov_deg: float | None = None) -> dict:
    """Run MediaPipe over a video/folder/webcam and record, per frame, the raw landmarks plus the
    avatar's filtered, solved rotations and root (JSONL, pose.recording version 2 lines).

    static: the images are unrelated stills (MediaPipe's still-image mode; no temporal filter).
    project: add the avatar's own joints (COCO-17 names + pelvis, neck) in the camera (metres,
    OpenCV axes) and in the image (pixels), placed on the landmarks by weak perspective.
    fov_deg: the camera's vertical field of view (default: the scene's assumed webcam FOV).
    """
    from .pose.recording import TrackWriter
    from .pose.sources import ImageFolderSource, open_source
    from .pose.tracker import PoseTracker
    from .retarget.pose_filter import PoseFilter

    scene = scene or load_scene()
    model = _avatar(scene, avatar)
    fov = float(fov_deg if fov_deg is not None else scene.ar.camera_fov_deg)
    if not 1.0 <= fov <= 179.0:
        raise WardrobeError(f"--fov must be a vertical field of view in degrees (1-179), got {fov:g}.")
    model.solver.vertical_fov_deg = fov  # the solver lifts the 2D landmarks along this camera's rays
    timer = StageTimer()
    header = {"command": shlex.join(["avatar-wardrobe", *sys.argv[1:]]) if sys.argv else "",
              "avatar": model.path.name, "rig": model.rig.name, "joints": model.skeleton.names,
              "rotations": "per-joint local rotation quaternions (w, x, y, z) of the avatar's skeleton",
              "root": "offset of the skeleton's root (metres, the avatar file's axes)",
              "static": bool(static), "vertical_fov_deg": fov, "filtered": not static}
    if project:
        header["joints_cam"] = "avatar keypoints, metres, OpenCV camera axes (x right, y down, z forward)"
    # Our One Euro filter replaces MediaPipe's fixed-30-fps smoothing (less shake, same lag:
    # tests/pose/test_filtering.py); stills get neither.
    tracker = PoseTracker(static_image_mode=static, smooth_landmarks=False)
    pose_filter = None if static else PoseFilter(model.solver)
    names = model.skeleton.names
    found = 0
    with open_source(video, max_frames=max_frames) as source, tracker, \
            TrackWriter(out, header, fps=source.fps, source=str(video)) as writer:
        files = source.files if isinstance(source, ImageFolderSource) else None
        for frame in tqdm(source, total=len(source) if _sized(source) else None, desc="track",
                          unit="frame", disable=not progress):
            with timer.measure("pose"):
                marks = tracker.track(frame)
            with timer.measure("solve"):
                pose = model.solver.solve(marks) if pose_filter is None else pose_filter.step(marks)
            found += marks.found
            extra = _projected_joints(model, pose, marks, fov) if project else None
            rotations = dict(zip(names, np.round(pose.local_rotations, ROTATION_DECIMALS)))
            writer.write_track(marks, files[frame.index].name if files else frame.index, rotations,
                               np.round(pose.root_offset, ROTATION_DECIMALS), extra)
        frames = writer.frames_written
    return {"out": str(out), "frames": frames, "found": found, "stages": timer.summary(), "table": timer.table()}


def _projected_joints(model: AvatarModel, pose, marks, fov_deg: float) -> dict:
    """joints_cam / joints_2d of the posed avatar placed on this frame's 2D landmarks ({} if it cannot be)."""
    from .retarget.keypoints import avatar_keypoints, place_on_image, project

    if not marks.found:
        return {}
    cam = place_on_image(avatar_keypoints(model.solver, pose), marks, fov_deg)
    if cam is None:
        return {}
    px = project(np.array(list(cam.values())), marks.image_size, fov_deg)
    return {"joints_2d": {k: np.round(v, 2) for k, v in zip(cam, px)},
            "joints_cam": {k: np.round(v, ROTATION_DECIMALS) for k, v in cam.items()}}


def _sized(source) -> bool:
    try:
        return len(source) is not None
    except TypeError:
        return False


def render_motion(motion_path: str | Path, out: str | Path, frames: int | None = None, window: bool | None = None,
                  scene: SceneSettings | None = None, avatar: str | None = None, progress: bool = True,
                  keep_frames: list | None = None, refine: str | None = None, pipeline: bool = True,
                  lp_threads: int | None = RENDER_LP_THREADS) -> dict:
    """Play a landmark recording on the avatar, render each frame and write an MP4.

    The recording's landmarks are solved again (not its stored rotations), so a better solver
    improves old recordings. `keep_frames`, if given, receives every rendered BGR image.
    `refine` (off/enhance/toon; default: the scene's [refine] style) refines each frame before encoding.
    `pipeline`: dress frame N+1 in a helper thread while frame N is drawn (render/pipeline.py);
    False runs the stages one after another. `realtime_ratio` > 1: faster than the motion plays.
    `lp_threads`: llvmpipe's threads (None: one per core; a user's LP_NUM_THREADS wins over both).
    """
    from .pose.recording import read_motion
    from .record.video import VideoWriter
    from .render.capture import FrameGrabber
    from .render.engine import create_base
    from .render.pipeline import FramePipeline, freeze_startup_heap
    from .render.plugin import Wardrobe
    from .render.studio import Studio

    scene = scene or load_scene()
    motion = read_motion(motion_path)
    marks_list = motion.frames[:frames] if frames else motion.frames
    if not marks_list:
        raise WardrobeError(f"{motion_path} holds no frames: record one with `avatar-wardrobe track VIDEO`.")
    model = _avatar(scene, avatar)
    r = scene.render
    users_lp = os.environ.get("LP_NUM_THREADS")  # a user's own setting wins
    lp_threads = users_lp if users_lp is not None else lp_threads if pipeline else None
    base = create_base(window, (r.width, r.height), msaa=0 if r.pbr else r.msaa,  # simplepbr multisamples its own
                       lp_threads=None if users_lp is not None else lp_threads)   # buffer
    studio = Studio(base, model.height_m, pbr=r.pbr, msaa=r.msaa, camera=scene.camera, kind=scene.set.kind)
    wardrobe = Wardrobe(base, model, scene=scene)
    grabber = FrameGrabber(base)
    from .refine.runner import Refiner

    refiner = Refiner.create(refine, scene.refine)
    timer = StageTimer()
    size = (base.win.getXSize(), base.win.getYSize())

    def draw(clock):
        with clock("render"):
            return grabber.render()

    def finish(image, clock):
        with clock("refine"):
            return refiner(image)

    with VideoWriter(out, motion.fps or r.fps, size) as video, \
            tqdm(total=len(marks_list), desc="render", unit="frame", disable=not progress) as bar, \
            FramePipeline(wardrobe, draw, threaded=pipeline, finish=finish if refiner.active else None) as frames_pipe:
        todo = iter(marks_list)

        def emit(shown):
            for stage, ms in (shown.dressed.timings_ms | shown.ms).items():
                timer.add(stage, ms)
            with timer.measure("encode"):
                video.write(shown.image)
            if keep_frames is not None:
                keep_frames.append(shown.image)
            bar.update()

        # Start-up before the clock, as the live loop's warm-up: the cloth settles into the first
        # pose, and a first draw compiles the shaders (together ~1 s of a 4 s demo on the first frame).
        wardrobe.settle(marks_list[0])
        grabber.render()
        freeze_startup_heap()
        t0 = time.perf_counter()
        frames_pipe.run(lambda: next(todo, None), emit)
        loop_s = time.perf_counter() - t0
    wardrobe.remove()
    del studio
    fps = motion.fps or r.fps
    return {"out": str(out), "frames": video.frames, "fps": motion.fps, "size": list(size),
            "pipeline": "threaded" if pipeline else "serial", "lp_threads": lp_threads, "loop_s": round(loop_s, 3),
            "render_fps": round(video.frames / loop_s, 2) if loop_s else None,
            "realtime_ratio": round(video.frames / loop_s / fps, 3) if loop_s and fps else None,
            "stages": timer.summary(), "table": timer.table()}


def demo(out: str | Path = "out/demo.mp4", frames: int | None = None, window: bool | None = None,
         scene_path: str | None = None, progress: bool = True, refine: str | None = None,
         pipeline: bool = True, lp_threads: int | None = RENDER_LP_THREADS) -> dict:
    """The main job: the bundled motion on the default avatar, rendered to a video."""
    scene = load_scene(scene_path)
    motion = model_path(scene.motion.path)
    if not motion.is_file():
        raise WardrobeError(f"the bundled motion {motion} is missing: run `make motion` to record it again.")
    return render_motion(motion, out, frames, window, scene, progress=progress, refine=refine, pipeline=pipeline,
                         lp_threads=lp_threads)


def report(result: dict) -> str:
    """Human table plus the JSON line that tools can parse."""
    table = result.pop("table", "")
    return f"{table}\n{json.dumps(result)}"
