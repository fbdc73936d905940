"""End to end through the command line: the demo writes a playable video whose frames change."""
import json
import subprocess
import sys

import numpy as np
import pytest

from avatar_wardrobe.cli import EXIT_USER_ERROR, main
from avatar_wardrobe.record.video import read_video

DEMO_FRAMES = 10
MIN_FRAME_CHANGE = 0.5  # mean absolute BGR difference between the first and last frame


@pytest.mark.slow
def test_demo_writes_a_playable_video_whose_frames_change(tmp_path):
    out = tmp_path / "demo.mp4"
    run = subprocess.run([sys.executable, "-m", "avatar_wardrobe", "demo", "--out", str(out),
                          "--frames", str(DEMO_FRAMES)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["frames"] == DEMO_FRAMES
    assert {"solve", "pose", "render", "encode"} <= set(result["stages"])
    frames = read_video(out)
    assert len(frames) == DEMO_FRAMES
    assert frames[0].shape[:2] == (480, 640)
    assert frames[0].std() > 5  # not a flat grey screen
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > MIN_FRAME_CHANGE


def test_missing_motion_is_a_clear_error(tmp_path, capsys):
    code = main(["render", "--motion", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "x.mp4")])
    assert code == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "nope.jsonl" in err


def test_window_without_display_is_a_clear_error(monkeypatch):
    from avatar_wardrobe.errors import WardrobeError
    from avatar_wardrobe.render.engine import want_window

    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(WardrobeError, match="display"):
        want_window(True)
    assert want_window(None) is False


@pytest.mark.slow
def test_demo_in_a_real_window_under_xvfb(tmp_path):
    """The windowed path (glxGraphicsPipe) on a virtual display; skipped where Xvfb is absent."""
    import os
    import shutil
    import time

    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb); the window path needs a display")
    display = ":87"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1024x768x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        out = tmp_path / "window.mp4"
        run = subprocess.run([sys.executable, "-m", "avatar_wardrobe", "demo", "--window", "--frames", "3",
                              "--out", str(out)], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "DISPLAY": display})
        assert run.returncode == 0, run.stderr[-2000:]
        frames = read_video(out)
        assert len(frames) == 3 and frames[0].std() > 5
    finally:
        xvfb.terminate()
        xvfb.wait()
