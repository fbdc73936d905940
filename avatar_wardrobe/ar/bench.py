"""`bench ar`: how well the AR garment covers the player's torso (IoU) on a real clip, and its cost."""
from __future__ import annotations

import time

import cv2
import numpy as np
from tqdm import tqdm

from ..jobs import StageTimer
from ..settings import model_path
from .fit import iou, torso_region

DEFAULT_GARMENT = "garments/tshirt_M.glb"
BENCH_HEIGHT_PX = 640
TARGET_IOU = 0.75


def run(video: str, garment: str = DEFAULT_GARMENT, fov_deg: float = 55.0, frames: int | None = None,
        keep: list | None = None, progress: bool = True) -> dict:
    """Track the clip with segmentation, composite the garment, compare with the torso region."""
    from ..pose.sources import open_source
    from ..pose.tracker import PoseTracker
    from ..render.ar import ArView
    from ..render.engine import create_base
    from ..render.plugin import Wardrobe

    source = open_source(video, max_frames=frames)
    first = next(iter(source)).image
    scale = BENCH_HEIGHT_PX / first.shape[0]
    size = (int(round(first.shape[1] * scale)) // 2 * 2, BENCH_HEIGHT_PX)
    base = create_base(False, size)
    wardrobe = Wardrobe(base)
    wardrobe.equip(model_path(garment))
    view = ArView(base, wardrobe, fov_deg)
    timer = StageTimer()
    scores, found = [], 0
    with PoseTracker(enable_segmentation=True) as tracker:
        for frame in tqdm(source, desc="bench ar", unit="frame", disable=not progress):
            frame.image = cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA)
            with timer.measure("pose"):
                marks = tracker.track(frame)
            t0 = time.perf_counter()
            out, mask = view.composite(frame, marks)
            timer.add("ar", (time.perf_counter() - t0) * 1e3)
            if marks.found and marks.mask is not None:
                found += 1
                scores.append(iou(mask, torso_region(marks, size, marks.mask)))
            if keep is not None:
                keep.append(out)
    source.close()
    result = {"video": str(video), "garment": garment, "frames": len(timer.samples.get("pose", [])),
              "detected": found, "iou_median": round(float(np.median(scores)), 3) if scores else None,
              "iou_p10": round(float(np.percentile(scores, 10)), 3) if scores else None,
              "iou_mean": round(float(np.mean(scores)), 3) if scores else None, "target_iou": TARGET_IOU,
              "stages": timer.summary()}
    result["table"] = (f"AR IoU garment vs torso: median {result['iou_median']} (p10 {result['iou_p10']}) over "
                       f"{found} frames, target >= {TARGET_IOU}\n" + timer.table())
    return result
