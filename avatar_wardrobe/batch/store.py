"""Task outputs on disk: atomic writes, the JSON record written last, and which tasks are complete."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from .catalog import TaskSpec

TASKS_DIR = "tasks"
RECORD_FILE = "record.json"
RECORD_VERSION = 1
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # what a plain open() would give (mkstemp makes files private)


def task_dir(out: Path, spec: TaskSpec) -> Path:
    return Path(out) / TASKS_DIR / spec.id


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file beside `path`, flush it to disk, then rename over it (never a half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(out: Path, spec: TaskSpec, result: dict) -> dict:
    """Store one task's outcome: its files first, then record.json (so a record means the files are there)."""
    folder = task_dir(out, spec)
    record = {"version": RECORD_VERSION, "id": spec.id, "garment": spec.garment, "size": spec.size,
              "body": spec.body, "motion": spec.motion, "key": spec.key(), "status": result["status"],
              "error": result.get("error", ""), "seconds": result.get("seconds"),
              "peak_rss_mb": result.get("peak_rss_mb"), "host": result.get("host"), "outputs": {}}
    for name, data in result.get("files", {}).items():
        write_atomic(folder / name, data)
        record["outputs"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    inner = result.get("result") or {}
    record["fit"] = inner.get("fit")
    record["stages_s"] = inner.get("stages_s")
    record["cpu_s"] = inner.get("cpu_s")
    write_atomic(folder / RECORD_FILE, (json.dumps(record, indent=1) + "\n").encode())
    return record


def load_record(out: Path, spec: TaskSpec) -> dict | None:
    """The task's record, or None when there is none or it cannot be read."""
    try:
        return json.loads((task_dir(out, spec) / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None


def complete(out: Path, spec: TaskSpec, record: dict | None = None) -> dict | None:
    """The record of a finished, successful task whose every listed output is on disk with its size,
    made from the same inputs (spec and input files); None means the task must run (again)."""
    record = record if record is not None else load_record(out, spec)
    if not record or record.get("version") != RECORD_VERSION or record.get("status") != "ok":
        return None
    if record.get("key") != spec.key() or not record.get("outputs"):
        return None
    folder = task_dir(out, spec)
    for name, meta in record["outputs"].items():
        p = folder / name
        if not p.is_file() or p.stat().st_size != meta.get("bytes"):
            return None
    return record
