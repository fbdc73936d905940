"""Benchmark pieces: the error metric, the random pose sampler (solved faithfully, within limits) and
both benchmarks end to end on a few frames."""
import json
import subprocess
import sys

import numpy as np
import pytest

from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.pose import landmarks as lm
from avatar_wardrobe.retarget.bench import (BONES, Proportions, bone_errors, kabsch, landmark_points, run_keypoints,
                                            sample_landmarks)
from avatar_wardrobe.retarget.keypoints import avatar_keypoints
from avatar_wardrobe.settings import MODELS_DIR
from avatar_wardrobe.transforms import axis_angle_matrix, normalize
from landmark_fixtures import as_record

SAMPLED_POSES = 25
# The solver turns a sampled pose's limb directions into the avatar's bones within this (median):
# landmark bones and rig bones start at slightly different places, so not exactly.
SAMPLE_FIDELITY_DEG = 6.0


def test_kabsch_and_bone_errors():
    rng = np.random.default_rng(5)
    pts = rng.normal(size=(4, 3))
    rot = axis_angle_matrix(np.array([0.3, 1.0, 0.2]), 0.7)
    assert np.allclose(kabsch(pts, pts @ rot.T), rot)
    truth = landmark_points(rng.normal(size=(lm.COUNT, 3)))
    turned = {k: rot @ v for k, v in truth.items()}
    assert max(max(v) for v in bone_errors(truth, truth, align=False).values()) < 1e-4
    assert max(max(v) for v in bone_errors(turned, truth, align=True).values()) < 1e-4  # alignment undoes it
    assert np.median([e for v in bone_errors(turned, truth, align=False).values() for e in v]) > 10.0


def test_sampled_poses_are_solved_faithfully():
    avatar = load_avatar(MODELS_DIR / "avatar" / "female_165_58.glb")
    rng = np.random.default_rng(0)
    size = Proportions.of(avatar.solver)
    errors = []
    for _ in range(SAMPLED_POSES):
        world = sample_landmarks(rng, size)
        pose = avatar.solver.solve(as_record(world))
        ours = {k: lm.CAMERA_TO_AVATAR @ v for k, v in avatar_keypoints(avatar.solver, pose).items()}
        want = landmark_points(world)
        for group in ("arms", "legs"):
            for a, b in BONES[group]:
                errors.append(np.degrees(np.arccos(np.clip(normalize(ours[b] - ours[a]) @ normalize(want[b] - want[a]), -1, 1))))
    assert np.median(errors) < SAMPLE_FIDELITY_DEG


def test_keypoints_bench_scores_a_few_frames(testdata):
    result = run_keypoints(str(testdata / "video" / "pose_1.mp4"), str(testdata / "video" / "pose_1.json"),
                           frames=8, progress=False)
    assert result["frames"] == 8 and result["scored_frames"] == 8
    assert 0.0 <= result["pck"]["ours"]["overall"] <= 1.0
    assert result["pck"]["mediapipe_2d"]["left_shoulder"] == 1.0  # the reference agrees with MediaPipe there
    json.dumps({k: v for k, v in result.items() if k != "table"})


@pytest.mark.slow
def test_retarget_bench_runs_end_to_end_in_its_own_process():
    run = subprocess.run([sys.executable, "-m", "avatar_wardrobe", "bench", "retarget", "--poses", "3",
                          "--views", "0,90", "--json"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(result["detection_rate"]) == {"0", "90"}
    for method in ("ours@0", "mediapipe_world@0"):
        for frame in ("camera", "aligned"):
            assert {"arms", "legs", "spine", "head", "overall"} <= set(result["errors"][method][frame])
    assert result["timing"]["pipeline_over_mediapipe"] > 1.0 and "kalidokit" in result


def test_shape_option_parses_and_falls_back_to_the_nearest_bundled_body():
    from avatar_wardrobe.errors import WardrobeError
    from avatar_wardrobe.retarget.bench import _pick_avatar, parse_shape

    assert parse_shape("height=1.8, gender=0") == {"height": 1.8, "mass": 70.0, "gender": 0.0}
    with pytest.raises(WardrobeError, match="--shape takes"):
        parse_shape("weight=70")
    with pytest.raises(WardrobeError, match="needs a number"):
        parse_shape("height=tall")
    # Without anny: gender follows anny's axis (1 = female) when picking among the bundled bodies.
    assert _pick_avatar("height=1.66,mass=60,gender=1", anny=False)[0].name == "female_165_58.glb"
    path, note = _pick_avatar("height=1.8,mass=80,gender=0", anny=False)
    assert path.name == "male_180_80.glb" and "nearest bundled" in note
