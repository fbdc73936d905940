"""Image regions for AR from the landmarks: arms in front, sleeves, the person's torso, and IoU."""
from __future__ import annotations

import cv2
import numpy as np

from ..pose import landmarks as lm

ARM_WIDTH_OF_SHOULDERS = 0.32  # an arm's drawn width, as a share of the shoulder width in pixels
ARM_FRONT_DEPTH_OF_SHOULDERS = 0.5  # an arm is in front once its elbow or wrist is this much nearer than its shoulder
SLEEVE_RADIUS_M = 0.08  # garment points this close to an arm bone belong to a sleeve
TORSO_DILATE_OF_SHOULDERS = 0.12  # the torso reaches this far (share of shoulder width) past the shoulder and hip lines
# Bones that are not torso (limbs and head), drawn from the landmarks to split the person's pixels.
LIMB_BONES = tuple((f"{s}_{a}", f"{s}_{b}") for s in ("left", "right") for a, b in (
    ("shoulder", "elbow"), ("elbow", "wrist"), ("wrist", "index"), ("hip", "knee"), ("knee", "ankle"))) + (
    ("left_ear", "right_ear"),)


def _px(points_norm: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return points_norm[:, :2] * np.array(size, dtype=np.float64)


def arm_in_front(marks, side: str) -> bool:
    """The elbow or wrist is nearer the camera than the shoulder by ARM_FRONT_DEPTH_OF_SHOULDERS
    shoulder widths (MediaPipe's z: a hanging arm reads a little nearer than its shoulder)."""
    im = marks.image
    s, e, wr = (lm.INDEX[f"{side}_{p}"] for p in ("shoulder", "elbow", "wrist"))
    width = np.linalg.norm(im[lm.LEFT_SHOULDER, :2] - im[lm.RIGHT_SHOULDER, :2])
    return bool(min(im[e, 2], im[wr, 2]) - im[s, 2] < -ARM_FRONT_DEPTH_OF_SHOULDERS * width)


def arm_mask(marks, size: tuple[int, int], covered_share: float = 0.0) -> np.ndarray:
    """Pixels of the arms and hands drawn from the 2D landmarks, where the arms are in front of
    the body (so they pass in front of a garment), as a bool (H, W) mask. covered_share: this much
    of the arm (shoulder to wrist, by length) is left out from the shoulder: a sleeve covers it."""
    w, h = size
    mask = np.zeros((h, w), np.uint8)
    px = _px(marks.image, size)
    shoulder_px = np.linalg.norm(px[lm.LEFT_SHOULDER] - px[lm.RIGHT_SHOULDER])
    thickness = max(2, int(shoulder_px * ARM_WIDTH_OF_SHOULDERS))
    for side in ("left", "right"):
        if not arm_in_front(marks, side):
            continue
        s, e, wr = (px[lm.INDEX[f"{side}_{p}"]] for p in ("shoulder", "elbow", "wrist"))
        upper, fore = np.linalg.norm(e - s), np.linalg.norm(wr - e)
        start = covered_share * (upper + fore)
        if start < upper:
            s = s + (e - s) * start / max(upper, 1e-9)
            cv2.line(mask, tuple(map(int, s)), tuple(map(int, e)), 1, thickness)
        elif start < upper + fore:
            e = e + (wr - e) * (start - upper) / max(fore, 1e-9)
        if start < upper + fore:
            cv2.line(mask, tuple(map(int, e)), tuple(map(int, wr)), 1, thickness)
        hand = [lm.INDEX[f"{side}_{p}"] for p in ("wrist", "index", "pinky", "thumb")]
        cv2.fillConvexPoly(mask, cv2.convexHull(px[hand].astype(np.int32)), 1)
        cv2.circle(mask, tuple(map(int, wr)), thickness // 2 + 2, 1, -1)
    return mask.astype(bool)


def sleeve_share(garment_points: np.ndarray, shoulder: np.ndarray, elbow: np.ndarray, wrist: np.ndarray) -> float:
    """How much of the arm (shoulder to wrist, by length) a garment covers: the furthest of its
    points within SLEEVE_RADIUS_M of the arm's bones, 0 for a sleeveless one (rest pose, metres)."""
    upper, fore = np.linalg.norm(elbow - shoulder), np.linalg.norm(wrist - elbow)
    best = 0.0
    for a, b, offset in ((shoulder, elbow, 0.0), (elbow, wrist, upper)):
        d = b - a
        t = np.clip((garment_points - a) @ d / (d @ d), 0.0, 1.0)
        near = np.linalg.norm(garment_points - (a + t[:, None] * d), axis=1) < SLEEVE_RADIUS_M
        near &= t > 0.0
        if near.any():
            best = max(best, (offset + float(t[near].max()) * np.linalg.norm(d)) / (upper + fore))
    return best


def _distance_to(shape: tuple[int, int], draw) -> np.ndarray:
    """Each pixel's distance (px) to what `draw(mask)` paints with 0 on a blank mask."""
    mask = np.full(shape, 255, np.uint8)
    draw(mask)
    return cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def _beyond(points: np.ndarray, a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Signed distance of points from the line a-b, positive away from `inside`."""
    d = b - a
    n = np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-9)
    if (inside - a) @ n > 0:
        n = -n
    return (points - a) @ n


def torso_part(marks, size: tuple[int, int]) -> np.ndarray:
    """Pixels between the shoulder line and the hip line (each pushed out by a margin) that are
    nearer the shoulder-hip quadrilateral than any limb or the head (bones drawn from the
    landmarks), person or not: the image's share of the torso, as a bool (H, W) mask."""
    w, h = size
    px = _px(marks.image, size)
    ls, rs, lh, rh = (px[i] for i in (lm.LEFT_SHOULDER, lm.RIGHT_SHOULDER, lm.LEFT_HIP, lm.RIGHT_HIP))
    quad = np.array([ls, rs, rh, lh]).astype(np.int32)
    to_torso = _distance_to((h, w), lambda m: cv2.fillConvexPoly(m, quad, 0))

    def limbs(mask):
        for a, b in LIMB_BONES:
            cv2.line(mask, tuple(map(int, px[lm.INDEX[a]])), tuple(map(int, px[lm.INDEX[b]])), 0, 1)

    to_limb = _distance_to((h, w), limbs)
    margin = np.linalg.norm(ls - rs) * TORSO_DILATE_OF_SHOULDERS
    ys, xs = np.mgrid[0:h, 0:w]
    pts = np.stack([xs, ys], axis=-1).astype(np.float64)
    band = (_beyond(pts, ls, rs, (lh + rh) / 2) <= margin) & (_beyond(pts, lh, rh, (ls + rs) / 2) <= margin)
    return band & (to_torso <= to_limb)


def torso_region(marks, size: tuple[int, int], person_mask: np.ndarray | None = None) -> np.ndarray:
    """The person's torso: pixels of the person between the shoulder line and the hip line (each
    pushed out by a margin), nearer the shoulder-hip quadrilateral than any limb or the head
    (bones drawn from the landmarks), less any arm held in front of it.

    Nearest-part assignment keeps a torso seen turned or leaning (its back, its belly) in the
    torso although it lies outside the joints' quadrilateral, and keeps arms hanging at the sides out.
    """
    region = torso_part(marks, size) & ~arm_mask(marks, size)
    if person_mask is not None:
        region &= person_mask > 0.5
    return region


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
