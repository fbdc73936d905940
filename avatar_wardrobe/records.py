"""Plain records that flow one way through the pipeline: Frame -> Landmarks -> Pose -> RenderedFrame."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Frame:
    """One camera/video image (BGR uint8, H x W x 3), kept in memory only.

    `lost` marks a blank stand-in sent while a camera is gone and being reconnected: nobody can
    be seen in it, so the avatar eases to rest, and the stream goes on."""

    index: int
    time_s: float
    image: np.ndarray
    lost: bool = False


@dataclass
class Landmarks:
    """MediaPipe pose output for one frame (33 landmarks), or an empty record when nobody was found.

    image: (33, 3) normalised x, y in [0, 1] of the image and relative z.
    world: (33, 3) metres, origin between the hips, MediaPipe camera axes (x right, y down, z away).
    visibility: (33,) in [0, 1].
    """

    index: int
    time_s: float
    image: np.ndarray | None = None
    world: np.ndarray | None = None
    visibility: np.ndarray | None = None
    image_size: tuple[int, int] = (0, 0)  # (width, height) of the source image
    mask: np.ndarray | None = None        # (H, W) person segmentation in [0, 1], when asked for

    @property
    def found(self) -> bool:
        return self.world is not None


@dataclass
class Pose:
    """A solved avatar pose: one local rotation (unit quaternion w, x, y, z) per skeleton joint.

    Rotations replace the joint's bind-pose local rotation; root_offset moves the root joint
    (metres, avatar frame) on top of its bind translation.
    """

    index: int
    time_s: float
    local_rotations: np.ndarray  # (J, 4) w, x, y, z
    root_offset: np.ndarray = field(default_factory=lambda: np.zeros(3))


@dataclass
class RenderedFrame:
    """A rendered image (BGR uint8) with the per-stage timings that made it."""

    index: int
    image: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)
