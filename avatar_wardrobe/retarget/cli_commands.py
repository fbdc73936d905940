"""Retargeting subcommands: `export`, `calibrate`, and the `bench retarget` / `bench keypoints` benchmarks."""
from __future__ import annotations


def _export(args):
    from ..record.export import export_motion

    return export_motion(args.motion, args.out, args.avatar, args.rig, args.frames)


def _calibrate(args):
    from ..pose.calibration import calibrate, suggest_body
    from ..pose.sources import open_source
    from ..pose.tracker import PoseTracker
    from ..settings import MODELS_DIR

    with open_source(args.source, max_frames=args.frames) as source, PoseTracker() as tracker:
        frames = [tracker.track(frame) for frame in source]
    cal = calibrate(frames, args.height)
    body = suggest_body(cal, MODELS_DIR / "avatar")
    rows = [f"stance {cal.stance}, {cal.frames_used}/{cal.frames_seen} frames, height {cal.height_m:.2f} m "
            f"({cal.height_source})"]
    rows += [f"  {k:<15}{v:6.3f} m  ({cal.proportions[k]:.3f} of the height)" for k, v in cal.bone_lengths_m.items()]
    rows.append(f"nearest body: {body.avatar} ({body.avatar_height_m:.2f} m), scale it by {body.scale:.3f}")
    rows += [f"note: {n}" for n in cal.notes]
    return {"calibration": cal.to_json(), "suggestion": {"avatar": body.avatar, "scale": round(body.scale, 4),
            "avatar_height_m": body.avatar_height_m}, "table": "\n".join(rows)}


def _views(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(",") if v.strip())


def _bench_retarget(args):
    from .bench import run_retarget

    lifter = {"auto": "auto", "off": False}.get(args.lifter, args.lifter)
    return run_retarget(args.poses, _views(args.views), args.seed, args.shape, learned_prior=lifter)


def _bench_keypoints(args):
    from .bench import run_keypoints

    return run_keypoints(args.video, args.reference, args.fov, args.frames)


def register(sub, bench_sub) -> None:
    e = sub.add_parser("export", help="export a motion recording as a glTF animation (.glb) or BVH (.bvh)")
    e.add_argument("motion", help="motion recording (.jsonl) from `avatar-wardrobe track`")
    e.add_argument("--out", required=True, help="x.glb (the avatar with the clip) or x.bvh")
    e.add_argument("--avatar", default=None, help="avatar .glb/.vrm to animate (default: the scene's avatar)")
    e.add_argument("--rig", default="auto", help="rig map: auto, a known name, or a .toml map")
    e.add_argument("--frames", type=int, default=None, help="export only the first N frames")
    e.set_defaults(handler=_export)

    c = sub.add_parser("calibrate", help="measure the player from an A- or T-pose capture; suggest a body and scale")
    c.add_argument("source", help="video file, image folder or webcam index showing the stance")
    c.add_argument("--height", type=float, default=None, help="the player's height in metres (recommended)")
    c.add_argument("--frames", type=int, default=90, help="frames to read (default 90: ~3 s of video)")
    c.set_defaults(handler=_calibrate)

    b = bench_sub.add_parser("retarget", help="bone-direction error on synthetic renders: ours vs raw MediaPipe")
    b.add_argument("--poses", type=int, default=30, help="random poses rendered per view")
    b.add_argument("--views", default="0", help="camera yaws in degrees, e.g. 0,45,90")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--shape", default=None, help="height=1.72,mass=70,gender=0.5 (0 male .. 1 female): a body made "
                   "with anny when installed, else the nearest bundled one")
    b.add_argument("--lifter", default="auto", help="learned lifter weights: auto (models/lifter.npz when present), "
                   "off, or a .npz path (an error when missing)")
    b.add_argument("--json", action="store_true", help="(the JSON line is always printed)")
    b.set_defaults(handler=_bench_retarget)

    k = bench_sub.add_parser("keypoints", help="PCK of the avatar's projected joints against reference keypoints")
    k.add_argument("video")
    k.add_argument("reference", help="JSON list of per-frame {name: {x, y}} (COCO-17 names), e.g. pose_1.json")
    k.add_argument("--fov", type=float, default=None, help="vertical field of view in degrees (default: the scene's)")
    k.add_argument("--frames", type=int, default=None)
    k.add_argument("--json", action="store_true", help="(the JSON line is always printed)")
    k.set_defaults(handler=_bench_keypoints)
