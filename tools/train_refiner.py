"""Train the refiner styles (enhance, toon) on frames the project renders itself; write weights and model cards.

    python tools/train_refiner.py --style enhance            # data (cached) -> training -> models/refiner/
    python tools/train_refiner.py --style toon --resume      # go on from out/refiner_ckpt/toon.pt
    python tools/train_refiner.py --measure-bf16 10          # time fp32 vs bf16-autocast iterations, then exit
    python tools/train_refiner.py --write-data .devcarry/enhance.npz   # one compact file (enhance only) ...
    python tools/train_refiner.py --data .devcarry/enhance.npz --style enhance --device cuda   # ... to train on a GPU

`--device auto` trains on CUDA when torch sees a GPU (bf16 autocast there too), else on the CPU. With
`--data NPZ` nothing is rendered: the script then needs numpy, opencv, tqdm and torch, not Panda3D.

Data: `avatar_wardrobe.refine.data` renders seeded shots (random poses, turns, cameras, light rigs) in
three passes (cheap real-time, 4x supersampled soft-lit, normal/depth) and builds the targets; the
result is cached under out/refiner_data/. Loss: L1 + LSGAN PatchGAN + a temporal term on consecutive
frames (the change of the output between two frames should match the change of the target).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from avatar_wardrobe.refine import data as D  # noqa: E402
from avatar_wardrobe.refine.runner import import_torch  # noqa: E402

import_torch()  # first torch import: passive OpenMP waiting (see refine/runner.py), before the others

TRAIN_COUNT, HELDOUT_COUNT, SEQUENCE_COUNT = 800, 64, 48   # frames (pairs: half as many pairs)
ITERATIONS = 1200
BATCH = 6                 # pairs per iteration (12 frames through the generator)
CROP = 128                # square training crops from DATA_SIZE frames
AVATAR_CROP_SHARE = 0.85  # share of crops centred on an avatar pixel (the rest: anywhere)
LR_G, LR_D = 2e-3, 5e-4
LR_FLOOR = 0.05           # cosine decay to this fraction of the learning rate
BETAS = (0.5, 0.999)
L1_WEIGHT = 1.0
TEMPORAL_WEIGHT = 1.0
ADV_WEIGHT = 0.005
ADV_START = 0.2           # the adversarial term joins after this fraction of the iterations
CHECKPOINT_EVERY = 250
LOG_EVERY = 50
SEED = 0
OUT_DIR = REPO / "models" / "refiner"
DOCS_DIR = REPO / "docs"
PICTURE_FRAMES = (0, 10, 22, 40)   # held-out frames shown in docs/refine_<style>.jpg
PICTURE_TILE = 240                # px, square tiles cropped around the avatar
PICTURE_CROP = {"enhance": 0.6, "toon": 1.15}   # crop side / avatar size: enhance is subtle, so zoom in
PICTURE_QUALITY = 88              # JPEG quality
CKPT_DIR = REPO / "out" / "refiner_ckpt"
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
EDGE_WEIGHT = 0.0         # extra loss weight on the avatar's outline band (0: plain L1 / temporal)
EDGE_BAND_PX = 2          # the band: pixels within this many px of the avatar mask's edge
COMPACT_SPLITS = ("train", "heldout", "sequence")


def cpu_bf16_flags() -> list[str]:
    """Native bf16 instruction sets this CPU reports (Linux /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
            break
    return [f for f in BF16_FLAGS if f in flags]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


class PairSampler:
    """Random crops of consecutive frame pairs (the same crop and flip on both frames).

    The random numbers are drawn per crop in a fixed order (the same stream on every device); the crops
    are then cut in one gather on `device`. The last `val_pairs` pairs are held back (see `validation`).
    """

    def __init__(self, data: D.PairedSet, style: str, crop: int, seed: int, device: str = "cpu",
                 val_pairs: int = 0):
        import torch

        self.device = torch.device(device)
        self.x = torch.from_numpy(data.inputs).permute(0, 3, 1, 2).contiguous().to(self.device)
        self.y = torch.from_numpy(data.target(style)).permute(0, 3, 1, 2).contiguous().to(self.device)
        self.m = torch.from_numpy(data.mask).to(self.device)
        self.pairs = len(data.inputs) // 2 - val_pairs
        if self.pairs < 1:
            raise ValueError(f"--val-pairs {val_pairs} leaves no training pairs")
        self.crop = crop
        self.h, self.w = data.inputs.shape[1:3]
        self.avatar_px = [np.argwhere(data.mask[2 * k]) for k in range(self.pairs)]
        self.rng = np.random.default_rng(seed)

    def _draw(self, n: int):
        rng, c = self.rng, self.crop
        rows = []
        for _ in range(n):
            k = int(rng.integers(self.pairs))
            px = self.avatar_px[k]
            if len(px) and rng.random() < AVATAR_CROP_SHARE:
                cy, cx = px[rng.integers(len(px))] + rng.integers(-c // 4, c // 4 + 1, 2)
            else:
                cy, cx = rng.integers(self.h), rng.integers(self.w)
            y0 = int(np.clip(cy - c // 2, 0, self.h - c))
            x0 = int(np.clip(cx - c // 2, 0, self.w - c))
            rows.append((k, y0, x0, rng.random() < 0.5))
        return np.array(rows, dtype=np.int64)

    def batch(self, n: int, masks: bool = False):
        """(xa, xb, ya, yb) float [0, 1] channels_last on the device; with `masks`, also (ma, mb) float."""
        import torch

        rows = torch.from_numpy(self._draw(n)).to(self.device)
        c = self.crop
        i = torch.arange(c, device=self.device)
        k, y0, x0, flip = rows.unbind(1)
        ys = (y0[:, None] + i)[:, None, :, None]                                   # (n, 1, c, 1)
        xs = torch.where(flip[:, None].bool(), x0[:, None] + c - 1 - i, x0[:, None] + i)[:, None, None, :]
        ch = torch.arange(3, device=self.device)[None, :, None, None]
        out = []
        for src, step in ((self.x, 0), (self.x, 1), (self.y, 0), (self.y, 1)):
            idx = (2 * k + step)[:, None, None, None]
            out.append(src[idx, ch, ys, xs].float().div_(255.0).contiguous(memory_format=torch.channels_last))
        if masks:
            for step in (0, 1):
                out.append(self.m[(2 * k + step)[:, None, None], ys[:, 0], xs[:, 0]][:, None].float())
        return out


def edge_band(mask):
    """(N, 1, H, W) float: 1 within EDGE_BAND_PX of the avatar mask's edge (dilation minus erosion)."""
    from torch.nn import functional as F

    k = 2 * EDGE_BAND_PX + 1
    dilated = F.max_pool2d(mask, k, 1, EDGE_BAND_PX)
    eroded = -F.max_pool2d(-mask, k, 1, EDGE_BAND_PX)
    return dilated - eroded


class Trainer:
    """Generator + PatchGAN critic with their optimisers; one `step()` per iteration."""

    def __init__(self, iterations: int, bf16: bool, seed: int, temporal_weight: float = TEMPORAL_WEIGHT,
                 lr_scale: float = 1.0, adv_start: float = ADV_START, device: str = "cpu",
                 edge_weight: float = EDGE_WEIGHT, widths=None, blocks=None):
        import torch

        from avatar_wardrobe.refine.model import BLOCKS, WIDTHS, PatchDiscriminator, RefinerNet

        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.G = RefinerNet(widths or WIDTHS, blocks or BLOCKS).to(self.device, memory_format=torch.channels_last)
        self.D = PatchDiscriminator().to(self.device, memory_format=torch.channels_last)
        self.opt_g = torch.optim.Adam(self.G.parameters(), LR_G, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.D.parameters(), LR_D, betas=BETAS)
        self.temporal_weight, self.lr_scale, self.adv_start = temporal_weight, lr_scale, adv_start
        self.edge_weight = edge_weight
        self.iterations = iterations
        self.bf16 = bf16
        self.iteration = 0

    def _lr_scale(self) -> float:
        t = min(1.0, self.iteration / max(1, self.iterations))
        return LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + np.cos(np.pi * t))

    def _autocast(self):
        import torch

        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def step(self, xa, xb, ya, yb, ma=None, mb=None) -> dict[str, float]:
        """One generator and one critic update. With `edge_weight` (and the masks ma, mb) the L1 and
        temporal terms weigh the avatar's outline band 1 + edge_weight times (normalised means)."""
        import torch
        from torch.nn import functional as F

        scale = self._lr_scale() * self.lr_scale
        for opt, lr in ((self.opt_g, LR_G), (self.opt_d, LR_D)):
            for group in opt.param_groups:
                group["lr"] = lr * scale
        adversarial = self.iteration >= self.adv_start * self.iterations
        x = torch.cat([xa, xb])
        y = torch.cat([ya, yb])
        with self._autocast():
            out = self.G(x)
        out = out.float()
        oa, ob = out.chunk(2)
        if self.edge_weight and ma is not None:
            w = 1.0 + self.edge_weight * edge_band(torch.cat([ma, mb]))
            wa, wb = w.chunk(2)
            wt = torch.maximum(wa, wb)
            l1 = ((out - y).abs() * w).mean() / w.mean()
            temporal = (((ob - oa) - (yb - ya)).abs() * wt).mean() / wt.mean()
        else:
            l1 = F.l1_loss(out, y)
            temporal = F.l1_loss(ob - oa, yb - ya)
        loss_g = L1_WEIGHT * l1 + self.temporal_weight * temporal
        adv = torch.zeros((), device=self.device)
        if adversarial:
            with self._autocast():
                fake_score = self.D(x, out)
            adv = F.mse_loss(fake_score.float(), torch.ones_like(fake_score, dtype=torch.float32))
            loss_g = loss_g + ADV_WEIGHT * adv
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        loss_d = torch.zeros((), device=self.device)
        if adversarial:
            with self._autocast():
                real = self.D(x, y).float()
                fake = self.D(x, out.detach()).float()
            loss_d = 0.5 * (F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake)))
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
        self.iteration += 1
        # detached tensors, not floats: .item() waits for the GPU, so the caller reads them in batches
        return {"l1": l1.detach(), "temporal": temporal.detach(), "adv": adv.detach(), "d": loss_d.detach()}

    def state(self) -> dict:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "iteration": self.iteration, "iterations": self.iterations}

    def load(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.iteration = int(state["iteration"])


def load_data(args, progress: bool = True):
    """(train, heldout, sequence, seconds): from the compact file `--data`, or rendered / read from the cache."""
    t0 = time.perf_counter()
    if args.data:
        train, heldout, sequence = read_compact(Path(args.data))
        return train, heldout, sequence, time.perf_counter() - t0
    avatars = tuple(args.avatars)
    train = D.build_set("pairs", D.TRAIN_SEED, args.train_count, avatars=avatars, progress=progress)
    if args.slow_pairs:
        slow = D.build_set("slowpairs", D.SLOW_PAIRS_SEED, 2 * args.slow_pairs, avatars=avatars, progress=progress)
        train = join_sets(train, slow)
    heldout = D.build_set("pairs", D.HELDOUT_SEED, args.heldout_count, avatars=avatars, progress=progress)
    sequence = D.build_set("sequence", D.SEQUENCE_SEED, args.sequence_count, avatars=avatars, progress=progress)
    return train, heldout, sequence, time.perf_counter() - t0


def join_sets(a: D.PairedSet, b: D.PairedSet) -> D.PairedSet:
    """Two paired splits as one (b's pairs after a's; `info` keeps a's fields and lists both parts)."""
    info = dict(a.info, count=len(a.inputs) + len(b.inputs), parts=[a.info, b.info])
    return D.PairedSet(np.concatenate([a.inputs, b.inputs]), np.concatenate([a.enhance, b.enhance]),
                       None if a.toon is None or b.toon is None else np.concatenate([a.toon, b.toon]),
                       np.concatenate([a.mask, b.mask]), True, info)


def write_compact(path: Path, sets, avatars: tuple[str, ...] = D.AVATARS, style: str = "enhance") -> int:
    """One compressed .npz with one style's inputs, targets and masks of the three splits (no rendering
    needed to train from it, e.g. on a GPU machine without Panda3D); returns its size in bytes.
    Targets are stored as (target - input) modulo 256, which compresses about 15% better than the target."""
    arrays = {}
    for name, data in zip(COMPACT_SPLITS, sets):
        data.info.setdefault("avatars_sha256", {Path(a).name: hashlib.sha256(D.model_path(a).read_bytes()).hexdigest()
                                                for a in avatars if Path(a).name in data.info["avatars"]})
        residual = data.target(style) - data.inputs          # uint8, modulo 256: exact, and packs smaller
        arrays.update({f"{name}_inputs": data.inputs, f"{name}_{style}_minus_inputs": residual,
                       f"{name}_mask": data.mask, f"{name}_paired": np.array(data.paired),
                       f"{name}_info": np.array(json.dumps(data.info))})
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part.npz")
    np.savez_compressed(part, style=np.array(style), **arrays)
    part.replace(path)
    return path.stat().st_size


def read_compact(path: Path) -> list[D.PairedSet]:
    """The three splits from a `write_compact` file; the style it does not hold is None."""
    if not path.is_file():
        raise FileNotFoundError(f"--data {path}: no such file (write it with --write-data {path})")
    with np.load(path, allow_pickle=False) as z:
        style = str(z["style"])
        sets = []
        for name in COMPACT_SPLITS:
            inputs = z[f"{name}_inputs"]
            target = inputs + z[f"{name}_{style}_minus_inputs"]
            info = json.loads(str(z[f"{name}_info"]))
            info["compact_file"] = path.name
            sets.append(D.PairedSet(inputs, target if style == "enhance" else None,
                                    target if style == "toon" else None, z[f"{name}_mask"],
                                    bool(z[f"{name}_paired"]), info))
    return sets


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(","))


def pick_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here (use --device cpu or auto)")
    return name


def device_name(device: str) -> str:
    import torch

    return torch.cuda.get_device_name() if device == "cuda" else cpu_name()


def use_bf16(choice: str, device: str) -> bool:
    """bf16 autocast: 'auto' turns it on for CUDA and for CPUs with native bf16 arithmetic."""
    if choice != "auto":
        return choice == "on"
    if device == "cuda":
        import torch

        return torch.cuda.is_bf16_supported()
    return bool(cpu_bf16_flags())


def validation(G, data: D.PairedSet, style: str, val_pairs: int, device: str) -> dict:
    """PSNR and pair flicker (mean |change| of the output between the two frames of a pair over the
    target's) on the last `val_pairs` training pairs, which training never sampled."""
    import torch

    from avatar_wardrobe.refine.metrics import psnr

    n = 2 * val_pairs
    x = torch.from_numpy(data.inputs[-n:]).permute(0, 3, 1, 2).float().div(255.0).to(device)
    y = data.target(style)[-n:].astype(np.float32)
    outs = []
    G.eval()
    with torch.inference_mode():
        for i in range(0, n, 16):
            o = G(x[i:i + 16].contiguous(memory_format=torch.channels_last)).float()
            outs.append(o.clamp(0, 1).mul(255).round().permute(0, 2, 3, 1).cpu().numpy())
    G.train()
    o = np.concatenate(outs)
    change = np.abs(o[1::2] - o[0::2]).mean()
    target_change = np.abs(y[1::2] - y[0::2]).mean()
    return {"pairs": val_pairs, "psnr_db": round(float(np.mean([psnr(a, b) for a, b in zip(o, y)])), 2),
            "pair_flicker_ratio": round(float(change / max(target_change, 1e-9)), 3),
            "identity_pair_flicker_ratio": round(float(
                np.abs(data.inputs[-n:][1::2].astype(np.float32) - data.inputs[-n:][0::2]).mean()
                / max(target_change, 1e-9)), 3)}


def measure_bf16(train: D.PairedSet, iterations: int, threads: int) -> dict:
    """Seconds per training iteration in fp32 and with bf16 autocast, same batches, same start."""
    import torch

    torch.set_num_threads(threads)
    result = {"cpu": cpu_name(), "native_bf16_flags": cpu_bf16_flags(), "threads": threads,
              "batch_pairs": BATCH, "crop": CROP, "iterations": iterations}
    runs = {}
    for name, bf16 in (("fp32", False), ("bf16", True)):
        trainer = Trainer(iterations * 10, bf16, SEED)
        trainer.iteration = trainer.iterations  # measure with the adversarial term on (the common case)
        sampler = PairSampler(train, "enhance", CROP, SEED)
        for _ in range(2):                       # warm-up (oneDNN kernel selection)
            trainer.step(*sampler.batch(BATCH))
        runs[name] = (trainer, sampler, [])
    for _ in range(iterations):                  # alternate, so other load on the machine hits both alike
        for name, (trainer, sampler, times) in runs.items():
            batch = sampler.batch(BATCH)
            t0 = time.perf_counter()
            trainer.step(*batch)
            times.append(time.perf_counter() - t0)
    for name, (_t, _s, times) in runs.items():
        result[f"{name}_s_per_iter"] = round(float(np.median(times)), 3)
        result[f"{name}_min_s_per_iter"] = round(float(np.min(times)), 3)
    result["speedup"] = round(result["fp32_s_per_iter"] / result["bf16_s_per_iter"], 2)
    result["speedup_of_minimums"] = round(result["fp32_min_s_per_iter"] / result["bf16_min_s_per_iter"], 2)
    return result


def measure_speed(train: D.PairedSet, args, device: str) -> dict:
    """Seconds per training iteration on `device` with this run's batch, crop and losses (after warm-up)."""
    import torch

    bf16 = use_bf16(args.bf16, device)
    trainer = Trainer(args.iters, bf16, args.seed, args.temporal_weight, args.lr_scale, 0.0, device,
                      args.edge_weight, args.widths, args.blocks)
    sampler = PairSampler(train, "enhance", args.crop, args.seed, device, args.val_pairs)
    masks = bool(args.edge_weight)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    for _ in range(5):
        trainer.step(*sampler.batch(args.batch, masks))
    sync()
    t0 = time.perf_counter()
    for _ in range(args.measure_speed):
        trainer.step(*sampler.batch(args.batch, masks))
    sync()
    s = (time.perf_counter() - t0) / args.measure_speed
    return {"device": device_name(device), "bf16_autocast": bf16, "batch_pairs": args.batch, "crop": args.crop,
            "edge_weight": args.edge_weight, "iterations": args.measure_speed, "s_per_iter": round(s, 4)}


def _load_start(path: str, trainer: Trainer) -> None:
    """--init-from: a training checkpoint (generator and critic) or shipped weights (generator only)."""
    import torch

    start = torch.load(path, map_location="cpu", weights_only=False)
    if "G" in start:
        trainer.G.load_state_dict(start["G"])
        trainer.D.load_state_dict(start["D"])
    else:
        from avatar_wardrobe.refine.model import net_from_state

        trainer.G.load_state_dict(net_from_state(start).state_dict())


def train_style(style: str, args, train, heldout, sequence, data_s: float) -> dict:
    import torch
    from tqdm import tqdm

    from avatar_wardrobe.refine.bench import evaluate
    from avatar_wardrobe.refine.model import count_parameters
    from avatar_wardrobe.refine.runner import Refiner

    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    bf16 = use_bf16(args.bf16, device)
    trainer = Trainer(args.iters, bf16, args.seed, args.temporal_weight, args.lr_scale, args.adv_start, device,
                      args.edge_weight, args.widths, args.blocks)
    sampler = PairSampler(train, style, args.crop, args.seed + 1, device, args.val_pairs)
    masks = bool(args.edge_weight)
    previous = None
    if args.init_from:  # a second stage: start from a finished run's networks (fresh optimisers and schedule)
        _load_start(args.init_from, trainer)
        for card_path in (Path(args.out) / f"{style}.json", OUT_DIR / f"{style}.json"):
            if card_path.is_file():
                previous = json.loads(card_path.read_text())
                previous.pop("history", None)
                previous.pop("bf16_measurement", None)
                break
        sampler.rng = np.random.default_rng(args.seed + 2)
    ckpt = Path(args.ckpt_dir) / f"{style}{'_stage2' if args.init_from else ''}.pt"
    history, elapsed0 = [], 0.0
    if args.resume and ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        trainer.load(state)
        sampler.rng.bit_generator.state = state["sampler_rng"]
        torch.set_rng_state(state["torch_rng"].cpu())
        history, elapsed0 = state["history"], state["elapsed_s"]
        print(f"resumed {style} at iteration {trainer.iteration} from {ckpt}")
    t0 = time.perf_counter()

    def save():
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        state = trainer.state()
        state.update(sampler_rng=sampler.rng.bit_generator.state, torch_rng=torch.get_rng_state(), history=history,
                     elapsed_s=elapsed0 + time.perf_counter() - t0, style=style)
        torch.save(state, ckpt.with_suffix(".tmp"))
        ckpt.with_suffix(".tmp").replace(ckpt)

    running: dict[str, list] = {}
    stopped_early = False
    bar = tqdm(total=args.iters, initial=trainer.iteration, desc=f"train {style}", unit="it",
               mininterval=args.progress_every)
    while trainer.iteration < args.iters:
        losses = trainer.step(*sampler.batch(args.batch, masks))
        for k, v in losses.items():
            running.setdefault(k, []).append(v.detach())
        bar.update(1)
        if trainer.iteration % args.log_every == 0 or trainer.iteration == args.iters:
            means = {k: round(float(torch.stack(v).float().mean()), 5) for k, v in running.items()}
            running = {}
            history.append({"iteration": trainer.iteration, **means,
                            "elapsed_s": round(elapsed0 + time.perf_counter() - t0, 1)})
            bar.set_postfix(l1=means["l1"], temp=means["temporal"], adv=means["adv"], d=means["d"])
            if args.max_minutes and time.perf_counter() - t0 > 60 * args.max_minutes:
                stopped_early = True
                print(f"stopping at iteration {trainer.iteration} of {args.iters}: --max-minutes {args.max_minutes}")
                break
        if trainer.iteration % args.checkpoint_every == 0:
            save()
    bar.close()
    save()
    train_s = elapsed0 + time.perf_counter() - t0

    val = validation(trainer.G, train, style, args.val_pairs, device) if args.val_pairs else None
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{style}.pt"
    from avatar_wardrobe.refine.model import ARCH_KEY, BLOCKS, WIDTHS, arch_tensor

    shipped = {k: v.detach().cpu().half() for k, v in trainer.G.state_dict().items()}
    if (trainer.G.widths, trainer.G.blocks) != (WIDTHS, BLOCKS):  # default-shaped files stay as they were
        shipped[ARCH_KEY] = arch_tensor(trainer.G)
    torch.save(shipped, weights)
    from avatar_wardrobe.settings import RefineSettings

    refiner = Refiner.create(style, RefineSettings(style=style, internal_height=0, threads=args.threads),
                             weights_dir=out_dir)
    metrics = evaluate(refiner, heldout, sequence, style)
    card = {
        "style": style, "made_by": "tools/train_refiner.py", "command": " ".join(["python", *sys.argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "weights": weights.name, "weights_bytes": weights.stat().st_size,
        "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "weights_dtype": "float16",
        "parameters": count_parameters(trainer.G), "architecture": f"RefinerNet (avatar_wardrobe/refine/model.py), widths {list(trainer.G.widths)}, "
                        f"blocks {list(trainer.G.blocks)}",
        "data": {"train": train.info, "heldout": heldout.info, "sequence": sequence.info,
                 "data_s_this_run": round(data_s, 1)},
        "training": {"iterations": trainer.iteration, "iterations_planned": args.iters,
                     "stopped_by_time_limit": stopped_early, "batch_pairs": args.batch, "crop": args.crop,
                     "seed": args.seed, "lr_g": LR_G, "lr_d": LR_D, "l1_weight": L1_WEIGHT,
                     "temporal_weight": args.temporal_weight, "edge_weight": args.edge_weight,
                     "edge_band_px": EDGE_BAND_PX, "adv_weight": ADV_WEIGHT,
                     "adv_start": args.adv_start, "lr_scale": args.lr_scale, "init_from": args.init_from,
                     "val_pairs_held_back": args.val_pairs, "device": device,
                     "bf16_autocast": bf16, "threads": args.threads, "wall_s": round(train_s, 1),
                     "s_per_iter": round(train_s / max(1, trainer.iteration), 4), "cpu": cpu_name(),
                     "gpu": device_name(device) if device == "cuda" else None,
                     "native_bf16_flags": cpu_bf16_flags(), "torch": torch.__version__,
                     "final_losses": history[-1] if history else {}},
        "validation": val,
        "heldout_metrics": metrics,
        "history": history,
    }
    if previous is not None:
        card["previous_stage"] = previous
        card["training"]["total_wall_s_all_stages"] = round(train_s + previous["training"].get(
            "total_wall_s_all_stages", previous["training"]["wall_s"]), 1)
    if args.bf16_report and Path(args.bf16_report).is_file():
        card["bf16_measurement"] = json.loads(Path(args.bf16_report).read_text())
    (out_dir / f"{style}.json").write_text(json.dumps(card, indent=1) + "\n")
    (out_dir / f"{style}.md").write_text(model_card_markdown(card))
    print(json.dumps({k: card[k] for k in ("style", "parameters", "weights_bytes", "validation", "heldout_metrics")}))
    return card


def model_card_markdown(card: dict) -> str:
    t, m, d = card["training"], card["heldout_metrics"], card["data"]
    stage_rows = ""
    prev = card.get("previous_stage")
    if prev:
        pt, pm = prev["training"], prev["heldout_metrics"]
        where = pt.get("gpu") or pt.get("cpu", "CPU")
        stage_rows = (f"\n| Started from | `{Path(t['init_from']).name}` ({prev['date'][:10]}): {pt['iterations']} iterations, "
                      f"temporal x{pt['temporal_weight']}, {pt['wall_s'] / 60:.1f} min on {where}; held-out PSNR "
                      f"{pm['psnr_db']:.2f} dB, flicker {pm['flicker_ratio']:.3f}x |"
                      f"\n| This stage | {t['iterations']} iterations, temporal x{t['temporal_weight']}, "
                      f"learning rates x{t['lr_scale']}, GAN term from {int(t['adv_start'] * 100)}%; all stages "
                      f"{t['total_wall_s_all_stages'] / 60:.1f} min |")
    where_trained = (f"on a GPU: {t['gpu']}" if t.get("gpu") else f"{t['threads']} thread(s), {t['cpu']}")
    if t.get("stopped_by_time_limit"):
        where_trained += f", stopped by the time limit at {t['iterations']} of {t['iterations_planned']} iterations"
    v = card.get("validation")
    val_row = (f"\n| Validation | the last {v['pairs']} training pairs, never sampled: PSNR {v['psnr_db']:.2f} dB, "
               f"pair flicker {v['pair_flicker_ratio']:.3f}x (raw input {v['identity_pair_flicker_ratio']:.3f}x) |"
               ) if v else ""
    bf = card.get("bf16_measurement")
    parts = d["train"].get("parts", [])
    slow_text = (f" (of which {parts[1]['count'] // 2} pairs one slow-sequence step apart, seed {parts[1]['seed']}, "
                 f"{parts[1]['total_s'] / 60:.1f} min to render)") if len(parts) > 1 else ""
    edge_text = (f"; L1 and temporal weigh the avatar's outline band ({t['edge_band_px']} px each side) "
                 f"x{1 + t['edge_weight']:g}") if t.get("edge_weight") else ""
    bf_line = (f"measured on this CPU ({bf['cpu']}, flags {', '.join(bf['native_bf16_flags']) or 'none'}, "
               f"{bf['threads']} thread(s), {bf['iterations']} alternating iterations each, medians): fp32 "
               f"{bf['fp32_s_per_iter']} s/iter, bf16 autocast {bf['bf16_s_per_iter']} s/iter "
               f"({bf['speedup']}x; {bf.get('speedup_of_minimums', bf['speedup'])}x on the fastest iterations)."
               ) if bf else "not measured for this run."
    rebuild = card.get("rebuild") or (f"`{prev['command']}`, then `{card['command']}`" if prev else f"`{card['command']}`")
    notes = "".join(f"\n\nNote: {n}" for n in (d.get("note"), t.get("note"), card.get("heldout_metrics_note")) if n)
    style_text = {
        "enhance": "lifts the cheap real-time render (no MSAA, three hard lights) toward the same frame rendered "
                   "at 4x4 supersampling with each light split into a soft cluster, a sky fill and screen-space "
                   "ambient occlusion (computed offline from the depth and normal buffers).",
        "toon": "turns the render into a cel-shaded look: the avatar's luminance in four flat bands, a little more "
                "saturation, ink outlines from depth jumps and creases (made offline from the colour, normal and "
                "depth buffers); floor and backdrop unchanged.",
    }[card["style"]]
    return f"""# Refiner `{card['style']}` — model card

The `{card['style']}` style {style_text}

| | |
|---|---|
| Weights | `{card['weights']}` ({card['weights_bytes']:,} bytes, {card['weights_dtype']} state_dict, sha256 `{card['weights_sha256'][:16]}…`) |
| Network | {card['architecture']}, {card['parameters']:,} parameters, predicts a correction to its input |
| Made by | `{card['command']}` on {card['date']} |
| Data | {d['train']['count']} training frames ({d['train']['count'] // 2} consecutive pairs), seed {d['train']['seed']}{slow_text}, {d['train']['size'][0]}x{d['train']['size'][1]}, avatars {', '.join(d['train']['avatars'])} |
| Held-out | {d['heldout']['count']} frames, seed {d['heldout']['seed']}; slow sequence {d['sequence']['count']} frames, seed {d['sequence']['seed']} |
| Training | {t['iterations']} iterations, batch {t['batch_pairs']} pairs of {t['crop']}² crops, seed {t['seed']}, L1 x{t['l1_weight']} + temporal x{t['temporal_weight']} + LSGAN PatchGAN x{t['adv_weight']} (from {int(t['adv_start'] * 100)}%){edge_text} |
| Time | {t['wall_s'] / 60:.1f} min training ({t['s_per_iter']} s/iter, {where_trained}, bf16 autocast {'on' if t['bf16_autocast'] else 'off'}); data rendering: {sum(d['train']['render_s'].values()) / 60:.1f} min of passes, {d['train']['total_s'] / 60:.1f} min with targets |{stage_rows}{val_row}
| Held-out PSNR | {m['psnr_db']:.2f} dB (raw input: {m['identity_psnr_db']:.2f} dB) |
| Held-out SSIM | {m['ssim']:.4f} (raw input: {m['identity_ssim']:.4f}) |
| Flicker | {m['flicker_ratio']:.3f}x the target's frame-to-frame change (raw input: {m['identity_flicker_ratio']:.3f}x) |

bf16 autocast: {bf_line} It applies where the CPU has native bf16 arithmetic (AVX512-BF16 or
AMX-BF16 in /proc/cpuinfo); `--bf16 auto` turns it on only there and trains in fp32 elsewhere (most
laptops), where bf16 has no fast kernels (not measured here). On CUDA `--bf16 auto` turns it on where
torch reports bf16 support (Ampere and newer; fp32 against bf16 was not timed on the GPU).{notes}

Rebuild: {rebuild} (the data is rendered by the project's own renderer with fixed seeds and cached
in out/refiner_data/). Full numbers and the loss history are in `{card['style']}.json`.
"""


def _avatar_crop(img: np.ndarray, mask: np.ndarray, zoom: float) -> np.ndarray:
    import cv2

    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    side = int(min(h, max(ys.ptp(), xs.ptp()) * zoom + 8))
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    y0, x0 = int(np.clip(cy - side // 2, 0, h - side)), int(np.clip(cx - side // 2, 0, w - side))
    tile = img[y0:y0 + side, x0:x0 + side]
    return cv2.resize(tile, (PICTURE_TILE, PICTURE_TILE), interpolation=cv2.INTER_NEAREST if side < PICTURE_TILE
                      else cv2.INTER_AREA)


def make_pictures(heldout: D.PairedSet, weights_dir: Path, docs_dir: Path, threads: int) -> list[Path]:
    """docs/refine_<style>.jpg: rows of held-out frames, columns raw | refined | target (and a PNG in out/)."""
    import cv2

    from avatar_wardrobe.refine.runner import STYLES, Refiner
    from avatar_wardrobe.settings import RefineSettings

    written = []
    for style in STYLES:
        refiner = Refiner.create(style, RefineSettings(style=style, internal_height=0, threads=threads), weights_dir)
        rows = []
        for i in PICTURE_FRAMES:
            x, m = heldout.inputs[i], heldout.mask[i]
            rows.append(np.hstack([_avatar_crop(im, m, PICTURE_CROP[style])
                                   for im in (x, refiner(x), heldout.target(style)[i])]))
        sheet = np.vstack(rows)
        docs_dir.mkdir(parents=True, exist_ok=True)
        out = docs_dir / f"refine_{style}.jpg"
        cv2.imwrite(str(out), sheet, [cv2.IMWRITE_JPEG_QUALITY, PICTURE_QUALITY])
        (REPO / "out").mkdir(exist_ok=True)
        cv2.imwrite(str(REPO / "out" / f"refine_{style}.png"), sheet)
        written.append(out)
        print(f"wrote {out} ({out.stat().st_size:,} bytes): columns raw | refined | target, held-out frames "
              f"{list(PICTURE_FRAMES)} (seed {D.HELDOUT_SEED}), cropped around the avatar, pixels not smoothed")
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", choices=("enhance", "toon", "both"), default="both")
    ap.add_argument("--widths", type=_ints, default=None, metavar="A,B,C,D",
                    help="generator channels at full, 1/2, 1/4, 1/8 resolution (default: refine.model.WIDTHS)")
    ap.add_argument("--blocks", type=_ints, default=None, metavar="A,B,C",
                    help="inverted-residual blocks at 1/2, 1/4, 1/8 resolution (default: refine.model.BLOCKS)")
    ap.add_argument("--iters", type=int, default=ITERATIONS)
    ap.add_argument("--batch", type=int, default=BATCH, help="consecutive pairs per iteration")
    ap.add_argument("--crop", type=int, default=CROP)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", choices=("auto", "on", "off"), default="auto")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--train-count", type=int, default=TRAIN_COUNT)
    ap.add_argument("--heldout-count", type=int, default=HELDOUT_COUNT)
    ap.add_argument("--sequence-count", type=int, default=SEQUENCE_COUNT)
    ap.add_argument("--avatars", nargs="+", default=list(D.AVATARS), help="avatar .glb files (relative to models/)")
    ap.add_argument("--out", default=str(OUT_DIR))
    ap.add_argument("--ckpt-dir", default=str(CKPT_DIR))
    ap.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--temporal-weight", type=float, default=TEMPORAL_WEIGHT)
    ap.add_argument("--lr-scale", type=float, default=1.0, help="multiply both learning rates")
    ap.add_argument("--adv-start", type=float, default=ADV_START, help="fraction of iterations before the GAN term")
    ap.add_argument("--init-from", default=None, metavar="CKPT",
                    help="second stage: start from this checkpoint's networks (fresh optimisers and schedule)")
    ap.add_argument("--data-only", action="store_true", help="render and cache the data, then stop")
    ap.add_argument("--measure-bf16", type=int, default=0, metavar="N",
                    help="time N iterations in fp32 and in bf16 autocast, write the JSON to --bf16-report, exit")
    ap.add_argument("--bf16-report", default=str(CKPT_DIR / "bf16.json"))
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="auto: CUDA when torch sees a GPU, else the CPU")
    ap.add_argument("--data", default=None, metavar="NPZ",
                    help="train from this compact file (--write-data) instead of rendering / the cache")
    ap.add_argument("--write-data", default=None, metavar="NPZ",
                    help="write the enhance data of all three splits into one compressed file, then exit")
    ap.add_argument("--edge-weight", type=float, default=EDGE_WEIGHT,
                    help=f"extra L1/temporal weight on the avatar's outline band ({EDGE_BAND_PX} px each side)")
    ap.add_argument("--slow-pairs", type=int, default=0, metavar="N",
                    help="add N training pairs one slow-sequence step apart (split 'slowpairs', seed "
                         f"{D.SLOW_PAIRS_SEED}) after the regular ones")
    ap.add_argument("--val-pairs", type=int, default=0,
                    help="hold back the last N training pairs and report PSNR and pair flicker on them")
    ap.add_argument("--max-minutes", type=float, default=0.0,
                    help="stop (and save) after this much training time, even before --iters (0: no limit)")
    ap.add_argument("--measure-speed", type=int, default=0, metavar="N",
                    help="time N training iterations on the device with these settings, print JSON, exit")
    ap.add_argument("--log-every", type=int, default=LOG_EVERY)
    ap.add_argument("--progress-every", type=float, default=0.1, help="seconds between progress-bar updates")
    ap.add_argument("--pictures", action="store_true",
                    help="write docs/refine_<style>.jpg (raw | refined | target) from the shipped weights, exit")
    args = ap.parse_args(argv)

    train, heldout, sequence, data_s = load_data(args)
    print(f"data ready in {data_s:.1f} s: train {train.info}, heldout {heldout.info}, sequence {sequence.info}")
    if args.data_only:
        return 0
    if args.write_data:
        size = write_compact(Path(args.write_data), (train, heldout, sequence), tuple(args.avatars))
        print(f"wrote {args.write_data}: {size / 2**20:.1f} MiB")
        return 0
    if args.measure_speed:
        print(json.dumps(measure_speed(train, args, pick_device(args.device))))
        return 0
    if args.pictures:
        make_pictures(heldout, Path(args.out), DOCS_DIR, args.threads)
        return 0
    if args.measure_bf16:
        report = measure_bf16(train, args.measure_bf16, args.threads)
        Path(args.bf16_report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.bf16_report).write_text(json.dumps(report, indent=1) + "\n")
        print(json.dumps(report))
        return 0
    styles = ("enhance", "toon") if args.style == "both" else (args.style,)
    if args.data and styles != ("enhance",):
        raise SystemExit("--data files hold the enhance style only: add --style enhance")
    for style in styles:
        train_style(style, args, train, heldout, sequence, data_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
