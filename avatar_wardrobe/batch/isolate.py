"""Run one task in a fresh child process with a memory and a time limit, in a temp dir removed afterwards.

The same function runs on the local pool and inside a Ray worker (Ray reuses its worker
processes; Panda3D allows one ShowBase per process, so the Panda work is always a new child).
The outputs come back as bytes, so the driver writes them (a Ray cluster needs no shared disk).
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

from .catalog import Limits, TaskSpec
from .tasks import ERROR_FILE, PARENT_ENV, RESULT_FILE

POLL_S = 0.1
TEMP_PREFIX = "aw_batch_"
STDERR_TAIL_CHARS = 600
STOPPED = "stopped: the batch run was interrupted before this task finished"
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4
# One thread per task process: the pool's workers are the parallelism (llvmpipe, BLAS, OpenMP).
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                     "LP_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def run_isolated(spec: dict, tmp_root: str | None = None, stop: threading.Event | None = None) -> dict:
    """Run the task described by `spec` (a TaskSpec as a dict) in a child process; never raises for
    a failure of the task itself. Once `stop` is set the child is killed and the task fails as
    stopped (a child started after that is killed at its first poll). Returns {"id", "status":
    "ok"|"failed", "error", "seconds", "peak_rss_mb", "host", "result", "files": {name: bytes}}."""
    task = TaskSpec(**spec)
    limits = Limits(**task.limits)
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX + task.id[:40] + "_", dir=tmp_root))
    out = {"id": task.id, "status": "failed", "error": "", "result": None, "files": {},
           "host": platform.node(), "peak_rss_mb": None}
    try:
        spec_file, out_dir = work / "spec.json", work / "out"
        out_dir.mkdir()
        spec_file.write_text(json.dumps(asdict(task)))
        log = work / "child.log"
        with open(log, "wb") as sink:
            proc = subprocess.Popen([sys.executable, "-m", "avatar_wardrobe.batch.tasks", str(spec_file), str(out_dir)],
                                    stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, env=child_env(),
                                    start_new_session=True)
            with _LOCK:
                _RUNNING.add(proc)
            try:
                reason, peak_kb = watch(proc, limits, stop)
            finally:
                with _LOCK:
                    _RUNNING.discard(proc)
        out["peak_rss_mb"] = round(peak_kb / 1024, 1)
        if reason:
            out["error"] = reason
        elif proc.returncode == 0 and (out_dir / RESULT_FILE).is_file():
            result = json.loads((out_dir / RESULT_FILE).read_text())
            missing = [n for n in result["outputs"] if not (out_dir / n).is_file()]
            if missing:
                out["error"] = f"the task said it wrote {', '.join(missing)} but did not"
            else:
                out.update(status="ok", result=result,
                           files={n: (out_dir / n).read_bytes() for n in result["outputs"]})
        elif (out_dir / ERROR_FILE).is_file():
            out["error"] = json.loads((out_dir / ERROR_FILE).read_text())["error"]
        else:
            out["error"] = f"the task process {_exit_text(proc.returncode)}: {_tail(log)}"
    except OSError as exc:  # no temp space, cannot start a process: this task fails, the batch goes on
        out["error"] = f"could not run the task process: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["seconds"] = round(time.perf_counter() - start, 3)
    return out


_RUNNING: set[subprocess.Popen] = set()  # task processes of this process, for kill_all()
_LOCK = threading.Lock()


def kill_all() -> None:
    """Kill every task process this process started that still runs (an interrupted run)."""
    with _LOCK:
        running = list(_RUNNING)
    for proc in running:
        if proc.poll() is None:
            _kill(proc)


def child_env() -> dict:
    env = {**os.environ, **SINGLE_THREAD_ENV, PARENT_ENV: str(os.getpid())}
    env.pop("DISPLAY", None)  # always offscreen
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def watch(proc: subprocess.Popen, limits: Limits, stop: threading.Event | None = None) -> tuple[str, int]:
    """Wait for the child; kill its whole process group past the limits, or once `stop` is set (a
    child started just as the run was stopped, after kill_all looked, is caught here within one
    poll). Returns (reason or "", peak KB)."""
    deadline = time.monotonic() + limits.time_s
    limit_kb = limits.memory_mb * 1024
    peak = 0
    while proc.poll() is None:
        if stop is not None and stop.is_set():
            _kill(proc)
            return STOPPED, peak
        rss = tree_rss_kb(proc.pid)
        peak = max(peak, rss)
        if rss > limit_kb:
            _kill(proc)
            return (f"memory limit exceeded: the task's processes used {rss / 1024:.0f} MB, over "
                    f"[limits] memory_mb = {limits.memory_mb}; raise it or make the outputs smaller"), peak
        if time.monotonic() > deadline:
            _kill(proc)
            return (f"time limit exceeded: still running after {limits.time_s:g} s ([limits] time_s); "
                    "raise it or ask for fewer clip_frames / turntable_views"), peak
        time.sleep(POLL_S)
    return "", peak


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc; 0 where unreadable)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE_KB
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError, IndexError):
            continue
    return total


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code} and no error report"


def _tail(log: Path) -> str:
    try:
        text = log.read_text(errors="replace").strip()
    except OSError:
        return "(no log)"
    return text[-STDERR_TAIL_CHARS:].replace("\n", " | ") or "(empty log)"
