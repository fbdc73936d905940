"""GarmentView: a garment's glTF UVs (origin at the image's top-left) map its texture the right way up."""
from __future__ import annotations

import cv2
import numpy as np

from avatar_wardrobe.garments.garment import Garment, GarmentMaterial, GarmentMeta
from avatar_wardrobe.render.capture import FrameGrabber
from avatar_wardrobe.render.garment_view import GarmentView

RED, BLUE = (0, 0, 255), (255, 0, 0)  # BGR, as cv2 writes them
MIN_SHARE = 0.8


def _two_colour_png() -> bytes:
    """Top half of the image red, bottom half blue."""
    image = np.zeros((64, 64, 3), np.uint8)
    image[:32], image[32:] = RED, BLUE
    ok, png = cv2.imencode(".png", image)
    assert ok
    return png.tobytes()


def _quad() -> Garment:
    """A 1 m square facing +Z (toward the camera) at y 0.5..1.5; glTF UV v = 0 at its top edge."""
    positions = np.array([[-0.5, 1.5, 0], [0.5, 1.5, 0], [-0.5, 0.5, 0], [0.5, 0.5, 0]], np.float32)
    uvs = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32)
    faces = np.array([[0, 2, 1], [1, 2, 3]])
    n = len(positions)
    return Garment(name="quad", meta=GarmentMeta(slot="top", layer=1, fabric="cotton", size="M"),
                   positions=positions, normals=np.tile([0, 0, 1], (n, 1)).astype(np.float32), uvs=uvs,
                   faces=faces, parts=[(0, len(faces), 0)],
                   materials=[GarmentMaterial(name="flag", base_color=(1, 1, 1, 1),
                                              base_color_texture=_two_colour_png(), double_sided=True)],
                   pin=np.zeros(n, np.float32), max_distance=np.zeros(n, np.float32))


def _share(pixels: np.ndarray, colour) -> float:
    channel = int(np.argmax(colour))
    return float(np.mean(np.argmax(pixels.reshape(-1, 3), axis=1) == channel))


def test_the_top_of_the_texture_is_drawn_at_the_top_of_the_garment(panda_base):
    view = GarmentView(_quad(), panda_base.render)
    camera = panda_base.camera
    old = camera.getPos(), camera.getHpr()
    try:
        camera.setPos(0, -3, 1.0)  # Panda: Z up, the garment's glTF +Y is up and +Z faces -Y
        camera.lookAt(0, 0, 1.0)
        grabber = FrameGrabber(panda_base)
        grabber.render()
        frame = grabber.render()
        h, w = frame.shape[:2]
        upper = frame[int(h * 0.30):int(h * 0.45), int(w * 0.4):int(w * 0.6)]
        lower = frame[int(h * 0.55):int(h * 0.70), int(w * 0.4):int(w * 0.6)]
        assert _share(upper, RED) > MIN_SHARE, "the texture's top half must be on the garment's upper half"
        assert _share(lower, BLUE) > MIN_SHARE
    finally:
        view.remove()
        camera.setPos(old[0])
        camera.setHpr(old[1])
