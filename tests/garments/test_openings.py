"""A garment's openings (hems, cuffs, necklines) and the faces whose inside can be seen through them."""
import numpy as np
import pytest

from avatar_wardrobe.garments.garment_io import load_garment
from avatar_wardrobe.garments.openings import MIN_REACH_M, near_openings, openings
from avatar_wardrobe.settings import MODELS_DIR

# (garment, openings, least share of faces away from them)
SHIPPED = [("tshirt_M", 4, 0.2), ("trousers_M", 3, 0.5), ("skirt_M", 2, 0.05), ("longsleeve_M", 4, 0.4)]


def tube(length=1.2, radius=0.2, around=24, rows=25):
    """An open tube along +Y: positions, faces (outward winding), and each vertex's height."""
    a = 2 * np.pi * np.arange(around) / around
    ys = np.linspace(0, length, rows)
    pos = np.array([[radius * np.cos(t), y, radius * np.sin(t)] for y in ys for t in a])
    faces = []
    for j in range(rows - 1):
        for i in range(around):
            p, q = j * around + i, j * around + (i + 1) % around
            faces += [(p, q + around, q), (p, p + around, q + around)]
    return pos, np.array(faces)


@pytest.mark.parametrize("name,count,far_share", SHIPPED)
def test_shipped_garments_have_their_openings_and_uv_seams_are_not_openings(name, count, far_share):
    g = load_garment(MODELS_DIR / "garments" / f"{name}.glb")
    assert len(openings(g.positions, g.faces)) == count
    near = near_openings(g.positions, g.faces)
    assert 1 - near.mean() >= far_share


def test_a_tube_shows_its_inside_near_both_ends_only():
    pos, faces = tube()
    loops = openings(pos, faces)
    assert len(loops) == 2
    near = near_openings(pos, faces)
    height = pos[faces].mean(axis=1)[:, 1]
    reach = max(MIN_REACH_M, 0.2)  # the tube's radius is more than the least reach
    assert near[(height < reach - 0.06) | (height > 1.2 - reach + 0.06)].all()
    assert not near[(height > reach + 0.06) & (height < 1.2 - reach - 0.06)].any()


def test_a_closed_surface_has_no_openings():
    pos, faces = tube(rows=2)  # an open ring...
    assert len(openings(pos, faces)) == 2
    # ...closed by two fans: no open edges left
    n = 24
    caps = [(0, (i + 1) % n, i) for i in range(1, n - 1)] + [(n, n + i, n + (i + 1) % n) for i in range(1, n - 1)]
    closed = np.concatenate([faces, caps])
    assert openings(pos, closed) == []
    assert not near_openings(pos, closed).any()
