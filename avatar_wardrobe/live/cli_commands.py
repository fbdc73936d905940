"""Live subcommands: `avatar-wardrobe live` (two-process real-time loop) and `bench live`."""
from __future__ import annotations

from ..errors import WardrobeError

REFINE_CHOICES = ("off", "enhance", "toon")  # as refine.runner.CHOICES (not imported: no torch here)
CLOTH_PROCESS_HELP = ("step the garments' PyBullet in the scene process (default: a worker process per "
                      "garment, below the scene's CPU priority)")
CLOTH_LAG_HELP = ("simulate the cloth before showing each frame (default: show it at once from the last "
                  "simulated frame and simulate after, off the latency path)")


def _live(args):
    from .loop import LiveOptions, profile_table, run_live, summary

    source = args.camera if args.camera is not None else args.video
    if source is None:
        raise WardrobeError("live needs an input: --camera N or --video FILE.")
    opts = LiveOptions(source=source, seconds=args.seconds, scene_path=args.scene, window=args.window,
                       refine=args.refine, cloth_vertices=args.cloth_vertices, out=args.out, pbr=args.pbr,
                       pipelined=not args.no_pipeline, cloth_lag=not args.no_cloth_lag,
                       cloth_process=not args.no_cloth_process)
    if args.lp_threads is not None:
        opts.lp_threads = args.lp_threads
    import os

    load_before = os.getloadavg()
    result = run_live(opts)
    out = summary(result)
    out["load_avg_before"] = [round(x, 2) for x in load_before]
    out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    out["table"] = profile_table(result) if args.profile else ""
    return out


def _bench_live(args):
    from .bench import run

    if args.cloth_vertices < 4:
        raise WardrobeError("--cloth-vertices needs at least 4 nodes, e.g. 1000.")
    return run(args.video, seconds=args.seconds, refine=args.refine, cloth_vertices=args.cloth_vertices,
               lp_threads=args.lp_threads, torch_threads=args.torch_threads, serial=not args.no_serial,
               pbr=args.pbr, just_in_time=not args.no_just_in_time, unpipelined=args.unpipelined,
               cloth_lag=not args.no_cloth_lag, cloth_process=not args.no_cloth_process)


def register(subparsers, bench_subparsers) -> None:
    p = subparsers.add_parser("live", help="real-time loop: pose in a worker process, the scene here")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, default=None, help="webcam index")
    src.add_argument("--video", default=None, help="a video played at its frame rate like a camera")
    p.add_argument("--window", action="store_true", help="show the frames in a window (needs a display)")
    p.add_argument("--profile", action="store_true", help="print ms per stage (solve, pose, garments, render, ...)")
    p.add_argument("--seconds", type=float, default=None, help="stop after N seconds (default: until the input ends)")
    p.add_argument("--scene", default=None)
    p.add_argument("--refine", choices=REFINE_CHOICES, default="off")
    p.add_argument("--cloth-vertices", type=int, default=None, help="sim mesh nodes per garment")
    p.add_argument("--lp-threads", type=int, default=None, help="llvmpipe render threads (default 0: in the drawing thread)")
    p.add_argument("--out", default=None, help="also write the shown frames to this video")
    p.add_argument("--pbr", action="store_true", help="simplepbr shading (about 5x the lite shading's render cost)")
    p.add_argument("--no-pipeline", action="store_true",
                   help="dress and draw one after another (default: dress the next frame while drawing this one)")
    p.add_argument("--no-cloth-lag", action="store_true", help=CLOTH_LAG_HELP)
    p.add_argument("--no-cloth-process", action="store_true", help=CLOTH_PROCESS_HELP)
    p.set_defaults(handler=_live)

    b = bench_subparsers.add_parser("live", help="two-process live loop vs a serial loop on a paced video")
    b.add_argument("--json", action="store_true", help="(the JSON line is always printed after the table)")
    b.add_argument("--video", required=True, help="clip played at its fps and looped, e.g. ../shared/testdata/video/pose_1.mp4")
    b.add_argument("--seconds", type=float, default=20.0, help="seconds each loop runs")
    b.add_argument("--refine", choices=REFINE_CHOICES, default="off")
    b.add_argument("--cloth-vertices", type=int, default=1000, help="sim mesh node budget of the t-shirt")
    b.add_argument("--lp-threads", type=int, default=None, help="llvmpipe threads in the scene process (default 0: in the drawing thread)")
    b.add_argument("--torch-threads", type=int, default=None, help="refiner threads in the scene process (default 1)")
    b.add_argument("--pbr", action="store_true", help="simplepbr shading instead of the lite shading (render/lite.py)")
    b.add_argument("--no-serial", action="store_true", help="skip the serial baseline")
    b.add_argument("--no-just-in-time", action="store_true",
                   help="the pose worker tracks every frame it can instead of timing frames to the scene's pace")
    b.add_argument("--unpipelined", action="store_true",
                   help="also run the two-process loop without the scene's helper thread (render/pipeline.py)")
    b.add_argument("--no-cloth-lag", action="store_true", help=CLOTH_LAG_HELP)
    b.add_argument("--no-cloth-process", action="store_true", help=CLOTH_PROCESS_HELP)
    b.set_defaults(handler=_bench_live)
