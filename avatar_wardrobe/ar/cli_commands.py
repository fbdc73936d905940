"""AR subcommands: `avatar-wardrobe ar VIDEO --out x.mp4` and `avatar-wardrobe bench ar VIDEO`."""
from __future__ import annotations


def _bench(args):
    from .bench import run

    return run(args.video, args.garment, args.fov, args.frames)


def _ar(args):
    from .bench import render

    return render(args.video, args.out, args.garment or ["garments/tshirt_M.glb"], args.fov, args.frames,
                  args.mirror)


def register(sub, bench_sub) -> None:
    a = sub.add_parser("ar", help="draw garments over the person in a video or camera stream (writes MP4)")
    a.add_argument("video", help="video file, image folder or camera index")
    a.add_argument("--out", required=True)
    a.add_argument("--garment", action="append", help="garment file(s) relative to models/ (repeatable)")
    a.add_argument("--fov", type=float, default=55.0, help="camera's vertical field of view (degrees)")
    a.add_argument("--frames", type=int, default=None)
    a.add_argument("--mirror", action="store_true", help="mirror the picture (selfie view)")
    a.set_defaults(handler=_ar)

    b = bench_sub.add_parser("ar", help="AR garment vs torso IoU on a clip")
    b.add_argument("video")
    b.add_argument("--garment", default="garments/tshirt_M.glb", help="garment file (relative to models/)")
    b.add_argument("--fov", type=float, default=55.0, help="assumed vertical field of view (degrees)")
    b.add_argument("--frames", type=int, default=None)
    b.add_argument("--json", action="store_true", help="(the JSON line is always printed)")
    b.set_defaults(handler=_bench)
