"""Cloth subcommands: `avatar-wardrobe bench cloth` (the cloth benchmark, table + JSON)."""
from __future__ import annotations

from ..errors import WardrobeError


def _vertices(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise WardrobeError(f"--vertices takes comma-separated node counts such as 500,1000,2000, not '{text}'.")
    if not values or min(values) < 4:
        raise WardrobeError("--vertices needs node counts of at least 4, e.g. 500,1000,2000.")
    return values


def _bench_cloth(args):
    from .bench import run

    return run(vertices=_vertices(args.vertices), seconds=args.seconds, motion=args.motion, soak_minutes=args.soak,
               garments=tuple(g for g in args.garments.split(",") if g), avatar=args.avatar,
               baseline_frames=args.baseline_frames, progress=not args.quiet)


def register(subparsers, bench_subparsers) -> None:
    b = bench_subparsers.add_parser("cloth", help="cloth speed, poke-through, stretch and stability per sim size, "
                                                  "against PyBullet's deformable world")
    b.add_argument("--json", action="store_true", help="(the JSON line is always printed after the table)")
    b.add_argument("--vertices", default="500,1000,2000", help="sim mesh node budgets, comma-separated")
    b.add_argument("--seconds", type=float, default=None, help="motion length (the motion loops or is cut)")
    b.add_argument("--motion", default=None, help="landmark recording (.jsonl); default: the bundled motion")
    b.add_argument("--soak", type=float, default=0.0, metavar="MINUTES", help="also run MINUTES of random motion")
    b.add_argument("--garments", default="shirt,skirt",
                   help="garments to run: procedural shirt, skirt; or shipped ones such as tshirt_M, trousers_M")
    b.add_argument("--avatar", default=None, help="avatar .glb (default: the scene's default avatar)")
    b.add_argument("--baseline-frames", type=int, default=15,
                   help="frames the deformable-world baseline runs (0: skip it)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(handler=_bench_cloth)
