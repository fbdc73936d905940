"""Reading rendered frames back from the GPU buffer into numpy (BGR uint8), every frame."""
from __future__ import annotations

import numpy as np
from panda3d.core import GraphicsOutput, Texture


class FrameGrabber:
    """Copies each rendered frame to RAM through a render texture and hands it out as numpy."""

    def __init__(self, base):
        self.base = base
        self.texture = Texture("capture")
        base.win.addRenderTexture(self.texture, GraphicsOutput.RTMCopyRam, GraphicsOutput.RTPColor)

    def render(self) -> np.ndarray:
        """Step Panda (tasks + draw), wait for the GPU and return the frame as (H, W, 3) BGR."""
        self.base.taskMgr.step()
        self.base.graphicsEngine.syncFrame()
        return self.read()

    def read(self) -> np.ndarray:
        tex = self.texture
        data = tex.getRamImageAs("BGR")
        if not data:
            return np.zeros((self.base.win.getYSize(), self.base.win.getXSize(), 3), np.uint8)
        img = np.frombuffer(data, np.uint8).reshape(tex.getYSize(), tex.getXSize(), 3)
        return np.ascontiguousarray(img[::-1])  # OpenGL rows run bottom-up
