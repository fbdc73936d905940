"""The example game embeds the plugin and runs headless; its screenshot shows the avatar."""
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "embed_game.py"


@pytest.mark.slow
def test_example_game_runs_and_draws_the_avatar(tmp_path):
    shot = tmp_path / "game.png"
    run = subprocess.run([sys.executable, str(EXAMPLE), "--offscreen", "--frames", "15", "--screenshot", str(shot)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert len(EXAMPLE.read_text().splitlines()) <= 40
    img = cv2.imread(str(shot))
    assert img is not None
    background = img[5, 5].astype(int)
    centre = img[img.shape[0] // 3: img.shape[0] * 3 // 4, img.shape[1] * 2 // 5: img.shape[1] * 3 // 5]
    changed = (abs(centre.astype(int) - background).sum(axis=2) > 40).mean()
    assert changed > 0.2, "the middle of the picture should be the avatar"
