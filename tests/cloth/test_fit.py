"""Fit map colours, strain, region bands and size advice on both default avatars."""
from __future__ import annotations

import numpy as np
import pytest

from avatar_wardrobe.cloth.fit import (REGIONS, STRAIN_SLACK, STRAIN_STRETCHED, edge_strain, region_masks,
                                       size_advice, strain_colors)
from avatar_wardrobe.cloth.procedural import make_shirt, make_skirt


def test_strain_colours_blue_green_red():
    c = strain_colors(np.array([STRAIN_SLACK - 0.05, 1.0, STRAIN_STRETCHED + 0.05]))
    assert c.shape == (3, 4) and c.dtype == np.float32 and (c[:, 3] == 1).all()
    slack, ok, stretched = c[:, :3]
    assert slack.argmax() == 2 and ok.argmax() == 1 and stretched.argmax() == 0


def test_edge_strain_of_a_scaled_mesh_is_the_scale(shirt):
    s = edge_strain(shirt.positions * 1.1, shirt.positions, shirt.faces)
    np.testing.assert_allclose(s, 1.1, rtol=1e-9)


def test_region_bands_follow_the_body(avatars):
    for avatar in avatars.values():
        masks = region_masks(avatar.body.positions, avatar)
        y = {r: avatar.body.positions[m, 1].mean() for r, m in masks.items()}
        assert y["hips"] < y["waist"] < y["chest"] < y["shoulders"]


@pytest.mark.parametrize("make,region", [(make_shirt, "chest"), (make_skirt, "hips")])
def test_a_small_size_strains_more_than_a_large_one_on_both_bodies(avatars, make, region):
    for name, avatar in avatars.items():
        advice = size_advice({size: make(avatar, size) for size in ("S", "L")}, avatar)
        fits = {f.size: f for f in advice.sizes}
        assert set(fits) == {"S", "L"} and set(fits["S"].strain) == set(REGIONS)
        assert fits["S"].strain[region] > fits["L"].strain[region] + 0.02, name
        assert fits["S"].worst > 1.03 and advice.recommended == "L", name
        assert fits["S"].vertex_strain.shape == (make(avatar, "S").vertex_count,)
