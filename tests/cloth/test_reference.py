"""The reference tube (DESIGN.md's prototype measure) is a real cloth: it hangs from its top row and the capsules push it."""
from __future__ import annotations

import numpy as np

from avatar_wardrobe.cloth import reference
from avatar_wardrobe.cloth.bullet import ClothWorld


def test_the_tube_is_one_thousand_nodes_in_one_piece():
    pos, faces = reference.tube()
    assert len(pos) == 1000 and faces.max() == len(pos) - 1
    with ClothWorld() as world:  # add_cloth refuses a mesh of several pieces
        world.add_cloth(pos, faces)


def test_the_tube_is_simulated_and_timed():
    result = reference.measure(frames=reference.WARM_FRAMES + 5)
    assert result["nodes"] == 1000 and np.isfinite(result["ms_per_frame_median"]) and result["ms_per_frame_median"] > 0


def test_the_capsules_move_as_described():
    c0, v0 = reference._capsules(0.0)
    c1, _ = reference._capsules(1e-3)
    np.testing.assert_allclose((c1 - c0) / 1e-3, v0, atol=1e-2)  # velocities are the positions' derivative
    assert not np.allclose(c1, c0)
