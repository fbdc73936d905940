"""The product's main jobs, shared by the CLI and the plugin's users: track, render, demo."""
from __future__ import annotations

import json
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
          avatar: str | None = None, progress: bool = True) -> dict:
    """Run MediaPipe over a video/folder/webcam and record landmarks plus solved rotations (JSONL)."""
    from .pose.recording import MotionWriter
    from .pose.sources import open_source
    from .pose.tracker import PoseTracker

    scene = scene or load_scene()
    model = _avatar(scene, avatar)
    timer = StageTimer()
    header = {"command": shlex.join(["avatar-wardrobe", *sys.argv[1:]]) if sys.argv else "",
              "avatar": model.path.name, "rig": model.rig.name, "joints": model.skeleton.names,
              "rotations": "per-joint local rotation quaternions (w, x, y, z) of the avatar's skeleton"}
    found = 0
    with open_source(video, max_frames=max_frames) as source, PoseTracker() as tracker, \
            MotionWriter(out, header, fps=source.fps, source=str(video)) as writer:
        for frame in tqdm(source, total=len(source) if _sized(source) else None, desc="track",
                          unit="frame", disable=not progress):
            with timer.measure("pose"):
                marks = tracker.track(frame)
            with timer.measure("solve"):
                pose = model.solver.solve(marks)
            found += marks.found
            writer.write(marks, extra={"rotations": np.round(pose.local_rotations, ROTATION_DECIMALS).tolist(),
                                       "root_offset": np.round(pose.root_offset, ROTATION_DECIMALS).tolist()})
        frames = writer.frames_written
    return {"out": str(out), "frames": frames, "found": found, "stages": timer.summary(), "table": timer.table()}


def _sized(source) -> bool:
    try:
        return len(source) is not None
    except TypeError:
        return False


def render_motion(motion_path: str | Path, out: str | Path, frames: int | None = None, window: bool | None = None,
                  scene: SceneSettings | None = None, avatar: str | None = None, progress: bool = True,
                  keep_frames: list | None = None) -> dict:
    """Play a landmark recording on the avatar, render each frame and write an MP4.

    The recording's landmarks are solved again (not its stored rotations), so a better solver
    improves old recordings. `keep_frames`, if given, receives every rendered BGR image.
    """
    from .pose.recording import read_motion
    from .record.video import VideoWriter
    from .render.capture import FrameGrabber
    from .render.engine import create_base
    from .render.plugin import Wardrobe
    from .render.studio import Studio

    scene = scene or load_scene()
    motion = read_motion(motion_path)
    marks_list = motion.frames[:frames] if frames else motion.frames
    if not marks_list:
        raise WardrobeError(f"{motion_path} holds no frames: record one with `avatar-wardrobe track VIDEO`.")
    model = _avatar(scene, avatar)
    r = scene.render
    base = create_base(window, (r.width, r.height))
    studio = Studio(base, model.height_m, pbr=r.pbr, msaa=r.msaa, camera=scene.camera, kind=scene.set.kind)
    wardrobe = Wardrobe(base, model)
    grabber = FrameGrabber(base)
    timer = StageTimer()
    size = (base.win.getXSize(), base.win.getYSize())
    with VideoWriter(out, motion.fps or r.fps, size) as video:
        for marks in tqdm(marks_list, desc="render", unit="frame", disable=not progress):
            wardrobe.update(marks)
            for stage, ms in wardrobe.timings_ms.items():
                timer.add(stage, ms)
            with timer.measure("render"):
                image = grabber.render()
            with timer.measure("encode"):
                video.write(image)
            if keep_frames is not None:
                keep_frames.append(image)
    wardrobe.remove()
    del studio
    return {"out": str(out), "frames": video.frames, "fps": motion.fps, "size": list(size),
            "stages": timer.summary(), "table": timer.table()}


def demo(out: str | Path = "out/demo.mp4", frames: int | None = None, window: bool | None = None,
         scene_path: str | None = None, progress: bool = True) -> dict:
    """The main job: the bundled motion on the default avatar, rendered to a video."""
    scene = load_scene(scene_path)
    motion = model_path(scene.motion.path)
    if not motion.is_file():
        raise WardrobeError(f"the bundled motion {motion} is missing: run `make motion` to record it again.")
    return render_motion(motion, out, frames, window, scene, progress=progress)


def report(result: dict) -> str:
    """Human table plus the JSON line that tools can parse."""
    table = result.pop("table", "")
    return f"{table}\n{json.dumps(result)}"
