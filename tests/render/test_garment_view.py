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


def _garment_from(positions, faces) -> Garment:
    n = len(positions)
    normals = positions * (1, 0, 1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return Garment(name="tube", meta=GarmentMeta(slot="top", layer=1, fabric="cotton", size="M"),
                   positions=positions.astype(np.float32), normals=normals.astype(np.float32),
                   uvs=np.zeros((n, 2), np.float32), faces=faces, parts=[(0, len(faces), 0)],
                   materials=[GarmentMaterial(name="red", base_color=(0.8, 0.1, 0.1, 1), double_sided=True)],
                   pin=np.zeros(n, np.float32), max_distance=np.zeros(n, np.float32))


def _shot(panda_base, view, at, look):
    camera = panda_base.camera
    camera.setPos(*at)
    camera.lookAt(*look)
    grabber = FrameGrabber(panda_base)
    grabber.render()
    return grabber.render().astype(int)


def test_insides_are_drawn_near_the_openings_only_and_the_outside_looks_the_same(panda_base):
    from panda3d.core import CullFaceAttrib

    from avatar_wardrobe.garments.openings import near_openings
    from garments.test_openings import tube

    pos, faces = tube()
    garment = _garment_from(pos, faces)
    camera, lens = panda_base.camera, panda_base.camLens
    old = camera.getPos(), camera.getHpr(), lens.getNear()
    lens.setNear(0.01)  # the inside shot stands 0.1 m from the wall
    views = [GarmentView(garment, panda_base.render, cull_insides=c) for c in (True, False)]
    try:
        culled, both = views
        node = culled.part_paths[0].node()
        near = near_openings(garment.positions, faces)
        assert node.getNumGeoms() == 2 and both.part_paths[0].node().getNumGeoms() == 1
        assert node.getGeom(0).getPrimitive(0).getNumPrimitives() == near.sum()
        assert node.getGeom(1).getPrimitive(0).getNumPrimitives() == (~near).sum()
        cull = node.getGeomState(1).getAttrib(CullFaceAttrib)
        assert cull is not None and cull.getEffectiveMode() == CullFaceAttrib.M_cull_clockwise
        shots = {}
        for name, view in zip(("culled", "both"), views):
            views[1 - views.index(view)].root.hide()
            view.root.show()
            shots[name] = [_shot(panda_base, view, (0, -3, 0.6), (0, 0, 0.6)),     # from the side
                           _shot(panda_base, view, (0, -0.1, 0.05), (0, 0.15, 0.0))]  # inside, by the lower opening
        side = np.abs(shots["culled"][0] - shots["both"][0]).sum(axis=2) > 40
        assert side.sum() == 0, "the outside must look the same"
        background = np.median(shots["culled"][0].reshape(-1, 3), axis=0)
        wall = np.abs(shots["culled"][1] - background).sum(axis=2) > 40
        assert wall.mean() > 0.2, "the inside wall by the opening must still be drawn"
    finally:
        for view in views:
            view.remove()
        camera.setPos(old[0])
        camera.setHpr(old[1])
        lens.setNear(old[2])
