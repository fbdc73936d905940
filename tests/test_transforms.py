"""Rotation helpers: round trips and the swing between two directions."""
import numpy as np

from avatar_wardrobe.transforms import (axis_angle_matrix, frame_from_axes, matrix_to_quat, nlerp_quats, normalize,
                                        quat_to_matrix, rotation_between, slerp_matrix)


def test_quaternion_matrix_round_trip():
    rng = np.random.default_rng(1)
    q = normalize(rng.normal(size=(200, 4)))
    q *= np.sign(q[:, :1])
    back = matrix_to_quat(quat_to_matrix(q))
    assert np.allclose(back, q, atol=1e-9)
    m = quat_to_matrix(q)
    assert np.allclose(m @ m.transpose(0, 2, 1), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(m), 1.0)


def test_rotation_between_turns_a_onto_b_including_opposite():
    rng = np.random.default_rng(2)
    for a, b in list(rng.normal(size=(50, 2, 3))) + [(np.array([0, 1.0, 0]), np.array([0, -2.0, 0]))]:
        r = rotation_between(a, b)
        assert np.allclose(r @ normalize(a), normalize(b), atol=1e-9)
        assert np.isclose(np.linalg.det(r), 1.0)


def test_frame_from_axes_and_slerp():
    f = frame_from_axes(np.array([0, 2.0, 0]), np.array([1.0, 0.3, 0]))
    assert np.allclose(f, np.eye(3))
    r1 = axis_angle_matrix(np.array([0, 0, 1.0]), np.pi / 2)
    half = slerp_matrix(np.eye(3), r1, 0.5)
    assert np.allclose(half, axis_angle_matrix(np.array([0, 0, 1.0]), np.pi / 4))
    assert np.allclose(slerp_matrix(np.eye(3), r1, 1.0), r1)


def test_nlerp_quats_goes_the_short_way_and_stays_unit():
    q0 = np.array([[1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    q1 = np.array([[0.0, 0.0, 1.0, 0.0], [-np.sqrt(0.5), 0.0, -np.sqrt(0.5), 0.0]])  # 180 deg; 90 deg given as -q
    np.testing.assert_allclose(nlerp_quats(q0, q1, 0.0), q0)
    np.testing.assert_allclose(nlerp_quats(q0, q1, 1.0)[1], -q1[1])       # the same turn, reached the short way
    half = nlerp_quats(q0, q1, 0.5)
    np.testing.assert_allclose(np.linalg.norm(half, axis=1), 1.0)
    np.testing.assert_allclose(half[1], [np.cos(np.pi / 8), 0.0, np.sin(np.pi / 8), 0.0], atol=1e-12)
