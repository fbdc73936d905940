"""Session-wide test setup: floating-point errors raise, and the shared third-party test data."""
from __future__ import annotations

import os

# One OpenBLAS thread (before numpy loads): its threads busy-wait, and on a loaded 2-core machine
# they contend with everything else. With two busy processes beside it, the fuzz tests took 106 s
# with 2 threads and 26 s with 1 (same inputs), and the spinning is counted in the fuzz tests'
# per-input CPU bound (2 s; one input read 2.4 s under heavy load, 0.3 s quiet).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# anny's precomputed model data (~0.8 GB, built on first use): the checkout's own cache folder,
# the one tools/make_avatar.py uses, so tests and tools build it once.
os.environ.setdefault("ANNY_CACHE_DIR", str(ROOT / ".anny_cache"))
THIRD_BODY = dict(height_m=1.58, mass_kg=82.0, gender="female")  # neither default avatar's shape

# ../shared/testdata beside the repository (third-party files, see its SOURCES.md files).
TESTDATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


def pytest_sessionstart(session: pytest.Session) -> None:
    np.seterr(all="raise")


@pytest.fixture(scope="session")
def testdata() -> Path:
    """Path of ../shared/testdata; skips the test when that folder is not there."""
    if not TESTDATA_DIR.is_dir():
        pytest.skip(f"shared test data not found at {TESTDATA_DIR} (checkout without ../shared)")
    return TESTDATA_DIR


@pytest.fixture(scope="session")
def third_body(tmp_path_factory) -> Path:
    """A third avatar made with anny in this run (short and heavy): bodies the wardrobe was not made on."""
    pytest.importorskip("anny", reason="the anny extra is not installed (pip install -e '.[tools]')")
    from avatar_wardrobe.shape.bodies import body_avatar

    return body_avatar(**THIRD_BODY, cache=tmp_path_factory.mktemp("bodies"))
