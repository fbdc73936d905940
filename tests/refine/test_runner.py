"""The shipped refiner weights on real renders, the pass-through fallbacks, and the demo with --refine."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from avatar_wardrobe.record.video import read_video

from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.refine import data as D
from avatar_wardrobe.refine import runner
from avatar_wardrobe.refine.runner import STYLES, Refiner, RefineWarning, weights_path
from avatar_wardrobe.settings import RefineSettings

RENDER_SIZE = (128, 96)      # small real renders, made by the project's renderer in a subprocess
SHOTS = 4
MIN_CHANGE = {"enhance": 0.05, "toon": 1.0}   # mean |output - input| (0..255) over the avatar, at least
FULL_FRAME = (640, 480)
INTERNAL_HEIGHT = 120


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    """Cheap real-time renders (the refiner's input) of seeded random shots, with the avatar masks."""
    tmp = tmp_path_factory.mktemp("refine_renders")
    shots = D.make_shots(seed=99, count=SHOTS)
    shots.save(tmp / "shots.npz")
    D.render_pass(tmp / "shots.npz", "cheap", RENDER_SIZE, tmp / "cheap.npz", progress=False)
    D.render_pass(tmp / "shots.npz", "aux", RENDER_SIZE, tmp / "aux.npz", progress=False)
    with np.load(tmp / "cheap.npz") as c, np.load(tmp / "aux.npz") as a:
        return c["colour"], a["avatar"]


@pytest.fixture(autouse=True)
def fresh_warnings():
    runner._warned.clear()
    yield
    runner._warned.clear()


@pytest.mark.parametrize("style", STYLES)
def test_shipped_weights_refine_a_real_render(renders, style):
    frames, masks = renders
    assert weights_path(style).is_file(), f"models/refiner/{style}.pt is missing: run tools/train_refiner.py"
    assert weights_path(style).stat().st_size <= 2 * 1024 * 1024
    refiner = Refiner.create(style, RefineSettings(style=style, internal_height=0, threads=2))
    assert refiner.active, refiner.reason
    for frame, mask in zip(frames, masks):
        assert frame.std() > 5 and mask.mean() > 0.01, "the render shows no avatar"
        delta = refiner.refine_delta(frame)
        assert np.isfinite(delta).all()
        out = refiner(frame)
        assert out.shape == frame.shape and out.dtype == np.uint8
        change = np.abs(out.astype(float) - frame.astype(float)).mean(axis=2)
        assert change[mask].mean() > MIN_CHANGE[style], f"{style} left the avatar unchanged"


def test_internal_resolution_keeps_the_frame_size(renders):
    frame = cv2.resize(renders[0][0], FULL_FRAME, interpolation=cv2.INTER_LINEAR)
    refiner = Refiner.create("toon", RefineSettings(style="toon", internal_height=INTERNAL_HEIGHT))
    out = refiner(frame)
    assert out.shape == frame.shape
    assert np.abs(out.astype(int) - frame.astype(int)).mean() > 0.1
    # the net itself ran at the internal height: the correction it made is that small
    small = cv2.resize(frame, (FULL_FRAME[0] * INTERNAL_HEIGHT // FULL_FRAME[1], INTERNAL_HEIGHT),
                       interpolation=cv2.INTER_AREA)
    assert refiner.refine_delta(small).shape[:2] == (INTERNAL_HEIGHT, small.shape[1])


def test_missing_weights_pass_frames_through_with_one_warning(tmp_path, renders):
    frame = renders[0][0]
    with pytest.warns(RefineWarning, match="no weights"):
        refiner = Refiner.create("enhance", weights_dir=tmp_path)
    assert not refiner.active and "train_refiner.py" in refiner.reason
    assert np.array_equal(refiner(frame), frame)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second create must not warn again
        Refiner.create("enhance", weights_dir=tmp_path)


def test_corrupt_weights_pass_frames_through(tmp_path, renders):
    (tmp_path / "toon.pt").write_bytes(b"not a torch file")
    with pytest.warns(RefineWarning, match="could not be loaded"):
        refiner = Refiner.create("toon", weights_dir=tmp_path)
    assert np.array_equal(refiner(renders[0][0]), renders[0][0])


def test_missing_torch_passes_frames_through(monkeypatch, renders):
    """Simulated: a None entry in sys.modules makes `import torch` fail like an absent package."""
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.warns(RefineWarning, match="PyTorch is not installed"):
        refiner = Refiner.create("toon")
    assert not refiner.active
    assert np.array_equal(refiner(renders[0][0]), renders[0][0])


def test_off_and_unknown_styles():
    assert not Refiner.create("off").active
    assert not Refiner.create(None, RefineSettings()).active  # the default scene setting is off
    with pytest.raises(WardrobeError, match="unknown refine style"):
        Refiner.create("sepia")


def test_importing_the_package_does_not_import_torch():
    code = ("import sys, avatar_wardrobe, avatar_wardrobe.jobs, avatar_wardrobe.refine.runner, "
            "avatar_wardrobe.refine.data, avatar_wardrobe.cli as c; c._parser(); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


@pytest.mark.slow
def test_demo_with_refine_writes_a_video(tmp_path):
    out = tmp_path / "refined.mp4"
    run = subprocess.run([sys.executable, "-m", "avatar_wardrobe", "demo", "--refine", "enhance", "--frames", "3",
                          "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["frames"] == 3 and "refine" in result["stages"]
    frames = read_video(out)
    assert len(frames) == 3 and frames[0].shape[:2] == (480, 640) and frames[0].std() > 5


def test_the_traced_refiner_makes_the_eager_nets_frames_and_keeps_few_traces(renders):
    """The frozen trace per input shape refines exactly as the eager network does, on real renders
    at two sizes, and no more than TRACED_SHAPES traces are kept."""
    import torch

    refiner = Refiner.create("enhance", RefineSettings(style="enhance", internal_height=0, threads=1))
    colour, _ = renders
    frames = [colour[0], cv2.resize(colour[1], (160, 112))]
    traced = [refiner(f) for f in frames]
    assert all(isinstance(m, torch.jit.ScriptModule) for m in refiner._traced.values())  # traces were made
    refiner._traced = {k: refiner.net for k in refiner._traced}  # the same shapes, eager
    for frame, out in zip(frames, traced):
        assert np.array_equal(out, refiner(frame))
    for i in range(runner.TRACED_SHAPES + 2):
        refiner(cv2.resize(colour[2], (64 + 16 * i, 48)))
    assert len(refiner._traced) == runner.TRACED_SHAPES
