"""The refiner's paired data in numpy: seeded shots, render passes run in subprocesses, enhance/toon targets, the cache."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import WardrobeError
from ..settings import REPO_ROOT, model_path

DATA_VERSION = 3                       # bump when shots, passes or targets change: old caches are ignored
DATA_SIZE = (256, 192)                 # (width, height) of every training/eval frame: 4:3 like the app
SUPERSAMPLE = 4                        # the enhance target is rendered at this many times the size per axis
CACHE_DIR = Path(os.environ.get("AVATAR_WARDROBE_REFINER_DATA", REPO_ROOT / "out" / "refiner_data"))
AVATARS = ("avatar/female_165_58.glb", "avatar/male_180_80.glb")
MOTION = "motions/pose_1.jsonl"
# Seeds: training, held-out (different seed, never trained on) and the slow sequence for flicker.
TRAIN_SEED, HELDOUT_SEED, SEQUENCE_SEED = 1234, 4321, 777
SLOW_PAIRS_SEED = 2468   # training pairs that move as slowly as the flicker sequence (split "slowpairs")

# Shot randomisation (sane limits): joint jitter on top of a recorded pose, turn, camera and lights.
JOINT_JITTER_DEG = 12.0          # std of an extra random rotation per joint (same one on both frames of a pair)
FRONT_SHARE = 0.6                # share of shots that face the camera within +-FRONT_HEADING_DEG
FRONT_HEADING_DEG = 60.0
CAMERA_SCALE = (0.6, 1.2)        # camera distance as a multiple of the studio's framing distance
CAMERA_SHIFT_M = (0.15, 0.12)    # max sideways / vertical camera shift
LIGHT_TURN_DEG = 60.0            # the whole light rig turns by up to this
# The second frame of a pair: the next recorded frame, a little more turn and zoom.
PAIR_STEP_FRAMES = 1
PAIR_HEADING_STD_DEG = 1.5
PAIR_SCALE_STD = 0.01
# The slow sequence: recorded poses interpolated at this fraction of a frame per rendered frame.
SEQUENCE_SPEED = 0.25
SEQUENCE_HEADING_STEP_DEG = 0.5

# Screen-space ambient occlusion from the depth and normal buffers (view-space positions, range-checked
# so a body in front of the floor casts no halo), applied to the enhance target in linear light.
AO_RADII_PX = (2, 4, 8, 14, 22)  # sample rings at DATA_SIZE ...
AO_DIRECTIONS = 8                # ... with this many directions each, turned a little per ring
AO_RADIUS_M = 0.3                # occluders farther than this (3D) do not count
AO_STRENGTH = 1.6
AO_MAX = 0.6                     # at most this much darkening
AO_NORMAL_BIAS = 0.1             # ignore occluders within this angle-cosine of the tangent plane
# Toon: luminance bands, ink outlines from depth and normal discontinuities on the avatar.
TOON_LEVELS = (0.035, 0.10, 0.20, 0.33)  # band values (linear luminance) ...
TOON_EDGES = (0.06, 0.15, 0.26)          # ... and the luminance thresholds between them
TOON_SOFTNESS = 0.008                    # smoothstep half-width at a band edge (a hint of anti-aliasing)
TOON_SATURATION = 1.3
INK_DEPTH_REL = 0.03              # relative depth jump that draws an outline
INK_NORMAL_COS = 0.35             # neighbours whose normals differ more than this draw an outline
INK_COLOUR = np.array([30.0, 25.0, 25.0])  # BGR


@dataclass
class Shots:
    """Scripted shots, all plain arrays: pose, turn, camera and light rig for N frames.

    Frames 2k and 2k+1 form a consecutive pair when `paired` (the temporal loss uses them).
    """

    avatars: list[str]
    avatar_index: np.ndarray   # (N,) int
    rotations: np.ndarray      # (N, J, 4) local joint quaternions (w, x, y, z)
    root_offset: np.ndarray    # (N, 3) metres, glTF frame
    heading_deg: np.ndarray    # (N,) avatar turn about the vertical
    camera_scale: np.ndarray   # (N,)
    camera_shift: np.ndarray   # (N, 2) metres: sideways, up
    light_turn_deg: np.ndarray  # (N,)
    paired: bool = True

    def __len__(self) -> int:
        return len(self.avatar_index)

    def save(self, path: Path) -> None:
        arrays = {k: v for k, v in asdict(self).items() if isinstance(v, np.ndarray)}
        np.savez(path, avatars=np.array(self.avatars), paired=np.array(self.paired), **arrays)

    @classmethod
    def load(cls, path: Path) -> "Shots":
        with np.load(path) as z:
            d = {k: z[k] for k in z.files}
        return cls(avatars=[str(a) for a in d.pop("avatars")], paired=bool(d.pop("paired")), **d)


def _random_rotations(rng: np.random.Generator, count: int, std_deg: float) -> np.ndarray:
    """(count, 3, 3) rotations about random axes by normal(0, std) angles."""
    from ..transforms import axis_angle_matrix

    axes = rng.normal(size=(count, 3))
    angles = np.radians(rng.normal(0.0, std_deg, count))
    return np.stack([axis_angle_matrix(a, t) for a, t in zip(axes, angles)])


def _motion_rotations(models, motion) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Per avatar, per recorded frame: (J, 3, 3) solved local rotations and the root offset."""
    from ..transforms import quat_to_matrix

    out = []
    for model in models:
        frames = []
        for marks in motion.frames:
            pose = model.solver.solve(marks)
            frames.append((quat_to_matrix(pose.local_rotations), np.asarray(pose.root_offset, float)))
        out.append(frames)
    return out


def _quats(mats: np.ndarray) -> np.ndarray:
    from ..transforms import matrix_to_quat

    return matrix_to_quat(mats)


def make_shots(seed: int, count: int, avatars: tuple[str, ...] = AVATARS, slow: bool = False) -> Shots:
    """`count` frames (count/2 consecutive pairs) of random poses, turns, cameras and lights.

    `slow`: the second frame of a pair moves like one step of the slow sequence (SEQUENCE_SPEED of a
    recorded frame, SEQUENCE_HEADING_STEP_DEG of turn, the same camera), where aliasing flickers most.
    """
    from ..avatar.model import load_avatar
    from ..pose.recording import read_motion
    from ..transforms import slerp_matrix

    rng = np.random.default_rng(seed)
    avatars = [str(model_path(a)) for a in avatars]
    models = [load_avatar(a) for a in avatars]
    motion = read_motion(model_path(MOTION))
    solved = _motion_rotations(models, motion)
    n_frames = len(motion.frames)
    rec = {k: [] for k in ("avatar_index", "rotations", "root_offset", "heading_deg", "camera_scale",
                           "camera_shift", "light_turn_deg")}
    for _ in range(count // 2):
        a = int(rng.integers(len(models)))
        f = int(rng.integers(n_frames - PAIR_STEP_FRAMES))
        jitter = _random_rotations(rng, len(models[a].skeleton), JOINT_JITTER_DEG)
        jitter[models[a].skeleton.parents < 0] = np.eye(3)  # the root keeps its recorded orientation
        if rng.random() < FRONT_SHARE:
            heading = rng.uniform(-FRONT_HEADING_DEG, FRONT_HEADING_DEG)
        else:
            heading = rng.uniform(-180.0, 180.0)
        scale = rng.uniform(*CAMERA_SCALE)
        shift = rng.uniform(-1, 1, 2) * CAMERA_SHIFT_M
        light = rng.uniform(-LIGHT_TURN_DEG, LIGHT_TURN_DEG)
        for step in (0, PAIR_STEP_FRAMES):
            rot, offset = solved[a][f + step]
            if slow and step:
                (r0, o0), (r1, o1) = solved[a][f], solved[a][f + 1]
                w = SEQUENCE_SPEED
                rot = np.stack([slerp_matrix(p, q, w) for p, q in zip(r0, r1)])
                offset = (1 - w) * o0 + w * o1
            rec["avatar_index"].append(a)
            rec["rotations"].append(_quats(rot @ jitter))
            rec["root_offset"].append(offset)
            rec["heading_deg"].append(heading)
            rec["camera_scale"].append(scale)
            rec["camera_shift"].append(shift)
            rec["light_turn_deg"].append(light)
            if slow:
                heading = heading + SEQUENCE_HEADING_STEP_DEG * rng.choice((-1.0, 1.0))
            else:
                heading = heading + rng.normal(0, PAIR_HEADING_STD_DEG)
                scale = scale * (1 + rng.normal(0, PAIR_SCALE_STD))
    return Shots(avatars, **{k: np.array(v) for k, v in rec.items()})


def make_sequence(seed: int, count: int, avatars: tuple[str, ...] = AVATARS) -> Shots:
    """A slow continuous motion: recorded poses interpolated, a slow turn, a fixed camera and lights."""
    from ..avatar.model import load_avatar
    from ..pose.recording import read_motion
    from ..transforms import slerp_matrix

    rng = np.random.default_rng(seed)
    avatar = str(model_path(avatars[0]))
    model = load_avatar(avatar)
    motion = read_motion(model_path(MOTION))
    solved = _motion_rotations([model], motion)[0]
    start = float(rng.integers(0, max(1, len(motion.frames) - int(count * SEQUENCE_SPEED) - 2)))
    heading0 = rng.uniform(-30, 30)
    rots, offsets = [], []
    for i in range(count):
        t = start + i * SEQUENCE_SPEED
        f, w = int(t), t - int(t)
        (r0, o0), (r1, o1) = solved[f], solved[f + 1]
        rots.append(_quats(np.stack([slerp_matrix(a, b, w) for a, b in zip(r0, r1)])))
        offsets.append((1 - w) * o0 + w * o1)
    n = count
    return Shots([avatar], np.zeros(n, int), np.array(rots), np.array(offsets),
                 heading0 + SEQUENCE_HEADING_STEP_DEG * np.arange(n), np.full(n, 1.0), np.zeros((n, 2)),
                 np.full(n, rng.uniform(-20, 20)), paired=False)


# -- render passes (each in its own process: Panda3D allows one ShowBase per process) ----------------
PASSES = ("cheap", "hq", "aux")


def render_pass(shots_path: Path, name: str, size: tuple[int, int], out: Path, progress: bool = True,
                downsample: int = 1) -> None:
    """Run `python -m avatar_wardrobe.render.passes` for one pass of the shots (blocks)."""
    cmd = [sys.executable, "-m", "avatar_wardrobe.render.passes", "--shots", str(shots_path), "--pass", name,
           "--size", str(size[0]), str(size[1]), "--out", str(out), "--downsample", str(downsample)]
    if not progress:
        cmd.append("--quiet")
    run = subprocess.run(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=None if progress else subprocess.PIPE,
                         text=True)
    if run.returncode != 0:
        raise WardrobeError(f"the {name} render pass failed (exit {run.returncode}): "
                            f"{(run.stderr or '')[-1500:]} Check that `avatar-wardrobe demo --frames 1` works.")


def _srgb_to_linear(img: np.ndarray) -> np.ndarray:
    x = img.astype(np.float32) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    y = np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.clip(np.round(y * 255.0), 0, 255).astype(np.uint8)


def view_positions(depth_m: np.ndarray, focal_px: float) -> np.ndarray:
    """(H, W, 3) view-space points (x right, y up, z forward) from linear depth and the focal length."""
    h, w = depth_m.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    x = (u - (w - 1) / 2) / focal_px * depth_m
    y = ((h - 1) / 2 - v) / focal_px * depth_m
    return np.stack([x, y, depth_m], -1).astype(np.float32)


def ambient_occlusion(depth_m: np.ndarray, normals: np.ndarray, background: np.ndarray,
                      focal_px: float) -> np.ndarray:
    """(H, W) light factor in [1 - AO_MAX, 1]: how open each point's hemisphere is to nearby geometry."""
    p = view_positions(depth_m, focal_px)
    # normals arrive in view space with +z toward the viewer (OpenGL); flip z to match p's forward z
    n = normals.astype(np.float32) * np.array([1, 1, -1], np.float32)
    scale = depth_m.shape[0] / DATA_SIZE[1]
    occl = np.zeros(depth_m.shape, np.float32)
    samples = 0
    for ring, radius in enumerate(AO_RADII_PX):
        r = max(1, int(round(radius * scale)))
        for k in range(AO_DIRECTIONS):
            angle = 2 * np.pi * (k + 0.5 * ring) / AO_DIRECTIONS
            dy, dx = int(round(r * np.sin(angle))), int(round(r * np.cos(angle)))
            q = np.roll(p, (dy, dx), axis=(0, 1))
            solid = ~np.roll(background, (dy, dx), axis=(0, 1))
            d = q - p
            dist = np.sqrt((d * d).sum(-1)) + 1e-6
            cos = (d * n).sum(-1) / dist
            weight = np.clip(1.0 - dist / AO_RADIUS_M, 0.0, 1.0)
            occl += np.where(solid, np.clip(cos - AO_NORMAL_BIAS, 0.0, 1.0) * weight, 0.0)
            samples += 1
    ao = 1.0 - np.clip(AO_STRENGTH * occl / samples, 0.0, AO_MAX)
    return np.where(background, 1.0, ao).astype(np.float32)


def enhance_target(hq: np.ndarray, depth_m: np.ndarray, normals: np.ndarray, background: np.ndarray,
                   focal_px: float) -> np.ndarray:
    """The supersampled soft-light render, area-downsampled, with ambient occlusion in linear light."""
    h, w = depth_m.shape
    small = cv2.resize(hq, (w, h), interpolation=cv2.INTER_AREA) if hq.shape[:2] != (h, w) else hq
    ao = ambient_occlusion(depth_m, normals, background, focal_px)
    ao = cv2.GaussianBlur(ao, (0, 0), 1.0)  # SSAO is noisy per pixel; the real thing is smooth
    lin = _srgb_to_linear(small) * ao[..., None]
    return _linear_to_srgb(lin)


def _smoothstep(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def ink_lines(depth_m: np.ndarray, normals: np.ndarray, background: np.ndarray, avatar: np.ndarray) -> np.ndarray:
    """(H, W) ink coverage in [0, 1]: the avatar's depth jumps (silhouette, overlaps) and creases."""
    z = np.where(background, 1e3, depth_m).astype(np.float32)
    n = normals.astype(np.float32)
    edge = np.zeros(z.shape, np.float32)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        zn = np.roll(z, (dy, dx), axis=(0, 1))
        nn = np.roll(n, (dy, dx), axis=(0, 1))
        near = np.minimum(z, zn)
        jump = np.abs(z - zn) / np.maximum(near, 1e-3) > INK_DEPTH_REL
        # Only the nearer side of a depth jump is inked (lines hug the object, not the backdrop).
        mine = jump & (z <= zn) & avatar
        both_solid = avatar & np.roll(avatar, (dy, dx), axis=(0, 1))
        crease = both_solid & ((n * nn).sum(-1) < INK_NORMAL_COS) & ~jump
        edge = np.maximum(edge, (mine | crease).astype(np.float32))
        # the neighbour's side of a crease too, so lines are about 2 px wide at this size
        theirs = jump & (zn < z) & np.roll(avatar, (dy, dx), axis=(0, 1))
        edge = np.maximum(edge, np.roll(theirs * 1.0, (-dy, -dx), axis=(0, 1)).astype(np.float32))
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = 0
    return cv2.GaussianBlur(edge, (3, 3), 0.6)


def toon_target(colour: np.ndarray, depth_m: np.ndarray, normals: np.ndarray, background: np.ndarray,
                avatar: np.ndarray) -> np.ndarray:
    """The avatar cel-shaded (luminance in a few flat bands, a little more saturation) and ink-outlined."""
    lin = _srgb_to_linear(colour)
    lum = lin @ np.array([0.0722, 0.7152, 0.2126], np.float32)        # BGR weights
    banded = np.full_like(lum, TOON_LEVELS[0])
    for (lo, hi), edge in zip(zip(TOON_LEVELS[:-1], TOON_LEVELS[1:]), TOON_EDGES):
        banded += (hi - lo) * _smoothstep(edge - TOON_SOFTNESS, edge + TOON_SOFTNESS, lum)
    chroma = lin / np.maximum(lum, 1e-4)[..., None]
    chroma = 1.0 + (chroma - 1.0) * TOON_SATURATION
    toon = np.clip(chroma * banded[..., None], 0, 1)
    toon = np.where(avatar[..., None], toon, lin)                        # floor and backdrop stay as they are
    out = _linear_to_srgb(toon).astype(np.float32)
    ink = ink_lines(depth_m, normals, background, avatar)[..., None]
    return np.clip(np.round(out * (1 - ink) + INK_COLOUR * ink), 0, 255).astype(np.uint8)


@dataclass
class PairedSet:
    """Rendered frames and their targets, (N, H, W, 3) BGR uint8; `mask` (N, H, W) marks the avatar."""

    inputs: np.ndarray
    enhance: np.ndarray
    toon: np.ndarray
    mask: np.ndarray
    paired: bool
    info: dict

    def target(self, style: str) -> np.ndarray:
        if style not in ("enhance", "toon"):
            raise WardrobeError(f"unknown refine style '{style}': use enhance or toon.")
        return self.enhance if style == "enhance" else self.toon


def _cache_path(split: str, seed: int, count: int, size: tuple[int, int], avatars: tuple[str, ...]) -> Path:
    digest = hashlib.sha256()
    for a in avatars:
        digest.update(model_path(a).read_bytes())
    key = f"{split}_s{seed}_n{count}_{size[0]}x{size[1]}_v{DATA_VERSION}_{digest.hexdigest()[:8]}"
    return CACHE_DIR / f"{key}.npz"


def build_set(split: str, seed: int, count: int, size: tuple[int, int] = DATA_SIZE, progress: bool = True,
              cache: bool = True, avatars: tuple[str, ...] = AVATARS) -> PairedSet:
    """Render (or read from the cache) a split: 'pairs' (random consecutive pairs), 'slowpairs' (pairs one
    slow-sequence step apart) or 'sequence'.

    The cache key holds the split, seed, count, size, DATA_VERSION and a hash of the avatar files.
    """
    missing = [a for a in avatars if not model_path(a).is_file()]
    if missing:
        raise WardrobeError(f"avatar file(s) {missing} not found: run `make avatars` or pass existing .glb files.")
    path = _cache_path(split, seed, count, size, avatars)
    if cache and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return PairedSet(z["inputs"], z["enhance"], z["toon"], z["mask"], bool(z["paired"]),
                             json.loads(str(z["info"])))
    t0 = time.perf_counter()
    if split not in ("pairs", "slowpairs", "sequence"):
        raise WardrobeError(f"unknown data split '{split}': use pairs, slowpairs or sequence.")
    shots = (make_sequence(seed, count, avatars) if split == "sequence"
             else make_shots(seed, count, avatars, slow=split == "slowpairs"))
    w, h = size
    with tempfile.TemporaryDirectory(prefix="refiner_passes_") as tmp:
        tmp = Path(tmp)
        shots.save(tmp / "shots.npz")
        timings = {}
        for name, scale in (("cheap", 1), ("hq", SUPERSAMPLE), ("aux", 1)):
            t = time.perf_counter()
            render_pass(tmp / "shots.npz", name, (w * scale, h * scale), tmp / f"{name}.npz", progress, scale)
            timings[name] = round(time.perf_counter() - t, 1)
        with np.load(tmp / "cheap.npz") as z:
            inputs = z["colour"]
        with np.load(tmp / "hq.npz") as z:
            hq = z["colour"]
        with np.load(tmp / "aux.npz") as z:
            normals, depth, background, avatar = z["normals"], z["depth_m"], z["background"], z["avatar"]
            focal = z["focal_px"]
    enhance = np.stack([enhance_target(hq[i], depth[i], normals[i], background[i], float(focal[i]))
                        for i in range(len(inputs))])
    toon = np.stack([toon_target(enhance[i], depth[i], normals[i], background[i], avatar[i])
                     for i in range(len(inputs))])
    info = {"split": split, "seed": seed, "count": count, "size": list(size), "supersample": SUPERSAMPLE,
            "avatars": [Path(a).name for a in shots.avatars],
            "data_version": DATA_VERSION, "render_s": timings, "total_s": round(time.perf_counter() - t0, 1)}
    data = PairedSet(inputs, enhance, toon, avatar, shots.paired, info)
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        part = path.with_suffix(".part.npz")
        np.savez(part, inputs=inputs, enhance=enhance, toon=toon, mask=avatar, paired=np.array(shots.paired),
                 info=np.array(json.dumps(info)))
        part.replace(path)
    return data

