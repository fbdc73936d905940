"""Learned depth prior for lifting: a small MLP (numpy inference) from 2D + world landmarks to bone directions.

MediaPipe's image landmarks fix each bone's image-plane part; what is ambiguous is its depth. The
lifter (weights in models/lifter.npz, made by tools/make_lifter_data.py + tools/train_lifter.py,
model card models/lifter.md) reads the image landmarks (as pixel rays of the camera, centred on
the hips and scaled by the torso), their visibility and MediaPipe's world landmarks, and predicts
the camera-frame directions of the torso and limb bones. `prior_world` turns those into a world
landmark array that retarget.lifting.lift then uses as its depth prior: the geometry (pixel rays,
known bone lengths) stays where it is exact, the network only says toward or away from the camera
and by how much. Pure numpy: torch is only used at training time.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import WardrobeError
from ..pose import landmarks as lm

DEFAULT_WEIGHTS = "lifter.npz"  # under models/
FORMAT = "avatar_wardrobe.lifter"
VERSION = 1
# Predicted bones (parent, child) as landmark names; "mid_hip" / "mid_shoulder" are virtual.
BONES = (
    ("mid_hip", "mid_shoulder"), ("right_hip", "left_hip"), ("right_shoulder", "left_shoulder"),
    *((f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
      for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))),
)
MIN_TORSO = 1e-6
# After lifting with the prior, the arms turn this share of the way to the lifter's own direction
# (lifting.lift's `blend`). Tuned on `bench retarget --seed 1` (30 poses, not the benchmark's seed
# 0) against PCK on pose_1.mp4 (a real video, where the network's depths fit the image less well):
# share 0: front arms 14.0 degrees median, PCK 0.864; 0.3: 12.3, 0.857; 0.4: 11.9, 0.852; 0.5: 10.8,
# 0.847. The legs stay as lifted: blending them lost the knees and ankles on that video (PCK 0.79).
# The solver now takes per-frame shares from CONFIDENT_BLEND; this one when that is None.
ARM_BLEND = 0.3
BLEND = {(f"{s}_{a}", f"{s}_{b}"): ARM_BLEND for s in ("left", "right")
         for a, b in (("shoulder", "elbow"), ("elbow", "wrist"))}
# Per-frame arm shares from the network's own confidence: the angle between its prediction and
# the mirror image's (mirrored back), per bone: (share at <= lo deg, share at >= hi deg, lo, hi),
# linear between; None: ARM_BLEND always. Tuned like ARM_BLEND (bench retarget seeds 1-4, PCK on
# pose_1.mp4), with lifting.ARM_LEARNED_PRIOR_SD_SHARE 0.4: a flat 0.5 gave front arms 9.9 degrees,
# 45 degrees 12.4, PCK 0.859; (0.6, 0.3, 5, 15) 9.6, 12.5, 0.866; (0.8, 0.3, 5, 15) 9.8, 12.4, 0.853.
CONFIDENT_BLEND = (0.6, 0.3, 5.0, 15.0)
# Whether the prior takes the predicted torso (spine, hip and shoulder lines) too, or MediaPipe's.
PRIOR_TORSO = False
# The TREE bones of retarget.lifting whose directions the lifter predicts (the hip and shoulder
# halves lie along its hip and shoulder lines), for lifting them as predicted with the known
# lengths (solver.LIFTER_DIRECT) rather than as a depth prior. On held-out renders that is the
# more accurate (models/lifter.md, "direct"); on a real video (bench keypoints, pose_1.mp4) it
# broke the avatar's fit to the image, so the solver uses the prior.
TRUSTED = (("mid_hip", "left_hip"), ("mid_hip", "right_hip"), ("mid_hip", "mid_shoulder"),
           ("mid_shoulder", "left_shoulder"), ("mid_shoulder", "right_shoulder"),
           *((f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")
             for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))))
# The prediction is averaged with the one for the mirror image (x -> -x, left and right swapped),
# mirrored back: the network was trained on both, and the two disagree mostly where it is unsure.
MIRROR_AVERAGE = True
FEATURES = lm.COUNT * 2 + lm.COUNT * 3 + lm.COUNT + 3  # rays, world, visibility, hip ray + log scale
# Rows of the landmarks with mid_hip and mid_shoulder appended, and each of BONES as (from, to) rows.
_ROW = {**lm.INDEX, "mid_hip": lm.COUNT, "mid_shoulder": lm.COUNT + 1}
_BONE_ENDS = np.array([(_ROW[a], _ROW[b]) for a, b in BONES])


def _columns(rows) -> tuple[np.ndarray, ...]:
    return tuple(np.array(c) for c in zip(*rows))


# What `rebuild` re-poses, as landmark rows: the hip and shoulder halves (left rows, right rows,
# bones); the face; the limbs a step down each chain at a time (start rows, end rows, bones);
# the hand and foot tips and the joints they ride on.
_SPINE = BONES.index(("mid_hip", "mid_shoulder"))
_HALVES = _columns((lm.INDEX[f"left_{p}"], lm.INDEX[f"right_{p}"], BONES.index((f"right_{p}", f"left_{p}")))
                   for p in ("hip", "shoulder"))
_FACE = np.array([i for i, n in enumerate(lm.NAMES)
                  if n == "nose" or n.split("_")[-1] in ("eye", "inner", "outer", "ear") or n.startswith("mouth")])
_LIMB_STEPS = tuple(_columns((lm.INDEX[f"{s}_{a}"], lm.INDEX[f"{s}_{b}"], BONES.index((f"{s}_{a}", f"{s}_{b}")))
                             for s in ("left", "right") for a, b in step)
                    for step in ((("shoulder", "elbow"), ("hip", "knee")), (("elbow", "wrist"), ("knee", "ankle"))))
_TIPS, _TIP_ROOTS = _columns((lm.INDEX[f"{s}_{tip}"], lm.INDEX[f"{s}_{root}"]) for s in ("left", "right")
                             for tip, root in (("index", "wrist"), ("pinky", "wrist"), ("thumb", "wrist"),
                                               ("heel", "ankle"), ("foot_index", "ankle")))


def _mid(points: np.ndarray, part: str) -> np.ndarray:
    return (points[..., lm.INDEX[f"left_{part}"], :] + points[..., lm.INDEX[f"right_{part}"], :]) / 2


def features(image: np.ndarray, visibility: np.ndarray, world: np.ndarray, image_size, focal_px) -> np.ndarray:
    """Network input for a batch (N, 33, 2+) of image landmarks (fractions of the image), (N, 33)
    visibility, (N, 33, 3) world landmarks, (N, 2) image sizes (w, h) and (N,) focal lengths (px)."""
    image = np.asarray(image, dtype=np.float64)[..., :2]
    size = np.asarray(image_size, dtype=np.float64).reshape(-1, 1, 2)
    focal = np.asarray(focal_px, dtype=np.float64).reshape(-1, 1, 1)
    rays = (image * size - size / 2) / focal  # pixel rays at unit depth (x right, y down)
    hip = _mid(rays, "hip")
    torso = np.linalg.norm(_mid(rays, "shoulder") - hip, axis=-1)
    rays = (rays - hip[:, None]) / np.maximum(torso, MIN_TORSO)[:, None, None]
    world = np.asarray(world, dtype=np.float64)
    w_hip = _mid(world, "hip")
    w_torso = np.linalg.norm(_mid(world, "shoulder") - w_hip, axis=-1)
    world = (world - w_hip[:, None]) / np.maximum(w_torso, MIN_TORSO)[:, None, None]
    n = len(rays)
    return np.concatenate([rays.reshape(n, -1), world.reshape(n, -1), np.asarray(visibility, np.float64).reshape(n, -1),
                           hip, np.log(np.maximum(torso, MIN_TORSO))[:, None]], axis=1)


def _swap(name: str) -> str:
    return name.replace("left", "@").replace("right", "left").replace("@", "right")


def _mirror_maps():
    """(feature permutation, feature signs, bone permutation, bone signs): a feature vector of the
    mirror image is x[perm] * sign; its predicted bone k, mirrored back, is bone_perm[k] of the
    original times (-1, 1, 1) * bone_sign[k]."""
    order = [lm.INDEX[_swap(n)] for n in lm.NAMES]
    perm, sign = [], []
    for dims, offset in ((2, 0), (3, lm.COUNT * 2)):
        for i in order:
            perm += [offset + i * dims + d for d in range(dims)]
            sign += [-1.0] + [1.0] * (dims - 1)
    base = lm.COUNT * 5
    perm += [base + i for i in order] + [base + lm.COUNT, base + lm.COUNT + 1, base + lm.COUNT + 2]
    sign += [1.0] * lm.COUNT + [-1.0, 1.0, 1.0]
    bones = list(BONES)
    bone_perm = [bones.index((_swap(a), _swap(b))) if (_swap(a), _swap(b)) in bones else
                 bones.index((_swap(b), _swap(a))) for a, b in bones]
    bone_sign = [1.0 if (_swap(a), _swap(b)) in bones else -1.0 for a, b in bones]
    return np.array(perm), np.array(sign), np.array(bone_perm), np.array(bone_sign)


def bone_directions(points: dict[str, np.ndarray] | np.ndarray, names=None) -> np.ndarray:
    """(len(BONES), 3) unit directions from named points ({name: (3,)}, or (33, 3) landmarks)."""
    if names is None and not isinstance(points, dict):
        points = np.asarray(points, dtype=np.float64)
        points = np.concatenate([points, [_mid(points, "hip"), _mid(points, "shoulder")]])  # the _ROW order
        d = points[_BONE_ENDS[:, 1]] - points[_BONE_ENDS[:, 0]]
    else:
        p = dict(points)
        p["mid_hip"] = (p["left_hip"] + p["right_hip"]) / 2
        p["mid_shoulder"] = (p["left_shoulder"] + p["right_shoulder"]) / 2
        d = np.array([p[b] - p[a] for a, b in BONES], dtype=np.float64)
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)


class Lifter:
    """The MLP: standardised features -> Linear/ReLU -> residual blocks -> (len(BONES) * 3) directions."""

    def __init__(self, path: str | Path):
        path = Path(path)
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise WardrobeError(f"cannot read the lifter weights {path} ({exc}): restore models/{DEFAULT_WEIGHTS} "
                                "from the repository or make it with tools/train_lifter.py") from None
        with data:
            if str(data.get("format", "")) != FORMAT or int(data.get("version", 0)) != VERSION:
                raise WardrobeError(f"{path} is not a lifter weights file of version {VERSION}: make it with "
                                    "tools/train_lifter.py")
            self.mean, self.std = data["mean"].astype(np.float64), data["std"].astype(np.float64)
            self.layers = [(data[f"w{i}"].astype(np.float64), data[f"b{i}"].astype(np.float64))
                           for i in range(int(data["layers"]))]
            self.blocks = int(data["blocks"])
            self.note = str(data["note"]) if "note" in data else ""
        if self.mean.shape != (FEATURES,) or self.layers[-1][0].shape[1] != len(BONES) * 3:
            raise WardrobeError(f"{path} was made for other inputs or outputs: retrain with tools/train_lifter.py")
        self.path = path
        self._mirror = _mirror_maps()

    @property
    def parameters(self) -> int:
        return int(sum(w.size + b.size for w, b in self.layers))

    def predict(self, x: np.ndarray, mirror_average: bool = MIRROR_AVERAGE, spread: bool = False):
        """(N, FEATURES) -> (N, len(BONES), 3) unit bone directions in the camera frame; with
        `spread`, also (N, len(BONES)) angles (degrees) between the two mirror predictions."""
        x = np.asarray(x, dtype=np.float64)
        if not mirror_average:
            return self._forward(x)
        perm, sign, bone_perm, bone_sign = self._mirror
        both = self._forward(np.concatenate([x, x[:, perm] * sign]))
        back = np.empty_like(both[len(x):])
        back[:, bone_perm] = both[len(x):] * np.array([-1.0, 1.0, 1.0]) * bone_sign[:, None]
        out = both[: len(x)] + back
        out = out / np.maximum(np.linalg.norm(out, axis=2, keepdims=True), 1e-12)
        if spread:
            return out, np.degrees(np.arccos(np.clip((both[: len(x)] * back).sum(-1), -1.0, 1.0)))
        return out

    def _forward(self, x: np.ndarray) -> np.ndarray:
        h = (x - self.mean) / self.std
        w, b = self.layers[0]
        h = np.maximum(h @ w + b, 0.0)
        for k in range(self.blocks):
            (w1, b1), (w2, b2) = self.layers[1 + 2 * k], self.layers[2 + 2 * k]
            h = h + np.maximum(np.maximum(h @ w1 + b1, 0.0) @ w2 + b2, 0.0)
        w, b = self.layers[-1]
        out = (h @ w + b).reshape(len(h), len(BONES), 3)
        return out / np.maximum(np.linalg.norm(out, axis=2, keepdims=True), 1e-12)

    def prior_world(self, image: np.ndarray, visibility: np.ndarray, world: np.ndarray,
                    image_size, focal_px: float, torso: bool = PRIOR_TORSO) -> np.ndarray:
        """MediaPipe's (33, 3) world landmarks with the predicted bones' directions put in (each
        bone keeps MediaPipe's length; hands, feet and face ride along rigidly): a depth prior for
        retarget.lifting.lift."""
        return self.prior_and_blend(image, visibility, world, image_size, focal_px, torso)[0]

    def prior_and_blend(self, image, visibility, world, image_size, focal_px: float, torso: bool = PRIOR_TORSO):
        """prior_world's landmarks and the `blend` shares for retarget.lifting.lift (BLEND, or per
        bone from the mirror spread with CONFIDENT_BLEND)."""
        world = np.asarray(world, dtype=np.float64)
        dirs, spread = self.predict(features(image[None], np.asarray(visibility)[None], world[None],
                                             np.asarray(image_size)[None], [focal_px]), spread=True)
        return rebuild(world, dirs[0], torso), blend_shares(spread[0])


def blend_shares(spread_deg: np.ndarray) -> dict:
    """The arm bones' blend shares for one frame from the network's per-bone mirror spread."""
    if CONFIDENT_BLEND is None:
        return BLEND
    hi_share, lo_share, lo, hi = CONFIDENT_BLEND
    out = {}
    for k, bone in enumerate(BONES):
        if bone in BLEND:
            t = min(1.0, max(0.0, float((spread_deg[k] - lo) / max(hi - lo, 1e-9))))
            out[bone] = hi_share + (lo_share - hi_share) * t
    return out


def rebuild(world: np.ndarray, dirs: np.ndarray, torso: bool = True) -> np.ndarray:
    """World landmarks re-posed so the BONES point along `dirs` (MediaPipe's lengths kept);
    `torso=False` keeps MediaPipe's hips, shoulders and face and re-aims the limbs only."""
    world = np.asarray(world, dtype=np.float64)
    if not torso:
        dirs = np.concatenate([bone_directions(world)[:3], dirs[3:]])
    out = np.empty_like(world)
    mid_hip, mid_sh = _mid(world, "hip"), _mid(world, "shoulder")
    new_mid_sh = mid_hip + dirs[_SPINE] * np.linalg.norm(mid_sh - mid_hip)
    left, right, bones = _HALVES
    reach = dirs[bones] * (np.linalg.norm(world[left] - world[right], axis=1) / 2)[:, None]
    centre = np.stack([mid_hip, new_mid_sh])  # of the hips, of the shoulders
    out[left], out[right] = centre + reach, centre - reach
    out[_FACE] = world[_FACE] + new_mid_sh - mid_sh  # the face rides on the shoulders
    for start, end, bones in _LIMB_STEPS:
        out[end] = out[start] + dirs[bones] * np.linalg.norm(world[end] - world[start], axis=1)[:, None]
    out[_TIPS] = out[_TIP_ROOTS] + world[_TIPS] - world[_TIP_ROOTS]  # hands and feet ride along rigidly
    return out


def weights_path() -> Path:
    from ..settings import MODELS_DIR

    return MODELS_DIR / DEFAULT_WEIGHTS


@lru_cache(maxsize=4)
def _load(path: str) -> Lifter:
    return Lifter(path)


def load(path: str | Path | None = None, required: bool = False) -> Lifter | None:
    """The lifter at `path` (default models/lifter.npz). When its file is missing: None (the caller
    lifts with geometry and MediaPipe's world landmarks alone), or WardrobeError when `required`."""
    p = Path(path) if path else weights_path()
    if not p.is_file():
        if required:
            raise WardrobeError(f"no lifter weights at {p}: restore models/{DEFAULT_WEIGHTS} from the repository, "
                                "make them with tools/make_lifter_data.py + tools/train_lifter.py, or lift "
                                "without the learned prior")
        return None
    return _load(str(p.resolve()))
