"""One offscreen Panda3D ShowBase per test session (Panda allows one per process)."""
import pytest


@pytest.fixture(scope="session")
def panda_base():
    from avatar_wardrobe.render.engine import create_base

    return create_base(window=False, size=(320, 240))
