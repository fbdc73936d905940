"""Small-vector rotation helpers tuned for the per-frame solver (3-vectors, 3x3 matrices, numpy).

numpy's generic calls (np.cross, np.linalg.norm) cost 10-40 us each on 3-vectors; the solver makes
hundreds per frame, so these take numpy arrays in and out but do the arithmetic on Python floats
(retarget.vec3, whose tuples the solver's innermost loops use directly). Same conventions as
avatar_wardrobe.transforms: column vectors, quaternions (w, x, y, z).
"""
from __future__ import annotations

import math

import numpy as np

from ..transforms import matrix_to_quat
from . import vec3 as v3
from .vec3 import EPS


def floats(a):
    """A numpy vector or matrix as (nested) Python floats for retarget.vec3; tuples pass through."""
    return a.tolist() if isinstance(a, np.ndarray) else a


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array(v3.cross(floats(a), floats(b)))


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
    return np.array(v3.axis_angle(floats(axis), angle))


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation that turns direction a onto direction b."""
    return np.array(v3.rotation_between(floats(a), floats(b)))


def signed_angle(a: np.ndarray, b: np.ndarray, axis: np.ndarray) -> float:
    """Angle (rad) that turns a onto b about unit `axis` (both taken perpendicular to it)."""
    return v3.signed_angle(floats(a), floats(b), floats(axis))


def frame(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns x, y, z): y along `primary`, x toward `secondary`, z = x cross y."""
    return np.array(v3.frame(floats(primary), floats(secondary)))


def angle_of(m: np.ndarray) -> float:
    """Rotation angle (rad) of a rotation matrix."""
    return v3.angle_of(floats(m))


def slerp(r0: np.ndarray, r1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between two rotation matrices, t in [0, 1]."""
    if t <= 0.0:
        return r0
    if t >= 1.0:
        return r1
    rows = floats(r0)
    out = v3.slerp(rows, floats(r1), t)
    return r0 if out is rows else np.array(out)


def matrices_to_quats(m: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations -> (N, 4) unit quaternions w, x, y, z with w >= 0 (transforms.matrix_to_quat)."""
    return matrix_to_quat(m)
