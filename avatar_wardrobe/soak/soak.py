"""`avatar-wardrobe soak`: shipped garments simulated together under random motion; resets, explosions, RSS."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..avatar.model import load_avatar
from ..avatar.proxies import BodyProxies
from ..cloth.bench import BodySurface, motion_poses, random_motion
from ..cloth.simulator import GarmentSim
from ..errors import WardrobeError
from ..garments.fitting import fitted_for
from ..garments.garment_io import load_garment
from ..settings import AvatarSettings, model_path

DEFAULT_GARMENTS = ("tshirt_M", "skirt_M")
FRAMES_BUFFERED = 36_000       # random motion frames generated lazily; wraps after 20 min at 30 fps
MEASURE_EVERY = 15             # penetration is measured on every n-th frame (it costs more than the cloth)
MEMORY_SAMPLES = 40            # RSS samples over the run
WARMUP_SHARE = 0.1             # memory growth is measured from the first sample after this share of the run
EXPLOSION_M = 1.0              # an output vertex this far from its skinned place is an explosion the sim missed
TARGETS = {"explosions": 0, "memory_growth_pct": 5.0}


def rss_mib() -> float:
    """Resident memory of this process (VmRSS from /proc/self/status), MiB; 0 where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _garment_path(name: str) -> Path:
    path = model_path(name if name.endswith((".glb", ".gltf")) else f"garments/{name}.glb")
    if not path.is_file():
        raise WardrobeError(f"garment '{name}' not found ({path}); name a shipped garment such as tshirt_M "
                            "(see models/garments/catalog.json) or give a .glb path.")
    return path


def run(minutes: float, garments=DEFAULT_GARMENTS, avatar: str | None = None, seed: int = 7) -> dict:
    """Run the soak for `minutes` of wall time; the JSON-ready report with a "table" entry."""
    if minutes <= 0:
        raise WardrobeError("--minutes must be more than 0, e.g. --minutes 10.")
    model = load_avatar(model_path(avatar or AvatarSettings().path))
    loaded = [load_garment(_garment_path(g)) for g in garments]
    slots = [g.meta.slot for g in loaded]
    if len(set(slots)) < len(slots):
        raise WardrobeError(f"two of the garments share a slot ({', '.join(slots)}); the wardrobe wears one per slot.")
    base, fps = motion_poses(model)
    proxies, body = BodyProxies.for_avatar(model), BodySurface(model)
    sims = [GarmentSim(fitted_for(g, model), model, g.meta.fabric, proxies=proxies) for g in loaded]
    stats = {name: {"resets": 0, "faults": {}, "explosions": 0, "inside_depth_max_cm": 0.0} for name in garments}
    memory, frames, frame_ms = [], 0, []
    start = time.perf_counter()
    end = start + minutes * 60
    sample_every = minutes * 60 / MEMORY_SAMPLES
    next_sample = start
    try:
        for sim, pose in zip(sims, base[:1]):
            sim.reset(pose)
        while time.perf_counter() < end:
            for pose in random_motion(model, base, FRAMES_BUFFERED, fps, seed=seed + frames):
                t0 = time.perf_counter()
                if t0 >= end:
                    break
                measure = frames % MEASURE_EVERY == 0
                if measure:
                    body.pose(pose)
                for name, sim in zip(garments, sims):
                    state = sim.step(pose)
                    s = stats[name]
                    s["resets"] = state.resets
                    if state.fault:
                        s["faults"][state.fault] = s["faults"].get(state.fault, 0) + 1
                    off = np.linalg.norm(state.positions - sim.skinned(pose).positions, axis=1) \
                        if measure or not np.isfinite(state.positions).all() else np.zeros(1)
                    if not np.isfinite(off).all() or off.max() > EXPLOSION_M:
                        s["explosions"] += 1
                    elif measure:
                        dist, fold = body.classify(state.positions)
                        clean = dist[~fold]
                        depth = max(0.0, -float(clean.min())) if len(clean) else 0.0
                        s["inside_depth_max_cm"] = max(s["inside_depth_max_cm"], round(100 * depth, 3))
                frames += 1
                t1 = time.perf_counter()
                frame_ms.append((t1 - t0) * 1e3)
                if t1 >= next_sample:
                    memory.append({"s": round(t1 - start, 1), "rss_mib": round(rss_mib(), 1)})
                    next_sample = t1 + sample_every
        memory.append({"s": round(time.perf_counter() - start, 1), "rss_mib": round(rss_mib(), 1)})
    finally:
        for sim in sims:
            sim.close()
    return _report(minutes, garments, model.path.name, frames, frame_ms, stats, memory)


def _report(minutes, garments, avatar, frames, frame_ms, stats, memory) -> dict:
    warm_at = memory[-1]["s"] * WARMUP_SHARE
    warm = next((m for m in memory if m["s"] >= warm_at), memory[0])
    growth = 100 * (memory[-1]["rss_mib"] - warm["rss_mib"]) / max(warm["rss_mib"], 1e-9)
    out = {
        "soak": "wardrobe", "minutes": minutes, "avatar": avatar, "garments": list(garments), "frames": frames,
        "ms_per_frame_median": round(float(np.median(frame_ms)), 2) if frame_ms else None,
        "resets": sum(s["resets"] for s in stats.values()),
        "explosions": sum(s["explosions"] for s in stats.values()),
        "inside_depth_max_cm": max(s["inside_depth_max_cm"] for s in stats.values()),
        "per_garment": stats,
        "memory": {"rss_mib_start": memory[0]["rss_mib"], "rss_mib_after_warmup": warm["rss_mib"],
                   "rss_mib_end": memory[-1]["rss_mib"], "growth_pct": round(growth, 2), "samples": memory},
    }
    out["targets"] = {"explosions": [out["explosions"], out["explosions"] <= TARGETS["explosions"]],
                      "memory_growth_pct": [out["memory"]["growth_pct"],
                                            out["memory"]["growth_pct"] < TARGETS["memory_growth_pct"]]}
    out["table"] = (f"soak {minutes} min, {', '.join(garments)} on {avatar}: {frames} frames, "
                    f"{out['ms_per_frame_median']} ms/frame median\n"
                    f"  resets {out['resets']}, explosions {out['explosions']}, worst penetration "
                    f"{out['inside_depth_max_cm']} cm (outside body folds)\n"
                    f"  RSS {out['memory']['rss_mib_after_warmup']} -> {out['memory']['rss_mib_end']} MiB "
                    f"({out['memory']['growth_pct']:+.2f}% after warm-up)")
    return out
