"""AR jobs: composite garments over a clip (`ar`), and how well they cover the torso (`bench ar`)."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator

import cv2
import numpy as np
from tqdm import tqdm

from ..jobs import StageTimer
from ..settings import load_scene, model_path
from .masks import iou, torso_region

DEFAULT_GARMENT = "garments/tshirt_M.glb"
WORK_HEIGHT_PX = 640
TARGET_IOU = 0.75


def composites(video: str, garments: list[str], fov_deg: float, frames: int | None, timer: StageTimer,
               mirror: bool = False, progress: bool = True, unwarped: bool = False) -> Iterator[tuple]:
    """(marks, composited BGR, garment mask, size, unwarped garment mask) per frame of the clip,
    garments worn over it; the last is the mask without the silhouette warp when `unwarped`, else None."""
    from ..pose.sources import open_source
    from ..pose.tracker import PoseTracker
    from ..render.ar import ArView
    from ..render.engine import create_base
    from ..render.plugin import Wardrobe

    source = open_source(video, max_frames=frames)
    first = next(iter(source)).image
    scale = WORK_HEIGHT_PX / first.shape[0]
    size = (round(first.shape[1] * scale) // 2 * 2, WORK_HEIGHT_PX)
    base = create_base(False, size)
    scene = load_scene()
    scene.outfit, scene.cloth.enabled = [], False  # only the garments asked for, skinned (AR is live)
    wardrobe = Wardrobe(base, scene=scene)
    for garment in garments:
        wardrobe.equip(model_path(garment))
    view = ArView(base, wardrobe, fov_deg)
    with PoseTracker(enable_segmentation=True) as tracker:
        for frame in tqdm(source, desc="ar", unit="frame", disable=not progress):
            frame.image = cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)
            with timer.measure("pose"):
                marks = tracker.track(frame)
            t0 = time.perf_counter()
            view.prepare(frame, marks)
            rgba = view.render(size)
            out, mask = view.blend(frame, marks, rgba, mirror=mirror)
            timer.add("ar", (time.perf_counter() - t0) * 1e3)
            if marks.found and marks.mask is not None:
                timer.add("warp", view.warp.last_ms)
            plain = view.blend(frame, marks, rgba, mirror=mirror, warp=False)[1] if unwarped else None
            yield marks, out, mask, size, plain
    source.close()


def run(video: str, garment: str = DEFAULT_GARMENT, fov_deg: float = 55.0, frames: int | None = None,
        progress: bool = True) -> dict:
    """IoU of the garment silhouette with the person's torso (segmentation mask + landmarks)."""
    timer = StageTimer()
    scores, plain_scores = [], []
    for marks, _out, mask, size, plain in composites(video, [garment], fov_deg, frames, timer, progress=progress,
                                                     unwarped=True):
        if marks.found and marks.mask is not None:
            torso = torso_region(marks, size, marks.mask)
            scores.append(iou(mask, torso))
            plain_scores.append(iou(plain, torso))

    def stat(f, values):
        return round(float(f(values)), 3) if values else None

    result = {"video": str(video), "garment": garment, "fov_deg": fov_deg, "frames": len(timer.samples.get("pose", [])),
              "detected": len(scores), "target_iou": TARGET_IOU,
              "iou_median": stat(np.median, scores), "iou_p10": stat(lambda v: np.percentile(v, 10), scores),
              "iou_mean": stat(np.mean, scores),
              "unwarped": {"iou_median": stat(np.median, plain_scores),
                           "iou_p10": stat(lambda v: np.percentile(v, 10), plain_scores),
                           "iou_mean": stat(np.mean, plain_scores)},
              "stages": timer.summary(), "loadavg": [round(x, 2) for x in os.getloadavg()]}
    result["table"] = (f"AR IoU garment vs torso: median {result['iou_median']} (p10 {result['iou_p10']}) over "
                       f"{len(scores)} frames, target >= {TARGET_IOU}; without the silhouette warp "
                       f"{result['unwarped']['iou_median']}\n" + timer.table())
    return result


def render(video: str, out: str, garments: list[str], fov_deg: float = 55.0, frames: int | None = None,
           mirror: bool = False, progress: bool = True) -> dict:
    """Write the clip with the garments drawn over the person (an MP4)."""
    from ..pose.sources import open_source
    from ..record.video import VideoWriter

    timer = StageTimer()
    with open_source(video, max_frames=1) as probe:
        fps = probe.fps
    writer = None
    for _marks, image, _mask, size, _plain in composites(video, garments, fov_deg, frames, timer, mirror, progress):
        writer = writer or VideoWriter(out, fps, size)
        with timer.measure("encode"):
            writer.write(image)
    if writer is not None:
        writer.close()
    return {"out": str(out), "frames": writer.frames if writer else 0, "stages": timer.summary(),
            "table": timer.table()}
