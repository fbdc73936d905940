"""Rotation helpers in numpy: quaternions (w, x, y, z), matrices and vector alignment."""
from __future__ import annotations

import numpy as np

EPS = 1e-9
IDENTITY_QUAT = np.array([1.0, 0.0, 0.0, 0.0])


def normalize(v: np.ndarray) -> np.ndarray:
    """Unit vector(s) along the last axis; zero vectors stay zero."""
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(n > EPS, v / np.maximum(n, EPS), 0.0)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) w, x, y, z -> (..., 3, 3)."""
    q = normalize(q)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - w * z)
    m[..., 0, 2] = 2 * (x * z + w * y)
    m[..., 1, 0] = 2 * (x * y + w * z)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - w * x)
    m[..., 2, 0] = 2 * (x * z - w * y)
    m[..., 2, 1] = 2 * (y * z + w * x)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation -> (..., 4) w, x, y, z with w >= 0 (vectorised)."""
    m = np.asarray(m, dtype=np.float64)
    flat = m.reshape(-1, 3, 3)
    m00, m11, m22 = flat[:, 0, 0], flat[:, 1, 1], flat[:, 2, 2]
    mag = np.sqrt(np.maximum(0.0, np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                                            1 - m00 + m11 - m22, 1 - m00 - m11 + m22], axis=1))) / 2
    # Off-diagonal sums and differences, each 4 * (product of two quaternion components).
    wx = flat[:, 2, 1] - flat[:, 1, 2]
    wy = flat[:, 0, 2] - flat[:, 2, 0]
    wz = flat[:, 1, 0] - flat[:, 0, 1]
    xy = flat[:, 0, 1] + flat[:, 1, 0]
    xz = flat[:, 0, 2] + flat[:, 2, 0]
    yz = flat[:, 1, 2] + flat[:, 2, 1]
    # Divide by the largest component (precise everywhere) to recover the others with signs.
    big = np.argmax(mag, axis=1)
    d = 4 * mag[np.arange(len(flat)), big]
    idx = np.arange(len(flat))
    diag = np.zeros(len(flat))  # overwritten below by the largest component itself
    rows = np.array([[diag, wx, wy, wz], [wx, diag, xy, xz], [wy, xy, diag, yz], [wz, xz, yz, diag]])  # (4, 4, N)
    out = rows[big, :, idx] / d[:, None]
    out[idx, big] = mag[idx, big]
    out[out[:, 0] < 0] *= -1
    return normalize(out).reshape(m.shape[:-2] + (4,))


def nlerp_quats(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """(N, 4) quaternions a share t of the way from q0 to q1 (normalized lerp, the short way round)."""
    sign = np.where(np.einsum("ji,ji->j", q0, q1) < 0, -1.0, 1.0)[:, None]
    return normalize((1 - t) * q0 + t * sign * q1)


def axis_angle_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix of `angle` radians about `axis` (Rodrigues)."""
    a = normalize(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation matrix that turns direction a onto direction b (swing, no twist)."""
    a, b = normalize(a), normalize(b)
    axis = np.cross(a, b)
    s = np.linalg.norm(axis)
    c = float(np.clip(np.dot(a, b), -1.0, 1.0))
    if s < EPS:
        if c > 0:
            return np.eye(3)
        # Opposite: turn half way round any axis perpendicular to a.
        perp = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(perp) < 1e-6:
            perp = np.cross(a, [0.0, 1.0, 0.0])
        return axis_angle_matrix(perp, np.pi)
    return axis_angle_matrix(axis / s, np.arctan2(s, c))


def frame_from_axes(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns x, y, z): y along `primary`, x toward `secondary`, z = x cross y.

    Used to build an orientation from two measured directions (e.g. spine up and hip line).
    """
    y = normalize(primary)
    x = normalize(secondary - np.dot(secondary, y) * y)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=1)


def slerp_matrix(r0: np.ndarray, r1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between two rotation matrices, t in [0, 1]."""
    rel = r0.T @ r1
    angle = np.arccos(np.clip((np.trace(rel) - 1) / 2, -1.0, 1.0))
    if angle < EPS:
        return r0.copy()
    axis = np.array([rel[2, 1] - rel[1, 2], rel[0, 2] - rel[2, 0], rel[1, 0] - rel[0, 1]])
    if np.linalg.norm(axis) < 1e-6:  # angle ~ pi: take the axis from the symmetric part
        sym = (rel + np.eye(3)) / 2
        axis = sym[:, int(np.argmax(np.diag(sym)))]
    return r0 @ axis_angle_matrix(axis, angle * t)
