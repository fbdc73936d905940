"""The benchmark's catalog: the asked number of tasks, all bundled files (the timing run is `bench batch`)."""
from __future__ import annotations

import os

import pytest

from avatar_wardrobe.batch.bench import MAX_TASKS, catalog_text
from avatar_wardrobe.batch.catalog import load_catalog


@pytest.mark.parametrize("tasks", [1, 6, MAX_TASKS])
def test_catalog_has_the_asked_tasks(tmp_path, tasks):
    path = tmp_path / "bench.toml"
    path.write_text(catalog_text(tasks, 12))
    catalog = load_catalog(path)
    specs = catalog.tasks()
    assert len(specs) == tasks and catalog.outputs.clip_frames == 12
    assert all(os.path.isfile(s.garment_file) for s in specs)
