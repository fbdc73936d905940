"""`avatar-wardrobe` command line: parse arguments, call the library, print results. Thin.

Each area adds its own subcommands from a `cli_commands.py` module with a
`register(subparsers, bench_subparsers)` function (the second adds `avatar-wardrobe bench <name>`
benchmarks); a subcommand sets `handler=fn(args) -> dict | int` with `set_defaults`. A dict is
printed as a table (its "table" entry) plus one JSON line; an int is the exit status.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# OpenBLAS starts a spinning thread per core the first time numpy loads. The project's matrices
# are small (skinning, cloth push-out, solver), so on two cores those threads only burned the
# other core: measured in the scene process, the same frame took ~2x the CPU at the same wall time
# (cloth 70 vs 37 ms CPU), and that CPU is taken from the pose worker and llvmpipe. Set before
# numpy is first imported (this module imports nothing that loads it); a user's own setting wins.
BLAS_THREADS = "1"
os.environ.setdefault("OPENBLAS_NUM_THREADS", BLAS_THREADS)

# glibc gives each thread that allocates its own malloc arena (up to 8 per core). The pipelined
# scene's threads (render/pipeline.py) free in one thread what another allocated, and the free
# space of several arenas came and went: measured over 1,200 live frames with the refiner on, the
# scene's RSS swung 607-639 MB and ended 4.8% above its 3 s sample; with 2 arenas it rose smoothly
# to a plateau, 1.8%. Only the arena count is set (a fixed mmap threshold, tried before, cost 40%
# fps). A user's MALLOC_ARENA_MAX wins.
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc malloc.h


def _limit_malloc_arenas() -> None:
    if "MALLOC_ARENA_MAX" in os.environ or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):  # not glibc (musl): its allocator has no arenas to limit
        pass


_limit_malloc_arenas()

from .errors import WardrobeError  # noqa: E402

EXIT_USER_ERROR = 2
COMMAND_MODULES = (
    "avatar_wardrobe.garments.cli_commands",
    "avatar_wardrobe.cloth.cli_commands",
    "avatar_wardrobe.retarget.cli_commands",
    "avatar_wardrobe.ar.cli_commands",
    "avatar_wardrobe.refine.cli_commands",
    "avatar_wardrobe.live.cli_commands",
    "avatar_wardrobe.soak.cli_commands",
    "avatar_wardrobe.batch.cli_commands",
)
REFINE_CHOICES = ("off", "enhance", "toon")  # the same as refine.runner.CHOICES (not imported: no torch here)


def _demo(args):
    from . import jobs

    return jobs.demo(args.out, args.frames, args.window or None, args.scene, refine=args.refine,
                     pipeline=not args.serial,
                     lp_threads=jobs.RENDER_LP_THREADS if args.lp_threads is None
                     else None if args.lp_threads < 0 else args.lp_threads)


def _track(args):
    from . import jobs

    return jobs.track(args.video, args.out, args.frames, avatar=args.avatar, project=args.project,
                      static=args.static, fov_deg=args.fov)


def _render(args):
    from . import jobs
    from .settings import load_scene

    return jobs.render_motion(args.motion, args.out, args.frames, args.window or None, load_scene(args.scene),
                              args.avatar, refine=args.refine)


def _app(args):
    from .render.app import WardrobeApp

    source = args.camera if args.camera is not None else (args.video or args.motion)
    app = WardrobeApp(source, args.scene, window=True)
    if args.frames:
        app.step(args.frames)
        if args.screenshot:
            app.base.screenshot(args.screenshot, defaultFilename=False)
        return 0
    app.run()
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="avatar-wardrobe", description="Dress a pose-driven avatar in Panda3D.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="render the bundled motion on the default avatar to a video")
    d.add_argument("--out", default="out/demo.mp4")
    d.add_argument("--frames", type=int, default=None, help="render only the first N frames")
    d.add_argument("--window", action="store_true", help="render in a window (needs a display)")
    d.add_argument("--scene", default=None, help="scene TOML (default: scenes/default.toml)")
    d.add_argument("--refine", choices=REFINE_CHOICES, default=None,
                   help="GAN refinement of each frame (default: the scene's [refine] style, off)")
    d.add_argument("--serial", action="store_true",
                   help="dress and draw one after another (default: dress the next frame while drawing this one)")
    d.add_argument("--lp-threads", type=int, default=None,
                   help="llvmpipe render threads with the pipeline (default 0: llvmpipe draws in the drawing "
                        "thread and the dress thread has the other core; -1: one per core)")
    d.set_defaults(handler=_demo)

    t = sub.add_parser("track", help="record landmarks and solved rotations from a video, folder or webcam")
    t.add_argument("video", help="video file, image folder or webcam index")
    t.add_argument("--out", required=True, help="motion recording to write (.jsonl)")
    t.add_argument("--frames", type=int, default=None)
    t.add_argument("--avatar", default=None, help="avatar .glb whose rotations are recorded")
    t.add_argument("--project", action="store_true",
                   help="add the avatar's joints in the camera (joints_cam) and the image (joints_2d)")
    t.add_argument("--static", action="store_true", help="the images are unrelated stills: no temporal filter")
    t.add_argument("--fov", type=float, default=None,
                   help="the camera's vertical field of view in degrees (default: an assumed webcam FOV)")
    t.set_defaults(handler=_track)

    r = sub.add_parser("render", help="render a recorded motion to a video")
    r.add_argument("--motion", required=True, help="motion recording (.jsonl)")
    r.add_argument("--out", required=True)
    r.add_argument("--frames", type=int, default=None)
    r.add_argument("--avatar", default=None)
    r.add_argument("--window", action="store_true")
    r.add_argument("--scene", default=None)
    r.add_argument("--refine", choices=REFINE_CHOICES, default=None,
                   help="GAN refinement of each frame (default: the scene's [refine] style, off)")
    r.set_defaults(handler=_render)

    bench = sub.add_parser("bench", help="benchmarks (JSON output; see `bench -h`)")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    a = sub.add_parser("app", help="the wardrobe app in a window")
    src = a.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, default=None, help="webcam index")
    src.add_argument("--video", default=None)
    src.add_argument("--motion", default=None, help="a recorded motion (.jsonl); default: the scene's")
    a.add_argument("--scene", default=None)
    a.add_argument("--frames", type=int, default=None, help="run N frames then quit (for scripts)")
    a.add_argument("--screenshot", default=None, help="with --frames: save the last frame here")
    a.set_defaults(handler=_app)

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise  # a real import error inside that area, not the area missing
            continue  # that area has no commands yet
        module.register(sub, bench_sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from . import jobs

    try:
        result = args.handler(args)
    except WardrobeError as exc:
        print(f"avatar-wardrobe: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    if isinstance(result, int):
        return result
    print(jobs.report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
