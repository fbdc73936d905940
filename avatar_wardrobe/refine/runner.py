"""Running a trained refiner on BGR frames: lazy torch, explicit threads, internal resolution, pass-through fallback."""
from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

from ..errors import WardrobeError
from ..settings import MODELS_DIR, RefineSettings

STYLES = ("enhance", "toon")
OFF = "off"
CHOICES = (OFF, *STYLES)
WEIGHTS_DIR = MODELS_DIR / "refiner"
WEIGHTS_SUFFIX = ".pt"
# The network traced and frozen per input shape (a frozen trace fixes its sizes): the 33k enhance
# generator takes ~9.4 ms instead of ~10.5-13.4 eager at 256x192 on one thread (alternating runs;
# the 164k one gained nothing measurable). A trace is used only where it matches eager to within
# TRACE_TOLERANCE on its first input; at most TRACED_SHAPES are kept (then the oldest goes).
TRACED_SHAPES = 4
TRACE_TOLERANCE = 1e-4


# OpenMP threads that spin while they wait collapse when the cores are also busy with the renderer
# (llvmpipe), the pose tracker or other programs: measured here at 320x240, 2 threads, 2 busy cores,
# the default policy took 600-720 ms per frame and PASSIVE 29-31 ms. Set before torch first loads.
OMP_WAIT_POLICY = "PASSIVE"


def import_torch():
    """Import torch (raises ImportError when it is missing), with passive OpenMP waiting if torch is new here."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", OMP_WAIT_POLICY)
    import torch

    return torch


class RefineWarning(UserWarning):
    """The refiner could not start (no torch, no weights): frames pass through unchanged."""


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RefineWarning, stacklevel=3)


def weights_path(style: str, weights_dir: str | Path | None = None) -> Path:
    return Path(weights_dir or WEIGHTS_DIR) / f"{style}{WEIGHTS_SUFFIX}"


def load_generator(path: str | Path):
    """The generator with weights from `path` (fp16 or fp32 state_dict, its shape stored with it), in eval mode, float32."""
    torch = import_torch()

    from .model import net_from_state

    return net_from_state(torch.load(path, map_location="cpu", weights_only=True))


class Refiner:
    """Refines rendered BGR frames in one style; a pass-through when the style is off or cannot run.

    >>> refine = Refiner.create("enhance")      # warns once and passes frames through if it can't run
    >>> image = refine(image)                   # (H, W, 3) uint8 in, same shape out
    """

    def __init__(self, style: str = OFF, net=None, internal_height: int = 0, threads: int = 0,
                 reason: str | None = None):
        self.style = style
        self.net = net
        self.internal_height = internal_height
        self.threads = threads
        self.reason = reason           # why it passes frames through (None when active or off)
        self.last_ms = 0.0
        self._traced: dict[tuple, object] = {}  # input shape -> frozen trace (or the eager net)

    @property
    def active(self) -> bool:
        return self.net is not None

    @classmethod
    def create(cls, style: str | None = None, settings: RefineSettings | None = None,
               weights_dir: str | Path | None = None) -> "Refiner":
        """A refiner for `style` (default: the settings' style). Never raises for a missing torch or
        missing weights: it warns once and returns a pass-through."""
        settings = settings or RefineSettings()
        style = style or settings.style
        if style not in CHOICES:
            raise WardrobeError(f"unknown refine style '{style}': use one of {', '.join(CHOICES)}.")
        if style == OFF:
            return cls(OFF)
        try:
            torch = import_torch()
        except ImportError as exc:
            reason = (f"refine '{style}' is off: PyTorch is not installed ({exc}). Install torch==2.13.0 "
                      "(`pip install torch==2.13.0`) to use --refine; showing raw frames.")
            _warn_once(reason)
            return cls(style, reason=reason)
        path = weights_path(style, weights_dir)
        if not path.is_file():
            reason = (f"refine '{style}' is off: no weights at {path}. Train them with "
                      f"`python tools/train_refiner.py --style {style}` or restore models/refiner/; showing raw frames.")
            _warn_once(reason)
            return cls(style, reason=reason)
        try:
            net = load_generator(path).to(memory_format=torch.channels_last)
        except Exception as exc:  # a corrupt or mismatched file must not stop the app
            reason = (f"refine '{style}' is off: {path.name} could not be loaded ({exc}). Retrain it with "
                      f"`python tools/train_refiner.py --style {style}`; showing raw frames.")
            _warn_once(reason)
            return cls(style, reason=reason)
        if settings.threads > 0:
            torch.set_num_threads(settings.threads)
        return cls(style, net, settings.internal_height, settings.threads)

    def refine_delta(self, image: np.ndarray) -> np.ndarray:
        """The float32 (h, w, 3) correction in 0..255 units at the internal resolution."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div_(255.0)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            y = self._module(x)(x)
        return (y - x)[0].permute(1, 2, 0).mul_(255.0).numpy()

    def _module(self, x):
        """The frozen trace of the net for x's shape (made on first use, checked against eager)."""
        key = tuple(x.shape)
        module = self._traced.get(key)
        if module is None:
            module = self._trace(x)
            if len(self._traced) >= TRACED_SHAPES:
                self._traced.pop(next(iter(self._traced)))
            self._traced[key] = module
        return module

    def _trace(self, x):
        import torch

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit is deprecated in 2.13 (still works); tracer notes
                traced = torch.jit.freeze(torch.jit.trace(self.net, x))
                same = float((traced(x) - self.net(x)).abs().max()) <= TRACE_TOLERANCE
        except Exception:  # a net that cannot be traced runs eager
            return self.net
        return traced if same else self.net

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Refine one (H, W, 3) BGR uint8 frame: run at the internal height, upsample the correction."""
        if not self.active:
            return image
        t0 = time.perf_counter()
        h, w = image.shape[:2]
        ih = self.internal_height if 0 < self.internal_height < h else h
        small = image if ih == h else cv2.resize(image, (max(1, round(w * ih / h)), ih), interpolation=cv2.INTER_AREA)
        delta = self.refine_delta(small)
        if small is not image:
            delta = cv2.resize(delta, (w, h), interpolation=cv2.INTER_LINEAR)
        # One saturating pass (OpenCV rounds the correction, then adds): ~0.5 ms against ~1.2 ms for
        # numpy's float copy, add, clip and round at 640x480; at most 1 grey level apart, where a
        # correction ends in exactly .5.
        out = cv2.add(image, delta, dtype=cv2.CV_8U)
        self.last_ms = (time.perf_counter() - t0) * 1e3
        return out
