"""Atomic outputs and the record that marks a task complete."""
from __future__ import annotations

import json

from avatar_wardrobe.batch import store
from avatar_wardrobe.batch.catalog import load_catalog

from .conftest import write_catalog


def _spec(tmp_path):
    return load_catalog(write_catalog(tmp_path, [("tshirt", "garments/tshirt_{size}.glb", ["S"])])).tasks()[0]


def test_write_atomic_leaves_no_part_file(tmp_path):
    path = tmp_path / "a" / "x.bin"
    store.write_atomic(path, b"one")
    store.write_atomic(path, b"two")
    assert path.read_bytes() == b"two" and [p.name for p in path.parent.iterdir()] == ["x.bin"]
    assert path.stat().st_mode & 0o777 == store.FILE_MODE


def test_complete_needs_ok_status_same_inputs_and_every_output(tmp_path):
    spec = _spec(tmp_path)
    out = tmp_path / "out"
    result = {"status": "ok", "files": {"a.txt": b"abc", "b.txt": b"defg"}, "result": {"fit": None}}
    store.save(out, spec, result)
    assert store.complete(out, spec) is not None
    (store.task_dir(out, spec) / "b.txt").write_bytes(b"de")  # cut short
    assert store.complete(out, spec) is None
    store.save(out, spec, result)
    record = json.loads((store.task_dir(out, spec) / store.RECORD_FILE).read_text())
    record["key"] = "other inputs"
    (store.task_dir(out, spec) / store.RECORD_FILE).write_text(json.dumps(record))
    assert store.complete(out, spec) is None
    store.save(out, spec, {"status": "failed", "error": "boom", "files": {}})
    assert store.complete(out, spec) is None
    (store.task_dir(out, spec) / store.RECORD_FILE).write_text("{ half a rec")
    assert store.load_record(out, spec) is None and store.complete(out, spec) is None
