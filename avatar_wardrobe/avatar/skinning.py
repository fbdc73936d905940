"""Linear blend skinning in numpy: bind-pose vertices -> posed vertices for a skeleton pose."""
from __future__ import annotations

import numpy as np

from .skeleton import Skeleton


def skin_matrices(skeleton: Skeleton, rotations: np.ndarray, root_offset=None) -> np.ndarray:
    """(J, 4, 4) matrices that carry a bind-pose point to its posed place, per joint."""
    return skeleton.forward(rotations, root_offset) @ np.linalg.inv(skeleton.bind_world)


def skin_points(points: np.ndarray, joints: np.ndarray, weights: np.ndarray, matrices: np.ndarray,
                normals: np.ndarray | None = None):
    """Blend each point's influences. joints index into `matrices`; returns points (and normals)."""
    blended = np.einsum("vk,vkij->vij", weights, matrices[joints])  # (V, 4, 4)
    out = np.einsum("vij,vj->vi", blended[:, :3, :3], points) + blended[:, :3, 3]
    if normals is None:
        return out
    n = np.einsum("vij,vj->vi", blended[:, :3, :3], normals)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return out, n


def vertex_normals(points: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted smooth normals (V, 3)."""
    p = points[faces]
    face_n = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    acc = np.zeros_like(points)
    for k in range(3):
        for axis in range(3):
            acc[:, axis] += np.bincount(faces[:, k], weights=face_n[:, axis], minlength=len(points))
    return acc / np.maximum(np.linalg.norm(acc, axis=1, keepdims=True), 1e-12)
