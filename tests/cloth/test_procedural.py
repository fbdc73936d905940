"""The procedural shirt and skirt: valid Garment records made from each default body."""
from __future__ import annotations

import numpy as np
import pytest

from avatar_wardrobe.cloth.procedural import MIN_RENDER_VERTICES, make_shirt, make_skirt
from avatar_wardrobe.cloth.skin import body_gap
from avatar_wardrobe.errors import WardrobeError


@pytest.mark.parametrize("make", [make_shirt, make_skirt])
def test_garments_are_valid_and_fine_enough(avatars, make):
    for avatar in avatars.values():
        g = make(avatar)
        g.check_shapes()
        assert g.vertex_count >= MIN_RENDER_VERTICES
        assert (g.pin >= 0.5).any() and (g.max_distance[g.pin >= 0.99] < 0.002).all()
        assert g.max_distance.max() > 0.03
        gap = body_gap(g.positions, avatar.body)
        assert np.percentile(gap, 5) > 0.0          # size M sits outside the skin
        normals_out = np.einsum("vi,vi->v", g.normals, g.positions - g.positions.mean(axis=0))
        assert (normals_out > 0).mean() > 0.9        # faces wind outward


def test_sizes_grade_the_girth(avatar):
    for make in (make_shirt, make_skirt):
        gaps = [np.median(body_gap(make(avatar, s).positions, avatar.body)) for s in ("S", "M", "L", "XL")]
        assert gaps == sorted(gaps) and gaps[-1] - gaps[0] > 0.03


def test_unknown_size_is_a_user_error(avatar):
    with pytest.raises(WardrobeError, match="size"):
        make_shirt(avatar, "XXS")
