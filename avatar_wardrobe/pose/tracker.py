"""MediaPipe pose tracking: Frame (BGR) -> Landmarks; the only module that imports mediapipe."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import cv2
import numpy as np

MPL_CONFIG_ENV = "MPLCONFIGDIR"


def _private_matplotlib_dir() -> None:
    """mediapipe imports matplotlib (for drawing helpers we do not use), which writes a font cache
    into the user's home. Unless the user chose a folder, give it a private temporary one that
    is removed at exit: running the product writes nothing the user did not ask for."""
    if MPL_CONFIG_ENV not in os.environ:
        folder = tempfile.mkdtemp(prefix="avatar_wardrobe-mpl-")
        os.environ[MPL_CONFIG_ENV] = folder
        atexit.register(shutil.rmtree, folder, True)


_private_matplotlib_dir()
import mediapipe as mp  # noqa: E402 - after the matplotlib folder is chosen

from ..errors import WardrobeError
from ..records import Frame, Landmarks
from . import landmarks as lm

# mediapipe 0.10.21 ships only the "full" landmark model (complexity 1) inside the wheel; lite (0)
# and heavy (2) would be downloaded on first use, which fails offline.
BUNDLED_MODEL_COMPLEXITY = 1
DEFAULT_MIN_DETECTION_CONFIDENCE = 0.5
DEFAULT_MIN_TRACKING_CONFIDENCE = 0.5


def _check_confidence(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise WardrobeError(f"{name} must be between 0 and 1, got {value}: fix the setting")
    return float(value)


class PoseTracker:
    """Wraps `mediapipe.solutions.pose.Pose` (full model, CPU) for one stream of frames.

    In tracking mode (static_image_mode=False) MediaPipe reuses the previous frame's pose and
    smooths landmarks; its solution API stamps frames at a fixed 30 fps whatever the source rate.
    Call `reset()` between unrelated clips. Not thread-safe: one tracker per stream.
    """

    def __init__(self, static_image_mode: bool = False,
                 min_detection_confidence: float = DEFAULT_MIN_DETECTION_CONFIDENCE,
                 min_tracking_confidence: float = DEFAULT_MIN_TRACKING_CONFIDENCE,
                 model_complexity: int = BUNDLED_MODEL_COMPLEXITY,
                 smooth_landmarks: bool = True, enable_segmentation: bool = False):
        if model_complexity != BUNDLED_MODEL_COMPLEXITY:
            raise WardrobeError(
                f"pose model_complexity {model_complexity} is not available offline: only "
                f"{BUNDLED_MODEL_COMPLEXITY} (the full model bundled with mediapipe) is; "
                f"set model_complexity = {BUNDLED_MODEL_COMPLEXITY}"
            )
        self.static_image_mode = bool(static_image_mode)
        self.min_detection_confidence = _check_confidence(
            "min_detection_confidence", min_detection_confidence)
        self.min_tracking_confidence = _check_confidence(
            "min_tracking_confidence", min_tracking_confidence)
        self.smooth_landmarks = bool(smooth_landmarks)
        self.enable_segmentation = bool(enable_segmentation)
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=self.static_image_mode,
            model_complexity=BUNDLED_MODEL_COMPLEXITY,
            smooth_landmarks=self.smooth_landmarks,
            enable_segmentation=self.enable_segmentation,
            min_detection_confidence=self.min_detection_confidence,
            min_tracking_confidence=self.min_tracking_confidence,
        )

    def track(self, frame: Frame) -> Landmarks:
        """Landmarks of the most prominent person in `frame`; an empty record when nobody is found."""
        if self._pose is None:
            raise RuntimeError("PoseTracker is closed")
        image = frame.image
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
        height, width = image.shape[:2]
        if frame.lost:  # a camera being reconnected: nothing to see, nothing to run
            return Landmarks(index=frame.index, time_s=frame.time_s, image_size=(width, height))
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        rgb.flags.writeable = False  # lets MediaPipe wrap the buffer without a copy
        result = self._pose.process(rgb)
        empty = Landmarks(index=frame.index, time_s=frame.time_s, image_size=(width, height))
        if result.pose_landmarks is None or result.pose_world_landmarks is None:
            return empty
        points = result.pose_landmarks.landmark
        world_points = result.pose_world_landmarks.landmark
        if len(points) != lm.COUNT or len(world_points) != lm.COUNT:
            raise RuntimeError(f"mediapipe returned {len(points)} landmarks, expected {lm.COUNT}")
        image_xyz = np.array([(p.x, p.y, p.z) for p in points], dtype=np.float64)
        world_xyz = np.array([(p.x, p.y, p.z) for p in world_points], dtype=np.float64)
        visibility = np.array([p.visibility for p in points], dtype=np.float64)
        mask = None
        if self.enable_segmentation and result.segmentation_mask is not None:
            mask = np.asarray(result.segmentation_mask, dtype=np.float32)
        return Landmarks(index=frame.index, time_s=frame.time_s, image=image_xyz, world=world_xyz,
                         visibility=visibility, image_size=(width, height), mask=mask)

    def reset(self) -> None:
        """Forget the previous frames (tracking state and smoothing), e.g. before a new clip."""
        if self._pose is not None:
            self._pose.reset()

    def close(self) -> None:
        """Free the MediaPipe graph; safe to call twice."""
        if self._pose is not None:
            self._pose.close()
            self._pose = None

    def __enter__(self) -> "PoseTracker":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
