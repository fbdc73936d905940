"""Starting Panda3D: an offscreen buffer (p3headlessgl) with no display, a window when there is one."""
from __future__ import annotations

import os

from panda3d.core import loadPrcFileData

from ..errors import WardrobeError

HEADLESS_PRC = "load-display p3headlessgl\nwindow-type offscreen\n"
COMMON_PRC = "sync-video false\naudio-library-name null\n"
DEFAULT_SIZE = (640, 480)
# Samples of the window's own framebuffer. simplepbr draws the scene into its own (multisampled)
# buffer and only a full-screen quad into the window, so a pbr scene wants 0 here; the lite
# shading draws straight into the window. On llvmpipe 4 samples cost about a third of a frame.
DEFAULT_MSAA = 4


def want_window(window: bool | None) -> bool:
    """Use a window only when asked for one, or (when not said) when a display exists."""
    if window is None:
        return bool(os.environ.get("DISPLAY"))
    if window and not os.environ.get("DISPLAY"):
        raise WardrobeError("--window needs a display (DISPLAY is not set): run without --window for "
                            "offscreen rendering, or start one (e.g. Xvfb :1 & export DISPLAY=:1).")
    return window


def create_base(window: bool | None = None, size: tuple[int, int] = DEFAULT_SIZE, title: str = "avatar_wardrobe",
                msaa: int = DEFAULT_MSAA, lp_threads: int | None = None):
    """Create the ShowBase (once per process): offscreen unless a window is wanted and possible.
    msaa: the window framebuffer's samples (0: none); ignored when the ShowBase exists already.
    lp_threads: llvmpipe's render threads (LP_NUM_THREADS, which Mesa reads once, when the first
    GL screen opens; the variable is restored afterwards); None: Mesa's default (one per core)."""
    import builtins

    if getattr(builtins, "base", None) is not None:
        return builtins.base
    if lp_threads is None:
        return _create_base(window, size, title, msaa)
    previous = os.environ.get("LP_NUM_THREADS")
    os.environ["LP_NUM_THREADS"] = str(int(lp_threads))
    try:
        return _create_base(window, size, title, msaa)
    finally:
        if previous is None:
            os.environ.pop("LP_NUM_THREADS", None)
        else:
            os.environ["LP_NUM_THREADS"] = previous


def _create_base(window, size, title, msaa):
    windowed = want_window(window)
    prc = COMMON_PRC + f"win-size {size[0]} {size[1]}\nwindow-title {title}\n"
    prc += f"framebuffer-multisample true\nmulti-sample {int(msaa)}\n" if msaa > 0 else "framebuffer-multisample false\n"
    if not windowed:
        prc += HEADLESS_PRC
    loadPrcFileData("avatar_wardrobe", prc)
    from direct.showbase.ShowBase import ShowBase

    try:
        base = ShowBase()
    except Exception as exc:
        raise WardrobeError(f"Panda3D could not open a {'window' if windowed else 'offscreen buffer'} "
                            f"({exc}). Install Mesa (libgl1, libegl1) or run with --window off.") from None
    if base.win is None:
        raise WardrobeError("Panda3D opened no graphics output: install Mesa's OpenGL (libgl1, libegl1).")
    base.disableMouse()
    return base
