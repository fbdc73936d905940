"""ClothWorld on a real PyBullet DIRECT client: node order, anchors, moving proxies, and the measured knobs."""
from __future__ import annotations

import numpy as np
import pytest

from avatar_wardrobe.avatar.proxies import CAPSULE, ProxyPose
from avatar_wardrobe.cloth.bullet import ClothWorld

STEPS = 40


def _grid(n: int = 8, size: float = 0.4, y: float = 1.0):
    xs = np.linspace(-size / 2, size / 2, n)
    gx, gz = np.meshgrid(xs, xs)
    pos = np.stack([gx.ravel(), np.full(n * n, y), gz.ravel()], axis=1)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a = i * n + j
            faces += [(a, a + 1, a + n + 1), (a, a + n + 1, a + n)]
    return pos, np.array(faces)


def _capsule(centre, radius=0.1, half=0.15) -> ProxyPose:
    q = np.array([[np.cos(np.pi / 4), 0.0, np.sin(np.pi / 4), 0.0]])  # local +Z turned onto world X
    return ProxyPose(np.array([CAPSULE]), np.array([centre], float), q, np.array([[1.0, 0.0, 0.0]]),
                     np.array([radius]), np.array([half]), (None,), (None,), np.array([0]), np.zeros((1, 3)),
                     np.zeros((1, 3)))


def _drape(margin=0.005, mass=0.1, capsule_y=0.8, steps=STEPS):
    pos, faces = _grid()
    with ClothWorld() as w:
        w.add_proxies(_capsule([0.0, capsule_y, 0.0]))
        c = w.add_cloth(pos, faces, mass=mass, margin=margin)
        for _ in range(steps):
            w.step()
        return w.nodes(c)


def test_nodes_come_back_in_vertex_order():
    pos, faces = _grid()
    with ClothWorld() as w:
        c = w.add_cloth(pos, faces)
        np.testing.assert_allclose(w.nodes(c), pos, atol=1e-5)


def test_cloth_rests_on_a_capsule_and_margin_is_a_knob_but_mass_is_not():
    base = _drape()
    assert np.isfinite(base).all()
    top = 0.8 + 0.1
    assert base[:, 1].max() < 1.0 and base[:, 1].min() < top       # it fell and drapes over the sides
    from_axis = np.linalg.norm(base[:, 1:] - [0.8, 0.0], axis=1)   # the capsule's axis runs along X at y 0.8
    assert from_axis.min() > 0.1 - 0.002                             # but nothing fell into it
    assert np.abs(_drape(mass=1.0) - base).max() < 1e-9              # the classic world ignores mass
    assert np.abs(_drape(margin=0.03) - base).max() > 0.01           # the margin changes the drape


def test_anchors_hold_pins_where_they_were_and_carry_them():
    pos, faces = _grid()
    pinned = np.arange(8)  # one edge of the grid
    with ClothWorld() as w:
        w.add_frames(np.array([[0.0, 1.0, -0.2]]), np.array([[1.0, 0.0, 0.0, 0.0]]))
        c = w.add_cloth(pos, faces)
        w.anchor(c, pinned, np.zeros(len(pinned), int))
        for _ in range(STEPS):
            w.step()
        held = w.nodes(c)
        assert np.linalg.norm(held[pinned] - pos[pinned], axis=1).max() < 0.01
        assert held[-1, 1] < pos[-1, 1] - 0.1                         # the free edge hangs down
        shift = np.array([0.3, 0.0, 0.0])
        v = shift / (STEPS * w.time_step)
        for k in range(1, STEPS + 1):
            w.move_frames(np.array([[0.0, 1.0, -0.2]]) + shift * k / STEPS, np.array([[1.0, 0.0, 0.0, 0.0]]),
                          v[None], np.zeros((1, 3)))
            w.step()
        carried = w.nodes(c)
        assert np.linalg.norm(carried[pinned] - (pos[pinned] + shift), axis=1).max() < 0.02


def test_a_moving_capsule_pushes_cloth_instead_of_tunnelling():
    pos, faces = _grid(n=10, size=0.5, y=0.0)
    pos = pos[:, [0, 2, 1]] + [0.0, 1.0, 0.15]  # a vertical sheet at z = 0.15
    with ClothWorld() as w:
        w.add_frames(np.array([[0.0, 1.25, 0.15]]), np.array([[1.0, 0.0, 0.0, 0.0]]))
        cap = _capsule([0.0, 1.0, 0.0], radius=0.06, half=0.1)
        w.add_proxies(cap)
        c = w.add_cloth(pos, faces, margin=0.005)
        top = np.flatnonzero(pos[:, 1] > 1.24)
        w.anchor(c, top, np.zeros(len(top), int))
        speed = 1.5  # m/s toward the sheet, 0.3 m in all
        for k in range(1, 13):
            centre = np.array([[0.0, 1.0, speed * k * w.time_step]])
            w.move_proxies(centre, cap.orientations, np.array([[0.0, 0.0, speed]]), np.zeros((1, 3)))
            w.step()
        nodes = w.nodes(c)
        in_path = (np.abs(nodes[:, 0]) < 0.08) & (np.abs(nodes[:, 1] - 1.0) < 0.04)
        assert in_path.any()
        assert (nodes[in_path, 2] > centre[0, 2]).all()  # the cloth in the capsule's path stayed in front of it


def test_push_node_and_kick_reach_the_cloth():
    pos, faces = _grid()
    with ClothWorld() as w:
        c = w.add_cloth(pos, faces)
        w.push_node(c, 5, [0.0, 50.0, 0.0])
        w.step()
        nodes = w.nodes(c)
        assert nodes[5, 1] > nodes[40, 1] + 0.01
        w.push_node(c, 5, [np.nan, 0.0, 0.0])
        w.step()
        assert not np.isfinite(w.nodes(c)).all()
    with ClothWorld() as w:
        c = w.add_cloth(pos, faces)
        w.set_cloth_velocity(c, [0.0, 6.0, 0.0])
        w.step()
        assert (w.nodes(c)[:, 1] - pos[:, 1]).min() > 0.05   # every node took the velocity


def test_move_cloth_is_an_exact_rigid_motion():
    pos, faces = _grid()
    with ClothWorld() as w:
        c = w.add_cloth(pos, faces)
        w.step()
        before = w.nodes(c)
        angle = 0.6
        r = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
        t = np.array([1.0, 0.2, -0.5])
        w.move_cloth(c, r, t)
        np.testing.assert_allclose(w.nodes(c), before @ r.T + t, atol=1e-9)


@pytest.mark.parametrize("deformable", [False, True])
def test_both_worlds_load_the_same_mesh(deformable):
    pos, faces = _grid(n=5)
    with ClothWorld(deformable=deformable) as w:
        c = w.add_cloth(pos, faces)
        w.step()
        assert w.nodes(c).shape == pos.shape


def test_a_cloth_of_two_pieces_is_refused_each_piece_steps():
    """PyBullet's classic world never returns from a step with a two-piece soft body: say so instead."""
    from avatar_wardrobe.errors import WardrobeError

    pos, faces = _grid(6)
    with ClothWorld() as world:
        with pytest.raises(WardrobeError, match="one connected piece"):
            world.add_cloth(np.concatenate([pos, pos + [1.0, 0.0, 0.0]]), np.concatenate([faces, faces + len(pos)]))
        a = world.add_cloth(pos, faces)
        b = world.add_cloth(pos + [1.0, 0.0, 0.0], faces)
        world.step()
        assert np.isfinite(world.nodes(a)).all() and world.nodes(b)[:, 0].min() > 0.5
