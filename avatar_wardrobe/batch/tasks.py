"""One catalog task, headless, in its own process: turntable, clip, contact sheet, fit report.

Run as `python -m avatar_wardrobe.batch.tasks SPEC.json WORKDIR` by batch.isolate (Panda3D allows
one ShowBase per process, so every task gets a fresh process). It writes its outputs into WORKDIR,
then result.json; on failure error.json with the message.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from ..errors import WardrobeError
from .catalog import Outputs, TaskSpec

SETTLE_FRAMES = 30           # empty frames before the turntable: the body eases to rest, the cloth settles
RENDER_PASSES = 2            # the render texture lags a frame behind a change: draw twice per still
SHEET_COLUMNS = 8            # contact sheet: at most this many tiles per row
SHEET_TILE_HEIGHT = 160
LABEL_HEIGHT = 44
LABEL_SCALE = 0.45
THUMB_HEIGHT = 240
JPEG_QUALITY = 85
TEXT_RGB = (235, 235, 235)
BAR_BGR = (40, 40, 44)
RESULT_FILE = "result.json"
ERROR_FILE = "error.json"
CLIP_FILE, TURNTABLE_FILE, SHEET_FILE, FIT_FILE, THUMB_FILE = ("clip.mp4", "turntable.mp4", "contact_sheet.jpg",
                                                               "fit.json", "thumb.jpg")
TURNTABLE_FPS = 4.0
EXIT_USER_ERROR, EXIT_CRASH = 3, 4
PARENT_ENV = "AVATAR_WARDROBE_BATCH_PARENT"  # the supervisor's pid, set by batch.isolate
PR_SET_PDEATHSIG = 1


def run(spec: TaskSpec, work: Path) -> dict:
    """Render and fit one (garment, size, body, motion) into `work`; returns the result record."""
    from ..pose.recording import read_motion
    from ..render.capture import FrameGrabber
    from ..render.engine import create_base
    from ..render.plugin import Wardrobe
    from ..settings import load_scene

    o = Outputs(**spec.outputs)
    stages: dict[str, float] = {}
    t = time.perf_counter()
    motion = read_motion(spec.motion_file)
    if not motion.frames:
        raise WardrobeError(f"motion {spec.motion_file} holds no frames: record one with `avatar-wardrobe track`.")
    base = create_base(False, (o.width, o.height))
    scene = load_scene()
    scene.outfit = []
    scene.render.width, scene.render.height = o.width, o.height
    wardrobe = Wardrobe(base, spec.body_file, scene=scene, studio=True)
    garment = wardrobe.equip(spec.garment_file)
    grabber = FrameGrabber(base)
    from ..records import Landmarks

    stages["load_s"] = time.perf_counter() - t
    written: list[str] = []

    t = time.perf_counter()
    for i in range(SETTLE_FRAMES):
        wardrobe.update(Landmarks(i, i / o.fps))
    views = []
    for k in range(o.turntable_views if (o.turntable or o.contact_sheet) else 1):
        wardrobe.node.setH(360.0 * k / max(1, o.turntable_views))
        views.append(_still(grabber))
    wardrobe.node.setH(0.0)
    _write_jpg(work / THUMB_FILE, _fit_height(views[0], THUMB_HEIGHT))
    written.append(THUMB_FILE)
    if o.turntable:
        _write_video(work / TURNTABLE_FILE, views, TURNTABLE_FPS)
        written.append(TURNTABLE_FILE)
    stages["turntable_s"] = time.perf_counter() - t

    t = time.perf_counter()
    clip = []
    if o.clip or o.contact_sheet:
        from ..record.video import VideoWriter

        frames = [motion.frames[i % len(motion.frames)] for i in range(o.clip_frames)]
        video = VideoWriter(work / CLIP_FILE, o.fps, (o.width, o.height)) if o.clip else None
        try:
            for i, marks in enumerate(frames):
                # The loop restarts the recording's clock; the filter sees a steady one.
                wardrobe.update(Landmarks(i, i / o.fps, marks.image, marks.world, marks.visibility,
                                          marks.image_size))
                image = grabber.render()
                clip.append(image)
                if video is not None:
                    video.write(image)
        finally:
            if video is not None:
                video.close()
        if o.clip:
            written.append(CLIP_FILE)
    stages["clip_s"] = time.perf_counter() - t

    fit = None
    if o.fit_report:
        t = time.perf_counter()
        fit = fit_report(wardrobe, spec)
        (work / FIT_FILE).write_text(json.dumps(fit, indent=1) + "\n")
        written.append(FIT_FILE)
        stages["fit_s"] = time.perf_counter() - t
    if o.contact_sheet:
        sheet = contact_sheet(views, clip, _label(spec, fit))
        _write_jpg(work / SHEET_FILE, sheet)
        written.append(SHEET_FILE)
    wardrobe.remove()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"outputs": written, "cpu_s": round(me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, 3),
            "fit": fit, "garment_name": garment.name, "clip_frames": len(clip), "turntable_views": len(views),
            "stages_s": {k: round(v, 3) for k, v in stages.items()}, "child_max_rss_mb": round(me.ru_maxrss / 1024, 1)}


def fit_report(wardrobe, spec: TaskSpec) -> dict:
    """Strain per region of this size draped at rest on this body (cloth.fit.size_advice, one size)."""
    from ..cloth.fit import FIT_MAX_STRAIN, REGIONS, size_advice

    fitted = wardrobe.worn()[0]  # refitted to this body when it was made on another
    advice = size_advice({spec.size: fitted}, wardrobe.avatar)
    s = advice.sizes[0]
    return {"garment": spec.garment, "size": spec.size, "body": spec.body, "regions": list(REGIONS),
            "strain": s.strain, "worst": round(float(s.worst), 4), "fit_max_strain": FIT_MAX_STRAIN,
            "fits": bool(s.worst <= FIT_MAX_STRAIN)}


def contact_sheet(views: list[np.ndarray], clip: list[np.ndarray], label: str) -> np.ndarray:
    """Turntable views over evenly spaced clip frames, tiles SHEET_TILE_HEIGHT high, a label bar on top."""
    import cv2

    rows = []
    picks = [clip[int(i)] for i in np.linspace(0, len(clip) - 1, min(SHEET_COLUMNS, len(clip)))] if clip else []
    for images in (views[:SHEET_COLUMNS], picks):
        if images:
            rows.append(np.hstack([_fit_height(im, SHEET_TILE_HEIGHT) for im in images]))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=BAR_BGR[0]) for r in rows]
    bar = np.empty((LABEL_HEIGHT, width, 3), np.uint8)
    bar[:] = BAR_BGR
    for i, line in enumerate(label.split("\n")[:2]):
        cv2.putText(bar, line, (8, 18 + 20 * i), cv2.FONT_HERSHEY_SIMPLEX, LABEL_SCALE, TEXT_RGB[::-1], 1,
                    cv2.LINE_AA)
    return np.vstack([bar, *rows])


def _label(spec: TaskSpec, fit: dict | None) -> str:
    head = f"{spec.garment} {spec.size} on {spec.body}, {spec.motion}"
    if not fit:
        return head
    regions = "  ".join(f"{r} {v:.3f}" for r, v in fit["strain"].items() if v is not None)
    return f"{head}\nstrain {regions}  ({'fits' if fit['fits'] else 'tight'})"


def _still(grabber) -> np.ndarray:
    image = None
    for _ in range(RENDER_PASSES):
        image = grabber.render()
    return image


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


def _write_jpg(path: Path, image: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise WardrobeError(f"cannot write {path}: check the folder is writable.")


def _write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    from ..record.video import VideoWriter

    with VideoWriter(path, fps, frames[0].shape[1::-1]) as video:
        for image in frames:
            video.write(image)


def die_with_parent(parent_pid: int | None) -> None:
    """Linux: be killed when the supervising process dies (a Ray worker killed, a driver interrupted),
    so no task outlives its run. Elsewhere the supervisor's time limit still applies."""
    if parent_pid is None or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the prctl took effect
        os._exit(EXIT_CRASH)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parent = os.environ.get(PARENT_ENV)
    die_with_parent(int(parent) if parent and parent.isdigit() else None)
    spec_path, work = Path(argv[0]), Path(argv[1])
    try:
        spec = TaskSpec(**json.loads(spec_path.read_text()))
        result = run(spec, work)
    except WardrobeError as exc:
        (work / ERROR_FILE).write_text(json.dumps({"error": str(exc)}))
        return EXIT_USER_ERROR
    except Exception as exc:  # a crash inside the task: recorded with where it happened, the batch goes on
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        where = f" ({Path(tb.filename).name}:{tb.lineno})" if tb else ""
        (work / ERROR_FILE).write_text(json.dumps({"error": f"{type(exc).__name__}: {exc}{where}",
                                                   "traceback": traceback.format_exc()}))
        return EXIT_CRASH
    (work / RESULT_FILE).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
