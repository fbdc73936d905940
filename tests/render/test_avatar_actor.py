"""The numpy skeleton agrees with Panda3D: random joint rotations give the same joint positions."""
import numpy as np
import pytest

from avatar_wardrobe.avatar.skeleton import Skeleton
from avatar_wardrobe.render.avatar_actor import AvatarActor, to_panda_points
from avatar_wardrobe.settings import MODELS_DIR
from avatar_wardrobe.transforms import normalize

FK_TOLERANCE_M = 1e-3
RANDOM_SPREAD = 0.5  # quaternion noise: large, arbitrary rotations
SHARED_RIGS = ["RiggedFigure.glb", "CesiumMan.glb", "RiggedSimple.glb"]


def _check_fk_matches_panda(panda_base, path):
    skeleton = Skeleton.from_gltf(path)
    avatar = AvatarActor(path, skeleton, panda_base.render)
    try:
        exposed = [avatar.expose(n) for n in skeleton.names]
        rng = np.random.default_rng(7)
        for trial in range(3):
            rotations = normalize(skeleton.rest_rotations() + rng.normal(0, RANDOM_SPREAD, (len(skeleton), 4)))
            offset = rng.normal(0, 0.2, 3)
            avatar.apply_local(skeleton.local_matrices(rotations, offset))
            avatar.actor.update(force=True)
            panda = np.array([list(e.getPos(avatar.character)) for e in exposed])
            numpy_fk = to_panda_points(skeleton.positions(rotations, offset))
            err = np.linalg.norm(panda - numpy_fk, axis=1)
            assert err.max() < FK_TOLERANCE_M, f"trial {trial}: joint {skeleton.names[err.argmax()]} off by {err.max()} m"
            # The pose really moved the joints away from the bind pose (the check can fail).
            assert np.abs(numpy_fk - to_panda_points(skeleton.bind_world[:, :3, 3])).max() > 0.01
    finally:
        avatar.remove()


@pytest.mark.parametrize("name", SHARED_RIGS)
def test_fk_matches_panda_on_khronos_rigs(panda_base, testdata, name):
    _check_fk_matches_panda(panda_base, testdata / "gltf" / name)


@pytest.mark.parametrize("path", sorted((MODELS_DIR / "avatar").glob("*.glb")), ids=lambda p: p.name)
def test_fk_matches_panda_on_default_avatars(panda_base, path):
    _check_fk_matches_panda(panda_base, path)


def test_default_avatars_are_present():
    assert sorted((MODELS_DIR / "avatar").glob("*.glb")), "models/avatar/*.glb missing: run `make avatars`"
