"""Plain-float 3-vector arithmetic on tuples, for the per-frame solver's loops over bones.

A numpy call on a 3-vector costs about a microsecond of Python overhead (np.linalg.norm 1-2 us);
the solver and the lifting make thousands per frame, so their inner loops do the arithmetic on
Python floats: a vector is a tuple (x, y, z) (or any sequence of three floats). The same formulas
as numpy's elementwise ones; sums of products (dot, norm) may differ from numpy's BLAS in the last
bit.
"""
from __future__ import annotations

import math

Vec = tuple[float, float, float]


def add(a, b) -> Vec:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def sub(a, b) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def scale(a, s: float) -> Vec:
    return (a[0] * s, a[1] * s, a[2] * s)


def div(a, s: float) -> Vec:
    return (a[0] / s, a[1] / s, a[2] / s)


def mid(a, b) -> Vec:
    """(a + b) / 2, componentwise (any length)."""
    return tuple((x + y) / 2 for x, y in zip(a, b))


def dot(a, b) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def norm(a) -> float:
    return math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])


def cross(a, b) -> Vec:
    a0, a1, a2 = a
    b0, b1, b2 = b
    return (a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0)

