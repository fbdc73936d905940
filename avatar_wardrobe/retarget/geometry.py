"""Small-vector rotation helpers tuned for the per-frame solver (3-vectors, 3x3 matrices, numpy).

numpy's generic calls (np.cross, np.linalg.norm) cost 10-40 us each on 3-vectors; the solver makes
hundreds per frame, so these spell the arithmetic out on Python floats (about 1 us each). Same
conventions as avatar_wardrobe.transforms: column vectors, quaternions (w, x, y, z).
"""
from __future__ import annotations

import math

import numpy as np

from ..transforms import matrix_to_quat

EPS = 1e-9


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a0, a1, a2 = a.tolist()
    b0, b1, b2 = b.tolist()
    return np.array((a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0))


def norm(v: np.ndarray) -> float:
    return math.sqrt(float(v @ v))


def unit(v: np.ndarray) -> np.ndarray:
    """v / |v|; the zero vector stays zero."""
    n = math.sqrt(float(v @ v))
    return v / n if n > EPS else v * 0.0


def perp(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """v without its component along unit `axis`."""
    return v - float(v @ axis) * axis


def axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix of `angle` radians about `axis` (normalised here)."""
    x, y, z = unit(axis).tolist()
    c, s = math.cos(angle), math.sin(angle)
    k = 1.0 - c
    return np.array(((c + x * x * k, x * y * k - z * s, x * z * k + y * s),
                     (y * x * k + z * s, c + y * y * k, y * z * k - x * s),
                     (z * x * k - y * s, z * y * k + x * s, c + z * z * k)))


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation that turns direction a onto direction b."""
    a, b = unit(a), unit(b)
    axis = cross(a, b)
    s = norm(axis)
    c = max(-1.0, min(1.0, float(a @ b)))
    if s < EPS:
        if c > 0:
            return np.eye(3)
        other = np.array((1.0, 0.0, 0.0)) if abs(a[0]) < 0.9 else np.array((0.0, 1.0, 0.0))
        return axis_angle(cross(a, other), math.pi)
    return axis_angle(axis / s, math.atan2(s, c))


def signed_angle(a: np.ndarray, b: np.ndarray, axis: np.ndarray) -> float:
    """Angle (rad) that turns a onto b about unit `axis` (both taken perpendicular to it)."""
    a, b = perp(a, axis), perp(b, axis)
    if norm(a) < EPS or norm(b) < EPS:
        return 0.0
    return math.atan2(float(cross(a, b) @ axis), float(a @ b))


def frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns x, y, z): y along `primary`, x toward `secondary`, z = x cross y."""
    y = unit(primary)
    x = unit(perp(secondary, y))
    return np.stack((x, y, cross(x, y)), axis=1)


def angle_of(m: np.ndarray) -> float:
    """Rotation angle (rad) of a rotation matrix."""
    return math.acos(max(-1.0, min(1.0, (float(m[0, 0] + m[1, 1] + m[2, 2]) - 1.0) / 2.0)))


def slerp(r0: np.ndarray, r1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between two rotation matrices, t in [0, 1]."""
    if t <= 0.0:
        return r0
    if t >= 1.0:
        return r1
    rel = r0.T @ r1
    angle = angle_of(rel)
    if angle < EPS:
        return r0
    axis = np.array((rel[2, 1] - rel[1, 2], rel[0, 2] - rel[2, 0], rel[1, 0] - rel[0, 1]))
    if norm(axis) < 1e-6:  # angle ~ pi: the axis from the symmetric part
        sym = (rel + np.eye(3)) / 2
        axis = sym[:, int(np.argmax(np.diag(sym)))]
    return r0 @ axis_angle(axis, angle * t)


def matrices_to_quats(m: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations -> (N, 4) unit quaternions w, x, y, z with w >= 0 (transforms.matrix_to_quat)."""
    return matrix_to_quat(m)
