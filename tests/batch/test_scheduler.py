"""Real batch runs (Panda3D offscreen, PyBullet cloth, real garment files): failure isolation, outputs,
resume, the summary, the local-pool fallback and the Ray path."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import pytest

from avatar_wardrobe.batch import store
from avatar_wardrobe.batch.catalog import load_catalog
from avatar_wardrobe.batch.isolate import TEMP_PREFIX
from avatar_wardrobe.batch.scheduler import RAY_TEMP_PREFIX, run_batch
from avatar_wardrobe.cloth.fit import REGIONS
from avatar_wardrobe.record.video import read_video
from avatar_wardrobe.settings import MODELS_DIR

from .conftest import CORRUPT_BYTES, TINY_OUTPUTS, write_catalog

GOOD = ("tshirt", "garments/tshirt_{size}.glb", ["S"])


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory):
    """One good garment and one deliberately corrupt copy of a real .glb, on the local pool, 2 workers."""
    folder = tmp_path_factory.mktemp("broken")
    (folder / "broken_M.glb").write_bytes((MODELS_DIR / "garments" / "tshirt_M.glb").read_bytes()[:CORRUPT_BYTES])
    catalog = write_catalog(folder, [GOOD, ("broken", "broken_{size}.glb", ["M"])])
    tmp_root = folder / "tmp"
    tmp_root.mkdir()
    result = run_batch(catalog, folder / "out", workers=2, backend="local", progress=False, tmp_root=str(tmp_root))
    return catalog, folder / "out", tmp_root, result


def test_broken_garment_fails_alone(broken_run):
    catalog, out, _, result = broken_run
    assert (result["tasks"], result["ok"], result["failed"]) == (2, 1, 1)
    rows = {r["garment"]: r for r in json.loads((out / "summary.json").read_text())["tasks"]}
    assert rows["tshirt"]["status"] == "ok" and rows["tshirt"]["error"] == ""
    assert rows["broken"]["status"] == "failed"
    assert "broken_M.glb" in rows["broken"]["error"] and "truncated" in rows["broken"]["error"]
    assert rows["broken"]["recommended_size"] == ""  # no fit from a garment that did not load


def test_outputs_are_real_and_complete(broken_run):
    catalog, out, _, _ = broken_run
    spec = next(s for s in load_catalog(catalog).tasks() if s.garment == "tshirt")
    folder = store.task_dir(out, spec)
    record = json.loads((folder / "record.json").read_text())
    assert set(record["outputs"]) == {"thumb.jpg", "turntable.mp4", "clip.mp4", "fit.json", "contact_sheet.jpg"}
    clip = read_video(folder / "clip.mp4")
    assert len(clip) == 4 and clip[0].shape == (96, 64, 3)
    assert len(read_video(folder / "turntable.mp4")) == 2
    assert clip[-1].std() > 5  # a rendered scene, not a blank frame
    sheet = cv2.imread(str(folder / "contact_sheet.jpg"))
    assert sheet is not None and sheet.shape[1] > sheet.shape[0]
    fit = json.loads((folder / "fit.json").read_text())
    assert set(fit["strain"]) == set(REGIONS) and fit["worst"] >= 1.0
    assert record["fit"] == fit and record["key"] == spec.key() and record["cpu_s"] > 0
    assert not list(folder.glob("*.part"))


def test_temp_dirs_are_removed(broken_run):
    _, _, tmp_root, _ = broken_run
    assert not [p for p in tmp_root.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_summary_covers_every_combination(broken_run):
    catalog, out, _, _ = broken_run
    ids = [t.id for t in load_catalog(catalog).tasks()]
    with open(out / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ids
    assert {r["status"] for r in rows} == {"ok", "failed"}
    good = next(r for r in rows if r["status"] == "ok")
    assert float(good["seconds"]) > 0 and float(good["worst_strain"]) >= 1.0 and good["recommended_size"] == "S"
    assert [r["id"] for r in json.loads((out / "summary.json").read_text())["tasks"]] == ids
    assert cv2.imread(str(out / "catalog_sheet.jpg")) is not None


def test_resume_skips_complete_tasks_and_reruns_the_rest(broken_run):
    catalog, out, tmp_root, _ = broken_run
    good = next(s for s in load_catalog(catalog).tasks() if s.garment == "tshirt")
    record = store.task_dir(out, good) / "record.json"
    stamp = record.stat().st_mtime_ns
    again = run_batch(catalog, out, workers=2, backend="local", progress=False, tmp_root=str(tmp_root))
    assert (again["ran"], again["skipped"], again["failed"]) == (1, 1, 1)  # only the failed task runs again
    assert record.stat().st_mtime_ns == stamp
    # An output that went missing makes its task incomplete: it runs again.
    (store.task_dir(out, good) / "clip.mp4").unlink()
    assert store.complete(out, good) is None
    third = run_batch(catalog, out, workers=2, backend="local", progress=False, tmp_root=str(tmp_root))
    assert third["ran"] == 2 and store.complete(out, good) is not None


def test_without_ray_the_local_pool_runs_and_says_so(tmp_path):
    catalog = write_catalog(tmp_path, [GOOD])
    # Ray made unimportable in a child interpreter, as on an install without the batch extra.
    code = ("import sys; sys.modules['ray'] = None\n"
            "from avatar_wardrobe.cli import main\n"
            f"sys.exit(main(['batch', {str(catalog)!r}, '--out', {str(tmp_path / 'out')!r}, '--workers', '1', "
            "'--quiet', '--json']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Ray is not installed, so tasks run on a local pool of 1 process" in proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (result["backend"], result["ok"], result["failed"]) == ("local", 1, 0)


def test_ray_path(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (the batch extra)")
    catalog = write_catalog(tmp_path, [("tshirt", "garments/tshirt_{size}.glb", ["S", "M"])])
    ray_dirs = set(Path(tempfile.gettempdir()).glob(RAY_TEMP_PREFIX + "*"))
    result = run_batch(catalog, tmp_path / "out", workers=2, backend="ray", progress=False)
    assert set(Path(tempfile.gettempdir()).glob(RAY_TEMP_PREFIX + "*")) <= ray_dirs  # Ray's session files removed
    assert (result["backend"], result["workers"], result["ok"], result["failed"]) == ("ray", 2, 2, 0)
    rows = json.loads((tmp_path / "out" / "summary.json").read_text())["tasks"]
    assert {r["recommended_size"] for r in rows} <= {"S", "M"} and len(rows) == 2


def test_bad_options_are_user_errors(tmp_path):
    from avatar_wardrobe.errors import WardrobeError

    catalog = write_catalog(tmp_path, [GOOD])
    with pytest.raises(WardrobeError, match="workers"):
        run_batch(catalog, tmp_path / "out", workers=0, backend="local")
    with pytest.raises(WardrobeError, match="--address"):
        run_batch(catalog, tmp_path / "out", address="auto", backend="local")
    with pytest.raises(WardrobeError, match="unknown backend"):
        run_batch(catalog, tmp_path / "out", backend="spark")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stopping_a_run_leaves_no_task_processes_or_temp_dirs(tmp_path, signum):
    name = f"stop{signum}x{os.getpid()}"  # in every task process's command line
    catalog = write_catalog(tmp_path, [(name, "garments/tshirt_{size}.glb", ["S", "M"])],
                            outputs=TINY_OUTPUTS.replace("clip_frames = 4", "clip_frames = 5000"))
    driver = subprocess.Popen([sys.executable, "-m", "avatar_wardrobe", "batch", str(catalog), "--out",
                               str(tmp_path / "out"), "--backend", "local", "--workers", "2", "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def tasks():
        return [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, name)]

    try:
        deadline = time.monotonic() + 60
        while len(tasks()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(tasks()) == 2, "the two task processes did not start"
        driver.send_signal(signum)
        driver.wait(timeout=30)
        time.sleep(0.5)
        assert tasks() == []
        assert not list(Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}{name}*"))
    finally:
        driver.kill()
        driver.wait()
        for p in tasks():
            os.kill(int(p.name), signal.SIGKILL)


def _cmdline_has(proc: Path, text: str) -> bool:
    try:
        return text in (proc / "cmdline").read_bytes().decode(errors="replace") and \
            (proc / "stat").read_text().split()[2] != "Z"
    except OSError:
        return False
