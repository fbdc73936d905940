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


@pytest.mark.parametrize("size", [(64, 48), (65, 47)])  # even: sent as YUV 4:2:0; odd: as BGR
def test_colours_survive_the_encoder(tmp_path, size):
    """Flat patches of saturated and grey colours come back within a few levels (a wrong colour
    matrix or range shifts them by 10-40)."""
    w, h = size
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (40, 160, 220), (128, 128, 128), (20, 20, 20)]
    img = np.zeros((h, w, 3), np.uint8)
    for k, c in enumerate(colours):
        img[:, k * w // len(colours):(k + 1) * w // len(colours)] = c
    with VideoWriter(tmp_path / "c.mp4", 30, size) as video:
        for _ in range(3):
            video.write(img)
    back = read_video(tmp_path / "c.mp4")[-1].astype(int)
    for k, c in enumerate(colours):  # each patch's middle, away from chroma-subsampled edges
        x = (k * w // len(colours) + (k + 1) * w // len(colours)) // 2
        assert np.abs(back[h // 4:3 * h // 4, x - 1:x + 2] - np.array(c)).mean() < 8, (c, back[h // 2, x])
