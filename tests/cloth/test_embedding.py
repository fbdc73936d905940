"""Sim meshes by vertex clustering and the render mesh's barycentric ride on them."""
from __future__ import annotations

import numpy as np

from avatar_wardrobe.cloth.embedding import MAX_SIM_VERTICES, Embedding, build_sim_mesh, cluster_mesh, embed
from avatar_wardrobe.mesh_topology import unique_edges
from avatar_wardrobe.transforms import axis_angle_matrix


def test_cluster_mesh_stays_under_budget_and_uses_every_node(shirt):
    for target in (300, 1000, MAX_SIM_VERTICES):
        nodes, faces, cluster = cluster_mesh(shirt.positions, shirt.faces, target)
        assert 0.8 * target <= len(nodes) <= target
        assert np.array_equal(np.unique(faces), np.arange(len(nodes)))   # no orphan nodes (PyBullet needs it)
        assert (faces[:, 0] != faces[:, 1]).all() and (faces[:, 1] != faces[:, 2]).all()
        assert cluster.min() >= 0 and cluster.max() < len(nodes)
        spread = np.linalg.norm(shirt.positions - nodes[cluster], axis=1)
        edge = np.median(np.linalg.norm(np.diff(nodes[unique_edges(faces)], axis=1)[:, 0], axis=1))
        assert np.percentile(spread, 99) < 2 * edge                      # vertices sit near their node


def test_embedding_reproduces_the_rest_shape_and_rides_rigid_motion(shirt):
    sim = build_sim_mesh(shirt, 800)
    ride = Embedding.of(sim)
    np.testing.assert_allclose(ride.reconstruct(sim.positions), shirt.positions, atol=1e-9)
    r = axis_angle_matrix(np.array([0.3, 1.0, 0.2]), 1.1)
    t = np.array([0.4, -0.2, 1.0])
    np.testing.assert_allclose(ride.reconstruct(sim.positions @ r.T + t), shirt.positions @ r.T + t, atol=1e-9)


def test_embedding_follows_a_bend_smoothly(skirt):
    sim = build_sim_mesh(skirt, 600)
    ride = Embedding.of(sim)
    bent = sim.positions.copy()
    bent[:, 2] += 0.3 * (bent[:, 1] - bent[:, 1].max()) ** 2  # the hem swings back
    render = ride.reconstruct(bent)
    e = unique_edges(skirt.faces)
    ratio = (np.linalg.norm(render[e[:, 0]] - render[e[:, 1]], axis=1)
             / np.linalg.norm(skirt.positions[e[:, 0]] - skirt.positions[e[:, 1]], axis=1))
    assert 0.8 < np.percentile(ratio, 1) and np.percentile(ratio, 99) < 1.25


def test_a_garment_sim_mesh_is_kept_and_embedded(shirt):
    own = build_sim_mesh(shirt, 500)
    from dataclasses import replace

    garment = replace(shirt, sim=replace(own, triangle=None, barycentric=None, offset=None))
    sim = build_sim_mesh(garment, 1000)
    assert sim.positions is own.positions                                  # the garment's own sim mesh is used
    tri, bary, off = embed(shirt.positions, sim.positions, sim.faces)
    np.testing.assert_array_equal(sim.triangle, tri)
    np.testing.assert_allclose(Embedding.of(sim).reconstruct(sim.positions), shirt.positions, atol=1e-9)
