"""Shared, expensive inputs for the cloth tests: the default avatars, their proxies, the bundled motion, garments."""
from __future__ import annotations

from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[2] / "models"
AVATARS = {"female": MODELS / "avatar" / "female_165_58.glb", "male": MODELS / "avatar" / "male_180_80.glb"}
MOTION = MODELS / "motions" / "pose_1.jsonl"
MOTION_FRAMES = 32  # about one second of the bundled motion


@pytest.fixture(scope="session")
def avatars():
    from avatar_wardrobe.avatar.model import load_avatar

    return {name: load_avatar(path) for name, path in AVATARS.items()}


@pytest.fixture(scope="session")
def avatar(avatars):
    return avatars["female"]


@pytest.fixture(scope="session")
def proxies(avatar):
    from avatar_wardrobe.avatar.proxies import BodyProxies

    return BodyProxies.for_avatar(avatar)


@pytest.fixture(scope="session")
def full_motion(avatar):
    """The bundled motion (four seconds), solved for the female avatar."""
    from avatar_wardrobe.cloth.bench import motion_poses

    poses, _ = motion_poses(avatar, MOTION)
    return poses


@pytest.fixture(scope="session")
def motion(full_motion):
    """The first MOTION_FRAMES poses of the bundled motion, solved for the female avatar."""
    return full_motion[:MOTION_FRAMES]


@pytest.fixture(scope="session")
def shirt(avatar):
    from avatar_wardrobe.cloth.procedural import make_shirt

    return make_shirt(avatar)


@pytest.fixture(scope="session")
def skirt(avatar):
    from avatar_wardrobe.cloth.procedural import make_skirt

    return make_skirt(avatar)


@pytest.fixture(scope="session")
def tshirt(avatar):
    """The shipped T-shirt (models/garments/tshirt_M.glb) fitted to the avatar."""
    from avatar_wardrobe.cloth.bench import _garment

    return _garment("tshirt_M", avatar)
