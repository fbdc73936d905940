"""geometry: exact closest points on triangles, and the surface queries fitting and the tools share."""
from __future__ import annotations

import numpy as np

from avatar_wardrobe.garments.geometry import CHUNK_POINTS, TriangleSurface, closest_on_triangles


def test_closest_point_matches_brute_force():
    rng = np.random.default_rng(7)
    a, b, c = rng.normal(size=(3, 300, 3))
    p = rng.normal(size=(300, 3)) * 2
    closest, bary = closest_on_triangles(p, a, b, c)
    assert (bary >= -1e-12).all() and np.allclose(bary.sum(1), 1)
    assert np.allclose(np.einsum("nk,knd->nd", bary, np.stack([a, b, c])), closest)
    found = np.linalg.norm(closest - p, axis=1)
    samples = rng.dirichlet([1, 1, 1], size=4000)
    for i in range(0, 300, 10):
        brute = np.linalg.norm(samples @ np.stack([a[i], b[i], c[i]]) - p[i], axis=1).min()
        assert found[i] <= brute + 1e-12


def test_degenerate_triangles_do_not_raise():
    a = np.zeros((2, 3))
    b = np.array([[1.0, 0, 0], [0, 0, 0]])
    c = np.array([[2.0, 0, 0], [0, 0, 0]])
    _, bary = closest_on_triangles(np.array([[0.5, 1.0, 0], [1, 1, 1]]), a, b, c)
    assert np.isfinite(bary).all() and np.allclose(bary.sum(1), 1)


def _sphere(n: int = 24):
    """A closed UV sphere of radius 1 (outward normals)."""
    theta, phi = np.meshgrid(np.linspace(0.1, np.pi - 0.1, n), np.linspace(0, 2 * np.pi, 2 * n, endpoint=False))
    pts = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], -1).reshape(-1, 3)
    pts = np.vstack([pts, [[0, 0, 1], [0, 0, -1]]])
    rows, cols = 2 * n, n
    idx = np.arange(rows * cols).reshape(rows, cols)
    faces = []
    for r in range(rows):
        for c in range(cols - 1):
            i, j, k, m = idx[r, c], idx[(r + 1) % rows, c], idx[(r + 1) % rows, c + 1], idx[r, c + 1]
            faces += [[i, j, k], [i, k, m]]
    top, bottom = len(pts) - 2, len(pts) - 1
    for r in range(rows):
        faces += [[top, idx[(r + 1) % rows, 0], idx[r, 0]], [bottom, idx[r, -1], idx[(r + 1) % rows, -1]]]
    return pts, np.array(faces)[:, ::-1]  # counter-clockwise seen from outside


def test_signed_distance_is_negative_inside_and_chunks_agree():
    pts, faces = _sphere()
    surface = TriangleSurface(pts, faces)
    rng = np.random.default_rng(3)
    dirs = rng.normal(size=(CHUNK_POINTS + 500, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    radius = rng.uniform(0.5, 1.5, size=len(dirs))
    sd = surface.signed_distance(dirs * radius[:, None])
    clear = np.abs(radius - 1) > 0.05  # away from the faceted surface
    assert np.all(np.sign(sd[clear]) == np.sign(radius[clear] - 1))
    head = surface.signed_distance(dirs[:100] * radius[:100, None])
    assert np.array_equal(head, sd[:100])  # the chunked and the single-batch paths give the same answer
