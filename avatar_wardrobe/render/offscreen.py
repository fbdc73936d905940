"""The live window's picture passes: the scene drawn into an offscreen buffer, and a card showing numpy frames."""
from __future__ import annotations

import cv2
import numpy as np
from panda3d.core import (
    CardMaker,
    FrameBufferProperties,
    NodePath,
    Texture,
    TransparencyAttrib,
)

CARD_SORT = -100  # the card sits under the DirectGUI panel and the HUD (render2d draws in sort order)
BUFFER_SORT = -10  # offscreen buffers render before the window that shows them


class SceneBuffer:
    """An offscreen buffer with its own camera, drawing `scene` into a texture kept in RAM.
    The camera is placed and its lens set by the caller; read() returns the last drawn frame."""

    def __init__(self, base, size: tuple[int, int], scene: NodePath | None = None, lens=None,
                 clear=(0.0, 0.0, 0.0, 0.0), name: str = "scene_buffer", srgb: bool = False):
        """srgb: store colour as sRGB (the GPU converts the shaders' linear output, as the window's
        own pipeline does when the scene is shaded in linear space, e.g. by simplepbr)."""
        self.base, self.size = base, size
        self.texture = Texture(name)
        fbp = FrameBufferProperties()
        fbp.setRgbaBits(8, 8, 8, 8)
        fbp.setDepthBits(24)
        fbp.setSrgbColor(srgb)
        self.buffer = base.win.makeTextureBuffer(name, size[0], size[1], self.texture, True, fbp)
        if self.buffer is None:
            from ..errors import WardrobeError

            raise WardrobeError("Panda3D could not make an offscreen buffer for this view (graphics driver).")
        self.buffer.setSort(BUFFER_SORT)
        self.buffer.setClearColor(clear)
        self.camera = base.makeCamera(self.buffer, lens=lens)
        self.camera.reparentTo(base.render)
        self.camera.node().setScene(scene if scene is not None else base.render)

    @property
    def lens(self):
        return self.camera.node().getLens()

    def read(self) -> np.ndarray | None:
        """The last drawn frame as BGRA uint8 (H, W, 4) top-down, or None before the first one."""
        data = self.texture.getRamImage()
        if not data:
            return None
        img = np.frombuffer(data, np.uint8).reshape(self.texture.getYSize(), self.texture.getXSize(), -1)
        return np.ascontiguousarray(img[::-1])

    def remove(self) -> None:
        self.camera.removeNode()
        self.base.graphicsEngine.removeWindow(self.buffer)


class ScreenCard:
    """A card over the whole window (under the UI) showing BGR frames, letterboxed to their aspect."""

    def __init__(self, base, name: str = "screen_card"):
        self.base = base
        self.texture = Texture(name)
        cm = CardMaker(name)
        cm.setFrame(-1, 1, -1, 1)
        self.card = base.render2d.attachNewNode(cm.generate())
        self.card.setTexture(self.texture)
        self.card.setBin("background", CARD_SORT)
        self.card.setDepthWrite(False)
        self.card.setTransparency(TransparencyAttrib.MNone)
        self._shape = None

    def show(self, image: np.ndarray) -> None:
        """Upload a BGR (H, W, 3) frame and fit the card to the window without stretching it."""
        h, w = image.shape[:2]
        if self._shape != (h, w):
            self.texture.setup2dTexture(w, h, Texture.T_unsigned_byte, Texture.F_rgb)
            self._shape = (h, w)
        self.texture.setRamImage(cv2.flip(image, 0).tobytes())  # Panda's rows run bottom-up
        win_aspect = self.base.win.getXSize() / max(1, self.base.win.getYSize())
        aspect = w / h
        self.card.setScale(min(1.0, aspect / win_aspect), 1, min(1.0, win_aspect / aspect))

    def remove(self) -> None:
        self.card.removeNode()


def main_camera_active(base, on: bool) -> None:
    """Draw (or stop drawing) the window's own 3D view; a card covers it while a pass is on.
    (The camera itself, so a render pipeline that draws it into its own buffer stops too.)"""
    base.camNode.setActive(on)
