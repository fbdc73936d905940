"""Pose input: frame sources, MediaPipe tracking and motion recordings (names load on first use).

Exports are lazy so that `import avatar_wardrobe.pose.landmarks` stays cheap: cv2 loads with the
sources and mediapipe (about 1 s) only when PoseTracker is first touched.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
