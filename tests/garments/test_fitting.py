"""fitting: nearest-triangle binding rebuilt on another body, no vertex inside it, weights from the skin."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from avatar_wardrobe.avatar.body import BodyMesh
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.garments.fitting import (MIN_CLEARANCE_M, BodySurface, bind,
                                              fit_garment, fit_to_avatar, rebuild, source_body, transfer_weights)
from garment_fixtures import PATCH_EASE_M, avatar_body, skin_patch_garment, tube_garment

MEDIAN_OFFSET_TOLERANCE_M = 0.003   # the fitted garment's median distance to the body vs the original's
SPREAD_TOLERANCE_M = 0.004          # same for the 10th and 90th percentiles
RBF_AGREEMENT_M = 0.01              # RBF and triangle fitting agree on the median vertex within this
TORSO_JOINTS = ("spine_01", "spine_02", "spine_03", "pelvis", "clavicle_l", "clavicle_r")


@pytest.fixture(scope="module")
def bodies():
    return avatar_body("female_165_58"), avatar_body("male_180_80")


@pytest.fixture(scope="module")
def patch(bodies):
    (skeleton, female), _ = bodies
    return skin_patch_garment(skeleton, female)


def test_binding_to_the_same_body_gives_the_garment_back(bodies, patch):
    (_, female), _ = bodies
    surface = BodySurface.from_body(female)
    np.testing.assert_allclose(rebuild(bind(patch.positions, surface), surface), patch.positions, atol=1e-6)
    fitted = fit_garment(patch, female, female)
    moved = np.linalg.norm(fitted.positions.astype(np.float64) - patch.positions, axis=1)
    assert np.mean(moved < 1e-5) > 0.99     # only vertices closer than the clearance to some skin move
    assert moved.max() < MIN_CLEARANCE_M
    np.testing.assert_allclose(fitted.normals[moved < 1e-5], patch.normals[moved < 1e-5], atol=1e-4)


def test_female_garment_fitted_to_the_male_body(bodies, patch):
    (_, female), (_, male) = bodies
    fitted = fit_garment(patch, female, male)
    before = BodySurface.from_body(female).signed_distance(patch.positions)
    after = BodySurface.from_body(male).signed_distance(fitted.positions)
    assert after.min() >= MIN_CLEARANCE_M - 1e-6   # every vertex outside the male body
    assert abs(np.median(after) - np.median(before)) < MEDIAN_OFFSET_TOLERANCE_M
    for q in (10, 90):
        assert abs(np.percentile(after, q) - np.percentile(before, q)) < SPREAD_TOLERANCE_M
    assert np.median(before) == pytest.approx(PATCH_EASE_M, abs=0.002)
    # it moved with the body: the male is taller and broader
    assert fitted.positions[:, 1].mean() > patch.positions[:, 1].mean() + 0.05
    np.testing.assert_allclose(np.linalg.norm(fitted.normals, axis=1), 1, atol=1e-5)
    assert np.array_equal(fitted.faces, patch.faces) and fitted.meta == patch.meta


def test_vertices_modelled_inside_the_body_end_outside(bodies):
    (skeleton, female), (_, male) = bodies
    tight = skin_patch_garment(skeleton, female, ease=-0.004)   # 4 mm inside the skin
    for body in (female, male):
        fitted = fit_garment(tight, female, body)
        assert BodySurface.from_body(body).signed_distance(fitted.positions).min() >= MIN_CLEARANCE_M - 1e-6


def test_the_simulation_mesh_is_fitted_too(bodies, patch):
    (_, female), (_, male) = bodies
    from avatar_wardrobe.garments.garment import SimMesh

    sim = SimMesh(patch.positions[::7].copy(), np.array([[0, 1, 2]]), np.zeros(len(patch.positions[::7])))
    fitted = fit_garment(dataclasses.replace(patch, sim=sim), female, male)
    np.testing.assert_allclose(fitted.sim.positions, fitted.positions[::7], atol=1e-5)


def test_different_topologies_need_correspondences(bodies, patch):
    (_, female), (_, male) = bodies
    keep = np.arange(len(male.positions) - 500)             # drop some vertices: another topology
    faces = male.faces[(male.faces < len(keep)).all(1)]
    smaller = BodyMesh(male.positions[keep], male.normals[keep], faces, male.joints[keep], male.weights[keep],
                       male.regions[keep])
    with pytest.raises(WardrobeError, match="do not share a topology"):
        fit_garment(patch, female, smaller)
    rbf = fit_garment(patch, female, smaller, correspondence=(keep, keep))
    exact = fit_garment(patch, female, male)
    assert np.median(np.linalg.norm(rbf.positions - exact.positions, axis=1)) < RBF_AGREEMENT_M
    assert BodySurface.from_body(smaller).signed_distance(rbf.positions).min() >= MIN_CLEARANCE_M - 1e-6


def test_weights_come_from_the_nearest_skin(bodies, patch):
    (skeleton, female), _ = bodies
    weighted = transfer_weights(patch, female, skeleton)
    assert weighted.joint_names == skeleton.names
    np.testing.assert_allclose(weighted.weights.sum(1), 1, atol=1e-6)
    assert weighted.joints.shape == (patch.vertex_count, 4)
    dominant = [skeleton.names[j] for j in weighted.joints[np.arange(patch.vertex_count),
                                                             np.argmax(weighted.weights, 1)]]
    assert np.mean([name in TORSO_JOINTS for name in dominant]) > 0.95  # a torso patch follows the torso
    used = weighted.weights > 0
    assert all(len(set(row[mask])) == mask.sum() for row, mask in zip(weighted.joints, used))  # distinct
    assert transfer_weights(weighted, female, skeleton) is weighted  # its own weights are kept


def test_fit_to_avatar_uses_the_garments_source_body(bodies):
    (_, female), (male_skeleton, male) = bodies
    garment = tube_garment(with_skin=False)
    assert source_body(garment) is female
    fitted = fit_to_avatar(garment, "male_180_80")
    assert fitted.joint_names == male_skeleton.names
    assert BodySurface.from_body(male).signed_distance(fitted.positions).min() >= MIN_CLEARANCE_M - 1e-6


def test_unknown_avatar_names_are_clear_errors():
    garment = tube_garment()
    garment.meta.source_avatar = "nobody_170_70"
    with pytest.raises(WardrobeError, match="avatar 'nobody_170_70' not found.*make avatars"):
        source_body(garment)
    with pytest.raises(WardrobeError, match="not an avatar name"):
        fit_to_avatar(garment, "../../etc/passwd")


def test_fitted_for_keeps_a_garment_made_on_the_body_and_refits_one_made_on_another():
    from avatar_wardrobe.avatar.model import load_avatar
    from avatar_wardrobe.garments.fitting import fitted_for
    from avatar_wardrobe.garments.garment_io import load_garment
    from avatar_wardrobe.settings import model_path

    shirt = load_garment(model_path("garments/tshirt_M.glb"))      # made on the female avatar, with weights
    assert fitted_for(shirt, load_avatar(model_path("avatar/female_165_58.glb"))) is shirt
    male = load_avatar(model_path("avatar/male_180_80.glb"))
    on_male = fitted_for(shirt, male)
    assert on_male is not shirt and on_male.joints is not None
    assert np.linalg.norm(on_male.positions - shirt.positions, axis=1).max() > 0.05   # moved onto the taller body
    unweighted = dataclasses.replace(shirt, joints=None, weights=None, joint_names=None)
    weighted = fitted_for(unweighted, load_avatar(model_path("avatar/female_165_58.glb")))
    assert weighted.joints is not None and weighted.weights.shape == (len(shirt.positions), 4)
