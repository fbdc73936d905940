"""tools/train_refiner.py: the compact data file, the crop sampler, the outline band and a short CPU training run."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from avatar_wardrobe.refine import data as D

REPO = Path(__file__).resolve().parents[2]
PAIRS = 6
SIZE = (96, 64)   # (width, height): small real renders
CROP = 48
BRIGHTER = 1.1


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("train_refiner", REPO / "tools" / "train_refiner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Real cheap renders of slow pairs; the target is their 2x render, area-downsampled and brightened."""
    import cv2

    tmp = tmp_path_factory.mktemp("train_refiner")
    shots = D.make_shots(seed=5, count=2 * PAIRS, slow=True)
    shots.save(tmp / "shots.npz")
    D.render_pass(tmp / "shots.npz", "cheap", SIZE, tmp / "cheap.npz", progress=False)
    D.render_pass(tmp / "shots.npz", "cheap", (2 * SIZE[0], 2 * SIZE[1]), tmp / "big.npz", progress=False)
    D.render_pass(tmp / "shots.npz", "aux", SIZE, tmp / "aux.npz", progress=False)
    with np.load(tmp / "cheap.npz") as c, np.load(tmp / "big.npz") as b, np.load(tmp / "aux.npz") as a:
        inputs, big, mask = c["colour"], b["colour"], a["avatar"]
    # a target the net can learn in a few steps: the 2x render area-downsampled (anti-aliased), 10% brighter
    target = np.stack([np.clip(cv2.resize(f, SIZE, interpolation=cv2.INTER_AREA) * BRIGHTER, 0, 255).astype(np.uint8)
                       for f in big])
    return D.PairedSet(inputs, target, None, mask, True, {"split": "slowpairs", "count": len(inputs)})


def test_slow_pairs_move_less_than_regular_pairs(pairs):
    x = pairs.inputs.astype(np.float32)
    assert pairs.mask.mean() > 0.01, "no avatar in the renders"
    slow_change = np.abs(x[1::2] - x[0::2]).mean()
    shuffled_change = np.abs(x[2::2] - x[1:-1:2]).mean()   # frames of different pairs
    assert 0 < slow_change < shuffled_change / 3


def test_compact_file_round_trip(tool, pairs, tmp_path):
    path = tmp_path / "enhance.npz"
    size = tool.write_compact(path, (pairs, pairs, pairs), avatars=())
    assert size == path.stat().st_size > 0
    train, heldout, sequence = tool.read_compact(path)
    for split in (train, heldout, sequence):
        assert np.array_equal(split.inputs, pairs.inputs) and np.array_equal(split.enhance, pairs.enhance)
        assert np.array_equal(split.mask, pairs.mask) and split.toon is None
        assert split.info["compact_file"] == "enhance.npz"
    with pytest.raises(FileNotFoundError, match="--write-data"):
        tool.read_compact(tmp_path / "missing.npz")


def test_sampler_crops_pairs_alike_and_holds_back_validation(tool, pairs):
    sampler = tool.PairSampler(pairs, "enhance", CROP, seed=3, val_pairs=2)
    assert sampler.pairs == PAIRS - 2
    xa, xb, ya, yb, ma, mb = sampler.batch(8, masks=True)
    assert xa.shape == (8, 3, CROP, CROP) and ma.shape == (8, 1, CROP, CROP)
    assert 0.0 <= float(xa.min()) and float(xa.max()) <= 1.0
    # the same crop of both frames of a slow pair: they differ little, far less than two random crops
    assert float((xb - xa).abs().mean()) < float((xa - xa.roll(1, 0)).abs().mean())
    again = tool.PairSampler(pairs, "enhance", CROP, seed=3, val_pairs=2).batch(8, masks=True)
    assert all(bool((u == v).all()) for u, v in zip((xa, xb, ya, yb, ma, mb), again)), "not reproducible"


def test_edge_band_marks_the_outline_only(tool):
    import torch

    mask = torch.zeros(1, 1, 20, 20)
    mask[..., 5:15, 5:15] = 1
    band = tool.edge_band(mask)[0, 0]
    assert band[10, 10] == 0 and band[0, 0] == 0
    r = tool.EDGE_BAND_PX          # r pixels on each side of the outline (inside from x=5, outside up to x=4)
    assert band[10, 5 - r:5 + r].eq(1).all()
    assert band[10, 5 - r - 1] == 0 and band[10, 5 + r] == 0


def test_short_cpu_training_lowers_the_loss(tool, pairs):
    """A few generator steps on one fixed batch (no critic yet) must fit it better than the untrained identity."""
    import torch

    torch.set_num_threads(2)
    steps = 40
    trainer = tool.Trainer(iterations=10 * steps, bf16=False, seed=0, temporal_weight=4.0, lr_scale=0.25,
                           adv_start=1.0, device="cpu", edge_weight=4.0)
    fixed = tool.PairSampler(pairs, "enhance", CROP, seed=1).batch(4, masks=True)

    def objective(losses):
        return float(losses["l1"]) + 4.0 * float(losses["temporal"])

    first = objective(trainer.step(*fixed))
    for _ in range(steps):
        losses = trainer.step(*fixed)
    assert all(bool(torch.isfinite(v)) for v in losses.values()) and float(losses["adv"]) == 0.0
    assert objective(losses) < 0.8 * first
    val = tool.validation(trainer.G, pairs, "enhance", 2, "cpu")
    assert val["pairs"] == 2 and 20 < val["psnr_db"] < 60 and val["pair_flicker_ratio"] > 0


def test_cuda_is_refused_clearly_without_a_gpu(tool):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    assert tool.pick_device("auto") == "cpu"
    with pytest.raises(SystemExit, match="no CUDA device"):
        tool.pick_device("cuda")


def test_the_tool_imports_no_renderer_or_tracker():
    """Training from a --data file must work where Panda3D and MediaPipe are not installed (a GPU box)."""
    import subprocess

    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('t', 'tools/train_refiner.py'); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); "
            "import avatar_wardrobe.refine.bench, avatar_wardrobe.refine.runner; "
            "bad = [n for n in ('panda3d', 'mediapipe', 'pybullet', 'gltflib') if n in sys.modules]; "
            "assert not bad, bad")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
