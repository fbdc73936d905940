"""Refiner subcommands: `avatar-wardrobe bench refine` (speed, held-out quality, flicker)."""
from __future__ import annotations


def _bench(args):
    from .bench import run

    return run(threads=args.threads, heldout_count=args.heldout, sequence_count=args.sequence,
               progress=not args.quiet)


def register(sub, bench_sub) -> None:
    b = bench_sub.add_parser("refine", help="refiner ms/frame vs a 1.7M ResNet, held-out PSNR/SSIM, flicker")
    b.add_argument("--threads", type=int, default=None, help="torch threads (default: the refine settings')")
    b.add_argument("--heldout", type=int, default=64, help="held-out frames (rendered once with another seed, cached)")
    b.add_argument("--sequence", type=int, default=48, help="frames of the slow sequence for flicker")
    b.add_argument("--quiet", action="store_true", help="no progress bars while rendering held-out frames")
    b.add_argument("--json", action="store_true", help="(the JSON line is always printed after the table)")
    b.set_defaults(handler=_bench)
