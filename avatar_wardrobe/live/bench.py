"""`bench live`: the two-process loop against a serial single-process loop on the same paced video, same run."""
from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os

from ..errors import WardrobeError
from .loop import BENCH_OUTFIT, DEFAULT_CLOTH_VERTICES, LiveOptions, summary
from .worker import START_METHOD

BENCH_SECONDS = 20.0
STAGE_COST_FRAMES = 90        # consecutive clip frames, unpaced, for per-frame stage costs
BENCH_MSAA = 0
CHILD_TIMEOUT_S = 600.0
TARGET_FPS = 30.0
TARGET_FPS_REFINED = 24.0
TARGET_LATENCY_MS = 60.0


def _child(mode: str, opts: LiveOptions, results) -> None:
    """One measured run in a fresh process (its own Panda3D, llvmpipe thread count and memory)."""
    from .loop import run_live, run_serial

    try:
        result = (run_live if mode.startswith("two-process") else run_serial)(opts)
        results.put(summary(result))
    except Exception as exc:  # report it to the parent rather than hang it
        results.put({"mode": mode, "error": f"{type(exc).__name__}: {exc}"})


def measure(mode: str, opts: LiveOptions) -> dict:
    ctx = mp.get_context(START_METHOD)
    results = ctx.Queue()
    proc = ctx.Process(target=_child, args=(mode, opts, results), name=f"bench-live-{mode}")
    proc.start()
    try:
        out = results.get(timeout=CHILD_TIMEOUT_S)
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.terminate()
            proc.join()
    if "error" in out:
        raise WardrobeError(f"bench live ({mode}) failed: {out['error']}")
    return out


def run(video: str, seconds: float = BENCH_SECONDS, refine: str = "off", cloth_vertices: int = DEFAULT_CLOTH_VERTICES,
        lp_threads: int | None = None, torch_threads: int | None = None, serial: bool = True,
        pbr: bool = False, just_in_time: bool = True, unpipelined: bool = False, cloth_lag: bool = True,
        cloth_process: bool = True) -> dict:
    """Both loops on `video` (paced at its fps, looped) for `seconds` each; table + JSON-ready dict.
    unpipelined: also the two-process loop with the scene's stages one after another (no helper thread)."""
    if not os.path.isfile(video):
        raise WardrobeError(f"no video at {video}: pass --video with a clip (e.g. ../shared/testdata/video/pose_1.mp4).")
    opts = LiveOptions(source=video, seconds=seconds, refine=refine, cloth_vertices=cloth_vertices,
                       outfit=BENCH_OUTFIT, msaa=BENCH_MSAA, pbr=pbr, just_in_time=just_in_time, cloth_lag=cloth_lag,
                       cloth_process=cloth_process)
    if lp_threads is not None:
        opts = dataclasses.replace(opts, lp_threads=lp_threads)
    if torch_threads is not None:
        opts = dataclasses.replace(opts, torch_threads=torch_threads)
    load_before = os.getloadavg()
    runs = {"two_process": measure("two-process", opts)}
    if unpipelined:
        runs["two_process_unpipelined"] = measure("two-process-unpipelined", dataclasses.replace(opts, pipelined=False))
    # The serial loop: one process (its cloth too), both cores for llvmpipe.
    serial_opts = dataclasses.replace(opts, lp_threads=max(opts.lp_threads, 2), cloth_process=False)
    if serial:
        runs["serial"] = measure("serial", serial_opts)
    # Every frame in turn, none skipped: what each stage costs per frame of 30 fps motion, apart
    # from how many frames a loaded machine lets the paced loops show (fewer frames, bigger cloth steps).
    frame_opts = dataclasses.replace(serial_opts, paced=False, frames=STAGE_COST_FRAMES, seconds=None)
    runs["stage_costs"] = measure("serial", frame_opts)
    out = {"video": video, "seconds": seconds, "refine": refine, "cloth_vertices_budget": cloth_vertices,
           "lp_threads": {"two_process": opts.lp_threads, "serial": serial_opts.lp_threads},
           "torch_threads": opts.torch_threads, "msaa": BENCH_MSAA, "shading": "pbr" if pbr else "lite",
           "just_in_time_worker": just_in_time, "pipelined_scene": opts.pipelined, "cloth_lag": cloth_lag,
           "cloth_process": cloth_process,
           "cpus": os.cpu_count(),
           "load_avg_before": [round(x, 2) for x in load_before],
           "load_avg_after": [round(x, 2) for x in os.getloadavg()], **runs}
    if serial:
        a, b = runs["two_process"], runs["serial"]
        out["ratio_vs_serial"] = {
            "fps": round(a["fps"] / b["fps"], 2) if b["fps"] else None,
            "latency_median": round(a["latency_ms_median"] / b["latency_ms_median"], 2),
        }
    fps_target = TARGET_FPS if refine == "off" else TARGET_FPS_REFINED
    out["targets_met"] = {f"fps>={fps_target:g}": runs["two_process"]["fps"] >= fps_target,
                          f"fps_shown>={fps_target:g}": (runs["two_process"]["fps_shown"] or 0) >= fps_target,
                          "latency<=60ms": runs["two_process"]["latency_ms_median"] <= TARGET_LATENCY_MS,
                          f"fps_cpu_bound_estimate>={fps_target:g}":
                              (runs["two_process"]["fps_cpu_bound_estimate"] or 0) >= fps_target}
    out["table"] = table(runs)
    return out


def table(runs: dict) -> str:
    rows = [f"{'loop':<24}{'fps':>7}{'shown':>7}{'cpu-bound':>10}{'lat med':>9}{'lat p95':>9}{'dropped':>9}{'cpu/s':>14}"
            f"{'peak MB':>16}"]
    for name, r in runs.items():
        cpu = "+".join(f"{v:.2f}" for v in r["cpu_share"].values())
        rss = "+".join(f"{v:.0f}" for v in r["peak_rss_mb"].values())
        rows.append(f"{name:<24}{r['fps']:>7.2f}{r['fps_shown'] or float('nan'):>7.2f}"
                    f"{r['fps_cpu_bound_estimate'] or float('nan'):>10.1f}"
                    f"{r['latency_ms_median']:>9.1f}{r['latency_ms_p95']:>9.1f}{r['dropped']:>9}{cpu:>14}{rss:>16}")
    for key, title in (("stages_ms_median", "stage ms (median)"), ("stages_cpu_ms_median", "CPU ms (median)")):
        stages = sorted({s for r in runs.values() for s in r[key]})
        rows.append("")
        rows.append(f"{title:<20}" + "".join(f"{n[:24]:>25}" for n in runs))
        for s in stages:
            rows.append(f"{s:<20}" + "".join(f"{r[key].get(s, float('nan')):>25.2f}" for r in runs.values()))
    return "\n".join(rows)
