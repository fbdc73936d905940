"""Body proxies fitted to the default avatars: they cover the body, are not bloated, and follow the FK."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.avatar.proxies import CAPSULE, HULL, BodyProxies, ProxyPose
from avatar_wardrobe.avatar.skinning import skin_matrices, skin_points
from avatar_wardrobe.transforms import axis_angle_matrix, matrix_to_quat

AVATAR_DIR = Path(__file__).resolve().parents[2] / "models" / "avatar"
COVER_MARGIN_M = 0.02          # a body vertex is covered when within this of a proxy
MAX_UNCOVERED_SHARE = 0.02     # ...and at most this share of the body (head, hands, feet left out) is not
MAX_MEDIAN_BLOAT_M = 0.015     # the median body vertex lies at most this deep inside its proxy
END_BONES = ("head", "hand", "foot", "ball", "index", "middle", "ring", "pinky", "thumb")


@pytest.fixture(scope="module", params=["female_165_58", "male_180_80"])
def fitted(request):
    avatar = load_avatar(AVATAR_DIR / f"{request.param}.glb")
    return avatar, BodyProxies.for_avatar(avatar)


def _body_part(avatar, names: tuple[str, ...]) -> np.ndarray:
    body, sk = avatar.body, avatar.skeleton
    dom = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]
    skip = [j for j, n in enumerate(sk.names) if n.startswith(names)]
    return ~np.isin(dom, skip)


def test_proxies_cover_the_body_without_bloat(fitted):
    avatar, proxies = fitted
    d = proxies.rest().signed_distance(avatar.body.positions)
    trunk_and_limbs = _body_part(avatar, END_BONES)
    assert (d[trunk_and_limbs] > COVER_MARGIN_M).mean() <= MAX_UNCOVERED_SHARE
    assert np.median(-d) <= MAX_MEDIAN_BLOAT_M      # proxies hug the skin, they do not balloon
    assert np.median(d) < 0                         # most of the body is inside a proxy


def test_trunk_is_convex_slabs_and_fingers_get_none(fitted):
    avatar, proxies = fitted
    names = proxies.names
    trunk = {avatar.rig.hips, *avatar.rig.spine}
    slabs = [k for k, n in enumerate(names) if n.split("#")[0] in trunk]
    assert len(slabs) >= 3 and all(proxies.kinds[k] == HULL for k in slabs)
    assert not any(n.startswith(("index", "middle", "ring", "pinky", "thumb")) for n in names)
    limbs = [k for k, n in enumerate(names) if n.startswith("lowerarm")]
    assert limbs and all(proxies.kinds[k] == CAPSULE and proxies.radii[k] > 0.01 for k in limbs)


def test_proxies_follow_the_skeleton_fk_with_velocities(fitted):
    avatar, proxies = fitted
    sk = avatar.skeleton
    arm = sk.index(avatar.rig.limb("upper_arm", "l"))
    rot = sk.rest_rotations()
    raised = rot.copy()
    raised[arm] = matrix_to_quat(axis_angle_matrix(np.array([0.0, 0.0, 1.0]), 0.8) @ _matrix(rot[arm]))
    rest_pose = proxies.pose(skin_matrices(sk, rot))
    skin = skin_matrices(sk, raised, np.array([0.0, 0.05, 0.0]))
    posed = proxies.pose(skin, previous=rest_pose, dt=0.1)
    # Each proxy is its bind shape carried by its bone's skin matrix: the body's own vertices that
    # the proxy covered at rest stay covered when the skin moves them the same way.
    body = avatar.body
    moved = skin_points(body.positions, body.joints, body.weights, skin)
    on_arm = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)] == arm
    assert np.median(posed.signed_distance(moved[on_arm])) < 0
    k = next(i for i, n in enumerate(proxies.names) if n.startswith(sk.names[arm]))
    expected = skin[arm, :3, :3] @ proxies.centres[k] + skin[arm, :3, 3]
    np.testing.assert_allclose(posed.centres[k], expected, atol=1e-9)
    np.testing.assert_allclose(posed.linear_velocity[k], (posed.centres[k] - rest_pose.centres[k]) / 0.1, atol=1e-9)
    assert np.linalg.norm(posed.angular_velocity[k]) == pytest.approx(8.0, rel=1e-3)  # 0.8 rad in 0.1 s
    still = [i for i, b in enumerate(proxies.bones) if b == sk.index(avatar.rig.hips)]
    np.testing.assert_allclose(posed.linear_velocity[still], [[0.0, 0.5, 0.0]] * len(still), atol=1e-9)


def test_signed_distance_is_negative_inside_and_positive_outside(fitted):
    _, proxies = fitted
    rest = proxies.rest()
    d = rest.signed_distance(rest.centres)
    assert (d < 0).all()
    far = rest.centres + np.array([0.0, 0.0, 2.0])
    assert (rest.signed_distance(far) > 1.0).all()


def _matrix(q):
    from avatar_wardrobe.transforms import quat_to_matrix

    return quat_to_matrix(q)


def test_axis_points_run_along_each_capsule_from_end_to_end():
    axes = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    pose = ProxyPose(np.full(2, CAPSULE), np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.2]]), np.tile([1.0, 0, 0, 0], (2, 1)),
                     axes, np.array([0.05, 0.04]), np.array([0.2, 0.1]), (None, None), (None, None),
                     np.zeros(2, np.int64), np.zeros((2, 3)), np.zeros((2, 3)))
    points = pose.axis_points(np.array([1, 0]), np.array([-1.0, 0.0, 1.0]))
    assert points.shape == (2, 3, 3)
    np.testing.assert_allclose(points[0], [[0.4, 0.0, 0.2], [0.5, 0.0, 0.2], [0.6, 0.0, 0.2]])
    np.testing.assert_allclose(points[1], [[0.0, 0.8, 0.0], [0.0, 1.0, 0.0], [0.0, 1.2, 0.0]])
