"""Joint limits: swing-twist split, clamping to the cone and twist range, and no change inside them."""
import numpy as np

from avatar_wardrobe.retarget.limits import JOINT_LIMITS, JointLimit, clamp_rotation, swing_twist
from avatar_wardrobe.transforms import axis_angle_matrix, normalize, quat_to_matrix

LIMIT = JointLimit(40.0, -20.0, 30.0)
TOLERANCE_DEG = 1e-6


def _parts_deg(rotation, axis):
    swing, twist = swing_twist(rotation, axis)
    return np.degrees(np.arccos(np.clip(axis @ (swing @ axis), -1, 1))), np.degrees(twist)


def test_swing_twist_recomposes_and_reads_known_angles():
    axis = np.array([0.0, 1.0, 0.0])
    r = axis_angle_matrix(np.array([1.0, 0, 0]), np.radians(30)) @ axis_angle_matrix(axis, np.radians(-50))
    swing, twist = swing_twist(r, axis)
    assert np.allclose(swing @ axis_angle_matrix(axis, twist), r)
    assert np.isclose(np.degrees(twist), -50)
    assert np.isclose(_parts_deg(r, axis)[0], 30)


def test_clamped_rotations_stay_inside_and_inside_ones_are_untouched():
    rng = np.random.default_rng(3)
    inside = outside = 0
    for k, q in enumerate(normalize(rng.normal(size=(300, 4)))):
        axis = normalize(rng.normal(size=3))
        r = quat_to_matrix(q)
        if k % 2:  # half of them small, so that many fall inside the limit
            r = axis_angle_matrix(q[1:], 0.5 * np.arccos(np.clip(abs(q[0]), 0, 1)))
        swing, twist = _parts_deg(r, axis)
        out = clamp_rotation(r, axis, LIMIT)
        s2, t2 = _parts_deg(out, axis)
        assert s2 <= LIMIT.swing_deg + TOLERANCE_DEG
        assert LIMIT.twist_min_deg - TOLERANCE_DEG <= t2 <= LIMIT.twist_max_deg + TOLERANCE_DEG
        if swing <= LIMIT.swing_deg and LIMIT.twist_min_deg <= twist <= LIMIT.twist_max_deg:
            inside += 1
            assert np.allclose(out, r)
        else:
            outside += 1
            # The clamped bone points the same way round the axis as the asked-for one.
            if swing > 1:
                a, b = r @ axis - (r @ axis @ axis) * axis, out @ axis - (out @ axis @ axis) * axis
                assert a @ b > 0
    assert inside > 30 and outside > 100


def test_every_body_role_has_a_sane_limit():
    for role, limit in JOINT_LIMITS.items():
        assert 0 < limit.swing_deg <= 180, role
        assert -180 <= limit.twist_min_deg <= 0 <= limit.twist_max_deg <= 180, role
