"""AR subcommands: `avatar-wardrobe bench ar VIDEO`."""
from __future__ import annotations


def _bench(args):
    from .bench import run

    return run(args.video, args.garment, args.fov, args.frames)


def register(sub, bench_sub) -> None:
    b = bench_sub.add_parser("ar", help="AR garment vs torso IoU on a clip")
    b.add_argument("video")
    b.add_argument("--garment", default="garments/tshirt_M.glb", help="garment file (relative to models/)")
    b.add_argument("--fov", type=float, default=55.0, help="assumed vertical field of view (degrees)")
    b.add_argument("--frames", type=int, default=None)
    b.add_argument("--json", action="store_true", help="(the JSON line is always printed)")
    b.set_defaults(handler=_bench)
