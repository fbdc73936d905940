"""Image-quality numbers for the refiner in numpy: PSNR, SSIM and temporal flicker."""
from __future__ import annotations

import cv2
import numpy as np

SSIM_SIGMA = 1.5          # Gaussian window (Wang et al. 2004)
SSIM_K1, SSIM_K2 = 0.01, 0.03
PEAK = 255.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images (or stacks)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(PEAK ** 2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two (H, W, 3) uint8 images, averaged over channels."""
    c1, c2 = (SSIM_K1 * PEAK) ** 2, (SSIM_K2 * PEAK) ** 2
    x, y = a.astype(np.float64), b.astype(np.float64)

    def blur(img):
        return cv2.GaussianBlur(img, (11, 11), SSIM_SIGMA)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return float(s.mean())


def mean_psnr_ssim(outputs: np.ndarray, targets: np.ndarray) -> tuple[float, float]:
    """Per-frame PSNR and SSIM, averaged over a stack of frames."""
    p = [psnr(o, t) for o, t in zip(outputs, targets)]
    s = [ssim(o, t) for o, t in zip(outputs, targets)]
    return float(np.mean(p)), float(np.mean(s))


def frame_change(frames: np.ndarray) -> float:
    """Mean absolute frame-to-frame difference of a (T, H, W, 3) sequence (0..255 units)."""
    f = frames.astype(np.float32)
    return float(np.abs(f[1:] - f[:-1]).mean())


def flicker_ratio(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Frame-to-frame change of the outputs over that of the targets (1.0 = as steady as the target)."""
    return frame_change(outputs) / max(frame_change(targets), 1e-9)
