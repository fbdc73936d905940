"""`avatar-wardrobe live` and `bench live` argument errors: a clear message and the user-error exit status."""
from __future__ import annotations

from avatar_wardrobe.cli import EXIT_USER_ERROR, main


def test_live_without_an_input_says_what_to_pass(capsys):
    assert main(["live"]) == EXIT_USER_ERROR
    assert "--camera N or --video FILE" in capsys.readouterr().err


def test_bench_live_with_a_missing_video_says_so(capsys, tmp_path):
    assert main(["bench", "live", "--video", str(tmp_path / "nope.mp4")]) == EXIT_USER_ERROR
    assert "no video at" in capsys.readouterr().err
