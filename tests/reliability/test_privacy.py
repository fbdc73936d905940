"""Privacy: demo and track run with the network disabled, and track writes only where it is pointed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Runs the CLI with every way out to the network refused; each attempt is logged, so a caller that
# swallows the OSError still fails the test.
NO_NETWORK = """
import os, socket, sys
def refuse(*args, **kwargs):
    with open(os.environ["AW_NETWORK_LOG"], "a") as log:
        log.write(f"network use refused: {args[1:] or args}\\n")
    raise OSError("network disabled by the privacy test")
for name in ("connect", "connect_ex", "sendto", "sendmsg"):
    setattr(socket.socket, name, refuse)
socket.create_connection = refuse
socket.getaddrinfo = refuse
from avatar_wardrobe.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _run_offline(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path, Path, Path]:
    home, cwd, log = tmp_path / "home", tmp_path / "cwd", tmp_path / "network.log"
    home.mkdir(exist_ok=True)
    cwd.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "AW_"))}
    env.update(HOME=str(home), AW_NETWORK_LOG=str(log), PYTHONPATH=str(REPO))
    env.pop("DISPLAY", None)
    env.pop("MPLCONFIGDIR", None)  # the product must keep matplotlib out of $HOME by itself
    done = subprocess.run([sys.executable, "-c", NO_NETWORK, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    return done, home, cwd, log


def test_the_network_guard_catches_a_connection(tmp_path):
    """The guard itself must be able to fail: a connection attempt is logged and refused."""
    probe = "import socket; socket.create_connection(('127.0.0.1', 9))"
    home, log = tmp_path / "home", tmp_path / "network.log"
    home.mkdir()
    code = NO_NETWORK.replace("from avatar_wardrobe.cli import main\nsys.exit(main(sys.argv[1:]))", probe)
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "HOME": str(home),
                                                            "AW_NETWORK_LOG": str(log)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "network disabled" in done.stderr and log.read_text()


@pytest.mark.timeout(600)
def test_demo_runs_with_the_network_disabled(tmp_path):
    done, home, cwd, log = _run_offline(tmp_path, "demo", "--frames", "3", "--out", "demo.mp4")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not log.exists(), log.read_text()
    assert (cwd / "demo.mp4").stat().st_size > 0


@pytest.mark.timeout(600)
def test_track_runs_offline_and_writes_only_the_jsonl_it_was_pointed_to(tmp_path, testdata):
    video = testdata / "video" / "pose_1.mp4"
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    before_home, before_cwd = _files(home), _files(cwd)
    done, home, cwd, log = _run_offline(tmp_path, "track", str(video), "--frames", "3", "--out", "motion.jsonl")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not log.exists(), log.read_text()
    assert _files(cwd) - before_cwd == {"motion.jsonl"}   # no camera frames, images or logs beside it
    assert _files(home) - before_home == set()            # nothing in the home directory (not even
    #                                                       matplotlib's font cache: pose/tracker.py)
    assert len((cwd / "motion.jsonl").read_text().splitlines()) == 4  # the header and 3 frames
