"""The learned lifter (models/lifter.npz): loads, runs in numpy alone, errors clearly without its
weights, and beats the geometry-only lifting on real renders tracked by the real MediaPipe."""
import json
import logging
import subprocess
import sys

import numpy as np
import pytest

from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.retarget import lifter as L
from avatar_wardrobe.retarget.bench import Proportions, sample_landmarks
from avatar_wardrobe.retarget.solver import Solver
from avatar_wardrobe.settings import MODELS_DIR

MAX_PARAMETERS = 500_000
# Renders for the comparison: a seed used neither by the benchmark (0) nor by the training data.
CHECK_SEED = 5
CHECK_POSES = 8
CHECK_VIEWS = "0,45"

needs_weights = pytest.mark.skipif(not (MODELS_DIR / L.DEFAULT_WEIGHTS).is_file(),
                                   reason=f"models/{L.DEFAULT_WEIGHTS} is not there (make it with tools/train_lifter.py)")


@needs_weights
def test_lifter_loads_and_predicts_unit_directions():
    lifter = L.load(required=True)
    assert 10_000 < lifter.parameters <= MAX_PARAMETERS
    solver = load_avatar(MODELS_DIR / "avatar" / "female_165_58.glb").solver
    world = sample_landmarks(np.random.default_rng(3), Proportions.of(solver))
    size, focal = (640, 480), 600.0
    cam = world + (0.0, 0.0, 3.0)
    image = np.column_stack([(focal * cam[:, :2] / cam[:, 2:3] + np.array(size) / 2) / size, np.zeros(len(cam))])
    dirs = lifter.predict(L.features(image[None], np.ones((1, 33)), world[None], [size], [focal]))[0]
    assert dirs.shape == (len(L.BONES), 3) and np.allclose(np.linalg.norm(dirs, axis=1), 1.0)
    # On an exact person (not what it was trained on: its world landmarks are MediaPipe's), the
    # predicted bones still point the right way: the median error is far below a random guess (90).
    truth = L.bone_directions(world)
    assert np.median(np.degrees(np.arccos(np.clip((dirs * truth).sum(1), -1, 1)))) < 30.0


@needs_weights
def test_lifter_and_solver_run_without_torch():
    code = ("import sys, numpy as np; from avatar_wardrobe.retarget import lifter as L; "
            "from avatar_wardrobe.avatar.model import load_avatar; "
            "m = load_avatar('models/avatar/male_180_80.glb'); assert m.solver.lifter is not None; "
            "L.load(required=True).predict(np.zeros((2, L.FEATURES))); "
            "assert 'torch' not in sys.modules, 'torch was imported'; print('ok')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=str(MODELS_DIR.parent))
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


@needs_weights
def test_mirror_spread_comes_with_the_averaged_prediction():
    lifter = L.load(required=True)
    x = np.random.default_rng(0).normal(size=(3, L.FEATURES)) * lifter.std + lifter.mean
    dirs, spread = lifter.predict(x, spread=True)
    assert np.allclose(dirs, lifter.predict(x))
    assert spread.shape == (3, len(L.BONES)) and np.all((spread >= 0) & (spread <= 180))


def test_arm_blend_follows_the_networks_confidence(monkeypatch):
    arms = [k for k, bone in enumerate(L.BONES) if bone in L.BLEND]
    assert len(arms) == 4
    monkeypatch.setattr(L, "CONFIDENT_BLEND", (0.7, 0.3, 5.0, 15.0))
    sure, unsure, between = (L.blend_shares(np.full(len(L.BONES), d)) for d in (2.0, 40.0, 10.0))
    assert set(sure) == set(L.BLEND)  # the arms only: the legs stay as lifted
    assert all(v == pytest.approx(0.7) for v in sure.values())
    assert all(v == pytest.approx(0.3) for v in unsure.values())
    assert all(v == pytest.approx(0.5) for v in between.values())
    monkeypatch.setattr(L, "CONFIDENT_BLEND", None)
    assert L.blend_shares(np.zeros(len(L.BONES))) == L.BLEND


def test_missing_weights_raise_when_asked_for(tmp_path):
    missing = tmp_path / "lifter.npz"
    with pytest.raises(WardrobeError, match="train_lifter.py"):
        L.load(missing, required=True)
    avatar = load_avatar(MODELS_DIR / "avatar" / "female_165_58.glb")
    with pytest.raises(WardrobeError, match="no lifter weights"):
        Solver(avatar.skeleton, avatar.rig, learned_prior=missing)
    assert L.load(missing) is None


def test_missing_default_weights_fall_back_with_a_message(tmp_path, monkeypatch, caplog):
    import avatar_wardrobe.settings as settings

    monkeypatch.setattr(settings, "MODELS_DIR", tmp_path)
    avatar = load_avatar(MODELS_DIR / "avatar" / "female_165_58.glb")
    with caplog.at_level(logging.WARNING):
        solver = Solver(avatar.skeleton, avatar.rig)  # "auto"
    assert solver.lifter is None and "no lifter weights" in caplog.text
    with pytest.raises(WardrobeError, match="no lifter weights"):
        Solver(avatar.skeleton, avatar.rig, learned_prior=True)


def test_a_foreign_file_is_refused(tmp_path):
    bad = tmp_path / "lifter.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(WardrobeError, match="not a lifter weights file"):
        L.load(bad, required=True)
    bad.write_bytes(b"not a zip")
    with pytest.raises(WardrobeError, match="cannot read the lifter weights"):
        L.load(bad, required=True)


@needs_weights
@pytest.mark.slow
def test_lifter_beats_geometry_only_lifting_on_real_renders():
    """The avatar rendered in a few fresh random poses at 0 and 45 degrees, tracked by MediaPipe:
    the solver with the lifter's prior against the same solver with MediaPipe's world landmarks
    as the prior (bench retarget's "ours" and "ours_geometry" rows, one process)."""
    run = subprocess.run([sys.executable, "-m", "avatar_wardrobe", "bench", "retarget", "--poses", str(CHECK_POSES),
                          "--views", CHECK_VIEWS, "--seed", str(CHECK_SEED), "--json"],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["lifter"]["used"]
    ours, geometry = [], []
    for view in CHECK_VIEWS.split(","):
        for group in ("arms", "legs"):
            ours.append(result["errors"][f"ours@{view}"]["camera"][group]["median_deg"])
            geometry.append(result["errors"][f"ours_geometry@{view}"]["camera"][group]["median_deg"])
    assert np.mean(ours) < np.mean(geometry), (ours, geometry)
