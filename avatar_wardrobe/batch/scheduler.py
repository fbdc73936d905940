"""Schedule a catalog's tasks on Ray (the `batch` extra) or, without it, a local pool that says so."""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from ..errors import WardrobeError
from . import store
from .catalog import Catalog, TaskSpec, load_catalog
from .isolate import kill_all, run_isolated

BACKENDS = ("auto", "ray", "local")
RAY_OBJECT_STORE_MB = 128      # outputs are small (a few hundred KB per task)
RAY_LOCAL_IP = "127.0.0.1"     # a local Ray stays on the loopback
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}  # no usage reporting
# A local Ray binds to the loopback: Ray reads this when imported (else it picks the host's address).
RAY_LOCAL_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
RAY_TEMP_PREFIX = "aw_ray_"    # a local Ray's session files (logs, sockets), removed after the run
WAIT_S = 0.5                   # the local pool's driver wakes this often (to act on Ctrl-C / SIGTERM)
EXTRA_HINT = "pip install -e '.[batch]' (Ray)"

Runner = Callable[[list[TaskSpec]], Iterator[dict]]


def say(text: str) -> None:
    tqdm.write(f"avatar-wardrobe batch: {text}", file=sys.stderr)


def prepare_bodies(catalog: Catalog) -> None:
    """Build (or take from the cache) the height/mass/gender bodies, once, before any task runs."""
    wanted = [b for b in catalog.bodies if b.needs_build]
    if not wanted:
        return
    try:
        from ..shape.bodies import body_avatar
        import anny  # noqa: F401  (the extra; checked here to give one message for all such bodies)
    except ImportError:
        names = ", ".join(b.name for b in wanted)
        raise WardrobeError(f"bodies by height/mass/gender ({names}) need the anny extra: pip install -e "
                            "'.[tools]'. Or use preset = \"female_165_58\" / \"male_180_80\" in the catalog.") from None
    for body in wanted:
        say(f"body {body.name}: building with anny (about a minute the first time, then cached)")
        body.file = str(body_avatar(body.height_m, body.mass_kg, body.gender))


def local_runner(workers: int, tmp_root: str | None = None) -> Runner:
    """N worker slots on this machine; each task still runs in a fresh child process."""
    def run(specs: list[TaskSpec]) -> Iterator[dict]:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch")
        stop = threading.Event()
        try:
            pending = {pool.submit(run_isolated, asdict(s), tmp_root, stop) for s in specs}
            while pending:  # short waits: a signal is acted on within WAIT_S whichever thread caught it
                done, pending = wait(pending, timeout=WAIT_S, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        finally:  # also on Ctrl-C: queued tasks are dropped, running ones killed (and any just starting)
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            kill_all()
            pool.shutdown(wait=True)
    return run


class RayRunner:
    """Ray tasks (one per catalog task) on a local Ray started small, or on a cluster at `address`."""

    def __init__(self, workers: int | None, address: str | None, tmp_root: str | None = None):
        for k, v in {**RAY_ENV, **({} if address else RAY_LOCAL_ENV)}.items():
            os.environ.setdefault(k, v)
        import ray

        self.ray = ray
        self.temp_dir = None
        t0 = time.perf_counter()
        try:
            if address:
                ray.init(address=address, log_to_driver=False, logging_level="warning")
            else:
                self.temp_dir = tempfile.mkdtemp(prefix=RAY_TEMP_PREFIX)
                ray.init(num_cpus=workers, object_store_memory=RAY_OBJECT_STORE_MB * 2**20, include_dashboard=False,
                         _node_ip_address=RAY_LOCAL_IP, _temp_dir=self.temp_dir, log_to_driver=False,
                         logging_level="warning")
        except (ConnectionError, RuntimeError, ValueError) as exc:
            self.close()
            raise WardrobeError(f"could not start or reach Ray{' at ' + address if address else ''} ({exc}). "
                                "Check the address (auto, or ray://HEAD:10001) and that the cluster runs Ray "
                                "2.60.0, or run with --backend local.") from None
        self.startup_s = time.perf_counter() - t0
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = max(1, min(workers or cpus, cpus))  # tasks in flight: no more than the CPUs
        self.remote = ray.remote(num_cpus=1, max_retries=0)(run_isolated)
        self.tmp_root = tmp_root

    def __call__(self, specs: list[TaskSpec]) -> Iterator[dict]:
        ray = self.ray
        queue = list(specs)
        pending: dict = {}
        while queue or pending:
            while queue and len(pending) < self.slots:
                spec = queue.pop(0)
                pending[self.remote.remote(asdict(spec), self.tmp_root)] = spec
            done, _ = ray.wait(list(pending), num_returns=1)
            spec = pending.pop(done[0])
            try:
                yield ray.get(done[0])
            except Exception as exc:  # the Ray worker itself died (node lost, killed): this task only
                yield {"id": spec.id, "status": "failed", "error": f"Ray task failed: {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}", "files": {}, "seconds": None}

    def close(self) -> None:
        self.ray.shutdown()
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


def ray_available() -> bool:
    """Whether Ray is installed (not imported here: a local Ray sets its environment first)."""
    try:
        return importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # ValueError: sys.modules["ray"] is None (blocked)
        return False


def run_batch(catalog_path: str | Path, out: str | Path, workers: int | None = None, address: str | None = None,
              backend: str = "auto", progress: bool = True, tmp_root: str | None = None) -> dict:
    """Run every task of the catalog that is not already complete in `out`; write the summary."""
    from . import summary

    if backend not in BACKENDS:
        raise WardrobeError(f"unknown backend {backend!r}: use one of {', '.join(BACKENDS)}.")
    if workers is not None and workers < 1:
        raise WardrobeError(f"--workers must be at least 1, got {workers}.")
    if address and backend == "local":
        raise WardrobeError("--address points at a Ray cluster: drop --backend local, or drop --address.")
    catalog = load_catalog(catalog_path)
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WardrobeError(f"cannot create the output folder {out}: {exc}. Pick another --out.") from None
    prepare_bodies(catalog)
    specs = catalog.tasks()
    done = {s.id: store.complete(out, s) for s in specs}
    todo = [s for s in specs if done[s.id] is None]
    by_id = {s.id: s for s in specs}
    use_ray = backend == "ray" or (backend == "auto" and (address or ray_available()))
    if use_ray and not ray_available():
        raise WardrobeError(f"Ray is not installed: {EXTRA_HINT}, or run with --backend local.")
    if address and not use_ray:
        raise WardrobeError(f"--address needs Ray: {EXTRA_HINT}.")
    slots = workers or os.cpu_count() or 1
    runner, startup_s, name = None, 0.0, "none"  # "none": every task was already complete
    if todo:
        if use_ray:
            runner = RayRunner(workers if address else slots, address, tmp_root)
            startup_s, slots, name = runner.startup_s, runner.slots, "ray"
            say(f"Ray {'at ' + address if address else 'started locally'}: {slots} task(s) at a time")
        else:
            if backend == "auto":
                say(f"Ray is not installed, so tasks run on a local pool of {slots} process(es) "
                    f"({EXTRA_HINT} to use Ray).")
            else:
                say(f"tasks run on a local pool of {slots} process(es) (--backend local)")
            runner, name = local_runner(slots, tmp_root), "local"
    failed = 0
    t0 = time.perf_counter()
    records = {i: r for i, r in done.items() if r is not None}
    try:
        with tqdm(total=len(specs), initial=len(specs) - len(todo), desc="batch", unit="task",
                  disable=not progress, file=sys.stderr) as bar:
            if todo:
                for result in runner(todo):
                    record = store.save(out, by_id[result["id"]], result)
                    records[record["id"]] = record
                    if record["status"] != "ok":
                        failed += 1
                        say(f"{record['id']} failed: {record['error'].splitlines()[0]}")
                    bar.update(1)
                    bar.set_postfix(failed=failed)
    finally:
        if runner is not None and hasattr(runner, "close"):
            runner.close()
    wall_s = time.perf_counter() - t0
    files = summary.write(out, catalog, specs, [records[s.id] for s in specs])
    ok = sum(1 for r in records.values() if r["status"] == "ok")
    return {"catalog": str(catalog.path), "out": str(out), "backend": name, "workers": slots,
            "tasks": len(specs), "ran": len(todo), "skipped": len(specs) - len(todo), "ok": ok,
            "failed": len(specs) - ok, "wall_s": round(wall_s, 3), "startup_s": round(startup_s, 3),
            **files, "table": summary.table([records[s.id] for s in specs])}
