"""Plain-float 3-vectors, 3x3 matrices and rotations on tuples, for the per-frame solver's loops over bones.

A numpy call on a 3-vector costs about a microsecond of Python overhead (np.linalg.norm 1-2 us);
the solver and the lifting make thousands per frame, so their inner loops do the arithmetic on
Python floats: a vector is a tuple (x, y, z) (or any sequence of three floats), a matrix a tuple of
three rows. The same formulas as numpy's elementwise ones; sums of products (dot, norm, matrix
products) may differ from numpy's BLAS in the last bit. Same conventions as retarget.geometry
(its numpy-array face): column vectors, right-handed rotations.
"""
from __future__ import annotations

import math

Vec = tuple[float, float, float]
Mat = tuple[Vec, Vec, Vec]  # rows
EPS = 1e-9  # lengths below this count as zero
IDENTITY: Mat = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def add(a, b) -> Vec:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def sub(a, b) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def scale(a, s: float) -> Vec:
    return (a[0] * s, a[1] * s, a[2] * s)


def div(a, s: float) -> Vec:
    return (a[0] / s, a[1] / s, a[2] / s)


def mid(a, b) -> Vec:
    """(a + b) / 2."""
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2)


def dot(a, b) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def norm(a) -> float:
    return math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])


def cross(a, b) -> Vec:
    a0, a1, a2 = a
    b0, b1, b2 = b
    return (a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0)



def perp(v, axis) -> Vec:
    """v without its component along unit `axis`."""
    return sub(v, scale(axis, dot(v, axis)))


def unit(v) -> Vec:
    """v / |v|; the zero vector (|v| <= EPS) stays zero."""
    n = norm(v)
    return div(v, n) if n > EPS else scale(v, 0.0)


# -- 3x3 matrices: tuples of three rows ---------------------------------------------------------
def mat_vec(m, v) -> Vec:
    """m @ v."""
    (a, b, c), (d, e, f), (g, h, i) = m
    x, y, z = v
    return (a * x + b * y + c * z, d * x + e * y + f * z, g * x + h * y + i * z)


def transpose(m) -> Mat:
    (a, b, c), (d, e, f), (g, h, i) = m
    return ((a, d, g), (b, e, h), (c, f, i))


def mat_mul(a, b) -> Mat:
    """a @ b."""
    (a00, a01, a02), (a10, a11, a12), (a20, a21, a22) = a
    (b00, b01, b02), (b10, b11, b12), (b20, b21, b22) = b
    return ((a00 * b00 + a01 * b10 + a02 * b20, a00 * b01 + a01 * b11 + a02 * b21, a00 * b02 + a01 * b12 + a02 * b22),
            (a10 * b00 + a11 * b10 + a12 * b20, a10 * b01 + a11 * b11 + a12 * b21, a10 * b02 + a11 * b12 + a12 * b22),
            (a20 * b00 + a21 * b10 + a22 * b20, a20 * b01 + a21 * b11 + a22 * b21, a20 * b02 + a21 * b12 + a22 * b22))


def axis_angle(axis, angle: float) -> Mat:
    """Rotation matrix of `angle` radians about `axis` (normalised here)."""
    x, y, z = unit(axis)
    c, s = math.cos(angle), math.sin(angle)
    k = 1.0 - c
    return ((c + x * x * k, x * y * k - z * s, x * z * k + y * s),
            (y * x * k + z * s, c + y * y * k, y * z * k - x * s),
            (z * x * k - y * s, z * y * k + x * s, c + z * z * k))


def any_perpendicular(a) -> Vec:
    """A vector perpendicular to unit `a` (not normalised): a crossed with x, or with y when a is near x."""
    return cross(a, (1.0, 0.0, 0.0) if abs(a[0]) < 0.9 else (0.0, 1.0, 0.0))


def rotation_between(a, b) -> Mat:
    """The smallest rotation that turns direction a onto direction b."""
    a, b = unit(a), unit(b)
    axis = cross(a, b)
    s = norm(axis)
    c = max(-1.0, min(1.0, dot(a, b)))
    if s < EPS:
        if c > 0:
            return IDENTITY
        return axis_angle(any_perpendicular(a), math.pi)
    return axis_angle(div(axis, s), math.atan2(s, c))


def signed_angle(a, b, axis) -> float:
    """Angle (rad) that turns a onto b about unit `axis` (both taken perpendicular to it)."""
    a, b = perp(a, axis), perp(b, axis)
    if norm(a) < EPS or norm(b) < EPS:
        return 0.0
    return math.atan2(dot(cross(a, b), axis), dot(a, b))


def frame(primary, secondary) -> Mat:
    """Orthonormal basis (columns x, y, z): y along `primary`, x toward `secondary`, z = x cross y."""
    y = unit(primary)
    x = unit(perp(secondary, y))
    return transpose((x, y, cross(x, y)))


def angle_of(m) -> float:
    """Rotation angle (rad) of a rotation matrix."""
    return math.acos(max(-1.0, min(1.0, (m[0][0] + m[1][1] + m[2][2] - 1.0) / 2.0)))


def slerp(r0, r1, t: float):
    """Spherical interpolation between two rotation matrices, t in [0, 1] (r0 or r1 themselves at the ends)."""
    if t <= 0.0:
        return r0
    if t >= 1.0:
        return r1
    rel = mat_mul(transpose(r0), r1)
    angle = angle_of(rel)
    if angle < EPS:
        return r0
    axis = (rel[2][1] - rel[1][2], rel[0][2] - rel[2][0], rel[1][0] - rel[0][1])
    if norm(axis) < 1e-6:  # angle ~ pi: the axis from the symmetric part (rel + I) / 2, its largest diagonal's column
        k = max(range(3), key=lambda i: (rel[i][i] + 1.0) / 2)
        axis = tuple((rel[i][k] + (1.0 if i == k else 0.0)) / 2 for i in range(3))
    return mat_mul(r0, axis_angle(axis, angle * t))
