"""Train the lifter (retarget/lifter.py) on tools/make_lifter_data.py samples; export numpy weights + model card.

Usage:
    .venv/bin/python tools/train_lifter.py build/lifter/*.npz --out models/lifter.npz --minutes 10

Torch (CPU) is used here only; the product runs the exported .npz in numpy. Augmentations: a
horizontal mirror of every sample (x -> -x, left and right swapped), and Gaussian jitter of the
image rays and world landmarks. A random VAL_SHARE of the samples (seeded) is held out; the model
card records the held-out errors of MediaPipe's world bones, of the network alone and of the
network as the depth prior of retarget.lifting.lift (the way the solver uses it).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avatar_wardrobe.pose import landmarks as lm  # noqa: E402
from avatar_wardrobe.retarget import lifter as L  # noqa: E402

VAL_SHARE = 0.1
SPLIT_SEED = 1
TRAIN_SEED = 3
WIDTH = 256
BLOCKS = 2
BATCH = 256
LR = 2e-3
WEIGHT_DECAY = 1e-4
DROPOUT = 0.1
RAY_JITTER = 0.01    # torso units (2D)
WORLD_JITTER = 0.03  # torso units (3D)
ARM_WEIGHT = 1.0     # loss weight of the four arm bones (the others 1)
GROUPS = {"spine": [0], "torso_lines": [1, 2], "arms": [3, 4, 7, 8], "legs": [5, 6, 9, 10]}


def mirror_order(names) -> list[int]:
    pos = {n: i for i, n in enumerate(names)}
    return [pos[n.replace("left", "@").replace("right", "left").replace("@", "right")] for n in names]


def load(paths):
    cols = {k: [] for k in ("image", "visibility", "world", "image_size", "focal_px", "truth", "yaw_deg", "source",
                            "truth_points")}
    bodies, metas = [], []
    for i, p in enumerate(paths):
        d = np.load(p)
        n = len(d["image"])
        if not n:
            continue
        names = [str(x) for x in d["keypoint_names"]]
        for k in cols:
            if k == "truth":
                cols[k].append(np.array([L.bone_directions(dict(zip(names, t))) for t in d["truth"]]))
            elif k == "truth_points":
                cols[k].append(d["truth"])
            else:
                cols[k].append(d[k])
        bodies.append(np.full(n, i))
        metas.append({"file": Path(p).name, **json.loads(str(d["meta"])), "samples": n})
        kp_names = names
    out = {k: np.concatenate(v) for k, v in cols.items()}
    out["body"] = np.concatenate(bodies)
    return out, metas, kp_names


def mirrored(data: dict, kp_names) -> dict:
    """Every sample's mirror image: x -> -x about the image centre, left and right swapped."""
    order = mirror_order(lm.NAMES)
    image = data["image"][:, order].copy()
    image[..., 0] = 1.0 - image[..., 0]
    world = data["world"][:, order].copy()
    world[..., 0] *= -1
    tp = data["truth_points"][:, mirror_order(kp_names)].copy()
    tp[..., 0] *= -1
    truth = np.array([L.bone_directions(dict(zip(kp_names, t))) for t in tp])
    return {**data, "image": image, "world": world, "visibility": data["visibility"][:, order],
            "truth": truth, "truth_points": tp, "yaw_deg": -data["yaw_deg"]}


def angles(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip((pred * truth).sum(-1), -1, 1)))


def summary(err: np.ndarray) -> dict:
    return {g: {"median_deg": round(float(np.median(err[:, i])), 2), "p90_deg": round(float(np.percentile(err[:, i], 90)), 2)}
            for g, i in GROUPS.items()}


def lift_with(data, idx, priors, kp_names, prior_sd=None, trusted=(), blend=None):
    """Bone directions after retarget.lifting.lift with the given world priors and true lengths."""
    from avatar_wardrobe.retarget import lifting

    old = lifting.LEARNED_PRIOR_SD_SHARE
    if prior_sd is not None:
        lifting.LEARNED_PRIOR_SD_SHARE = prior_sd
    out = []
    try:
        for k, i in enumerate(idx):
            tp = dict(zip(kp_names, data["truth_points"][i]))
            tp["mid_hip"] = (tp["left_hip"] + tp["right_hip"]) / 2
            tp["mid_shoulder"] = (tp["left_shoulder"] + tp["right_shoulder"]) / 2
            lengths = {(a, b): float(np.linalg.norm(tp[b] - tp[a])) for a, b in lifting.TREE if a in tp and b in tp}
            lengths.pop(("mid_hip", "mid_shoulder"), None)  # the solver lifts the torso with MediaPipe's length
            res = lifting.lift(data["image"][i], data["world"][i], tuple(data["image_size"][i]), lengths,
                               float(data["focal_px"][i]), prior=None if priors is None else priors[k],
                               trusted=trusted, blend=blend[k] if isinstance(blend, list) else blend)
            out.append(L.bone_directions(res))
    finally:
        lifting.LEARNED_PRIOR_SD_SHARE = old
    return np.array(out)


def _row(name: str, groups: dict) -> str:
    return f"| {name} | " + " | ".join(f"{groups[g]['median_deg']:.1f} / {groups[g]['p90_deg']:.1f}" for g in GROUPS) + " |"


def model_card(out: Path, card: dict) -> str:
    """The model card (markdown) beside the weights: how they were made and what they score."""
    data = "\n".join(f"| {m['file']} | {m['avatar']} | {m['seed']} | {m['samples']} | {m['tried']} | {m['seconds']:.0f} |"
                     for m in card["data"])
    head = "| bones | " + " | ".join(GROUPS) + " |\n|---|" + "---|" * len(GROUPS)
    held = "\n".join(_row(k, v) for k, v in card["held_out"].items())
    lifted = "\n".join(_row(k, v) for k, v in card["held_out_lift"].items() if k != "n")
    yaw = "\n".join(_row(f"|yaw| {k} deg (n={v['n']}): {m}", v[m]) for k, v in card["held_out_by_abs_yaw_deg"].items()
                     for m in ("mediapipe_world", "network"))
    where = "the CPU" if card.get("device", "cpu") == "cpu" else f"a GPU ({card['device']})"
    return f"""# {out.name}: the learned lifter (retarget/lifter.py)

A {card['parameters']:,}-parameter MLP (input layer, {card['blocks']} residual blocks of width {card['width']},
dropout {card['dropout']}) from MediaPipe's image landmarks (as pixel rays, centred on the hips and
scaled by the torso), their visibility and its world landmarks to the camera-frame directions of
the spine, the hip and shoulder lines and the eight limb bones. Run in numpy by the solver as the
depth prior of `retarget/lifting.py` (torch only trains it). Made {card['date_utc']} UTC with torch
{card['torch']} on {where} in {card['train_seconds']} s ({card['epochs']} epochs, batch {card.get('batch', BATCH)}, arm bones
weighted {card.get('arm_weight', ARM_WEIGHT)} in the loss):

    {card['command']}

## Data (tools/make_lifter_data.py)

Each sample: one of the bodies below posed, rendered by the project's Panda3D studio (640x480,
camera yaw -130..130 degrees, elevation -5..20, vertical FOV 22..62, distance 1-1.6x "fills the
frame") and tracked by the real MediaPipe 0.10.21 (full model, static images). Poses: **the same
joint-limit sampler as `bench retarget`** (`retarget.bench.sample_landmarks`, solved within the joint
limits) with seeds other than the benchmark's (0), plus 20% from the bundled motion recording
(`models/motions/pose_1.jsonl`, half of them mirrored). No benchmark image is trained on. Truth:
the rendered avatar's detector keypoints in the camera frame. Augmentation: every sample's mirror
image (left and right swapped), Gaussian jitter of the rays ({RAY_JITTER} torso) and world landmarks
({WORLD_JITTER} torso). {card['val']} of {card['samples']} samples (seeded random {VAL_SHARE:.0%}) held out.

| file | body | seed | samples | renders | seconds |
|---|---|---|---|---|---|
{data}

## Held-out bone-direction error (median / p90 degrees, camera frame)

Against the true bones between detector keypoints; "network" averages the prediction with the
mirror image's (as the solver does).

{head}
{held}

The same through `lifting.lift` (true bone lengths, true focal length), first {card['held_out_lift']['n']} held-out samples
(the `sd` rows set `lifting.LEARNED_PRIOR_SD_SHARE`; the arms keep `ARM_LEARNED_PRIOR_SD_SHARE`):

{head}
{lifted}

By camera yaw:

{head}
{yaw}

How the solver uses it (row `as_the_solver_uses_it`): as the depth prior of the limbs (the torso
keeps MediaPipe's; the arms lean on it less, `lifting.ARM_LEARNED_PRIOR_SD_SHARE`), the arms then
turned part of the way to the network's own directions, more where the network is sure of them
(`lifter.CONFIDENT_BLEND`: the spread between its prediction and the mirror image's). Taking the
network's bones as they are (`direct`, solver.LIFTER_DIRECT) is more accurate on these renders
but broke the avatar's fit to a real video (bench keypoints on pose_1.mp4: PCK 0.86 as a prior,
0.69-0.79 direct; the legs most): there the 2D lengths with the avatar's own bone lengths fit the
image better than the network's depths (a gap between these renders of bodies in shorts and a
dressed person, the likely cause, not measured).

`bench retarget` (docs/bench/retarget.json) scores the whole solver with and without it, on its
own seed-0 renders and on a body it never saw (`--shape height=1.58,mass=82,gender=0`).
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+")
    ap.add_argument("--out", default=str(ROOT / "models" / "lifter.npz"))
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dropout", type=float, default=DROPOUT)
    ap.add_argument("--width", type=int, default=WIDTH)
    ap.add_argument("--blocks", type=int, default=BLOCKS)
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--lr", type=float, default=LR)
    ap.add_argument("--arm-weight", type=float, default=ARM_WEIGHT, help="loss weight of the arm bones (others 1)")
    ap.add_argument("--device", default="cpu", help="torch device for training (cpu, cuda); the export is numpy")
    ap.add_argument("--eval-lift", type=int, default=1500, help="held-out samples run through lift() for the card")
    ap.add_argument("--eval-only", action="store_true", help="score the weights at --out again (same data and split) "
                    "and rewrite the card, keeping its training record")
    args = ap.parse_args()
    import torch

    torch.manual_seed(TRAIN_SEED)
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    t0 = time.time()
    data, metas, kp_names = load(args.data)
    n = len(data["image"])
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    val = np.sort(perm[: int(n * VAL_SHARE)])
    train = np.sort(perm[int(n * VAL_SHARE):])
    feats = lambda d, i: L.features(d["image"][i], d["visibility"][i], d["world"][i], d["image_size"][i],  # noqa: E731
                                    d["focal_px"][i])
    mir = mirrored(data, kp_names)
    x_train = np.concatenate([feats(data, train), feats(mir, train)])
    y_train = np.concatenate([data["truth"][train], mir["truth"][train]]).reshape(len(x_train), -1)
    x_val, y_val = feats(data, val), data["truth"][val]
    mean, std = x_train.mean(0), x_train.std(0) + 1e-3
    n_ray = lm.COUNT * 2
    jitter = np.zeros(L.FEATURES)
    jitter[:n_ray] = RAY_JITTER
    jitter[n_ray:n_ray + lm.COUNT * 3] = WORLD_JITTER
    jitter = torch.tensor(jitter / std, dtype=torch.float32)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            width = args.width
            self.inp = torch.nn.Linear(L.FEATURES, width)
            self.blocks = torch.nn.ModuleList(torch.nn.Sequential(
                torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Dropout(args.dropout),
                torch.nn.Linear(width, width), torch.nn.ReLU(), torch.nn.Dropout(args.dropout))
                for _ in range(args.blocks))
            self.out = torch.nn.Linear(width, len(L.BONES) * 3)

        def forward(self, x):
            h = torch.relu(self.inp(x))
            for b in self.blocks:
                h = h + b(h)
            return self.out(h)

    net = Net().to(dev)
    xt = torch.tensor((x_train - mean) / std, dtype=torch.float32, device=dev)
    yt = torch.tensor(y_train, dtype=torch.float32, device=dev).view(len(xt), len(L.BONES), 3)
    xv = torch.tensor((x_val - mean) / std, dtype=torch.float32, device=dev)
    jitter = jitter.to(dev)
    bone_w = torch.ones(len(L.BONES), device=dev)
    bone_w[GROUPS["arms"]] = args.arm_weight
    bone_w = bone_w / bone_w.mean()
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=WEIGHT_DECAY)
    budget = 0.0 if args.eval_only else args.minutes * 60
    epoch, t_train = 0, time.time()
    history = []
    out = Path(args.out)
    prev = json.loads(Path(str(out)[:-4] + ".json").read_text()) if args.eval_only else {}
    while time.time() - t_train < budget:
        frac = (time.time() - t_train) / budget
        for g in opt.param_groups:
            g["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        net.train()
        order = torch.randperm(len(xt), device=dev)
        for s in range(0, len(xt), args.batch):
            b = order[s:s + args.batch]
            x = xt[b] + torch.randn(len(b), L.FEATURES, device=dev) * jitter
            p = net(x).view(len(b), len(L.BONES), 3)
            p = p / p.norm(dim=2, keepdim=True).clamp_min(1e-6)
            loss = ((1 - (p * yt[b]).sum(-1)) * bone_w).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        epoch += 1
        if epoch % 5 == 0:
            net.eval()
            with torch.no_grad():
                pv = net(xv).view(len(xv), len(L.BONES), 3).cpu().numpy()
            pv /= np.linalg.norm(pv, axis=2, keepdims=True)
            s = summary(angles(pv, y_val))
            history.append({"epoch": epoch, "seconds": round(time.time() - t_train), "val": s})
            print(epoch, f"{time.time() - t_train:.0f}s loss {loss.item():.4f}",
                  {g: v["median_deg"] for g, v in s.items()}, flush=True)
    layers = [net.inp] + [m for b in net.blocks for m in (b[0], b[3])] + [net.out]
    arrays = {"format": np.array(L.FORMAT), "version": np.array(L.VERSION), "mean": mean.astype(np.float32),
              "std": std.astype(np.float32), "layers": np.array(len(layers)), "blocks": np.array(args.blocks)}
    arrays["note"] = np.array(
        f"trained on {n} rendered samples ({len(train)} + mirror images for training) of the bodies "
        f"{sorted({m['avatar'] for m in metas})}, seeds {sorted({m['seed'] for m in metas})} (the benchmark's is 0); "
        "poses from bench retarget's own joint-limit sampler (retarget.bench.sample_landmarks) plus the bundled "
        "motion recordings; MediaPipe 0.10.21 on Panda3D renders; see models/lifter.md")
    for i, m in enumerate(layers):
        arrays[f"w{i}"] = m.weight.detach().cpu().numpy().T.astype(np.float32)
        arrays[f"b{i}"] = m.bias.detach().cpu().numpy().astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not args.eval_only:
        np.savez_compressed(out, **arrays)
    train_s = time.time() - t_train
    # Held-out evaluation with the exported numpy model (what the product runs).
    model = L.Lifter(out)
    pred, spread = model.predict(x_val, spread=True)
    raw = np.array([L.bone_directions(w) for w in data["world"][val]])
    ev = val[: args.eval_lift]
    k = len(ev)
    geo = lift_with(data, ev, None, kp_names)
    priors = [L.rebuild(data["world"][i], pred[j], L.PRIOR_TORSO) for j, i in enumerate(ev)]
    card = {"samples": int(n), "train": int(len(train)), "train_with_mirror": int(len(x_train)), "val": int(len(val)),
            "parameters": model.parameters, "epochs": epoch, "train_seconds": round(train_s), "data": metas,
            "dropout": args.dropout, "width": args.width, "blocks": args.blocks, "batch": args.batch, "lr": args.lr,
            "arm_weight": args.arm_weight, "device": args.device,
            "held_out": {"mediapipe_world": summary(angles(raw, y_val)), "network": summary(angles(pred, y_val)),
                         "network_no_mirror_average": summary(angles(model.predict(x_val, False), y_val))},
            "held_out_lift": {"n": k, "geometry_mediapipe_prior": summary(angles(geo, y_val[:k]))}}
    direct = [L.rebuild(data["world"][i], pred[j]) for j, i in enumerate(ev)]
    card["held_out_lift"]["direct"] = summary(angles(lift_with(data, ev, direct, kp_names, trusted=L.TRUSTED), y_val[:k]))
    card["held_out_lift"]["as_the_solver_uses_it"] = summary(angles(
        lift_with(data, ev, priors, kp_names, blend=[L.blend_shares(spread[j]) for j in range(k)]), y_val[:k]))
    for sd in (0.2, 0.1):
        lifted = lift_with(data, ev, priors, kp_names, sd)
        card["held_out_lift"][f"geometry_network_prior_sd{sd}{'' if L.PRIOR_TORSO else '_limbs'}"] = summary(angles(lifted, y_val[:k]))
    yaw = np.abs(data["yaw_deg"][val])
    by_yaw = {}
    for lo, hi in ((0, 20), (20, 60), (60, 100), (100, 180)):
        m = (yaw >= lo) & (yaw < hi)
        if m.any():
            by_yaw[f"{lo}-{hi}"] = {"n": int(m.sum()), "mediapipe_world": summary(angles(raw[m], y_val[m])),
                                    "network": summary(angles(pred[m], y_val[m]))}
    card["held_out_by_abs_yaw_deg"] = by_yaw
    card["history"] = history[-3:]
    card["total_seconds"] = round(time.time() - t0)
    card["command"] = " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    card["torch"] = torch.__version__
    card["date_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    if args.eval_only:  # the training record stays the training run's
        for key in ("epochs", "train_seconds", "history", "command", "date_utc", "dropout", "width", "blocks", "batch",
                    "lr", "arm_weight", "device"):
            if key in prev:
                card[key] = prev[key]
        card["rescored_utc"] = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    Path(str(out)[:-4] + ".json").write_text(json.dumps(card, indent=1) + "\n")
    Path(str(out)[:-4] + ".md").write_text(model_card(out, card))
    print(json.dumps({k: v for k, v in card.items() if k != "history"}, indent=1))


if __name__ == "__main__":
    main()
