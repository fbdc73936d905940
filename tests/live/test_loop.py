"""The two-process live loop end to end on the shared clip: worker landmarks, latency, bounded drops, clean exit."""
from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import pytest

from avatar_wardrobe.live.loop import LiveOptions, run_live, run_serial, summary

SECONDS = 4.0
CLIP = "video/pose_1.mp4"
CLIP_FPS = 30.0


def _gone(pid: int) -> bool:
    """True when the process no longer exists (reaped), or is a zombie nobody waits on."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _opts(testdata, **kw) -> LiveOptions:
    return LiveOptions(source=str(testdata / CLIP), seconds=SECONDS, msaa=0, pbr=False,
                       outfit=("garments/tshirt_M.glb",), cloth_vertices=300, **kw)


@pytest.fixture(scope="module")
def live_run(testdata):
    shown = []

    def on_frame(image, marks, result):
        shown.append((image.shape, marks.index, marks.found, marks.time_s))

    result = run_live(_opts(testdata), on_frame)
    return result, shown


def test_live_loop_shows_frames_tracked_by_the_worker_with_latency(live_run):
    result, shown = live_run
    assert result.frames == len(shown) >= 3
    assert result.worker_pid not in (None, os.getpid())
    assert result.from_worker == result.frames
    assert result.landmarks_found >= result.frames // 2  # the clip shows one person throughout
    assert all(shape == (480, 640, 3) for shape, *_ in shown)
    indices = [i for _, i, _, _ in shown]
    assert indices == sorted(set(indices)), "source frame numbers only grow: the newest frame each time"
    assert len(result.latency_ms) == result.frames and min(result.latency_ms) > 0
    assert "render" in result.stages and "solve" in result.stages and "wait" in result.stages


def test_live_loop_drops_frames_rather_than_queueing_them(live_run):
    result, shown = live_run
    # Frames the clip made due: each was either shown or dropped (skipped by the worker or overwritten
    # in the slot); nothing waits in a queue, so latency stays within a few frame periods of work.
    assert result.dropped == result.source_frames - result.frames >= 0
    # ...each dropped frame was skipped by the busy tracker or replaced in the slot (the worker may
    # skip a few more after the loop's last frame, before it is told to stop).
    assert result.worker_skipped + result.overwritten >= result.dropped
    assert result.source_frames <= (result.elapsed_s + 1.0) * CLIP_FPS + 2
    stats = summary(result)
    assert stats["latency_ms_median"] < 1000.0 * (SECONDS / 2)  # not growing with the run's length
    lat = np.asarray(result.latency_ms)
    assert lat[len(lat) // 2:].mean() < 3 * lat[: max(1, len(lat) // 2)].mean() + 200  # no backlog building up


def test_worker_exits_when_the_loop_stops(live_run):
    result, _ = live_run
    assert result.worker_exited
    assert _gone(result.worker_pid)


def test_worker_exits_when_the_scene_fails(testdata):
    pids = []

    def explode(image, marks, result):
        pids.append(result.worker_pid)
        raise RuntimeError("scene failed")

    with pytest.raises(RuntimeError, match="scene failed"):
        run_live(_opts(testdata), explode)
    assert pids and _gone(pids[0])


def test_unpaced_serial_run_shows_every_frame_in_turn_with_cpu_per_stage(testdata):
    opts = dataclasses.replace(_opts(testdata), seconds=None, frames=6, paced=False)
    indices, times = [], []

    def seen(image, marks, result):
        indices.append(marks.index)
        times.append(time.monotonic())

    result = run_serial(opts, seen)
    assert result.frames == 6 and indices == list(range(6)) and result.dropped == 0
    stats = summary(result)
    # the shown-frame rate runs from the first shown frame to the last, as the caller saw them
    assert stats["fps_shown"] == pytest.approx(5 / (times[-1] - times[0]), rel=0.05)
    assert {"track", "solve", "cloth", "render"} <= set(stats["stages_cpu_ms_median"])
    assert all(v >= 0 for v in stats["stages_cpu_ms_median"].values())
    assert stats["stages_cpu_ms_median"]["render"] > 0
    assert 0 < stats["fps_cpu_bound_estimate"] <= 1000.0 / sum(stats["stages_cpu_ms_median"].values()) + 0.1
