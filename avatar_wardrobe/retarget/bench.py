"""Benchmarks: `bench retarget` (synthetic renders with exact ground truth) and `bench keypoints` (PCK).

bench retarget: the avatar is posed in random, anatomically plausible poses (sampled as limb
directions, turned into joint rotations by the solver itself, within the joint limits), rendered
offscreen with the project's Panda3D studio from each camera yaw, and tracked by MediaPipe. Bone
directions are compared in the camera frame (OpenCV axes) against the rendered avatar's own bones,
for our solved avatar and for bones taken straight from MediaPipe's world landmarks, as they are
and after a per-frame rigid alignment on the shoulders and hips. Both run on the same images in
the same process, so their ratio is fair. Panda3D allows one ShowBase per process: run each
benchmark in its own process (the CLI does).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..pose import landmarks as lm
from ..records import Frame, Landmarks
from . import kalidokit
from .geometry import axis_angle, unit
from .keypoints import KNEE_LANDMARK_ALONG_THIGH_M, REFERENCE_TORSO_M, SHOULDER_LANDMARK_M
from .solver import Solver

DEFAULT_POSES = 30
DEFAULT_VIEWS = (0.0,)
DEFAULT_SEED = 0
RENDER_SIZE = (640, 480)
# Random pose ranges (degrees): torso lean forward / sideways and turn, arm elevation from "down",
# arm azimuth (0 = out to the side, 90 = forward), elbow and knee flexion, thigh flexion and spread,
# foot turn-out, head turn and nod.
TORSO_LEAN = (0.0, 20.0)
TORSO_SIDE = 10.0
TORSO_TURN = 25.0
CHEST_TURN = 15.0
ARM_ELEVATION = (10.0, 170.0)
ARM_AZIMUTH = (-40.0, 100.0)
ELBOW_FLEX = (0.0, 130.0)
THIGH_FLEX = (-10.0, 60.0)
THIGH_SPREAD = (-5.0, 30.0)
KNEE_FLEX_MAX = 90.0
FOOT_TURN = (-10.0, 30.0)
HEAD_TURN = 35.0
HEAD_NOD = 15.0
# Bones compared, per group: (name, start, end) as keypoint names of avatar_keypoints and landmarks.
BONES = {
    "arms": [(f"{s}_{a}", f"{s}_{b}") for s in ("left", "right") for a, b in (("shoulder", "elbow"), ("elbow", "wrist"))],
    "legs": [(f"{s}_{a}", f"{s}_{b}") for s in ("left", "right") for a, b in (("hip", "knee"), ("knee", "ankle"))],
    "spine": [("mid_hip", "mid_shoulder")],
    "head": [("mid_ear", "nose")],
}
TORSO_POINTS = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
# Panda camera space (x right, y forward, z up) -> OpenCV camera axes (x right, y down, z forward).
PANDA_CAM_TO_CV = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])


def _rot(axis, deg):
    return axis_angle(np.asarray(axis, dtype=np.float64), math.radians(deg))


@dataclass
class Proportions:
    """Segment lengths (metres) of the avatar at rest, for sampling landmarks in its own shape."""

    hip_half: float
    shoulder_half: float
    torso: float
    upper_arm: float
    lower_arm: float
    upper_leg: float
    lower_leg: float

    @classmethod
    def of(cls, solver: Solver) -> "Proportions":
        p = solver.rest.positions @ solver.rest.body  # canonical
        j = solver._idx

        def d(a, b, side="l"):
            return float(np.linalg.norm(p[j(b, side)] - p[j(a, side)]))

        return cls(hip_half=float(np.linalg.norm(p[j("upper_leg", "l")] - p[j("upper_leg", "r")]) / 2),
                   shoulder_half=float(np.linalg.norm(p[j("upper_arm", "l")] - p[j("upper_arm", "r")]) / 2),
                   torso=solver.rest_torso_length, upper_arm=d("upper_arm", "lower_arm"),
                   lower_arm=d("lower_arm", "hand"), upper_leg=d("upper_leg", "lower_leg"),
                   lower_leg=d("lower_leg", "foot"))


def sample_landmarks(rng: np.random.Generator, size: Proportions) -> np.ndarray:
    """One random plausible pose as MediaPipe-style world landmarks (33, 3), hips at the origin."""
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    yaw = _rot((0, 1, 0), u(-TORSO_TURN, TORSO_TURN))
    lean = _rot((1, 0, 0), u(*TORSO_LEAN)) @ _rot((0, 0, 1), u(-TORSO_SIDE, TORSO_SIDE))
    hips = yaw @ np.eye(3)  # columns: left, up, forward
    chest = _rot((0, 1, 0), u(-CHEST_TURN, CHEST_TURN)) @ yaw @ lean
    pts = {}
    for s, sign in (("left", 1.0), ("right", -1.0)):
        pts[f"{s}_hip"] = sign * size.hip_half * hips[:, 0]
        pts[f"{s}_shoulder"] = chest[:, 1] * size.torso + sign * size.shoulder_half * chest[:, 0]
    for s, sign in (("left", 1.0), ("right", -1.0)):
        out, up, fwd = sign * chest[:, 0], chest[:, 1], chest[:, 2]
        e, a = math.radians(u(*ARM_ELEVATION)), math.radians(u(*ARM_AZIMUTH))
        upper = unit(-math.cos(e) * up + math.sin(e) * (math.cos(a) * out + math.sin(a) * fwd))
        bend = unit(fwd + 0.5 * up + rng.normal(0, 0.3, 3))
        bend = unit(bend - (bend @ upper) * upper)
        f = math.radians(u(*ELBOW_FLEX))
        fore = math.cos(f) * upper + math.sin(f) * bend
        pts[f"{s}_elbow"] = pts[f"{s}_shoulder"] + size.upper_arm * upper
        pts[f"{s}_wrist"] = pts[f"{s}_elbow"] + size.lower_arm * fore
        side = unit(np.cross(fore, rng.normal(size=3)))
        pts[f"{s}_index"] = pts[f"{s}_wrist"] + 0.08 * fore + 0.02 * side
        pts[f"{s}_pinky"] = pts[f"{s}_wrist"] + 0.07 * fore - 0.02 * side
        pts[f"{s}_thumb"] = pts[f"{s}_wrist"] + 0.04 * fore + 0.03 * side
        # Legs from the hips' frame: flex forward, spread outward, knee bends backward.
        h_up, h_fwd = hips[:, 1], hips[:, 2]
        flex, spread = u(*THIGH_FLEX), u(*THIGH_SPREAD)
        # About the left axis, -flex swings "down" toward the front; about the facing axis,
        # +spread swings it toward the left (so the right leg spreads with -spread).
        thigh = _rot(h_fwd, sign * spread) @ _rot(hips[:, 0], -flex) @ -h_up
        knee = math.radians(u(0.0, min(KNEE_FLEX_MAX, max(0.0, flex) + 40.0)))
        back = unit(-h_fwd - (-h_fwd @ thigh) * thigh)
        shin = math.cos(knee) * thigh + math.sin(knee) * back
        pts[f"{s}_knee"] = pts[f"{s}_hip"] + size.upper_leg * thigh
        pts[f"{s}_ankle"] = pts[f"{s}_knee"] + size.lower_leg * shin
        toe = _rot(h_up, sign * u(*FOOT_TURN)) @ h_fwd
        toe = unit(toe - (toe @ [0, 1, 0]) * np.array([0, 1, 0]))
        pts[f"{s}_heel"] = pts[f"{s}_ankle"] - 0.05 * toe - np.array([0, 0.05, 0])
        pts[f"{s}_foot_index"] = pts[f"{s}_heel"] + 0.2 * toe
    # MediaPipe marks a shoulder above its joint and a knee down the thigh (the solver takes that
    # back off): the landmarks go where it would put them, so the limbs are solved as sampled.
    mark = size.torso / REFERENCE_TORSO_M
    out_, up_, fwd_ = SHOULDER_LANDMARK_M
    for s, sign in (("left", 1.0), ("right", -1.0)):
        pts[f"{s}_shoulder"] = pts[f"{s}_shoulder"] + mark * (sign * out_ * chest[:, 0] + up_ * chest[:, 1]
                                                              + fwd_ * chest[:, 2])
        thigh = unit(pts[f"{s}_knee"] - pts[f"{s}_hip"])
        pts[f"{s}_knee"] = pts[f"{s}_knee"] + mark * KNEE_LANDMARK_ALONG_THIGH_M * thigh
    head = _rot(chest[:, 1], u(-HEAD_TURN, HEAD_TURN)) @ chest
    head = _rot(head[:, 0], u(-HEAD_NOD, HEAD_NOD)) @ head
    neck = (pts["left_shoulder"] + pts["right_shoulder"]) / 2
    torso = float(np.linalg.norm(neck - (pts["left_hip"] + pts["right_hip"]) / 2))
    base = neck + 0.385 * torso * chest[:, 1]  # ear height: a relaxed shoulder (no shrug)
    for s, sign in (("left", 1.0), ("right", -1.0)):
        pts[f"{s}_ear"] = base + sign * 0.075 * head[:, 0] - 0.01 * head[:, 2]
        for part, dx in (("eye_inner", 0.015), ("eye", 0.032), ("eye_outer", 0.045)):
            pts[f"{s}_{part}"] = base + sign * dx * head[:, 0] + 0.01 * head[:, 1] + 0.09 * head[:, 2]
    pts["nose"] = base - 0.02 * head[:, 1] + 0.11 * head[:, 2]
    pts["mouth_left"] = pts["nose"] + 0.025 * head[:, 0] - 0.04 * head[:, 1]
    pts["mouth_right"] = pts["nose"] - 0.025 * head[:, 0] - 0.04 * head[:, 1]
    canon = np.array([pts[n] for n in lm.NAMES])
    return canon @ lm.CAMERA_TO_AVATAR.T  # canonical -> MediaPipe axes (the change is its own inverse)


def _points(named: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = dict(named)
    out["mid_hip"] = (named["left_hip"] + named["right_hip"]) / 2
    out["mid_shoulder"] = (named["left_shoulder"] + named["right_shoulder"]) / 2
    out["mid_ear"] = (named["left_ear"] + named["right_ear"]) / 2
    return out


def landmark_points(world: np.ndarray) -> dict[str, np.ndarray]:
    """MediaPipe world landmarks (already OpenCV camera axes) by name, plus the mid points."""
    return _points({n: world[lm.INDEX[n]] for n in lm.NAMES})


def kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation that best turns centred `source` points onto centred `target` points."""
    a, b = source - source.mean(0), target - target.mean(0)
    u_, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u_.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u_.T


def bone_errors(estimate: dict[str, np.ndarray], truth: dict[str, np.ndarray], align: bool,
                groups=tuple(BONES)) -> dict[str, list[float]]:
    """Angles (degrees) between estimated and true bone directions, per group."""
    rot = np.eye(3)
    if align:
        rot = kabsch(np.array([estimate[n] for n in TORSO_POINTS]), np.array([truth[n] for n in TORSO_POINTS]))
    out = {}
    for group in groups:
        errs = []
        bones = BONES[group]
        for a, b in bones:
            e, t = unit(rot @ (estimate[b] - estimate[a])), unit(truth[b] - truth[a])
            errs.append(math.degrees(math.acos(max(-1.0, min(1.0, float(e @ t))))))
        out[group] = errs
    return out


@dataclass
class ErrorTable:
    """Bone-direction errors collected per method, alignment and group."""

    samples: dict = field(default_factory=dict)

    def add(self, method: str, align: bool, errors: dict[str, list[float]]) -> None:
        key = (method, "aligned" if align else "camera")
        for group, errs in errors.items():
            self.samples.setdefault(key, {}).setdefault(group, []).extend(errs)

    def summary(self) -> dict:
        out = {}
        for (method, frame), groups in self.samples.items():
            rows = {g: {"median_deg": round(float(np.median(v)), 2), "p90_deg": round(float(np.percentile(v, 90)), 2),
                        "n": len(v)} for g, v in groups.items()}
            every = np.concatenate([np.asarray(v) for v in groups.values()])
            rows["overall"] = {"median_deg": round(float(np.median(every)), 2),
                               "p90_deg": round(float(np.percentile(every, 90)), 2), "n": int(len(every))}
            out.setdefault(method, {})[frame] = rows
        return out


def parse_shape(shape: str) -> dict[str, float]:
    """"height=1.72,mass=70,gender=0.5" -> {"height": 1.72, ...} (gender: anny's axis, 0 male .. 1 female)."""
    from ..errors import WardrobeError

    want = {}
    for item in shape.split(","):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in SHAPE_KEYS:
            raise WardrobeError(f"--shape takes {', '.join(SHAPE_KEYS)} (e.g. height=1.72,mass=70,gender=0.5), "
                                f"not {key!r}")
        try:
            want[key] = float(value)
        except ValueError:
            raise WardrobeError(f"--shape {key} needs a number, got {value!r}") from None
    return {k: want.get(k, v) for k, v in SHAPE_DEFAULTS.items()}


SHAPE_KEYS = ("height", "mass", "gender")
SHAPE_DEFAULTS = {"height": 1.72, "mass": 70.0, "gender": 0.5}


def _pick_avatar(shape: str | None, anny: bool | None = None):
    """The avatar for --shape (a body made on the fly with anny when it is installed, else the
    nearest bundled body by height, mass and gender), or the default one; and a note saying which."""
    import importlib.util
    import json

    from ..settings import MODELS_DIR, AvatarSettings, model_path

    if not shape:
        return model_path(AvatarSettings().path), "default avatar"
    want = parse_shape(shape)
    if anny is None:
        anny = importlib.util.find_spec("anny") is not None
    if anny:
        from ..shape.bodies import body_avatar

        path = body_avatar(want["height"], want["mass"], want["gender"])
        return path, f"made with anny for {shape} (cached in {path.parent})"
    best, best_cost = None, math.inf
    for sidecar in sorted((MODELS_DIR / "avatar").glob("*.json")):
        info = json.loads(sidecar.read_text())
        measured = info.get("measured", {})
        gender = 1.0 if info.get("requested", {}).get("gender") == "female" else 0.0
        cost = (abs(measured.get("height_m", 0) - want["height"]) * 10
                + abs(measured.get("mass_kg", 0) - want["mass"]) / 20 + abs(gender - want["gender"]))
        if cost < best_cost:
            best, best_cost = MODELS_DIR / "avatar" / info["file"], cost
    return best, "nearest bundled avatar (anny is not installed; a body is not made on the fly)"


def run_retarget(poses: int = DEFAULT_POSES, views=DEFAULT_VIEWS, seed: int = DEFAULT_SEED,
                 shape: str | None = None, progress: bool = True, learned_prior="auto") -> dict:
    """Render, track and score; returns the JSON-ready result (with a "table" for the terminal).

    `learned_prior` as Solver's ("auto", False, True or a weights path); "ours_geometry" rows
    score the same solver without the learned lifter, on the same images."""
    from tqdm import tqdm

    from ..avatar.model import load_avatar
    from ..pose.tracker import PoseTracker
    from ..render.avatar_actor import AvatarActor
    from ..render.capture import FrameGrabber
    from ..render.engine import create_base
    from ..render.studio import Studio
    from ..settings import CameraSettings
    from .keypoints import avatar_keypoints
    from .pose_filter import PoseFilter

    load_before = _load()
    avatar_path, avatar_note = _pick_avatar(shape)
    model = load_avatar(avatar_path)
    solver = Solver(model.skeleton, model.rig, learned_prior=learned_prior)
    solver.vertical_fov_deg = CameraSettings().vertical_fov_deg  # the studio camera's, as `track --fov` would give
    world_solver = Solver(model.skeleton, model.rig, lift=False)  # for comparison: no 2D lifting
    geometry_solver = Solver(model.skeleton, model.rig, learned_prior=False)  # 2D lifting without the lifter
    geometry_solver.vertical_fov_deg = solver.vertical_fov_deg
    rng = np.random.default_rng(seed)
    size = Proportions.of(solver)
    base = create_base(False, RENDER_SIZE)
    studio = Studio(base, model.height_m, pbr=True, msaa=0, camera=CameraSettings())
    actor = AvatarActor(model.path, model.skeleton, base.render)
    grabber = FrameGrabber(base)
    to_cv = lm.CAMERA_TO_AVATAR  # canonical avatar frame -> OpenCV camera axes (self-inverse)
    table = ErrorTable()
    baseline_frames = []  # (view, landmarks, truth) for Kalidokit, run once at the end
    detected = {v: 0 for v in views}
    times = {"mediapipe_ms": [], "ours_ms": []}
    truth_poses = [solver.solve(Landmarks(i, 0.0, image=np.zeros((lm.COUNT, 3)), world=sample_landmarks(rng, size),
                                          visibility=np.ones(lm.COUNT))) for i in range(poses)]
    with PoseTracker(static_image_mode=True, smooth_landmarks=False) as tracker:
        for view in views:
            studio.camera.yaw_deg = float(view)
            studio.frame(model.height_m)
            cam_rot = np.array(base.cam.getMat(base.render).getUpper3()).T  # columns: camera axes in world
            for i, truth in enumerate(tqdm(truth_poses, desc=f"view {view:g}", disable=not progress)):
                actor.apply_local(model.skeleton.local_matrices(truth.local_rotations, truth.root_offset))
                actor.actor.update(force=True)
                image = grabber.render()
                t0 = time.perf_counter()
                marks = tracker.track(Frame(i, 0.0, image))
                t1 = time.perf_counter()
                if not marks.found:
                    continue
                pose = PoseFilter(solver, smooth=False, contact=False).step(marks)
                t2 = time.perf_counter()
                unlifted = PoseFilter(world_solver, smooth=False, contact=False).step(marks)
                geometry = PoseFilter(geometry_solver, smooth=False, contact=False).step(marks)
                times["mediapipe_ms"].append((t1 - t0) * 1e3)
                times["ours_ms"].append((t2 - t1) * 1e3)
                detected[view] += 1
                # Ground truth: the rendered avatar's keypoints in the camera frame.
                truth_kp = avatar_keypoints(solver, truth)
                truth_world = {k: _panda_world(base, actor, solver, v) for k, v in truth_kp.items()}
                truth_cv = _points({k: PANDA_CAM_TO_CV @ (cam_rot.T @ v) for k, v in truth_world.items()})
                ours = _points({k: to_cv @ v for k, v in avatar_keypoints(solver, pose).items()})
                raw = landmark_points(marks.world)
                baseline_frames.append((view, marks, truth_cv))
                for align in (False, True):
                    table.add(f"ours@{view:g}", align, bone_errors(ours, truth_cv, align))
                    table.add(f"mediapipe_world@{view:g}", align, bone_errors(raw, truth_cv, align))
                    table.add(f"ours_geometry@{view:g}", align, bone_errors(
                        _points({k: to_cv @ v for k, v in avatar_keypoints(geometry_solver, geometry).items()}),
                        truth_cv, align))
                    table.add(f"ours_unlifted@{view:g}", align, bone_errors(
                        _points({k: to_cv @ v for k, v in avatar_keypoints(world_solver, unlifted).items()}),
                        truth_cv, align))
    actor.remove()
    del studio
    kalidokit_note = kalidokit.status()
    if kalidokit_note == "available" and baseline_frames:
        _score_kalidokit(table, baseline_frames)
        kalidokit_note = f"kalidokit {kalidokit.KALIDOKIT_VERSION} run on the same landmarks (arms, legs, spine)"
    summary = table.summary()
    ratios, ratios_kd = {}, {}
    for view in views:
        o = summary.get(f"ours@{view:g}")
        for other, out in (("mediapipe_world", ratios), ("kalidokit", ratios_kd)):
            m = summary.get(f"{other}@{view:g}")
            if o and m:
                out[f"{view:g}"] = {frame: {g: round(o[frame][g]["median_deg"] / max(m[frame][g]["median_deg"], 1e-9), 3)
                                            for g in m[frame]} for frame in o}
    mp_ms, ours_ms = np.median(times["mediapipe_ms"] or [0]), np.median(times["ours_ms"] or [0])
    result = {
        "benchmark": "retarget", "seed": seed, "poses": poses, "views_deg": list(views), "avatar": model.path.name,
        "avatar_note": avatar_note, "image_size": list(RENDER_SIZE),
        "detection_rate": {f"{v:g}": round(detected[v] / max(poses, 1), 3) for v in views},
        "errors": summary, "ratio_ours_to_mediapipe_median": ratios,
        "timing": {"mediapipe_process_median_ms": round(float(mp_ms), 2), "ours_median_ms": round(float(ours_ms), 2),
                   "pipeline_over_mediapipe": round(float((mp_ms + ours_ms) / max(mp_ms, 1e-9)), 3)},
        "kalidokit": kalidokit_note, "ratio_ours_to_kalidokit_median": ratios_kd,
        "lifter": _lifter_note(solver),
        "load_avg_before": load_before, "load_avg_after": _load(),
    }
    result["table"] = _table(result)
    return result


def _lifter_note(solver: Solver) -> dict:
    """Which learned lifter "ours" used, and how it was made (its training note)."""
    if solver.lifter is None:
        return {"used": False, "note": "no learned lifter: the depth prior is MediaPipe's world landmarks"}
    return {"used": True, "weights": solver.lifter.path.name, "parameters": solver.lifter.parameters,
            "training": solver.lifter.note,
            "rows": "ours: with the lifter; ours_geometry: the same solver with MediaPipe's world landmarks as "
                    "the depth prior; ours_unlifted: no 2D lifting at all"}


def _load() -> list[float]:
    """1, 5 and 15 minute load averages (timings on a shared machine are only comparable within a run)."""
    return [round(x, 2) for x in os.getloadavg()]


def _score_kalidokit(table: ErrorTable, frames: list) -> None:
    """Kalidokit's pose solver on the same landmarks, scored like ours (no head: its head comes from
    its face solver)."""
    rigs = kalidokit.solve([marks for _, marks, _ in frames])
    for (view, _, truth), rig in zip(frames, rigs):
        if rig is None:
            continue
        pts = kalidokit.player_points(rig)
        pts["mid_hip"] = (pts["left_hip"] + pts["right_hip"]) / 2
        pts["mid_shoulder"] = (pts["left_shoulder"] + pts["right_shoulder"]) / 2
        for align in (False, True):
            table.add(f"kalidokit@{view:g}", align, bone_errors(pts, truth, align, ("arms", "legs", "spine")))


def _panda_world(base, actor, solver: Solver, canon_point: np.ndarray) -> np.ndarray:
    """A point in the canonical avatar frame -> Panda world (through the rig's axes and the scene graph)."""
    from panda3d.core import Point3

    from ..render.avatar_actor import to_panda_points

    p = to_panda_points((solver.rest.body @ canon_point)[None])[0]
    return np.array(base.render.getRelativePoint(actor.character, Point3(*p)))


def _table(result: dict) -> str:
    rows = [f"{'method':<24}{'frame':<9}" + "".join(f"{g + ' med/p90':>18}" for g in ("arms", "legs", "spine", "head", "overall"))]
    for method, frames in result["errors"].items():
        for frame, groups in frames.items():
            rows.append(f"{method:<24}{frame:<9}" + "".join(
                f"{groups[g]['median_deg']:>10.1f}/{groups[g]['p90_deg']:<7.1f}" if g in groups else f"{'-':>18}"
                for g in ("arms", "legs", "spine", "head", "overall")))
    rows.append(f"detection rate {result['detection_rate']}  timing {result['timing']}")
    rows.append(f"kalidokit: {result['kalidokit']}")
    return "\n".join(rows)


PCK_THRESHOLD = 0.1  # of the torso size: the mean of the two shoulder-to-opposite-hip diagonals


def _torso_size(ref: dict) -> float:
    d = [np.hypot(ref[a]["x"] - ref[b]["x"], ref[a]["y"] - ref[b]["y"])
         for a, b in (("left_shoulder", "right_hip"), ("right_shoulder", "left_hip"))]
    return float(np.mean(d))


def run_keypoints(video: str, reference: str, fov_deg: float | None = None, frames: int | None = None,
                  progress: bool = True) -> dict:
    """Track a video, place the posed avatar on it and score its projected joints against a COCO-17
    reference file (a list, per frame, of {name: {"x": px, "y": px}}) with PCK@PCK_THRESHOLD."""
    import json
    from pathlib import Path

    from tqdm import tqdm

    from ..avatar.model import load_avatar
    from ..errors import WardrobeError
    from ..pose.sources import open_source
    from ..pose.tracker import PoseTracker
    from ..settings import load_scene, model_path
    from .keypoints import COCO17, avatar_keypoints, detector_keypoints, place_on_image, project
    from .pose_filter import PoseFilter

    try:
        ref = json.loads(Path(reference).read_text())
    except (OSError, ValueError) as exc:
        raise WardrobeError(f"cannot read the reference keypoints {reference} ({exc}): pass a JSON list of "
                            "per-frame {name: {x, y}} objects (COCO-17 names).") from None
    load_before = _load()
    scene = load_scene()
    fov = float(fov_deg if fov_deg is not None else scene.ar.camera_fov_deg)
    model = load_avatar(model_path(scene.avatar.path), scene.avatar.rig)
    model.solver.vertical_fov_deg = fov
    pose_filter = PoseFilter(model.solver)
    methods = ("ours", "ours_rig_joints", "mediapipe_2d")
    hits = {m: {n: [] for n in COCO17} for m in methods}
    errors = {m: {n: [] for n in COCO17} for m in methods}  # in torso sizes
    seen = found = 0
    with open_source(video, max_frames=frames) as source, PoseTracker(smooth_landmarks=False) as tracker:
        for frame in tqdm(source, desc="keypoints", unit="frame", disable=not progress):
            if frame.index >= len(ref):
                break
            marks = tracker.track(frame)
            pose = pose_filter.step(marks)
            truth = ref[frame.index]
            seen += 1
            if not marks.found or not all(n in truth for n in COCO17):
                continue
            points = {}
            for method, keypoints in (("ours", detector_keypoints), ("ours_rig_joints", avatar_keypoints)):
                cam = place_on_image(keypoints(model.solver, pose), marks, fov)
                if cam is not None:
                    points[method] = dict(zip(cam, project(np.array(list(cam.values())), marks.image_size, fov)))
            if "ours" not in points:
                continue
            found += 1
            points["mediapipe_2d"] = {n: marks.image[lm.INDEX[n], :2] * marks.image_size for n in COCO17}
            torso = _torso_size(truth)
            for method, named in points.items():
                for n in COCO17:
                    d = float(np.linalg.norm(named[n] - np.array([truth[n]["x"], truth[n]["y"]]))) / torso
                    hits[method][n].append(d <= PCK_THRESHOLD)
                    errors[method][n].append(d)
    if not seen:
        raise WardrobeError(f"{video} gave no frames to score against {reference}.")
    pck = {m: {"overall": round(float(np.mean([h for v in per.values() for h in v])) if found else 0.0, 4),
               **{n: round(float(np.mean(v)), 3) if v else None for n, v in per.items()}} for m, per in hits.items()}
    median_error = {m: {n: round(float(np.median(v)), 3) if v else None for n, v in per.items()}
                    for m, per in errors.items()}
    result = {"benchmark": "keypoints", "video": str(video), "reference": str(reference), "frames": seen,
              "scored_frames": found, "threshold": f"PCK@{PCK_THRESHOLD} of torso size (mean shoulder-hip diagonal)",
              "vertical_fov_deg": fov, "avatar": model.path.name,
              "methods": {"ours": "the posed avatar's keypoints where a detector marks them (detector_keypoints), "
                                  "placed on the image and projected",
                          "ours_rig_joints": "the same pose, scored at the rig's own joints (avatar_keypoints)",
                          "mediapipe_2d": "MediaPipe's own 2D landmarks"},
              "pck": pck, "median_error_torso_sizes": median_error,
              "load_avg_before": load_before, "load_avg_after": _load()}
    rows = [f"{'keypoint':<16}" + "".join(f"{m:>18}" for m in methods)]
    for n in ("overall", *COCO17):
        rows.append(f"{n:<16}" + "".join(f"{pck[m][n] if pck[m][n] is not None else '-':>18}" for m in methods))
    result["table"] = "\n".join(rows)
    return result
