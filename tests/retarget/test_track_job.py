"""The track job writes one version-2 line per frame (landmarks, rotations, root, projected joints)
that read_motion reads back; stills are solved one by one."""
import json
import shutil

import numpy as np
import pytest

from avatar_wardrobe import jobs
from avatar_wardrobe.pose import landmarks as lm
from avatar_wardrobe.pose.recording import TRACK_VERSION, read_motion
from avatar_wardrobe.retarget.keypoints import KEYPOINTS
from avatar_wardrobe.settings import MODELS_DIR

CLIP_FRAMES = 12
# The avatar's projected shoulders/hips land on MoveNet's within this share of the image size
# (the placement is fitted on MediaPipe's landmarks; the two models differ by 1-2 %).
TORSO_TOLERANCE = 0.04


@pytest.fixture(scope="module")
def clip_track(testdata, tmp_path_factory):
    out = tmp_path_factory.mktemp("track") / "clip.jsonl"
    result = jobs.track(str(testdata / "video" / "pose_1.mp4"), out, max_frames=CLIP_FRAMES, progress=False,
                        project=True)
    return result, out


def test_lines_have_the_issue_format_and_read_back(clip_track):
    result, out = clip_track
    assert result["frames"] == CLIP_FRAMES and result["found"] == CLIP_FRAMES
    lines = out.read_text().splitlines()
    header, first = json.loads(lines[0]), json.loads(lines[1])
    assert header["version"] == TRACK_VERSION and header["filtered"] is True
    assert {"frame", "source", "detected", "landmarks_2d", "landmarks_world", "rotations", "root",
            "joints_2d", "joints_cam"} <= set(first)
    assert first["frame"] == 0 and first["source"] == 0 and first["detected"] is True
    assert np.shape(first["landmarks_2d"]) == (lm.COUNT, 3) and np.shape(first["landmarks_world"]) == (lm.COUNT, 3)
    assert set(first["rotations"]) == set(header["joints"])
    assert all(np.isclose(np.linalg.norm(q), 1, atol=1e-4) for q in first["rotations"].values())
    assert set(first["joints_2d"]) == set(KEYPOINTS) == set(first["joints_cam"])
    motion = read_motion(out)
    assert len(motion) == CLIP_FRAMES and motion.frames[0].found
    px = np.array(first["landmarks_2d"])
    np.testing.assert_allclose(motion.frames[0].image[:, :2] * motion.frames[0].image_size, px[:, :2], atol=1e-3)
    np.testing.assert_allclose(motion.frames[0].visibility, px[:, 2])
    assert motion.extras[0]["rotations"] == first["rotations"]


def test_projected_joints_land_on_the_reference_keypoints(clip_track, testdata):
    _, out = clip_track
    reference = json.loads((testdata / "video" / "pose_1.json").read_text())
    errors = []
    for line, ref in zip(out.read_text().splitlines()[1:], reference):
        frame = json.loads(line)
        for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"):
            ours = np.array(frame["joints_2d"][name])
            errors.append(np.linalg.norm(ours - [ref[name]["x"], ref[name]["y"]]) / 576)
        assert frame["joints_cam"]["pelvis"][2] > 0.5  # in front of the camera
    assert np.median(errors) < TORSO_TOLERANCE


def test_static_folder_names_each_still_and_skips_filtering(testdata, tmp_path):
    folder = tmp_path / "stills"
    folder.mkdir()
    for name in ("b.jpg", "a.jpg"):
        shutil.copy(testdata / "video" / "pose.jpg", folder / name)
    out = tmp_path / "stills.jsonl"
    jobs.track(str(folder), out, progress=False, static=True, fov_deg=40.0)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[0]["static"] is True and lines[0]["vertical_fov_deg"] == 40.0
    assert [x["source"] for x in lines[1:]] == ["a.jpg", "b.jpg"]
    assert lines[1]["rotations"] == lines[2]["rotations"]  # same image, no temporal state


def test_bad_fov_is_refused(tmp_path, testdata):
    from avatar_wardrobe.errors import WardrobeError

    with pytest.raises(WardrobeError, match="field of view"):
        jobs.track(str(testdata / "video" / "pose.jpg"), tmp_path / "x.jsonl", progress=False, fov_deg=0.0)


def test_the_bundled_version_1_motion_still_reads():
    motion = read_motion(MODELS_DIR / "motions" / "pose_1.jsonl")
    assert len(motion) > 100 and motion.frames[0].found
