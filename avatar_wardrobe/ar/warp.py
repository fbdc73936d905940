"""Silhouette warp: the rendered garment layer remapped per scanline so its torso edges meet the person's."""
from __future__ import annotations

import math
import time

import cv2
import numpy as np

from ..pose import landmarks as lm
from .masks import LIMB_BONES, TORSO_DILATE_OF_SHOULDERS

WARP_ROWS = 24                 # edge offsets kept at this many heights (time smoothing), shoulder to hip line
ROW_REACH = (-0.15, 1.25)      # rows warped: from the shoulder line (0) to the hip line (1), a little past both
MAX_SHIFT_OF_SHOULDERS = 0.18  # an edge moves at most this share of the shoulder width
MIN_SCALE, MAX_SCALE = 0.8, 1.25  # a row's garment width changes at most by these factors
ROW_SMOOTH_OF_TORSO = 0.08     # Gaussian sigma along the torso, as a share of the shoulder-hip distance
TIME_CONSTANT_S = 0.08         # offsets follow the person's silhouette with this time constant
MAX_GAP_S = 0.5                # a longer gap between frames restarts the smoothing
MIN_RUN_PX = 4                 # a run of pixels narrower than this is no edge
MIN_TORSO_VISIBILITY = 0.5     # shoulders and hips seen at least this well (else the torso rows are guesses)
FADE_OF_TORSO = 0.1            # the warp fades out over this share of the torso at the top and bottom of its reach
SLEEVE_FADE_OF_SHOULDERS = 0.35  # beyond an edge, its shift fades out over this share of the shoulder width
_SEGMENTS = tuple((lm.INDEX[a], lm.INDEX[b]) for a, b in LIMB_BONES)


def _distance_to(shape: tuple[int, int], draw) -> np.ndarray:
    """Each pixel's distance (px, 5x5 chamfer) to what `draw(mask)` paints with 0 on a blank mask."""
    mask = np.full(shape, 255, np.uint8)
    draw(mask)
    return cv2.distanceTransform(mask, cv2.DIST_L2, 5)


def torso_side(px: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """Which pixels of the window (x0, y0, w, h) belong to the torso: between the shoulder and hip
    lines (pushed out by masks.TORSO_DILATE_OF_SHOULDERS) and nearer the shoulder-hip
    quadrilateral than any limb bone or the head, as masks.torso_part draws it on the whole image,
    here on just the window and with a cheaper distance (bool (h, w))."""
    ls, rs, lh, rh = (px[i] for i in (lm.LEFT_SHOULDER, lm.RIGHT_SHOULDER, lm.LEFT_HIP, lm.RIGHT_HIP))
    at = px[:, :2] - np.array([x0, y0], dtype=np.float64)
    quad = np.round(np.array([ls, rs, rh, lh]) - (x0, y0)).astype(np.int32)
    to_torso = _distance_to((h, w), lambda m: cv2.fillConvexPoly(m, quad, 0))

    def limbs(mask):
        for i, j in _SEGMENTS:
            cv2.line(mask, tuple(map(int, np.round(at[i]))), tuple(map(int, np.round(at[j]))), 0, 1)

    to_limb = _distance_to((h, w), limbs)
    margin = float(np.linalg.norm(ls - rs)) * TORSO_DILATE_OF_SHOULDERS
    xs = np.arange(x0, x0 + w, dtype=np.float32)[None, :]
    ys = np.arange(y0, y0 + h, dtype=np.float32)[:, None]
    band = np.ones((h, w), bool)
    for a, b, other in ((ls, rs, (lh + rh) / 2), (lh, rh, (ls + rs) / 2)):
        d = b - a
        n = np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-9)
        if (other - a) @ n > 0:
            n = -n
        band &= (xs - a[0]) * n[0] + (ys - a[1]) * n[1] <= margin
    return band & (to_torso <= to_limb)


def _runs(mask: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of mask: (found, first, last) column of the run of True through column centre[row]."""
    n, w = mask.shape
    cols = np.arange(w)
    c = np.clip(centre, 0, w - 1)
    on = mask[np.arange(n), c]
    off = ~mask
    first = np.where(off & (cols < c[:, None]), cols, -1).max(axis=1) + 1
    last = np.where(off & (cols > c[:, None]), cols, w).min(axis=1) - 1
    return on & (last - first + 1 >= MIN_RUN_PX), first, last


class SilhouetteWarp:
    """Each frame, rows between the shoulder and hip lines of the garment layer are stretched or
    squeezed horizontally (and shifted) so the left and right edges of the garment's torso part
    meet the person's torso edges in the segmentation mask; what lies beyond an edge (a sleeve)
    moves with it. Bounded: an edge moves at most MAX_SHIFT_OF_SHOULDERS of the shoulder width, a
    row's width changes at most MIN_SCALE..MAX_SCALE; smooth along the torso and in time, so a bad
    mask cannot tear the garment. Rows are image rows: a torso leaning sideways is warped less well."""

    def __init__(self):
        self._offsets: np.ndarray | None = None  # (WARP_ROWS, 2) left/right edge offsets, shoulder widths
        self._t: float | None = None
        self.last_ms = 0.0

    def reset(self) -> None:
        self._offsets, self._t = None, None

    def _frame(self, marks, size):
        """(landmark pixels, shoulder mid, hip mid, shoulder width) or None for a torso too small to see."""
        px = marks.image[:, :2] * np.array(size, dtype=np.float64)
        sh = (px[lm.LEFT_SHOULDER] + px[lm.RIGHT_SHOULDER]) / 2
        hp = (px[lm.LEFT_HIP] + px[lm.RIGHT_HIP]) / 2
        width = float(np.linalg.norm(px[lm.LEFT_SHOULDER] - px[lm.RIGHT_SHOULDER]))
        if width < MIN_RUN_PX or hp[1] - sh[1] < MIN_RUN_PX:
            return None
        torso = [lm.LEFT_SHOULDER, lm.RIGHT_SHOULDER, lm.LEFT_HIP, lm.RIGHT_HIP]
        if marks.visibility is not None and marks.visibility[torso].min() < MIN_TORSO_VISIBILITY:
            return None
        return px, sh, hp, width

    def edges(self, garment: np.ndarray, person: np.ndarray, marks, size: tuple[int, int]):
        """The rows warped and, for each, the garment's and the person's torso edges:
        (rows, s (0 shoulder line .. 1 hip line), garment (found, left, right), person (found, left, right))."""
        h = size[1]
        frame = self._frame(marks, size)
        if frame is None:
            return None
        px, sh, hp, width = frame
        y0 = max(0, math.floor(sh[1] + ROW_REACH[0] * (hp[1] - sh[1])))
        y1 = min(h, math.ceil(sh[1] + ROW_REACH[1] * (hp[1] - sh[1])) + 1)
        cols = np.flatnonzero(garment[y0:y1].any(axis=0) | person[y0:y1].any(axis=0))
        if y1 - y0 < MIN_RUN_PX or cols.size == 0:
            return None
        x0, x1 = int(cols[0]), int(cols[-1]) + 1
        part = torso_side(px, x0, y0, x1 - x0, y1 - y0)
        rows = np.arange(y0, y1)
        s = (rows - sh[1]) / (hp[1] - sh[1])
        centre = np.round(sh[0] + s * (hp[0] - sh[0])).astype(int) - x0
        g = _runs(garment[y0:y1, x0:x1] & part, centre)
        p = _runs(person[y0:y1, x0:x1] & part, centre)
        return rows, s, (g[0], g[1] + x0, g[2] + x0 + 1), (p[0], p[1] + x0, p[2] + x0 + 1), width

    def update(self, s: np.ndarray | None, offsets: np.ndarray | None, t: float) -> np.ndarray | None:
        """This frame's edge offsets (rows at torso heights s, NaN where unmeasured, shoulder widths)
        resampled to WARP_ROWS, bounded and smoothed along the torso and in time: the offsets in use.
        A frame without them (None, or too few rows) eases the offsets back to none."""
        grid = np.linspace(*ROW_REACH, WARP_ROWS)
        sample = np.zeros((WARP_ROWS, 2))
        for j in range(2):
            ok = ~np.isnan(offsets[:, j]) if offsets is not None else np.zeros(0, bool)
            if ok.sum() < 2:
                if self._offsets is None:
                    return None
                sample[:] = 0.0
                break
            sample[:, j] = np.interp(grid, s[ok], offsets[ok, j])
        sample = np.clip(sample, -MAX_SHIFT_OF_SHOULDERS, MAX_SHIFT_OF_SHOULDERS)
        sigma = ROW_SMOOTH_OF_TORSO / (grid[1] - grid[0])
        sample = cv2.GaussianBlur(sample, (1, 0), sigmaX=0.1, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
        if self._offsets is None or self._t is None or not 0 <= t - self._t <= MAX_GAP_S:
            self._offsets = sample
        else:
            a = 1.0 - math.exp(-(t - self._t) / TIME_CONSTANT_S)
            self._offsets = self._offsets + a * (sample - self._offsets)
        self._t = t
        return self._offsets

    def __call__(self, layer: np.ndarray, person: np.ndarray, marks) -> np.ndarray:
        """The garment layer (BGRA uint8 (H, W, 4), alpha 0 where nothing was drawn) warped onto
        the person's torso; person: bool (H, W) segmentation."""
        t0 = time.perf_counter()
        try:
            return self._warp(layer, person, marks)
        finally:
            self.last_ms = (time.perf_counter() - t0) * 1e3

    def _warp(self, layer, person, marks):
        h, w = layer.shape[:2]
        found = self.edges(layer[..., 3] > 127, person, marks, (w, h))
        if found is None:
            self.update(None, None, marks.time_s)
            return layer
        rows, s, (g_ok, gl, gr), (p_ok, pl, pr), width = found
        ok = g_ok & p_ok
        measured = np.where(ok[:, None], np.stack([pl - gl, pr - gr], axis=1) / width, np.nan)
        offsets = self.update(s, measured, marks.time_s)
        if offsets is None:
            return layer
        grid = np.linspace(*ROW_REACH, WARP_ROWS)
        fade = np.clip(np.minimum(s - ROW_REACH[0], ROW_REACH[1] - s) / FADE_OF_TORSO, 0.0, 1.0)
        d_left = np.interp(s, grid, offsets[:, 0]) * width * fade
        d_right = np.interp(s, grid, offsets[:, 1]) * width * fade
        keep = g_ok
        rows, gl, gr, d_left, d_right = rows[keep], gl[keep], gr[keep], d_left[keep], d_right[keep]
        if rows.size == 0:
            return layer
        tl, tr = gl + d_left, gr + d_right
        g_width = np.maximum(gr - gl, 1.0)
        scale = np.clip((tr - tl) / g_width, MIN_SCALE, MAX_SCALE)
        mid = np.where(tr > tl, (tl + tr) / 2, (gl + gr) / 2 + (d_left + d_right) / 2)
        tl, tr = mid - g_width * scale / 2, mid + g_width * scale / 2
        reach = SLEEVE_FADE_OF_SHOULDERS * width
        tl = gl + np.clip(tl - gl, -0.9 * reach, 0.9 * reach)  # keeps the map in order beyond the edges
        tr = gr + np.clip(tr - gr, -0.9 * reach, 0.9 * reach)
        # Output column x shows layer column src(x): edge to edge, linear between, shifted beyond;
        # only the window the shifts reach is remapped.
        c0 = max(0, math.floor(min(tl.min(), gl.min()) - reach))
        c1 = min(w, math.ceil(max(tr.max(), gr.max()) + reach) + 1)
        x = np.arange(c0, c1, dtype=np.float64)[None, :]
        k = (gr - gl)[:, None] / np.maximum(tr - tl, 1e-6)[:, None]
        src = gl[:, None] + (x - tl[:, None]) * k
        # Beyond an edge the shift fades out (a sleeve stays on the player's arm), slowly enough
        # that the map keeps its order (the shift is bounded well below the fade's length).
        left_fade = np.clip(1 - (tl[:, None] - x) / reach, 0, 1)
        right_fade = np.clip(1 - (x - tr[:, None]) / reach, 0, 1)
        src = np.where(x < tl[:, None], x - (tl - gl)[:, None] * left_fade, src)
        src = np.where(x > tr[:, None], x - (tr - gr)[:, None] * right_fade, src)
        r0, r1 = int(rows[0]), int(rows[-1]) + 1
        map_x = np.tile(np.arange(c0, c1, dtype=np.float32), (r1 - r0, 1))
        map_x[rows - r0] = src
        map_y = np.repeat(np.arange(r0, r1, dtype=np.float32)[:, None], c1 - c0, axis=1)
        out = layer.copy()
        out[r0:r1, c0:c1] = cv2.remap(layer, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                      borderValue=0)
        return out
