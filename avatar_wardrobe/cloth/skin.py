"""Garment skinning: skin weights transferred from the body, compiled sparse linear blend skinning, normals, rest gap."""
from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree

from ..errors import WardrobeError
from ..mesh_topology import unique_edges
from . import kernels

TRANSFER_NEIGHBOURS = 4      # body vertices blended (inverse distance) per garment vertex
WEIGHT_SMOOTHING_ITERATIONS = 20  # then smoothed over the garment mesh (cloth bends wider than skin)
COVER_DISTANCE_M = 0.06      # a body vertex this close to the garment is covered by it...
COVERED_SHARE = 0.4          # ...and a bone is covered when this share of its vertices is
INFLUENCES = 4               # joints kept per skinned point
EPS = 1e-12


class SparseSkin:
    """Linear blend skinning of fixed points (up to INFLUENCES joints each; compiled: cloth/kernels.py)."""

    def __init__(self, joints: np.ndarray, weights: np.ndarray, joint_count: int, points: np.ndarray,
                 normals: np.ndarray | None = None):
        self.joints = np.ascontiguousarray(joints, np.int64)
        self.weights = np.ascontiguousarray(weights, np.float64)
        if len(self.joints) and (self.joints.min() < 0 or self.joints.max() >= joint_count):
            raise WardrobeError(f"skin weights name joints outside the skeleton's {joint_count}.")
        self.points = np.ascontiguousarray(points, np.float64)
        self.normals = None if normals is None else np.ascontiguousarray(normals, np.float64)

    def positions(self, skin: np.ndarray) -> np.ndarray:
        out = np.empty_like(self.points)
        kernels.skin(kernel_matrices(skin), self.joints, self.weights, self.points, out)
        return out

    def positions_normals(self, skin: np.ndarray):
        m = kernel_matrices(skin)
        pos, nrm = np.empty_like(self.points), np.empty_like(self.normals)
        kernels.skin(m, self.joints, self.weights, self.points, pos)
        kernels.skin_normals(m, self.joints, self.weights, self.normals, nrm)
        return pos, nrm


def kernel_matrices(skin: np.ndarray) -> np.ndarray:
    """(J, 3, 4) C-contiguous float64 rows of (J, 4, 4) skin matrices (the kernels' layout)."""
    return np.ascontiguousarray(skin[:, :3, :], np.float64)


class Normals:
    """Area-weighted vertex normals of a fixed triangle list (compiled)."""

    def __init__(self, faces: np.ndarray, count: int):
        self.faces = np.ascontiguousarray(faces, np.int64)
        self.count = count

    def __call__(self, points: np.ndarray) -> np.ndarray:
        out = np.empty((self.count, 3))
        kernels.vertex_normals(np.ascontiguousarray(points, np.float64), self.faces, out)
        return out


def covered_bones(points: np.ndarray, body, skeleton) -> np.ndarray:
    """(J,) bool: bones whose skin the garment mostly covers (a share of the body vertices they
    dominate lies within COVER_DISTANCE_M of the garment)."""
    dominant = body.joints[np.arange(len(body.joints)), body.weights.argmax(axis=1)]
    near = cKDTree(points).query(body.positions, distance_upper_bound=COVER_DISTANCE_M)[0] < np.inf
    count = np.bincount(dominant, minlength=len(skeleton))
    hit = np.bincount(dominant, weights=near, minlength=len(skeleton))
    return (count > 0) & (hit >= COVERED_SHARE * np.maximum(count, 1))


def transfer_weights(points: np.ndarray, body, count: int = TRANSFER_NEIGHBOURS, faces: np.ndarray | None = None,
                     skeleton=None, smoothing: int = WEIGHT_SMOOTHING_ITERATIONS):
    """Skin weights for points from the nearest body vertices (inverse-distance blend).

    With the skeleton, bones the garment does not mostly cover hand their weight to their
    nearest covered ancestor (a sleeveless top follows the chest, not the arm it only touches:
    the arm pushes it through the simulation instead). With faces, the weights are smoothed over
    the garment's own mesh, so cloth bends over a wider band than skin. The top 4 are kept.
    """
    dist, idx = cKDTree(body.positions).query(points, k=count)
    w_near = 1.0 / np.maximum(dist, 1e-4)
    w_near /= w_near.sum(axis=1, keepdims=True)
    joints = body.joints[idx].reshape(len(points), -1)
    weights = (body.weights[idx] * w_near[:, :, None]).reshape(len(points), -1)
    if skeleton is not None:
        covered = covered_bones(points, body, skeleton)
        target = np.arange(len(skeleton))
        for j in range(len(skeleton)):  # parents first: each bone's nearest covered ancestor
            p = skeleton.parents[j]
            if not covered[j] and p >= 0:
                target[j] = target[p]
        joints = target[joints]
    if faces is not None and smoothing > 0:
        n = len(skeleton) if skeleton is not None else int(body.joints.max()) + 1
        rows = np.repeat(np.arange(len(points)), joints.shape[1])
        dense = np.asarray(csr_matrix((weights.ravel(), (rows, joints.ravel())), shape=(len(points), n)).todense())
        e = unique_edges(faces)
        adj = csr_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])),
                         shape=(len(points), len(points)))
        degree = np.maximum(np.asarray(adj.sum(axis=1)).ravel(), 1)
        for _ in range(smoothing):
            dense = 0.5 * dense + 0.5 * (adj @ dense) / degree[:, None]
        top = np.argsort(-dense, axis=1)[:, :INFLUENCES]
        w = np.take_along_axis(dense, top, 1)
        return top, w / np.maximum(w.sum(axis=1, keepdims=True), EPS)
    return top_influences(joints, weights)


def top_influences(joints: np.ndarray, weights: np.ndarray):
    """Merge repeated joints per row and keep the INFLUENCES largest, renormalised. (garments/garment_io.py
    has its own for files, with NaN clean-up and padding; this one keeps the cloth's numbers bit for bit.)"""
    order = np.argsort(joints, axis=1)
    j = np.take_along_axis(joints, order, 1)
    acc = np.take_along_axis(weights, order, 1).astype(np.float64)
    for k in range(1, j.shape[1]):  # sum each run of one joint into the run's last slot
        same = j[:, k] == j[:, k - 1]
        acc[same, k] += acc[same, k - 1]
        acc[same, k - 1] = 0.0
    top = np.argsort(-acc, axis=1)[:, :INFLUENCES]
    jt = np.take_along_axis(j, top, 1)
    wt = np.take_along_axis(acc, top, 1)
    wt /= np.maximum(wt.sum(axis=1, keepdims=True), EPS)
    return jt, wt


def body_gap(points: np.ndarray, body) -> np.ndarray:
    """Signed distance of points to the body's bind-pose surface, by its nearest vertex (metres)."""
    _, idx = cKDTree(body.positions).query(points)
    return np.einsum("vi,vi->v", points - body.positions[idx], body.normals[idx])
