"""Batch subcommands: `avatar-wardrobe batch CATALOG --out DIR` and `avatar-wardrobe bench batch`."""
from __future__ import annotations

import json
import signal
import threading

from .scheduler import BACKENDS

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _print(result: dict, only_json: bool) -> None:
    table = result.pop("table", "")
    print(json.dumps(result) if only_json else f"{table}\n{json.dumps(result)}")


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _batch(args):
    from .scheduler import run_batch

    # SIGTERM (a job scheduler, `kill`) and SIGINT stop the run: running tasks are killed, temp dirs
    # removed. SIGINT too, since a run started in the background (`&`) begins with it ignored.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, _interrupt) for s in STOP_SIGNALS}
    try:
        result = run_batch(args.catalog, args.out, workers=args.workers, address=args.address,
                           backend=args.backend, progress=not args.quiet)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    _print(result, args.json)
    return 0 if result["failed"] == 0 else 1


def _bench(args):
    from .bench import run

    result = run(tasks=args.tasks, frames=args.frames, workers=args.workers, backend=args.backend,
                 keep=args.keep, repeat=args.repeat, progress=not args.quiet)
    _print(result, args.json)
    return 0


def register(subparsers, bench_subparsers) -> None:
    b = subparsers.add_parser("batch", help="render and fit every garment x size x body x motion of a catalog "
                                            "(Ray, or a local process pool)")
    b.add_argument("catalog", help="catalog TOML (see scenes/catalog.toml)")
    b.add_argument("--out", required=True, help="output folder: tasks/<id>/..., summary.csv/json, catalog_sheet.jpg")
    b.add_argument("--address", default=None,
                   help="a Ray cluster: auto (the one this machine belongs to) or ray://HEAD:10001")
    b.add_argument("--workers", type=int, default=None,
                   help="tasks at a time (default: the CPU count here, or the cluster's CPUs)")
    b.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="auto: Ray when installed, else a local pool (and it says so)")
    b.add_argument("--json", action="store_true", help="print only the JSON line")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(handler=_batch)

    s = bench_subparsers.add_parser("batch", help="catalog throughput with 1 worker, then 2, in the same run")
    s.add_argument("--json", action="store_true", help="print only the JSON line")
    s.add_argument("--tasks", type=int, default=6, help="tasks in the benchmark catalog (default 6)")
    s.add_argument("--frames", type=int, default=24, help="clip frames per task (default 24)")
    s.add_argument("--workers", default="1,2", help="worker counts to compare, comma-separated (default 1,2)")
    s.add_argument("--backend", choices=BACKENDS, default="auto")
    s.add_argument("--repeat", type=int, default=1, help="run the worker counts this many times (median ratio)")
    s.add_argument("--keep", default=None, help="keep the outputs in this folder (default: a temp folder)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(handler=_bench)
