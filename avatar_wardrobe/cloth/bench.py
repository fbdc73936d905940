"""Cloth benchmark: speed, poke-through, stretch, drift, resets per sim size; deformable baseline; random soak."""
from __future__ import annotations

import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree
from tqdm import tqdm

from ..avatar.model import AvatarModel, load_avatar
from ..avatar.proxies import BodyProxies
from ..errors import WardrobeError
from ..records import Pose
from ..settings import AvatarSettings, MotionSettings, model_path
from . import procedural, reference
from .bullet import DEFORMABLE_TIME_STEP
from ..mesh_topology import unique_edges
from .fabrics import fabric as fabric_preset
from .random_motion import random_motion
from .simulator import ClothSettings, GarmentSim
from .skin import SparseSkin

DEFAULT_VERTICES = (500, 1000, 2000)
GARMENTS = {"shirt": procedural.make_shirt, "skirt": procedural.make_skirt}
DEFAULT_GARMENTS = ("shirt", "skirt")
BASELINE_FRAMES = 15          # frames of the motion the deformable world runs (it is slow)
BASELINE_SETTLE_STEPS = 8
MEASURE_EVERY = 2             # poke-through is measured on every n-th frame (it costs more than the cloth)
SOAK_MEASURE_EVERY = 15
SOAK_SIZE = 1000
TARGETS = {"speedup_vs_deformable": 10.0, "max_depth_cm": 1.0, "ms_per_frame_1k": 5.0, "inside_share": 0.005,
           "stretch_p99": 1.10, "explosions": 0}
TARGET_SIZE = 1000            # the size the per-frame time target applies to


# -- the body surface, for "inside" -----------------------------------------------------------------
class BodySurface:
    """The posed body mesh for poke-through tests: signed distance by the nearest body vertex and
    its normal, and which body vertices lie inside another body part (folds: an arm pressed into
    the trunk by skinning, where no cloth can be outside every part)."""

    def __init__(self, avatar: AvatarModel):
        self.avatar = avatar
        body, sk = avatar.body, avatar.skeleton
        self.skin = SparseSkin(body.joints, body.weights, len(sk), body.positions, body.normals)
        self.inv_bind = np.linalg.inv(sk.bind_world)
        rig = avatar.rig
        trunk = {sk.index(n) for n in (rig.hips, *rig.spine)}
        part = np.full(len(sk), -1)
        for j in range(len(sk)):
            p = sk.parents[j]
            if j in trunk or p < 0:
                part[j] = 0
            elif p in trunk:
                part[j] = j  # a limb (or the neck) starts here
            else:
                part[j] = part[p]
        dominant = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]
        labels = part[dominant]
        self.groups = [np.flatnonzero(labels == g) for g in np.unique(labels)]

    def pose(self, pose: Pose) -> None:
        skin = self.avatar.skeleton.forward(pose.local_rotations, pose.root_offset) @ self.inv_bind
        self.points, self.normals = self.skin.positions_normals(skin)
        self.tree = cKDTree(self.points)
        self.folded = np.zeros(len(self.points), bool)
        trees = [cKDTree(self.points[g]) for g in self.groups]
        for a, ga in enumerate(self.groups):
            for b, gb in enumerate(self.groups):
                if a == b:
                    continue
                _, idx = trees[b].query(self.points[ga])
                near = gb[idx]
                d = np.einsum("vi,vi->v", self.points[ga] - self.points[near], self.normals[near])
                self.folded[ga] |= d < 0

    def classify(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(signed distance (V,) metres, in_fold (V,) bool) of points against the posed body."""
        _, idx = self.tree.query(points)
        d = np.einsum("vi,vi->v", points - self.points[idx], self.normals[idx])
        return d, self.folded[idx] & (d < 0)


# -- motions ----------------------------------------------------------------------------------------------
def motion_poses(avatar: AvatarModel, path: str | Path | None = None, seconds: float | None = None):
    """Solve a landmark recording for the avatar: (poses, fps). `seconds` loops or cuts it."""
    from ..pose.recording import read_motion

    path = model_path(path or MotionSettings().path)
    motion = read_motion(path)
    fps = motion.fps or 30.0
    poses, last = [], None
    for marks in motion.frames:
        if marks.found or last is None:
            last = avatar.solver.solve(marks)
        poses.append(last)
    if not poses:
        raise WardrobeError(f"{path} holds no frames to benchmark with.")
    if seconds:
        want = max(1, int(round(seconds * fps)))
        poses = [poses[i % len(poses)] for i in range(want)]
    return poses, fps


# -- one garment at one size ------------------------------------------------------------------------------
def _run(garment, avatar, poses, settings: ClothSettings, body: BodySurface, proxies, measure_every: int,
         progress: bool, label: str) -> dict:
    timings, cpu, physics, steps, substeps, stages = [], [], [], 0, [], {}
    inside_all, inside_nofold, depth_all, depth_nofold, stretch, render_stretch, drift = [], [], [], [], [], [], []
    edges = unique_edges(garment.faces)
    rest = np.asarray(garment.positions, np.float64)  # float32 files: no underflow in the norms
    rest_len = np.linalg.norm(rest[edges[:, 0]] - rest[edges[:, 1]], axis=1)
    with GarmentSim(garment, avatar, settings=settings, proxies=proxies) as sim:
        sim.reset(poses[0])
        for i, pose in enumerate(tqdm(poses[1:], desc=label, unit="frame", disable=not progress, leave=False)):
            s0 = sim.world.steps if sim.world else 0
            c0, t0 = time.thread_time(), time.perf_counter()
            state = sim.step(pose)
            t1, c1 = time.perf_counter(), time.thread_time()
            n = (sim.world.steps - s0) if not state.fault else 0
            timings.append((t1 - t0) * 1e3)
            cpu.append((c1 - c0) * 1e3)
            if n > 0:
                physics.append(state.timings_ms.get("physics", 0.0))
                for k, v in state.timings_ms.items():
                    stages.setdefault(k, []).append(v)
                steps += n
                substeps.append(n)
            stretch.append(state.stretch_p99)
            drift.append(state.anchor_drift_m)
            d = state.positions[edges[:, 0]] - state.positions[edges[:, 1]]
            render_stretch.append(float(np.percentile(np.sqrt(np.einsum("ei,ei->e", d, d)) / rest_len, 99)))
            if i % measure_every == 0:
                body.pose(pose)
                dist, fold = body.classify(state.positions)
                inside = dist < 0
                inside_all.append(inside.mean())
                inside_nofold.append((inside & ~fold).mean())
                depth_all.append(max(0.0, -dist.min()))
                clean = dist[~fold]
                depth_nofold.append(max(0.0, -clean.min()) if len(clean) else 0.0)
        result = {
            "sim_vertices": len(sim.sim.positions), "bullet_nodes": len(sim.bullet_nodes),
            "render_vertices": garment.vertex_count,
            "proxies": len(sim.proxy_index), "pinned_nodes": len(sim.pinned), "frames": len(poses) - 1,
            "ms_per_frame_median": _r(np.median(timings)), "ms_per_frame_p95": _r(np.percentile(timings, 95)),
            "cpu_ms_per_frame_median": _r(np.median(cpu)),
            "physics_ms_per_frame_median": _r(np.median(physics)) if physics else None,
            "stage_ms_median": {k: _r(np.median(v)) for k, v in stages.items()},
            "steps_per_second": _r(steps / max(sum(physics) / 1e3, 1e-9)) if physics else None,
            "substeps_per_frame_mean": _r(np.mean(substeps)) if substeps else None,
            "inside_share_max": _r(max(inside_all), 5), "inside_share_mean": _r(np.mean(inside_all), 5),
            "inside_depth_max_cm": _r(100 * max(depth_all)),
            "inside_share_max_outside_folds": _r(max(inside_nofold), 5),
            "inside_share_mean_outside_folds": _r(np.mean(inside_nofold), 5),
            "inside_depth_max_cm_outside_folds": _r(100 * max(depth_nofold)),
            "stretch_p99_max": _r(max(stretch), 4), "stretch_p99_median": _r(np.median(stretch), 4),
            "render_stretch_p99_max": _r(max(render_stretch), 4),
            "anchor_drift_max_cm": _r(100 * max(drift)), "anchor_drift_median_cm": _r(100 * np.median(drift)),
            "resets": sim.resets, "faults": dict(sim.faults), "jumps": sim.jumps,
        }
    return result


def _r(x, digits: int = 3):
    return None if x is None else round(float(x), digits)


def _machine() -> dict:
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {"cpus": os.cpu_count(), "load_average": load, "python": platform.python_version(),
            "processor": platform.processor() or platform.machine()}


def run(vertices=DEFAULT_VERTICES, seconds: float | None = None, motion: str | None = None, soak_minutes: float = 0.0,
        garments=DEFAULT_GARMENTS, avatar: str | None = None, baseline_frames: int = BASELINE_FRAMES,
        progress: bool = True) -> dict:
    """Run the benchmark; returns the JSON-ready dict with a "table" entry."""
    unknown = [g for g in garments if g not in GARMENTS and not _shipped_path(g).exists()]
    if unknown:
        raise WardrobeError(f"unknown benchmark garment(s) {', '.join(unknown)}: use {', '.join(GARMENTS)} or a "
                            "shipped garment such as tshirt_M (models/garments/).")
    model = load_avatar(model_path(avatar or AvatarSettings().path))
    poses, fps = motion_poses(model, motion, seconds)
    proxies = BodyProxies.for_avatar(model)
    body = BodySurface(model)
    tube = reference.measure()  # the machine's speed now (DESIGN.md's prototype measure)
    results = []
    for name in garments:
        garment = _garment(name, model)
        for size in (vertices if name in GARMENTS else (None,)):  # a shipped garment has its own sim mesh
            settings = ClothSettings(sim_vertices=None if size is None else int(size))
            row = {"garment": name, "target_vertices": None if size is None else int(size)}
            row.update(_run(garment, model, poses, settings, body, proxies, MEASURE_EVERY, progress,
                            f"{name} {size}"))
            if baseline_frames and name == garments[0]:
                base = replace(settings, world="deformable", time_step_s=DEFORMABLE_TIME_STEP,
                               substeps=round(1 / fps / DEFORMABLE_TIME_STEP), max_substeps=0,
                               settle_steps=BASELINE_SETTLE_STEPS, enter_substeps=BASELINE_SETTLE_STEPS)
                b = _run(garment, model, poses[:baseline_frames + 1], base, body, proxies, 1, progress,
                         f"{name} {size} deformable")
                row["deformable"] = {k: b[k] for k in (
                    "ms_per_frame_median", "cpu_ms_per_frame_median", "steps_per_second", "substeps_per_frame_mean",
                    "inside_share_max", "inside_depth_max_cm", "stretch_p99_max", "resets", "frames")}
                row["speedup_steps_per_second"] = _r(row["steps_per_second"] / max(b["steps_per_second"], 1e-9), 1)
                row["speedup_per_frame"] = _r(b["ms_per_frame_median"] / max(row["ms_per_frame_median"], 1e-9), 1)
            row["ms_per_frame_vs_reference_tube"] = _r(row["ms_per_frame_median"] / tube["ms_per_frame_median"], 2)
            results.append(row)
    out = {"benchmark": "cloth", "avatar": model.path.name, "motion": str(model_path(motion or MotionSettings().path)),
           "frames": len(poses), "fps": fps, "machine": _machine(),
           "settings": _settings_summary(), "reference_tube": tube,
           "results": results}
    if soak_minutes:
        out["soak"] = soak(model, poses, fps, soak_minutes, garments, proxies, body, progress)
    out["targets"] = _check(out)
    out["table"] = _table(out)
    return out


def _shipped_path(name: str) -> Path:
    return model_path(f"garments/{name}.glb")


def _garment(name: str, model: AvatarModel):
    """A procedural garment by name, or a shipped one (models/garments/NAME.glb) fitted to the avatar."""
    if name in GARMENTS:
        return GARMENTS[name](model)
    from ..garments.fitting import fitted_for
    from ..garments.garment_io import load_garment

    return fitted_for(load_garment(_shipped_path(name)), model)


def soak(model, base_poses, fps, minutes, garments, proxies, body, progress=True) -> dict:
    """Random motion for `minutes` per garment at SOAK_SIZE nodes: explosions (resets) and NaN."""
    frames = max(2, int(minutes * 60 * fps))
    report = {"minutes": minutes, "frames": frames, "garments": {}}
    for name in garments:
        garment = _garment(name, model)
        poses = list(random_motion(model, base_poses, frames, fps))
        row = _run(garment, model, poses, ClothSettings(sim_vertices=SOAK_SIZE), body, proxies, SOAK_MEASURE_EVERY,
                   progress, f"soak {name}")
        report["garments"][name] = {k: row[k] for k in (
            "resets", "faults", "jumps", "ms_per_frame_median", "inside_share_max_outside_folds",
            "inside_depth_max_cm_outside_folds", "stretch_p99_max", "anchor_drift_max_cm")}
    return report


def _settings_summary() -> dict:
    s, f = ClothSettings(), fabric_preset(None)
    return {"world": s.world, "fabric": f.name, "time_step_s": round(f.time_step_s, 6), "substeps": f.substeps,
            "max_substeps": s.max_substeps, "max_proxy_step_m": s.max_proxy_step_m, "sdf_voxel_m": s.sdf_voxel_m,
            "margin_m": f.margin_m, "deformable_time_step_s": round(DEFORMABLE_TIME_STEP, 6)}


def _check(out: dict) -> dict:
    """Each target with the measured value and whether it holds (per garment at TARGET_SIZE)."""
    t = {}
    for row in out["results"]:
        if row["target_vertices"] != TARGET_SIZE:
            continue
        g = row["garment"]
        if "speedup_steps_per_second" in row:
            t[f"{g}.speedup_vs_deformable"] = [row["speedup_steps_per_second"],
                                               row["speedup_steps_per_second"] >= TARGETS["speedup_vs_deformable"]]
        ms = row["ms_per_frame_median"]
        t[f"{g}.ms_per_frame_1k"] = [ms, ms <= TARGETS["ms_per_frame_1k"]]
        t[f"{g}.cpu_ms_per_frame_1k"] = [row["cpu_ms_per_frame_median"],
                                         row["cpu_ms_per_frame_median"] <= TARGETS["ms_per_frame_1k"]]
        t[f"{g}.max_depth_cm"] = [row["inside_depth_max_cm_outside_folds"],
                                  row["inside_depth_max_cm_outside_folds"] <= TARGETS["max_depth_cm"]]
        t[f"{g}.inside_share"] = [row["inside_share_max_outside_folds"],
                                  row["inside_share_max_outside_folds"] <= TARGETS["inside_share"]]
        t[f"{g}.stretch_p99"] = [row["stretch_p99_max"], row["stretch_p99_max"] <= TARGETS["stretch_p99"]]
        t[f"{g}.explosions"] = [row["resets"], row["resets"] <= TARGETS["explosions"]]
    for g, s in out.get("soak", {}).get("garments", {}).items():
        t[f"{g}.soak_explosions"] = [s["resets"], s["resets"] <= TARGETS["explosions"]]
    return t


def _table(out: dict) -> str:
    head = (f"{'garment':<11}{'nodes':>6}{'pyb':>5}{'ms/fr':>7}{'cpu':>7}{'steps/s':>9}{'sub':>5}{'in%max':>8}{'in%fold':>8}"
            f"{'depth':>7}{'dep-f':>7}{'str99':>7}{'rstr99':>7}{'drift':>7}{'resets':>7}{'jumps':>6}{'deform/s':>9}"
            f"{'x':>6}")
    rows = [head]
    for r in out["results"]:
        d = r.get("deformable", {})
        rows.append(f"{r['garment']:<11}{r['sim_vertices']:>6}{r['bullet_nodes']:>5}{r['ms_per_frame_median']:>7.2f}"
                    f"{r['cpu_ms_per_frame_median']:>7.2f}{r['steps_per_second'] or 0:>9.0f}"
                    f"{r['substeps_per_frame_mean'] or 0:>5.1f}{100 * r['inside_share_max']:>8.2f}"
                    f"{100 * r['inside_share_max_outside_folds']:>8.2f}{r['inside_depth_max_cm']:>7.2f}"
                    f"{r['inside_depth_max_cm_outside_folds']:>7.2f}{r['stretch_p99_max']:>7.3f}"
                    f"{r['render_stretch_p99_max']:>7.3f}{r['anchor_drift_max_cm']:>7.2f}"
                    f"{r['resets']:>7}{r['jumps']:>6}"
                    f"{d.get('steps_per_second') or 0:>9.0f}{r.get('speedup_steps_per_second') or 0:>6.1f}")
    rows.append("nodes: sim mesh; pyb: nodes PyBullet simulates (the rest are skinned); "
                "in%max: share of render vertices inside the body (worst frame); in%fold: the same outside skin folds; "
                "depth/dep-f: cm; str99: sim edge stretch p99 (worst frame); rstr99: render mesh; drift: anchor cm; "
                "x: steps/s over the deformable world's")
    tube = out.get("reference_tube")
    if tube:
        rows.append(f"reference: DESIGN.md's bare {tube['nodes']}-node tube, this run: {tube['ms_per_frame_median']} ms/frame "
                    f"(DESIGN.md: {tube['design_md_ms']} ms); each row's ms/frame over it: "
                    + ", ".join(f"{r['garment']} {r['sim_vertices']} {r['ms_per_frame_vs_reference_tube']}x"
                                for r in out["results"]))
    for name, (value, ok) in out["targets"].items():
        rows.append(f"  target {name:<32} {value!s:>10}  {'ok' if ok else 'MISSED'}")
    if "soak" in out:
        for g, s in out["soak"]["garments"].items():
            rows.append(f"  soak {out['soak']['minutes']} min {g}: resets {s['resets']}, jumps {s['jumps']}, "
                        f"{s['ms_per_frame_median']} ms/frame")
    return "\n".join(rows)
