"""Frame sources on real files: a video clip, PNGs in a temp folder, a missing camera, bad input."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.pose.sources import (
    ImageFolderSource, VideoSource, WebcamSource, open_source,
)

POSE_1_SIZE = 576  # pose_1.mp4 is 576 x 576, 120 frames at 30 fps (see its SOURCES.md)
POSE_1_FRAMES = 120
POSE_1_FPS = 30.0
MISSING_CAMERA_INDEX = 99


@pytest.fixture(scope="module")
def pose_1(testdata):
    return testdata / "video" / "pose_1.mp4"


def test_floating_point_errors_raise_in_tests():
    assert np.geterr()["divide"] == "raise"


def test_video_source_reads_frames_with_shape_fps_and_times(pose_1):
    with VideoSource(pose_1, max_frames=5) as source:
        assert source.fps == pytest.approx(POSE_1_FPS)
        assert len(source) == 5
        frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.time_s for f in frames] == pytest.approx([i / POSE_1_FPS for i in range(5)])
    for frame in frames:
        assert frame.image.shape == (POSE_1_SIZE, POSE_1_SIZE, 3)
        assert frame.image.dtype == np.uint8
    assert not np.array_equal(frames[0].image, frames[4].image)  # it really advances


def test_video_source_whole_clip_and_second_pass(pose_1):
    source = VideoSource(pose_1)
    assert len(source) == POSE_1_FRAMES
    first = [f.image for f in source]
    assert len(first) == POSE_1_FRAMES
    again = next(iter(source))  # iterating again starts from the top
    assert again.index == 0 and np.array_equal(again.image, first[0])
    source.close()
    source.close()  # twice is fine


def test_image_folder_source_in_natural_order(tmp_path):
    shades = {"frame_10.png": 30, "frame_2.png": 20, "frame_1.png": 10}
    for name, shade in shades.items():
        cv2.imwrite(str(tmp_path / name), np.full((48, 64, 3), shade, np.uint8))
    cv2.imwrite(str(tmp_path / "gray.bmp"), np.full((48, 64), 40, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    with ImageFolderSource(tmp_path, fps=10.0) as source:
        assert len(source) == 4 and source.fps == 10.0
        frames = list(source)
    assert [int(f.image[0, 0, 0]) for f in frames] == [10, 20, 30, 40]  # frame_1, _2, _10, gray
    assert [f.time_s for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert all(f.image.shape == (48, 64, 3) and f.image.dtype == np.uint8 for f in frames)


def test_image_folder_without_images_raises(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(WardrobeError, match="no images in"):
        ImageFolderSource(tmp_path)


def test_open_source_picks_by_spec(pose_1, testdata, tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    with open_source(pose_1, max_frames=2) as source:
        assert isinstance(source, VideoSource) and len(source) == 2
    with open_source(str(tmp_path)) as source:
        assert isinstance(source, ImageFolderSource) and len(source) == 1
    with open_source(testdata / "video" / "pose.jpg") as source:  # a single still image
        assert isinstance(source, ImageFolderSource)
        (frame,) = list(source)
        assert frame.image.shape == (667, 1000, 3)


@pytest.mark.parametrize("spec", ["no/such/clip.mp4", "no_such_folder"])
def test_missing_path_raises_with_advice(tmp_path, spec):
    with pytest.raises(WardrobeError, match="no such file or folder.*camera index"):
        open_source(tmp_path / spec)
    with pytest.raises(WardrobeError, match="no video file"):
        VideoSource(tmp_path / spec)


def test_missing_camera_raises_with_advice():
    # No camera exists on the test machines; index 99 is absent on any ordinary machine too.
    with pytest.raises(WardrobeError, match=f"no camera at index {MISSING_CAMERA_INDEX}: plug one in"):
        WebcamSource(MISSING_CAMERA_INDEX)
    with pytest.raises(WardrobeError, match="--camera/--video"):
        open_source(str(MISSING_CAMERA_INDEX))
    with pytest.raises(WardrobeError, match=f"no camera at index {MISSING_CAMERA_INDEX}"):
        open_source(MISSING_CAMERA_INDEX)


def test_corrupt_video_raises_with_advice(tmp_path):
    bad = tmp_path / "garbage.mp4"
    bad.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(WardrobeError, match="cannot decode video.*re-encode"):
        VideoSource(bad)
    with pytest.raises(WardrobeError, match="cannot decode video"):
        open_source(bad)


def test_unreadable_image_in_folder_raises_naming_it(tmp_path):
    cv2.imwrite(str(tmp_path / "0.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "1.png").write_bytes(b"this is not a png")
    source = ImageFolderSource(tmp_path)
    frames = iter(source)
    assert next(frames).index == 0
    with pytest.raises(WardrobeError, match="1.png"):
        next(frames)
