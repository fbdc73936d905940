"""cloth/skin.py: weights transferred from the body, sparse skinning, the rest gap to the body."""
from __future__ import annotations

import numpy as np

from avatar_wardrobe.cloth.skin import INFLUENCES, SparseSkin, body_gap, covered_bones, transfer_weights
from avatar_wardrobe.transforms import quat_to_matrix

GAP_M = 0.003  # a few mm off the skin the nearest body vertex is mostly the one it left (at 1 cm inside, 92%)


def test_a_sleeveless_shirt_takes_no_weight_from_the_arms_it_does_not_cover(avatar, shirt):
    sk, rig = avatar.skeleton, avatar.rig
    arms = [sk.index(rig.limb(role, side)) for role in ("upper_arm", "lower_arm") for side in "lr"]
    covered = covered_bones(shirt.positions, avatar.body, sk)
    assert not covered[arms].any()
    assert covered[[sk.index(n) for n in rig.spine]].all()
    joints, weights = transfer_weights(shirt.positions, avatar.body, faces=shirt.faces, skeleton=sk)
    assert joints.shape == weights.shape == (len(shirt.positions), INFLUENCES)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-9)
    assert (weights >= 0).all() and weights[np.isin(joints, arms)].sum() == 0.0
    # without the skeleton (no cover rule) the body's own arm weights reach the armholes
    raw_joints, raw_weights = transfer_weights(shirt.positions, avatar.body)
    assert raw_weights[np.isin(raw_joints, arms)].sum() > 1.0


def test_sparse_skin_moves_points_and_normals_with_a_rigid_turn(avatar):
    body, n = avatar.body, len(avatar.skeleton)
    skin = SparseSkin(body.joints, body.weights, n, body.positions, body.normals)
    rest = np.broadcast_to(np.eye(4), (n, 4, 4)).copy()
    pos, nrm = skin.positions_normals(rest)
    np.testing.assert_allclose(pos, body.positions, atol=1e-9)
    turn = np.eye(4)
    turn[:3, :3] = quat_to_matrix(np.array([np.cos(0.4), 0.0, np.sin(0.4), 0.0]))
    turn[:3, 3] = [0.3, -0.1, 0.2]
    pos, nrm = skin.positions_normals(np.broadcast_to(turn, (n, 4, 4)).copy())
    np.testing.assert_allclose(pos, body.positions @ turn[:3, :3].T + turn[:3, 3], atol=1e-9)
    unit = body.normals / np.linalg.norm(body.normals, axis=1, keepdims=True)
    np.testing.assert_allclose(nrm, unit @ turn[:3, :3].T, atol=1e-6)


def test_body_gap_is_the_signed_distance_along_the_body_normal(avatar):
    body = avatar.body
    unit = body.normals / np.linalg.norm(body.normals, axis=1, keepdims=True)
    some = np.arange(0, len(body.positions), 97)
    outside = body_gap(body.positions[some] + GAP_M * unit[some], body)
    inside = body_gap(body.positions[some] - GAP_M * unit[some], body)
    np.testing.assert_allclose([np.median(outside), np.median(inside)], [GAP_M, -GAP_M], atol=1e-6)
    assert (outside > 0).mean() > 0.95 and (inside < 0).mean() > 0.95
