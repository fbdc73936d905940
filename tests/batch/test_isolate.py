"""Per-task limits on a real task process: past the time or memory limit it is killed and recorded as
failed (not hung), and its temp dir is removed either way."""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import asdict, replace

from avatar_wardrobe.batch.catalog import load_catalog
from avatar_wardrobe.batch.isolate import TEMP_PREFIX, run_isolated, tree_rss_kb

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
