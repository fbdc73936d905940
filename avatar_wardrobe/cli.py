"""`avatar-wardrobe` command line: parse arguments, call the library, print results. Thin."""
from __future__ import annotations

import argparse
import sys

from .errors import WardrobeError

EXIT_USER_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="avatar-wardrobe", description="Dress a pose-driven avatar in Panda3D.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="render the bundled motion on the default avatar to a video")
    d.add_argument("--out", default="out/demo.mp4")
    d.add_argument("--frames", type=int, default=None, help="render only the first N frames")
    d.add_argument("--window", action="store_true", help="render in a window (needs a display)")
    d.add_argument("--scene", default=None, help="scene TOML (default: scenes/default.toml)")

    t = sub.add_parser("track", help="record landmarks and solved rotations from a video, folder or webcam")
    t.add_argument("video", help="video file, image folder or webcam index")
    t.add_argument("--out", required=True, help="motion recording to write (.jsonl)")
    t.add_argument("--frames", type=int, default=None)
    t.add_argument("--avatar", default=None, help="avatar .glb whose rotations are recorded")

    r = sub.add_parser("render", help="render a recorded motion to a video")
    r.add_argument("--motion", required=True, help="motion recording (.jsonl)")
    r.add_argument("--out", required=True)
    r.add_argument("--frames", type=int, default=None)
    r.add_argument("--avatar", default=None)
    r.add_argument("--window", action="store_true")
    r.add_argument("--scene", default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from . import jobs
    from .settings import load_scene

    try:
        if args.command == "demo":
            result = jobs.demo(args.out, args.frames, args.window or None, args.scene)
        elif args.command == "track":
            result = jobs.track(args.video, args.out, args.frames, avatar=args.avatar)
        else:
            result = jobs.render_motion(args.motion, args.out, args.frames, args.window or None,
                                        load_scene(args.scene), args.avatar)
    except WardrobeError as exc:
        print(f"avatar-wardrobe: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    print(jobs.report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
