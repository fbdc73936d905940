"""Per-task limits on a real task process: past the time or memory limit it is killed and recorded as
failed (not hung), and its temp dir is removed either way."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace

from avatar_wardrobe.batch.catalog import load_catalog
from avatar_wardrobe.batch.isolate import STOPPED, TEMP_PREFIX, run_isolated, tree_rss_kb

from .conftest import write_catalog


def _spec(tmp_path, **limits):
    spec = load_catalog(write_catalog(tmp_path, [("tshirt", "garments/tshirt_{size}.glb", ["S"])])).tasks()[0]
    return asdict(replace(spec, limits={**spec.limits, **limits}))


def test_time_limit_kills_the_task(tmp_path):
    t0 = time.perf_counter()
    out = run_isolated(_spec(tmp_path, time_s=0.5), str(tmp_path))
    assert time.perf_counter() - t0 < 20  # killed, not waited for
    assert out["status"] == "failed" and out["error"].startswith("time limit exceeded")
    assert not out["files"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_a_task_starting_after_the_stop_is_killed_at_once(tmp_path):
    """The race of an interrupted run: a worker starts its child just after the driver killed the
    running ones. The child must not be left to run its (here minutes-long) task."""
    import threading

    stop = threading.Event()
    stop.set()
    long = _spec(tmp_path, time_s=120.0)
    long["outputs"]["clip_frames"] = 5000
    t0 = time.perf_counter()
    out = run_isolated(long, str(tmp_path), stop)
    assert time.perf_counter() - t0 < 20
    assert out["status"] == "failed" and out["error"] == STOPPED
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_memory_limit_kills_the_task(tmp_path):
    out = run_isolated(_spec(tmp_path, memory_mb=64), str(tmp_path))  # python + numpy alone pass 64 MB
    assert out["status"] == "failed" and out["error"].startswith("memory limit exceeded"), out["error"]
    assert out["peak_rss_mb"] > 64
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_tree_rss_counts_child_processes():
    code = "import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'x = bytearray(200_000_000); " \
           "import time; time.sleep(30)']); time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 20
        rss = 0
        while time.monotonic() < deadline and rss < 200_000:
            time.sleep(0.2)
            rss = tree_rss_kb(proc.pid)
        assert rss >= 200_000  # the grandchild's 200 MB counts towards the task
    finally:
        proc.kill()
        proc.wait()


def test_task_dies_with_its_supervisor(tmp_path):
    """A Ray worker or driver killed outright leaves no task process running."""
    spec = tmp_path / "spec.json"
    long = _spec(tmp_path, time_s=120.0)
    long["outputs"]["clip_frames"] = 5000  # minutes of work: it must not finish on its own within the test
    spec.write_text(json.dumps(long))
    code = ("import json, sys; from avatar_wardrobe.batch.isolate import run_isolated; "
            f"run_isolated(json.load(open({str(spec)!r})), {str(tmp_path)!r})")
    supervisor = subprocess.Popen([sys.executable, "-c", code])
    child = None
    try:
        deadline = time.monotonic() + 30
        while child is None and time.monotonic() < deadline:
            time.sleep(0.2)
            kids = [int(c) for t in os.listdir(f"/proc/{supervisor.pid}/task")
                    for c in open(f"/proc/{supervisor.pid}/task/{t}/children").read().split()]
            child = kids[0] if kids else None
        assert child is not None, "the task process did not start"
        time.sleep(1.0)  # past the child's start-up, into its imports
        os.kill(supervisor.pid, signal.SIGKILL)
        supervisor.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(f"/proc/{child}") and \
                open(f"/proc/{child}/stat").read().split()[2] != "Z":
            time.sleep(0.1)
        alive = os.path.exists(f"/proc/{child}") and open(f"/proc/{child}/stat").read().split()[2] != "Z"
        assert not alive
    finally:
        supervisor.kill()
        supervisor.wait()
        if child is not None:
            try:
                os.killpg(child, signal.SIGKILL)  # the task's own session (a failed check leaves it running)
            except ProcessLookupError:
                pass
