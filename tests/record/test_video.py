"""MP4 writing: frames go in, the same number of frames of the right size come back out."""
import numpy as np
import pytest

from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.record.video import VideoWriter, read_video


def test_written_video_reads_back(tmp_path):
    path = tmp_path / "v.mp4"
    with VideoWriter(path, 30, (64, 48)) as video:
        for i in range(12):
            img = np.zeros((48, 64, 3), np.uint8)
            img[:, : (i + 1) * 5] = (40, 160, 220)
            video.write(img)
    frames = read_video(path)
    assert len(frames) == 12 and frames[0].shape == (48, 64, 3)
    assert np.abs(frames[-1].astype(int) - frames[0].astype(int)).mean() > 20


def test_wrong_frame_size_is_a_clear_error(tmp_path):
    with VideoWriter(tmp_path / "v.mp4", 30, (64, 48)) as video, pytest.raises(WardrobeError, match="frame size"):
        video.write(np.zeros((10, 10, 3), np.uint8))
