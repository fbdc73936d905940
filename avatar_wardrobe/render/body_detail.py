"""The avatar's level of detail: the full or the coarse triangle list (avatar/lod.py), from how tall it stands on screen."""
from __future__ import annotations

import math

from ..errors import WardrobeError

MODES = ("auto", "full", "low")
LOW_DETAIL_BELOW_PX = 640   # "auto": the coarse list while the avatar stands less tall than this on screen
                            # (the demo's 640x480 shows it ~400 px tall: 25.9k -> 11.2k triangles, render
                            # -5 ms; at 960x720, ~600 px, both lists looked the same)
BACK_TO_FULL_SHARE = 1.1    # ...and the full list again only above this share of it (no flicker at the edge)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise WardrobeError(f"unknown [render] body_lod '{mode}': use one of {', '.join(MODES)}.")
    return mode


def screen_height_px(base, node, height_m: float) -> float | None:
    """How tall the avatar under `node` (feet at its origin, +Z up, `height_m` tall in its own units)
    stands in base's window now, in pixels; None without a perspective camera and a window."""
    from panda3d.core import PerspectiveLens, Point3

    cam, lens, win = getattr(base, "cam", None), getattr(base, "camLens", None), getattr(base, "win", None)
    if cam is None or win is None or not isinstance(lens, PerspectiveLens) or node.isEmpty():
        return None
    feet = cam.getRelativePoint(node, Point3(0, 0, 0))
    head = cam.getRelativePoint(node, Point3(0, 0, height_m))
    depth = (feet.y + head.y) / 2  # Panda's camera looks down +Y
    if depth <= 0:
        return 0.0
    focal_px = win.getYSize() / (2 * math.tan(math.radians(lens.getFov()[1]) / 2))
    return (head - feet).length() * focal_px / depth


def want_low(mode: str, low_now: bool, height_px: float | None) -> bool:
    """Whether to draw the coarse list, given the mode, what is drawn now and the avatar's height."""
    if mode != "auto":
        return mode == "low"
    if height_px is None:
        return False
    return height_px < LOW_DETAIL_BELOW_PX * (BACK_TO_FULL_SHARE if low_now else 1.0)
