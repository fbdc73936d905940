"""Session-wide test setup: floating-point errors raise, and the shared third-party test data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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
