"""Batch benchmark: one small catalog run with 1 worker, then 2, in the same run; throughput ratio."""
from __future__ import annotations

import os
import platform
import shutil
import statistics
import tempfile
from pathlib import Path

from ..errors import WardrobeError
from ..garments.garment import SIZES
from ..settings import MODELS_DIR
from .scheduler import run_batch

GARMENT_TYPES = ("tshirt", "trousers", "skirt", "longsleeve")
BODY = "female_165_58"
MOTION = "pose_1"
TURNTABLE_VIEWS = 4
SIZE_PX = (240, 320)
TARGET_RATIO = 1.7   # 2 workers vs 1 on 2 cores
MAX_TASKS = len(GARMENT_TYPES) * len(SIZES)


def catalog_text(tasks: int, frames: int) -> str:
    """A catalog of `tasks` garment sizes on one body and motion (all bundled files)."""
    picks: dict[str, list[str]] = {}
    for i in range(tasks):
        picks.setdefault(GARMENT_TYPES[i // len(SIZES)], []).append(SIZES[i % len(SIZES)])
    lines = ["[outputs]", f"clip_frames = {frames}", f"turntable_views = {TURNTABLE_VIEWS}",
             f"width = {SIZE_PX[0]}", f"height = {SIZE_PX[1]}", ""]
    for kind, sizes in picks.items():
        lines += ["[[garments]]", f'name = "{kind}"', f'file = "{MODELS_DIR / "garments"}/{kind}_{{size}}.glb"',
                  "sizes = [" + ", ".join(f'"{s}"' for s in sizes) + "]", ""]
    lines += ["[[bodies]]", f'preset = "{BODY}"', "", "[[motions]]", f'preset = "{MOTION}"', ""]
    return "\n".join(lines)


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run(tasks: int = 6, frames: int = 24, workers: str = "1,2", backend: str = "auto", keep: str | None = None,
        repeat: int = 1, progress: bool = True) -> dict:
    """Run the catalog once per worker count (fresh output folders, nothing resumed); returns the JSON dict."""
    try:
        counts = [int(w) for w in str(workers).split(",") if w.strip()]
    except ValueError:
        raise WardrobeError(f"--workers takes comma-separated counts such as 1,2, not {workers!r}.") from None
    if len(counts) < 2 or min(counts) < 1:
        raise WardrobeError("--workers needs at least two counts of 1 or more, e.g. 1,2.")
    if not 1 <= tasks <= MAX_TASKS or frames < 1:
        raise WardrobeError(f"--tasks must be 1..{MAX_TASKS} and --frames at least 1.")
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="aw_bench_batch_"))
    root.mkdir(parents=True, exist_ok=True)
    catalog = root / "bench_catalog.toml"
    catalog.write_text(catalog_text(tasks, frames))
    runs = []
    try:
        for r in range(repeat):
            for n in counts:
                out = root / f"run{r}_w{n}"
                shutil.rmtree(out, ignore_errors=True)
                before = _load()
                result = run_batch(catalog, out, workers=n, backend=backend, progress=progress)
                if result["failed"]:
                    raise WardrobeError(f"benchmark tasks failed ({result['failed']} of {result['tasks']}): see "
                                        f"{result['summary_csv']}.")
                import json

                rows = json.loads(Path(result["summary_json"]).read_text())["tasks"]
                seconds, cpu = [t["seconds"] for t in rows], [t["cpu_s"] for t in rows]
                runs.append({"repeat": r, "workers": n, "backend": result["backend"], "tasks": result["tasks"],
                             "wall_s": result["wall_s"], "startup_s": result["startup_s"],
                             "tasks_per_min": round(60 * result["tasks"] / result["wall_s"], 3),
                             "task_s_median": round(statistics.median(seconds), 3),
                             "task_cpu_s_median": round(statistics.median(cpu), 3),
                             "load_before": before, "load_after": _load()})
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    base, top = min(counts), max(counts)
    ratios = []
    for r in range(repeat):
        one = next(x for x in runs if x["repeat"] == r and x["workers"] == base)
        many = next(x for x in runs if x["repeat"] == r and x["workers"] == top)
        ratios.append(round(many["tasks_per_min"] / one["tasks_per_min"], 3))
    ratio = round(statistics.median(ratios), 3)
    cpu_base = round(statistics.median(x["task_cpu_s_median"] for x in runs if x["workers"] == base), 3)
    cpu_top = round(statistics.median(x["task_cpu_s_median"] for x in runs if x["workers"] == top), 3)
    table = "\n".join([f"{'workers':>8}{'backend':>8}{'tasks':>7}{'wall s':>9}{'tasks/min':>11}{'task s':>8}"
                       f"{'cpu s':>7}{'start s':>9}  load"] +
                      [f"{x['workers']:>8}{x['backend']:>8}{x['tasks']:>7}{x['wall_s']:>9.1f}"
                       f"{x['tasks_per_min']:>11.2f}"
                       f"{x['task_s_median']:>8.1f}{x['task_cpu_s_median']:>7.1f}{x['startup_s']:>9.1f}  "
                       f"{x['load_before']}" for x in runs] +
                      [f"throughput ratio {top} vs {base} workers: {ratio:.2f} (target >= {TARGET_RATIO})"])
    return {"benchmark": "batch", "catalog": {"tasks": tasks, "clip_frames": frames, "turntable_views": TURNTABLE_VIEWS,
                                              "size": list(SIZE_PX), "body": BODY, "motion": MOTION},
            "runs": runs, "throughput_ratio": ratio, "ratios": ratios,
            "cpu_s_per_task": {str(base): cpu_base, str(top): cpu_top},
            "target": {"throughput_ratio": TARGET_RATIO}, "met": ratio >= TARGET_RATIO,
            "machine": {"cpus": os.cpu_count(), "load_average": _load(), "python": platform.python_version(),
                        "processor": platform.processor() or platform.machine()},
            "note": "wall_s: first task submitted to last result (Ray start-up is startup_s, not included); "
                    "each task is a fresh process limited to one thread; cpu_s: CPU seconds of a task's "
                    "processes (equal across runs = the tasks do not slow each other beyond sharing the CPUs). "
                    "On a machine shared with other work the ratio also reflects the bigger CPU share that more "
                    "processes get: compare load_before",
            "table": table}
