"""The compiled cloth loops (cloth/kernels.py) against plain numpy statements of the same math, on the real avatar."""
from __future__ import annotations

import numpy as np

from avatar_wardrobe.avatar.skinning import vertex_normals
from avatar_wardrobe.cloth import kernels


def _posed_skin(avatar, seed=0):
    sk = avatar.skeleton
    rng = np.random.default_rng(seed)
    q = sk.rest_rotations().copy()
    turn = rng.normal(scale=0.3, size=(len(sk), 3))
    from avatar_wardrobe.transforms import matrix_to_quat, quat_to_matrix
    from scipy.spatial.transform import Rotation

    q = matrix_to_quat(Rotation.from_rotvec(turn).as_matrix() @ quat_to_matrix(q))
    return sk.forward(q, np.array([0.1, 0.0, -0.2])) @ np.linalg.inv(sk.bind_world)


def test_skinning_matches_the_dense_blend(avatar):
    body = avatar.body
    skin = _posed_skin(avatar)
    dense = np.zeros((len(body.joints), len(skin)))
    np.add.at(dense, (np.repeat(np.arange(len(body.joints)), body.joints.shape[1]), body.joints.ravel()),
              body.weights.ravel())
    blend = np.einsum("vj,jab->vab", dense, skin[:, :3, :])
    want = np.einsum("vab,vb->va", blend[:, :, :3], body.positions) + blend[:, :, 3]
    turned = np.einsum("vab,vb->va", blend[:, :, :3], body.normals)
    want_n = turned / np.linalg.norm(turned, axis=1, keepdims=True)
    m = np.ascontiguousarray(skin[:, :3, :])
    joints, weights = np.ascontiguousarray(body.joints, np.int64), np.ascontiguousarray(body.weights, np.float64)
    got, got_n = np.empty_like(want), np.empty_like(want)
    kernels.skin(m, joints, weights, np.ascontiguousarray(body.positions, np.float64), got)
    kernels.skin_normals(m, joints, weights, np.ascontiguousarray(body.normals, np.float64), got_n)
    assert np.abs(got - body.positions).max() > 0.05  # the pose really moved the body
    np.testing.assert_allclose(got, want, atol=1e-9)
    np.testing.assert_allclose(got_n, want_n, atol=1e-9)


def test_vertex_normals_match_the_numpy_ones(avatar, shirt):
    points = np.ascontiguousarray(shirt.positions, np.float64)
    faces = np.ascontiguousarray(shirt.faces, np.int64)
    got = np.empty_like(points)
    kernels.vertex_normals(points, faces, got)
    np.testing.assert_allclose(got, vertex_normals(points, faces), atol=1e-9)


def test_stretch_limit_brings_long_edges_to_the_limit_and_moves_only_loose_nodes():
    stretch_limit = kernels.stretch_limit
    rng = np.random.default_rng(1)
    n = 12
    rest_points = np.stack([np.arange(n) * 0.01, np.zeros(n), np.zeros(n)], axis=1)  # a chain
    edges = np.stack([np.arange(n - 1), np.arange(1, n)], axis=1).astype(np.int64)
    rest = np.full(n - 1, 0.01)
    loose = np.arange(1, n, dtype=np.int64)  # node 0 is held
    movable = np.isin(np.arange(n), loose).astype(float)
    share = movable[edges] / movable[edges].sum(axis=1, keepdims=True)
    stretched = rest_points + rng.normal(scale=1e-4, size=rest_points.shape)
    stretched[6, 1] += 0.008  # one node pulled off the chain: its two edges ~1.3x rest
    out = stretched.copy()
    far = np.full(n, 10.0)
    before = np.linalg.norm(out[edges[:, 1]] - out[edges[:, 0]], axis=1)
    stretch_limit(out, rest_points, far, edges, rest, share, loose, 1.05, 50)
    length = np.linalg.norm(out[edges[:, 1]] - out[edges[:, 0]], axis=1)
    assert before.max() > 1.25 * 0.01 and (length <= 1.05 * rest * (1 + 1e-3)).all()
    np.testing.assert_array_equal(out[0], stretched[0])
    # A max distance of 0 keeps loose nodes on their skinned places whatever the edges say.
    pinned = stretched.copy()
    stretch_limit(pinned, rest_points, np.zeros(n), edges, rest, share, loose, 1.05, 3)
    np.testing.assert_allclose(pinned[loose], rest_points[loose])


def test_push_out_of_surface_is_the_nearest_point_rule(avatar):
    """Against a brute-force statement: each candidate behind the tangent plane of its nearest skin
    point (within reach, at most max_depth behind) ends margin in front of it; the rest stay."""
    body = avatar.body
    skin = _posed_skin(avatar, seed=4)
    surface, normals = np.empty_like(body.positions), np.empty_like(body.normals)
    from avatar_wardrobe.cloth.skin import kernel_matrices

    kernels.skin(kernel_matrices(skin), body.joints, body.weights, body.positions, surface)
    kernels.skin_normals(kernel_matrices(skin), body.joints, body.weights, body.normals, normals)
    rng = np.random.default_rng(5)
    pick = rng.choice(len(surface), 600, replace=False)
    points = surface[pick] + normals[pick] * rng.uniform(-0.05, 0.02, (600, 1)) + rng.normal(scale=0.005, size=(600, 3))
    points = np.concatenate([points, rng.normal(size=(40, 3)) * 0.05 + [0.0, 3.0, 0.0]])  # far away
    candidates = np.arange(0, len(points), 2, dtype=np.int64)
    margin, depth, reach, cell = 0.003, 0.04, 0.06, 0.06
    out = points.copy()
    moved = kernels.push_out_of_surface(points, candidates, surface, normals, cell, reach, margin, depth, 1, out)
    d = np.linalg.norm(points[:, None] - surface[None], axis=2)
    near = d.argmin(axis=1)
    h = np.einsum("vi,vi->v", points - surface[near], normals[near])
    hit = np.zeros(len(points), bool)
    hit[candidates] = (d[candidates, near[candidates]] <= reach) & (h[candidates] < margin) & (h[candidates] >= -depth)
    assert hit.sum() > 100 and moved == hit.sum()
    want = points.copy()
    want[hit] += (margin - h[hit])[:, None] * normals[near[hit]]
    np.testing.assert_allclose(out, want, atol=1e-9)
    # Deep points (across a fold) and points that are not candidates are left where they are.
    assert ((h[candidates] < -depth) & (d[candidates, near[candidates]] <= reach)).any()
    np.testing.assert_array_equal(out[1::2], points[1::2])


def _jacobi(out, skinned, max_distance, edges, rest, share, loose, limit, passes):
    """The averaged Jacobi limit the kernel replaced, in numpy: every long edge's correction is
    computed from the same positions and averaged at its nodes, then the loose nodes are clamped."""
    for _ in range(passes):
        d = out[edges[:, 1]] - out[edges[:, 0]]
        length = np.linalg.norm(d, axis=1)
        excess = np.maximum(length - limit * rest, 0.0)
        if not excess.any():
            return
        fix = d * (excess / np.maximum(length, 1e-12))[:, None]
        acc, hits = np.zeros_like(out), np.zeros(len(out))
        for end, sign in ((0, 1.0), (1, -1.0)):
            m = (excess > 0) & (share[:, end] > 0)
            np.add.at(acc, edges[m, end], sign * share[m, end, None] * fix[m])
            np.add.at(hits, edges[m, end], 1.0)
        out[loose] += acc[loose] / np.maximum(hits[loose], 1.0)[:, None]
        off = out[loose] - skinned[loose]
        scale = np.minimum(1.0, max_distance[loose] / np.maximum(np.linalg.norm(off, axis=1), 1e-12))
        out[loose] = skinned[loose] + off * scale[:, None]


def test_sequential_stretch_limit_takes_fewer_passes_on_a_stretched_chain():
    """A chain held at both ends and zigzagged to ~1.28x rest: Gauss-Seidel passes carry a correction
    along the chain within a pass, so in the same passes they come much closer to the limit than the
    averaged Jacobi ones; given enough passes both reach it."""
    n = 40
    rest_points = np.stack([np.arange(n) * 0.01, np.zeros(n), np.zeros(n)], axis=1)
    edges = np.stack([np.arange(n - 1), np.arange(1, n)], axis=1).astype(np.int64)
    rest = np.full(n - 1, 0.01)
    loose = np.arange(1, n - 1, dtype=np.int64)
    movable = np.isin(np.arange(n), loose).astype(float)
    share = movable[edges] / movable[edges].sum(axis=1, keepdims=True)
    start = rest_points.copy()
    start[1:-1, 1] += np.random.default_rng(2).choice([-1.0, 1.0], n - 2) * 0.004
    far = np.full(n, 10.0)

    def worst(limiter, passes):
        out = start.copy()
        limiter(out, rest_points, far, edges, rest, share, loose, 1.05, passes)
        np.testing.assert_array_equal(out[[0, n - 1]], start[[0, n - 1]])
        return (np.linalg.norm(out[edges[:, 1]] - out[edges[:, 0]], axis=1) / rest).max()

    gauss_seidel = kernels.stretch_limit
    assert worst(_jacobi, 0) > 1.25
    assert worst(gauss_seidel, 10) - 1.05 < 0.25 * (worst(_jacobi, 10) - 1.05)
    assert worst(gauss_seidel, 400) <= 1.05 + 1e-9 and worst(_jacobi, 400) <= 1.05 + 1e-6
