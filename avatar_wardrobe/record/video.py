"""Writing rendered frames to MP4: H.264 through imageio-ffmpeg's bundled ffmpeg, else OpenCV's MPEG-4."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import WardrobeError

H264_QUALITY = 7  # imageio-ffmpeg quality scale 0-10
# x264's speed preset. The default ("medium") took 6.6 ms of CPU per 640x480 frame of the demo, a
# tenth of the whole frame's CPU on two cores, beside the render; "veryfast" 3.5 ms for a file of
# the same size (224 vs 220 kB for the 120 demo frames, same quality setting); "ultrafast" 2.3 ms
# but a 4x larger file.
H264_PRESET = "veryfast"
# Frames go to ffmpeg as YUV 4:2:0 made by OpenCV (BT.601, video range: what ffmpeg's own bgr24
# input path makes, through swscale's unvectorised C converter). On the demo's 640x480 frames the
# ffmpeg process's CPU went 3.8-4.7 -> 2.9-3.8 ms a frame for +0.2 ms here, half the bytes go
# through the pipe, and the decoded video is nearer the rendered frames (mean abs error 1.0
# against 1.8 grey levels). Odd sizes (no 4:2:0 layout) still go as bgr24.
YUV_INPUT = True
FALLBACK_FOURCC = "mp4v"


class VideoWriter:
    """Appends BGR frames of one fixed size to an MP4 file; use as a context manager."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]):
        self.path = Path(path)
        self.size = tuple(size)
        self.frames = 0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WardrobeError(f"cannot create the folder for {self.path}: {exc}. Pick another --out.") from None
        self._gen = self._cv = None
        self._yuv = YUV_INPUT and self.size[0] % 2 == 0 and self.size[1] % 2 == 0
        if self._yuv:
            import cv2

            self._cv2 = cv2  # imported once, not on every frame
        try:
            import imageio_ffmpeg

            self._gen = imageio_ffmpeg.write_frames(
                str(self.path), self.size, fps=fps, codec="libx264", pix_fmt_in="yuv420p" if self._yuv else "bgr24",
                pix_fmt_out="yuv420p", quality=H264_QUALITY, macro_block_size=2, ffmpeg_log_level="error",
                output_params=["-preset", H264_PRESET])
            self._gen.send(None)
        except ImportError:
            import cv2

            self._cv = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*FALLBACK_FOURCC), fps, self.size)
            if not self._cv.isOpened():
                raise WardrobeError(f"cannot write video {self.path}: check the folder is writable.")

    def write(self, image: np.ndarray) -> None:
        if image.shape[1::-1] != self.size:
            raise WardrobeError(f"frame size {image.shape[1::-1]} differs from the video's {self.size}.")
        if self._gen is not None and self._yuv:
            self._gen.send(self._cv2.cvtColor(image, self._cv2.COLOR_BGR2YUV_I420))
        elif self._gen is not None:
            self._gen.send(np.ascontiguousarray(image))
        else:
            self._cv.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()
            self._gen = None
        if self._cv is not None:
            self._cv.release()
            self._cv = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_video(path: str | Path) -> list[np.ndarray]:
    """Every frame of a video file as BGR arrays (for tests, tools and checks; not for long clips)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = []
    ok, image = cap.read()
    while ok:
        frames.append(image)
        ok, image = cap.read()
    cap.release()
    return frames
