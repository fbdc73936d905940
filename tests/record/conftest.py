"""The session's offscreen Panda3D ShowBase for export tests that play clips in Panda."""
import pytest


@pytest.fixture(scope="session")
def panda_base():
    from avatar_wardrobe.render.engine import create_base

    return create_base(window=False, size=(320, 240))  # returns the process's one ShowBase if made already
