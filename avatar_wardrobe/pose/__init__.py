"""Pose input: frame sources, MediaPipe tracking and motion recordings (names load on first use).

Exports are lazy so that `import avatar_wardrobe.pose.landmarks` stays cheap: cv2 loads with the
sources and mediapipe (about 1 s) only when PoseTracker is first touched.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

_EXPORTS = {
    "FrameSource": "sources",
    "VideoSource": "sources",
    "ImageFolderSource": "sources",
    "WebcamSource": "sources",
    "open_source": "sources",
    "PoseTracker": "tracker",
    "MotionWriter": "recording",
    "TrackWriter": "recording",
    "Motion": "recording",
    "read_motion": "recording",
    "MOTION_FORMAT": "recording",
    "MOTION_VERSION": "recording",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .recording import MOTION_FORMAT, MOTION_VERSION, Motion, MotionWriter, TrackWriter, read_motion
    from .sources import FrameSource, ImageFolderSource, VideoSource, WebcamSource, open_source
    from .tracker import PoseTracker


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
