"""Training data for the 2D->3D lifter (models/lifter.npz): render posed avatars, run the real MediaPipe.

Usage (one process per body: Panda3D allows one ShowBase per process):

    .venv/bin/python tools/make_lifter_data.py --avatar avatar/female_165_58.glb --seed 101 \
        --minutes 40 --out build/lifter/female_101.npz

Poses: the joint-limit sampler of `bench retarget` (retarget.bench.sample_landmarks, solved within
the joint limits by the solver itself) with seeds that must differ from the benchmark's (0), plus
the poses of the bundled motion recordings (models/motions/*.jsonl, solved from their world
landmarks, mirrored half the time). Camera: random yaw (both sides, beyond 90 degrees), elevation,
vertical field of view and distance. Each kept sample stores MediaPipe's image landmarks,
visibility, world landmarks, the image size and focal length, and the true detector keypoints
(retarget.keypoints.detector_keypoints) in the camera frame (OpenCV axes). Saved every
SAVE_EVERY samples, so a run can be stopped at any time.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avatar_wardrobe.pose import landmarks as lm  # noqa: E402
from avatar_wardrobe.records import Frame, Landmarks  # noqa: E402
from avatar_wardrobe.retarget import bench  # noqa: E402

BENCH_SEED = bench.DEFAULT_SEED
YAW_DEG = (-130.0, 130.0)
ELEVATION_DEG = (-5.0, 20.0)
FOV_DEG = (22.0, 62.0)
DISTANCE_FACTOR = (1.0, 1.6)  # camera pulled back from "fills the frame" by this factor
MOTION_SHARE = 0.2            # of the poses taken from the bundled motion recordings
SAVE_EVERY = 50
KEYS = ("image", "visibility", "world", "image_size", "focal_px", "truth", "yaw_deg", "fov_deg", "source")


def motion_worlds() -> list[np.ndarray]:
    """World landmarks of every detected frame of the bundled motion recordings."""
    from avatar_wardrobe.pose.recording import read_motion

    out = []
    for path in sorted((ROOT / "models" / "motions").glob("*.jsonl")):
        for marks in read_motion(path).frames:
            if marks.found:
                out.append(np.asarray(marks.world, dtype=np.float64))
    return out


def mirror_world(world: np.ndarray) -> np.ndarray:
    """The mirror image (x -> -x) with left and right landmarks swapped: another plausible pose."""
    out = world[_mirror_order()].copy()
    out[:, 0] *= -1
    return out


def _mirror_order() -> list[int]:
    order = []
    for name in lm.NAMES:
        other = name.replace("left", "@").replace("right", "left").replace("@", "right")
        order.append(lm.INDEX[other])
    return order


def _write_png(path: Path, image: np.ndarray, marks: Landmarks, truth_cv: np.ndarray, focal: float) -> None:
    import cv2

    img = image.copy()
    h, w = img.shape[:2]
    for x, y in marks.image[:, :2] * (w, h):
        cv2.circle(img, (int(x), int(y)), 3, (0, 255, 0), -1)
    for p in truth_cv:
        cv2.circle(img, (int(focal * p[0] / p[2] + w / 2), int(focal * p[1] / p[2] + h / 2)), 2, (0, 0, 255), -1)
    cv2.imwrite(str(path), img)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--avatar", required=True, help="glb under models/ or absolute")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--max-samples", type=int, default=100000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--png", type=int, default=0, help="also write the first N renders, MediaPipe's 2D landmarks "
                    "(green) and the true keypoints projected (red) drawn on, next to --out")
    args = ap.parse_args()
    if args.seed == BENCH_SEED:
        sys.exit(f"seed {BENCH_SEED} is the benchmark's: pick another")

    from avatar_wardrobe.avatar.model import load_avatar
    from avatar_wardrobe.pose.tracker import PoseTracker
    from avatar_wardrobe.render.avatar_actor import AvatarActor
    from avatar_wardrobe.render.capture import FrameGrabber
    from avatar_wardrobe.render.engine import create_base
    from avatar_wardrobe.render.studio import FRAME_BOTTOM, FRAME_TOP, Studio
    from avatar_wardrobe.retarget.keypoints import detector_keypoints
    from avatar_wardrobe.settings import CameraSettings, model_path

    model = load_avatar(model_path(args.avatar))
    solver = model.solver
    rng = np.random.default_rng(args.seed)
    size = bench.Proportions.of(solver)
    motions = motion_worlds()
    base = create_base(False, bench.RENDER_SIZE)
    camera = CameraSettings()
    studio = Studio(base, model.height_m, pbr=True, msaa=0, camera=camera)
    actor = AvatarActor(model.path, model.skeleton, base.render)
    grabber = FrameGrabber(base)
    rows = {k: [] for k in KEYS}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    t_start, tried = time.time(), 0
    names = sorted(detector_keypoints(solver, solver.solve(Landmarks(
        0, 0.0, image=np.zeros((lm.COUNT, 3)), world=motions[0], visibility=np.ones(lm.COUNT)))))

    def save():
        np.savez_compressed(out, **{k: np.asarray(v) for k, v in rows.items()}, keypoint_names=np.array(names),
                            meta=json.dumps({"avatar": model.path.name, "seed": args.seed, "tried": tried,
                                             "seconds": round(time.time() - t_start, 1)}))

    with PoseTracker(static_image_mode=True, smooth_landmarks=False) as tracker:
        while time.time() - t_start < args.minutes * 60 and len(rows["image"]) < args.max_samples:
            tried += 1
            if motions and rng.uniform() < MOTION_SHARE:
                world, source = motions[int(rng.integers(len(motions)))], 1
                if rng.uniform() < 0.5:
                    world, source = mirror_world(world), 2
            else:
                world, source = bench.sample_landmarks(rng, size), 0
            truth = solver.solve(Landmarks(0, 0.0, image=np.zeros((lm.COUNT, 3)), world=world,
                                           visibility=np.ones(lm.COUNT)))
            camera.yaw_deg = float(rng.uniform(*YAW_DEG))
            camera.elevation_deg = float(rng.uniform(*ELEVATION_DEG))
            camera.vertical_fov_deg = float(rng.uniform(*FOV_DEG))
            studio.camera = camera
            studio.frame(model.height_m)
            fwd = base.camera.getQuat(base.render).getForward()
            dist = model.height_m * (FRAME_TOP - FRAME_BOTTOM) / 2 / math.tan(math.radians(camera.vertical_fov_deg / 2))
            base.camera.setPos(base.camera.getPos() - fwd * (float(rng.uniform(*DISTANCE_FACTOR)) - 1.0) * dist)
            cam_rot = np.array(base.cam.getMat(base.render).getUpper3()).T
            actor.apply_local(model.skeleton.local_matrices(truth.local_rotations, truth.root_offset))
            actor.actor.update(force=True)
            image = grabber.render()
            marks = tracker.track(Frame(tried, 0.0, image))
            if not marks.found:
                continue
            kp = detector_keypoints(solver, truth)
            truth_cv = np.array([bench.PANDA_CAM_TO_CV @ (cam_rot.T @ (bench._panda_world(base, actor, solver, kp[n])
                                                                         - np.array(base.cam.getPos(base.render))))
                                 for n in names])
            h = bench.RENDER_SIZE[1]
            if len(rows["image"]) < args.png:
                _write_png(out.with_name(f"{out.stem}_{len(rows['image']):03d}.png"), image, marks, truth_cv,
                           h / 2 / math.tan(math.radians(camera.vertical_fov_deg) / 2))
            rows["image"].append(np.asarray(marks.image, np.float32))
            rows["visibility"].append(np.asarray(marks.visibility, np.float32))
            rows["world"].append(np.asarray(marks.world, np.float32))
            rows["image_size"].append(np.asarray(marks.image_size, np.int32))
            rows["focal_px"].append(np.float32(h / 2 / math.tan(math.radians(camera.vertical_fov_deg) / 2)))
            rows["truth"].append(truth_cv.astype(np.float32))
            rows["yaw_deg"].append(np.float32(camera.yaw_deg))
            rows["fov_deg"].append(np.float32(camera.vertical_fov_deg))
            rows["source"].append(np.int8(source))
            if len(rows["image"]) % SAVE_EVERY == 0:
                save()
                print(f"{len(rows['image'])} samples / {tried} tried, {time.time() - t_start:.0f} s", flush=True)
    save()
    print(f"done: {len(rows['image'])} samples / {tried} tried, {time.time() - t_start:.0f} s -> {out}")


if __name__ == "__main__":
    main()
