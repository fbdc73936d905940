"""Motion recordings: JSONL round trip, missing-person frames, and clear errors on bad files."""
from __future__ import annotations

import json

import numpy as np
import pytest

from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.pose import landmarks as lm
from avatar_wardrobe.pose.recording import (
    FLOAT_DECIMALS, MOTION_FORMAT, MotionWriter, read_motion,
)
from avatar_wardrobe.records import Landmarks

IMAGE_SIZE = (640, 480)
FPS = 30.0
ROUNDING = 0.5 * 10.0 ** -FLOAT_DECIMALS


def _person(index: int, rng: np.random.Generator) -> Landmarks:
    return Landmarks(index=index, time_s=index / FPS,
                     image=rng.uniform(0, 1, (lm.COUNT, 3)),
                     world=rng.uniform(-1, 1, (lm.COUNT, 3)),
                     visibility=rng.uniform(0, 1, lm.COUNT),
                     image_size=IMAGE_SIZE)


def _write_clip(path, rng):
    frames = [_person(0, rng), Landmarks(index=1, time_s=1 / FPS, image_size=IMAGE_SIZE),
              _person(2, rng)]
    rotations = rng.normal(size=(4, 4))
    with MotionWriter(path, {"camera": "test", "note": [1, 2]}, fps=FPS, source="unit") as writer:
        writer.write(frames[0], extra={"rotations": rotations})
        writer.write(frames[1])
        writer.write(frames[2], extra={"score": np.float32(0.25)})
    return frames, rotations


def test_round_trip_keeps_landmarks_extras_and_header(tmp_path):
    rng = np.random.default_rng(7)
    path = tmp_path / "clip.jsonl"
    frames, rotations = _write_clip(path, rng)
    motion = read_motion(path)
    assert motion.fps == FPS and len(motion) == 3
    assert motion.header["format"] == MOTION_FORMAT and motion.header["version"] == 1
    assert motion.header["source"] == "unit" and motion.header["camera"] == "test"
    assert motion.header["image_size"] == list(IMAGE_SIZE)  # taken from the first frame
    assert motion.header["landmark_names"] == list(lm.NAMES)
    for wrote, read in zip(frames, motion):
        assert (read.index, read.found, read.image_size) == (wrote.index, wrote.found, IMAGE_SIZE)
        assert read.time_s == pytest.approx(wrote.time_s, abs=ROUNDING)
        if wrote.found:
            for key in ("image", "world", "visibility"):
                np.testing.assert_allclose(getattr(read, key), getattr(wrote, key), atol=ROUNDING)
    np.testing.assert_allclose(np.array(motion.extras[0]["rotations"]), rotations, atol=ROUNDING)
    assert motion.extras[1] == {} and motion.extras[2] == {"score": 0.25}


def test_missing_person_round_trips_as_not_found(tmp_path):
    path = tmp_path / "empty.jsonl"
    with MotionWriter(path, fps=FPS) as writer:
        writer.write(Landmarks(index=0, time_s=0.0, image_size=IMAGE_SIZE))
    (line,) = path.read_text().splitlines()[1:]
    assert json.loads(line) == {"index": 0, "time_s": 0.0, "found": False,
                                "image": None, "world": None, "visibility": None}
    (frame,) = read_motion(path).frames
    assert not frame.found and frame.image is None and frame.visibility is None


def test_floats_are_rounded_to_keep_files_small(tmp_path):
    path = tmp_path / "small.jsonl"
    with MotionWriter(path, fps=FPS) as writer:
        writer.write(_person(0, np.random.default_rng(1)))
    frame = json.loads(path.read_text().splitlines()[1])
    values = frame["visibility"] + [v for row in frame["image"] + frame["world"] for v in row]
    assert all(round(v, FLOAT_DECIMALS) == v for v in values)
    assert max(len(repr(v)) for v in values) <= len("-0.") + FLOAT_DECIMALS


def test_recording_with_no_frames_still_has_a_header(tmp_path):
    path = tmp_path / "none.jsonl"
    MotionWriter(path, fps=25.0).close()
    motion = read_motion(path)
    assert motion.fps == 25.0 and motion.frames == [] and motion.header["image_size"] == [0, 0]


def test_reserved_keys_and_nan_are_refused(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        MotionWriter(tmp_path / "a.jsonl", {"fps": 60}, fps=FPS)
    with MotionWriter(tmp_path / "b.jsonl", fps=FPS) as writer:
        with pytest.raises(ValueError, match="reserved"):
            writer.write(_person(0, np.random.default_rng(0)), extra={"found": False})
        bad = _person(1, np.random.default_rng(0))
        bad.world[3, 1] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            writer.write(bad)


def _recording_lines(tmp_path) -> list[str]:
    path = tmp_path / "good.jsonl"
    _write_clip(path, np.random.default_rng(3))
    return path.read_text().splitlines()


@pytest.mark.parametrize("line_number, replacement, expected", [
    (3, "{not json", r"line 3: it is not valid JSON"),
    (2, '{"index": 0, "found": true}', r"line 2: it lacks \['time_s'\]"),
    (4, '{"index": 2, "time_s": 0.1, "found": true, "image": [[0, 0, 0]], '
        '"world": null, "visibility": null}', r"line 4: \"image\" has shape \[1, 3\]"),
    (1, '{"format": "something.else"}', r"line 1: it is not a motion recording header"),
    (1, '{"format": "avatar_wardrobe.motion", "version": 9, "fps": 30}', r"line 1: .*upgrade"),
])
def test_bad_line_raises_with_its_number(tmp_path, line_number, replacement, expected):
    lines = _recording_lines(tmp_path)
    lines[line_number - 1] = replacement
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(WardrobeError, match=expected):
        read_motion(path)


def test_truncated_last_line_says_the_recording_was_cut(tmp_path):
    lines = _recording_lines(tmp_path)
    path = tmp_path / "cut.jsonl"
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])
    with pytest.raises(WardrobeError, match="line 4: it is cut off.*delete that line"):
        read_motion(path)


def test_missing_empty_and_foreign_files_raise(tmp_path, testdata):
    with pytest.raises(WardrobeError, match="no motion recording at"):
        read_motion(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(WardrobeError, match="is empty"):
        read_motion(tmp_path / "empty.jsonl")
    with pytest.raises(WardrobeError, match="line 1: it is not valid JSON"):
        read_motion(testdata / "video" / "pose_1.mp4")


def test_unwritable_path_raises_with_advice(tmp_path):
    with pytest.raises(WardrobeError, match="existing, writable folder"):
        MotionWriter(tmp_path / "no_such_dir" / "clip.jsonl", fps=FPS)
