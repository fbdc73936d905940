"""Frame sources (video file, image folder, webcam) that yield in-memory BGR `Frame` records."""
from __future__ import annotations

import os
import re
import time
import warnings
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import WardrobeError
from ..records import Frame

DEFAULT_FPS = 30.0  # used when a container or camera does not report a usable frame rate
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
DEFAULT_CAMERA_WIDTH = 640
DEFAULT_CAMERA_HEIGHT = 480
BGR_CHANNELS = 3
RECONNECT_S = 30.0           # a camera that vanished mid-run is retried this long before the stream ends
RECONNECT_INTERVAL_S = 1.0   # between attempts to open it again


class CameraWarning(UserWarning):
    """A camera went away or came back (said once per event, never per frame)."""


def _usable_fps(value: float) -> float:
    """A container/camera fps if it is a positive finite number, else DEFAULT_FPS."""
    return float(value) if np.isfinite(value) and value > 0 else DEFAULT_FPS


def _check_max_frames(max_frames: int | None) -> int | None:
    if max_frames is not None and max_frames < 0:
        raise ValueError(f"max_frames must be >= 0 or None, got {max_frames}")
    return max_frames


def _as_bgr(image: np.ndarray) -> np.ndarray:
    """Any cv2 image -> contiguous BGR uint8 (H, W, 3)."""
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image, alpha=255.0 / np.iinfo(image.dtype).max)
    return np.ascontiguousarray(image)


class FrameSource:
    """Base of all frame sources: iterate for `Frame`s; `fps`; `frame_count` (None when unknown).

    `len(source)` works when the frame count is known and raises TypeError otherwise (tqdm and
    friends treat that as "no total"). Use as a context manager or call `close()`.
    """

    fps: float = DEFAULT_FPS
    frame_count: int | None = None
    description: str = ""

    def __iter__(self) -> Iterator[Frame]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self) -> int:
        if self.frame_count is None:
            raise TypeError(f"{type(self).__name__} has no known length (a live stream)")
        return self.frame_count

    def close(self) -> None:
        """Release the underlying file or device; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r}, fps={self.fps:g}, frames={self.frame_count})"


class VideoSource(FrameSource):
    """Frames of a video file read with OpenCV; frame i has time i / fps.

    The file is opened and its first frame decoded at construction, so an unreadable file fails
    here with a WardrobeError rather than halfway through a run. Iterating again starts over.
    """

    def __init__(self, path: str | os.PathLike, max_frames: int | None = None):
        self.path = Path(path)
        self.description = str(self.path)
        self.max_frames = _check_max_frames(max_frames)
        if not self.path.is_file():
            raise WardrobeError(
                f"no video file at {self.path}: check the path, or pass --camera N to use a webcam"
            )
        self._capture: cv2.VideoCapture | None = None
        self._first: np.ndarray | None = None
        self._open()
        assert self._capture is not None
        self.fps = _usable_fps(self._capture.get(cv2.CAP_PROP_FPS))
        reported = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        count = reported if reported > 0 else None
        if self.max_frames is not None:
            count = self.max_frames if count is None else min(count, self.max_frames)
        self.frame_count = count

    def _open(self) -> None:
        capture = cv2.VideoCapture(str(self.path))
        ok, image = (capture.read() if capture.isOpened() else (False, None))
        if not ok or image is None:
            capture.release()
            raise WardrobeError(
                f"cannot decode video {self.path}: it is not a video OpenCV can read or it is "
                f"damaged; re-encode it (e.g. `ffmpeg -i in -c:v libx264 out.mp4`) or pick another file"
            )
        self._capture, self._first = capture, image

    def __iter__(self) -> Iterator[Frame]:
        if self._first is None:  # a second pass (or after close): start from the top
            self.close()
            self._open()
        capture, image = self._capture, self._first
        self._first = None
        index = 0
        while image is not None and (self.max_frames is None or index < self.max_frames):
            yield Frame(index=index, time_s=index / self.fps, image=_as_bgr(image))
            index += 1
            ok, image = capture.read()
            if not ok or image is None or image.size == 0:
                break  # end of file, or a damaged tail: stop cleanly with what was read

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
        self._capture, self._first = None, None


def _natural_key(path: Path) -> list:
    """Sort key so that frame_2.png comes before frame_10.png."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


class ImageFolderSource(FrameSource):
    """Still images (.jpg/.jpeg/.png/.bmp) of a folder in natural name order, at a given fps.

    `folder` may also be a single image file, which gives a one-frame source.
    """

    def __init__(self, folder: str | os.PathLike, fps: float = DEFAULT_FPS,
                 max_frames: int | None = None):
        self.folder = Path(folder)
        self.description = str(self.folder)
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.fps = float(fps)
        max_frames = _check_max_frames(max_frames)
        if self.folder.is_file() and self.folder.suffix.lower() in IMAGE_SUFFIXES:
            files = [self.folder]
        elif self.folder.is_dir():
            files = sorted((p for p in self.folder.iterdir()
                            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
        else:
            raise WardrobeError(
                f"no image folder at {self.folder}: pass a folder of "
                f"{'/'.join(sorted(IMAGE_SUFFIXES))} images, a video file or a camera index"
            )
        if not files:
            raise WardrobeError(
                f"no images in {self.folder}: it needs {'/'.join(sorted(IMAGE_SUFFIXES))} files "
                f"(frames are taken in name order)"
            )
        self.files = files[:max_frames] if max_frames is not None else files
        self.frame_count = len(self.files)

    def __iter__(self) -> Iterator[Frame]:
        for index, path in enumerate(self.files):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # applies EXIF rotation
            if image is None:
                raise WardrobeError(
                    f"cannot read image {path}: the file is damaged or not really an image; "
                    f"remove it from {self.folder} or replace it"
                )
            yield Frame(index=index, time_s=index / self.fps, image=_as_bgr(image))


class WebcamSource(FrameSource):
    """Live frames from a camera; frame time is seconds since the first frame (monotonic clock).

    Frames are not mirrored (see pose.landmarks: a selfie view flips the display, never the data).
    When the camera stops delivering frames mid-run (unplugged), it is said once (CameraWarning)
    and the stream goes on with blank `lost` frames at the camera's rate while the camera is
    opened again every `reconnect_interval_s`; when it returns, that is said once and real
    frames follow. After `reconnect_s` without it (None: never give up; 0: no retry) the stream
    ends cleanly.
    """

    def __init__(self, index: int = 0, width: int = DEFAULT_CAMERA_WIDTH,
                 height: int = DEFAULT_CAMERA_HEIGHT, max_frames: int | None = None,
                 reconnect_s: float | None = RECONNECT_S, reconnect_interval_s: float = RECONNECT_INTERVAL_S):
        self.index = int(index)
        self.description = f"camera {self.index}"
        self.max_frames = _check_max_frames(max_frames)
        self.frame_count = None
        self.requested_size = (width, height)
        self.reconnect_s, self.reconnect_interval_s = reconnect_s, reconnect_interval_s
        self.reconnects = 0  # times the camera came back
        capture = self._open_capture()
        if capture is None:
            raise WardrobeError(
                f"no camera at index {self.index}: plug one in or pass --camera/--video"
            )
        self._capture: cv2.VideoCapture | None = capture
        self.fps = _usable_fps(capture.get(cv2.CAP_PROP_FPS))
        self.size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
                     int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def _open_capture(self) -> cv2.VideoCapture | None:
        capture = cv2.VideoCapture(self.index)
        if not capture.isOpened():
            capture.release()
            return None
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.requested_size[0])
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.requested_size[1])
        return capture

    def _read(self) -> np.ndarray | None:
        if self._capture is None:
            return None
        ok, image = self._capture.read()
        return image if ok and image is not None and image.size else None  # some drivers: (True, empty)

    def __iter__(self) -> Iterator[Frame]:
        if self._capture is None:
            raise WardrobeError(f"camera {self.index} was closed: open a new WebcamSource")
        index, start = 0, None
        blank = None
        while self.max_frames is None or index < self.max_frames:
            image = self._read()
            if image is None and index == 0:
                raise WardrobeError(
                    f"camera {self.index} opened but sent no image: close other programs "
                    f"using it, or pass --camera with another index or --video"
                )
            if image is None:
                for frame in self._reconnect(index, start, blank):
                    if self.max_frames is not None and frame.index >= self.max_frames:
                        return
                    index = frame.index + 1
                    yield frame
                if self._capture is None:
                    return  # gave up: the stream ends cleanly
                continue
            now = time.monotonic()
            start = now if start is None else start
            frame = Frame(index=index, time_s=now - start, image=_as_bgr(image))
            if blank is None or blank.shape != frame.image.shape:
                blank = np.zeros_like(frame.image)  # the stand-in while lost: black, the camera's size
            yield frame
            index += 1

    def _reconnect(self, index: int, start: float, blank: np.ndarray) -> Iterator[Frame]:
        """Blank `lost` frames at the camera's rate while the camera is opened again now and then."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        if self.reconnect_s == 0:
            return
        warnings.warn(f"camera {self.index} stopped sending frames (unplugged?): reconnecting"
                      + (f" for up to {self.reconnect_s:g} s" if self.reconnect_s else "")
                      + "; the avatar eases to rest meanwhile.", CameraWarning, stacklevel=3)
        lost_at = next_try = time.monotonic()
        while self.reconnect_s is None or time.monotonic() - lost_at < self.reconnect_s:
            now = time.monotonic()
            if now >= next_try:
                next_try = now + self.reconnect_interval_s
                self._capture = self._open_capture()
                if self._capture is not None:
                    if self._read() is not None:  # the first image after a reconnect may be stale: skip it
                        self.reconnects += 1
                        warnings.warn(f"camera {self.index} is back after {now - lost_at:.1f} s.",
                                      CameraWarning, stacklevel=3)
                        return
                    self._capture.release()
                    self._capture = None
            yield Frame(index=index, time_s=time.monotonic() - start, image=blank, lost=True)
            index += 1
            time.sleep(1.0 / self.fps)
        warnings.warn(f"camera {self.index} did not come back within {self.reconnect_s:g} s.",
                      CameraWarning, stacklevel=3)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
        self._capture = None


def open_source(spec: int | str | os.PathLike, max_frames: int | None = None,
                fps: float = DEFAULT_FPS) -> FrameSource:
    """Pick a source from a spec: a camera index (int or digit string), an image folder or image
    file, or a video file. `fps` applies to images only (videos and cameras report their own)."""
    if isinstance(spec, bool):
        raise TypeError("source spec must be a camera index, a path or a path string, not a bool")
    if isinstance(spec, int):
        return WebcamSource(spec, max_frames=max_frames)
    text = os.fspath(spec)
    if isinstance(text, str) and text.strip().isdigit() and not Path(text).exists():
        return WebcamSource(int(text.strip()), max_frames=max_frames)
    path = Path(text)
    if path.is_dir() or (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES):
        return ImageFolderSource(path, fps=fps, max_frames=max_frames)
    if path.is_file():
        return VideoSource(path, max_frames=max_frames)
    raise WardrobeError(
        f"no such file or folder: {path}: pass a video file, a folder of images, or a camera "
        f"index such as 0"
    )
