"""Triangle order for the vertex cache: a permutation of the same triangles that reuses vertices."""
from collections import OrderedDict

import numpy as np

from avatar_wardrobe.render.dynamic_mesh import VERTEX_CACHE_SIZE, cache_order


def _grid(n: int) -> np.ndarray:
    """Triangles of an n x n quad grid."""
    i = np.arange(n)[:, None] * (n + 1) + np.arange(n)[None, :]
    a, b, c, d = i.ravel(), i.ravel() + 1, i.ravel() + n + 1, i.ravel() + n + 2
    return np.concatenate([np.stack([a, b, c], 1), np.stack([b, d, c], 1)])


def _misses_per_triangle(faces: np.ndarray, size: int = VERTEX_CACHE_SIZE) -> float:
    cache, misses = OrderedDict(), 0
    for v in faces.ravel().tolist():
        if v not in cache:
            misses += 1
            cache[v] = True
            if len(cache) > size:
                cache.popitem(last=False)
    return misses / len(faces)


def test_cache_order_is_a_permutation_that_reuses_vertices():
    faces = _grid(60)
    shuffled = faces[np.random.default_rng(0).permutation(len(faces))]
    order = cache_order(shuffled)
    assert sorted(order.tolist()) == list(range(len(faces)))
    before, after = _misses_per_triangle(shuffled), _misses_per_triangle(shuffled[order])
    assert before > 2.0 and after < 0.8, (before, after)  # a grid's ideal is 0.5


def test_cache_order_handles_separate_patches_and_no_triangles():
    faces = np.concatenate([_grid(3), _grid(3) + 16])  # two separate patches
    order = cache_order(faces, 32)
    assert sorted(order.tolist()) == list(range(len(faces)))
    assert cache_order(np.zeros((0, 3), np.int64)).size == 0


def test_update_writes_panda_axes_into_the_vertex_array_without_allocating_per_frame():
    import tracemalloc

    from avatar_wardrobe.render.avatar_actor import to_panda_points
    from avatar_wardrobe.render.dynamic_mesh import DynamicMesh

    faces = _grid(20)
    count = int(faces.max()) + 1
    rng = np.random.default_rng(1)
    mesh = DynamicMesh("test", faces, rng.random((count, 2)))
    positions, normals = rng.random((count, 3)), rng.random((count, 3))
    mesh.update(positions, normals)
    tracemalloc.start()
    for _ in range(20):
        mesh.update(positions, normals)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4096, peak  # no per-frame arrays (one would be count * 3 * 8 = 10 kB)
    data = np.frombuffer(mesh.vdata.getArray(0).getHandle().getData(), np.float32).reshape(count, 6)
    assert np.allclose(data[:, :3], to_panda_points(positions), atol=1e-6)
    assert np.allclose(data[:, 3:], to_panda_points(normals), atol=1e-6)
