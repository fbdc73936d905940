"""The avatar's coarse triangle list: far fewer triangles over the same vertices, no cracks, UV seams kept."""
import numpy as np
import pytest

from avatar_wardrobe.avatar.lod import DEFAULT_CELL_M, cell_sizes, cluster_faces
from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.garments.garment import BODY_REGIONS
from avatar_wardrobe.mesh_topology import components, face_edges, weld
from avatar_wardrobe.settings import MODELS_DIR

AVATARS = sorted((MODELS_DIR / "avatar").glob("*.glb"))
MAX_KEPT_SHARE = 0.5        # the coarse list keeps at most half the triangles...
MIN_HEAD_SHARE = 0.3        # ...but at least this share of the head's (finer cells there)


def _welded_boundary(positions, faces):
    """Edges (of the mesh welded by position) used by exactly one face."""
    welded, _ = weld(positions)
    e = np.sort(face_edges(welded[faces]), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    return int((counts == 1).sum())


@pytest.fixture(scope="module", params=AVATARS, ids=lambda p: p.name)
def body(request):
    return load_avatar(request.param).body


def test_coarse_list_keeps_the_vertices_and_drops_most_triangles(body):
    faces, source = cluster_faces(body.positions, body.faces, cell_sizes(body.regions))
    assert faces.min() >= 0 and faces.max() < len(body.positions)
    assert len(faces) < MAX_KEPT_SHARE * len(body.faces)
    assert len(source) == len(faces) and len(np.unique(source)) == len(source)
    assert (np.diff(source) > 0).all()  # in the full list's order
    assert (faces[:, 0] != faces[:, 1]).all() and (faces[:, 1] != faces[:, 2]).all()
    head = BODY_REGIONS.index("head")
    in_head = lambda f: (body.regions[f] == head).all(axis=1).sum()  # noqa: E731
    assert in_head(faces) > MIN_HEAD_SHARE * in_head(body.faces)


def test_no_cracks_and_every_face_stays_on_its_uv_island(body):
    faces, source = cluster_faces(body.positions, body.faces, cell_sizes(body.regions))
    island = components(face_edges(body.faces), len(body.positions))
    # The texture stays continuous: a coarse face's corners are on its source face's island.
    assert (island[faces] == island[body.faces[source]][:, :1]).all()
    # Both sides of every seam moved alike: no open edges beyond those the body had.
    assert _welded_boundary(body.positions, faces) <= _welded_boundary(body.positions, body.faces)


def _split_grid(n=20, size=1.0):
    """A flat n x n grid cut down the middle into two islands (the column of vertices there
    duplicated, as a UV seam does)."""
    xs = np.linspace(0, size, n + 1)
    pos = np.array([(x, y, 0.0) for y in xs for x in xs])
    idx = np.arange(len(pos)).reshape(n + 1, n + 1)
    right = idx.copy()
    half = n // 2
    dup = idx[:, half]
    right[:, half] = len(pos) + np.arange(n + 1)
    pos = np.concatenate([pos, pos[dup]])
    faces = []
    for j in range(n):
        for i in range(n):
            g = right if i >= half else idx
            a, b, c, d = g[j, i], g[j, i + 1], g[j + 1, i], g[j + 1, i + 1]
            faces += [(a, b, d), (a, d, c)]
    return pos, np.array(faces)


def test_a_seam_does_not_open_on_a_split_grid():
    pos, faces = _split_grid()
    coarse, source = cluster_faces(pos, faces, 0.12)
    assert 0 < len(coarse) < len(faces) / 4
    assert _welded_boundary(pos, coarse) <= _welded_boundary(pos, faces)
    island = components(face_edges(faces), len(pos))
    assert (island[coarse] == island[coarse][:, :1]).all()


def test_a_single_cell_size_for_all_is_accepted():
    pos, faces = _split_grid()
    a, _ = cluster_faces(pos, faces, DEFAULT_CELL_M * 8)
    b, _ = cluster_faces(pos, faces, np.full(len(pos), DEFAULT_CELL_M * 8))
    assert np.array_equal(a, b)
    empty, src = cluster_faces(pos, faces[:0], 0.1)
    assert empty.shape == (0, 3) and len(src) == 0
