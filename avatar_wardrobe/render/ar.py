"""AR try-on: the avatar placed on the player's image, body as a depth-only occluder, garments composited."""
from __future__ import annotations

import cv2
import numpy as np
from panda3d.core import (
    AmbientLight,
    ColorWriteAttrib,
    DirectionalLight,
    GraphicsOutput,
    LMatrix4f,
    Texture,
    Vec4,
)

from ..ar.fit import (
    AVATAR_TO_CAMERA,
    Intrinsics,
    LandmarkSmoother,
    Placement,
    fit_placement,
    fit_points,
)
from ..ar.masks import arm_mask, sleeve_share
from ..ar.warp import SilhouetteWarp
from ..avatar.body import NO_REGION
from ..garments.garment import BODY_REGIONS
from ..records import Frame, Landmarks
from ..retarget.keypoints import detector_keypoints
from .avatar_actor import GLTF_TO_PANDA
from .plugin import Wardrobe

KEY_LIGHT = ((1.5, 1.45, 1.4), (20.0, -30.0))
AMBIENT = (0.45, 0.45, 0.48)
NEAR_M, FAR_M = 0.05, 50.0
MIN_LANDMARK_VISIBILITY = 0.5
# Body regions that hide the garment parts behind the player. The limbs do not: their pose is the
# least certain part of the fit (an avatar thigh raised a little more than the player's hides the
# shirt's front in a squat), and the player's own arms pass in front from the camera image instead.
# Nor do the hips: in a squat they poke through the skinned (not simulated) shirt's hem and cut
# holes in it (pose_squats.mp4: garment/torso IoU median 0.762 with the hips, 0.782 without).
OCCLUDER_REGIONS = ("head", "neck", "torso")


# OpenCV camera axes (x right, y down, z ahead) -> Panda3D (x right, y ahead, z up).
CV_TO_PANDA = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])


def node_matrix(placement: Placement) -> np.ndarray:
    """The avatar node's Panda3D matrix (row-vector convention) for a placement: Panda avatar
    point -> glTF avatar point -> OpenCV camera axes -> placed -> Panda camera axes."""
    linear = CV_TO_PANDA @ placement.linear @ AVATAR_TO_CAMERA @ GLTF_TO_PANDA[:3, :3].T
    mat = np.eye(4)
    mat[:3, :3] = linear.T
    mat[3, :3] = CV_TO_PANDA @ placement.translation
    return mat


class ArView:
    """Draws the worn garments over camera frames. The avatar's body only writes depth, so it
    hides the garment parts behind the player; the player's arms (segmentation mask and
    landmarks) pass in front of the garments."""

    def __init__(self, base, wardrobe: Wardrobe, vertical_fov_deg: float, buffer=None, warp: bool = True):
        """buffer: an offscreen.SceneBuffer to draw into (the live window keeps its own camera);
        None draws with the window's camera and reads the window back (the offscreen jobs).
        warp: fit the drawn garments' torso edges to the player's silhouette (ar.warp)."""
        self.base, self.wardrobe = base, wardrobe
        self.vertical_fov_deg = vertical_fov_deg
        self.placement: Placement | None = None
        self.buffer = buffer
        if buffer is None:
            self.texture = Texture("ar_capture")
            base.win.addRenderTexture(self.texture, GraphicsOutput.RTMCopyRam, GraphicsOutput.RTPColor)
            base.setBackgroundColor(0, 0, 0, 0)
            self.camera, self.lens = base.camera, base.camLens
        else:
            self.camera, self.lens = buffer.camera, buffer.lens
        self.camera.setPos(0, 0, 0)
        self.camera.setHpr(0, 0, 0)
        self._lights = []
        key = base.render.attachNewNode(DirectionalLight("ar_key"))
        key.node().setColor(Vec4(*KEY_LIGHT[0], 1))
        key.setHpr(*KEY_LIGHT[1], 0)
        amb = base.render.attachNewNode(AmbientLight("ar_ambient"))
        amb.node().setColor(Vec4(*AMBIENT, 1))
        for light in (key, amb):
            base.render.setLight(light)
            self._lights.append(light)
        self._points = fit_points()
        self.warp = SilhouetteWarp() if warp else None
        self._smoother = LandmarkSmoother()
        self._occluder_for = None
        self.body_as_occluder(True)

    def body_as_occluder(self, on: bool) -> None:
        """On: the avatar's trunk writes depth but no colour (garments stay visible on top of it)
        and its limbs are not drawn. Off: the whole avatar is drawn as usual."""
        wardrobe = self.wardrobe
        body = wardrobe.avatar.body
        hidden = wardrobe.outfit.hidden_faces(body.faces, body.regions)
        if on:
            known = body.regions != NO_REGION
            trunk = np.isin(body.regions, [BODY_REGIONS.index(r) for r in OCCLUDER_REGIONS]) | ~known
            hidden = hidden | ~trunk[body.faces].all(axis=1)
        wardrobe.actor.set_hidden_faces(hidden)
        for geom in wardrobe.actor.body_geoms:
            if on:
                geom.setAttrib(ColorWriteAttrib.make(ColorWriteAttrib.C_off), 1)
            else:
                geom.clearAttrib(ColorWriteAttrib)
        self._occluding = on
        self._occluder_for = (wardrobe.actor, tuple(map(id, wardrobe.outfit.items())))
        self.sleeve = self._sleeve_share()

    def _sleeve_share(self) -> float:
        """How much of the player's arm the worn garments' sleeves cover (it stays behind the
        sleeve; the rest of an arm in front passes in front of the garments)."""
        avatar = self.wardrobe.avatar
        sk, rig = avatar.skeleton, avatar.rig
        rest = sk.positions(sk.rest_rotations())
        shares = [sleeve_share(g.positions.astype(np.float64), *(rest[sk.index(rig.limb(role, side))]
                                                                 for role in ("upper_arm", "lower_arm", "hand")))
                  for g in self.wardrobe.worn() for side in ("l", "r")]
        return max(shares, default=0.0)

    def _keep_occluder(self) -> None:
        """Set the occluder again after the wardrobe changed the body or what is worn."""
        wardrobe = self.wardrobe
        if self._occluder_for != (wardrobe.actor, tuple(map(id, wardrobe.outfit.items()))):
            self.body_as_occluder(self._occluding)

    def _lens(self, size: tuple[int, int]) -> Intrinsics:
        cam = Intrinsics(size[0], size[1], self.vertical_fov_deg)
        lens = self.lens
        lens.setNearFar(NEAR_M, FAR_M)
        aspect = size[0] / size[1]
        hfov = np.degrees(2 * np.arctan(np.tan(np.radians(cam.vertical_fov_deg) / 2) * aspect))
        lens.setFov(hfov, cam.vertical_fov_deg)
        return cam

    def place(self, marks: Landmarks, size: tuple[int, int]) -> Placement | None:
        """Fit the posed avatar to the 2D landmarks (smoothed) and move its node there."""
        cam = self._lens(size)
        wardrobe = self.wardrobe
        solver = wardrobe.avatar.solver
        names, mark_ids, pair_weights = self._points
        keypoints = detector_keypoints(solver, wardrobe.pose)  # where MediaPipe would mark the avatar
        joints = np.array([keypoints[n] for n in names]) @ solver.rest.body.T  # canonical -> avatar file axes
        px = self._smoother(marks.image[mark_ids, :2], marks.time_s) * np.array(size, dtype=np.float64)
        visible = marks.visibility[mark_ids]
        weights = np.where(visible >= MIN_LANDMARK_VISIBILITY, visible, 0.0) * pair_weights
        self.placement = fit_placement(joints, px, weights, cam) or self.placement
        if self.placement is not None:
            self.show(self.placement, size)
        return self.placement

    def show(self, placement: Placement, size: tuple[int, int]) -> None:
        """Put the avatar where `placement` says, seen by this view's camera."""
        self._lens(size)
        self.wardrobe.node.setMat(LMatrix4f(*node_matrix(placement).ravel()))

    def render(self, size: tuple[int, int]) -> np.ndarray:
        """Render a frame and read it back: BGRA uint8 (H, W, 4), alpha 0 where nothing was drawn."""
        self.base.taskMgr.step()
        self.base.graphicsEngine.syncFrame()
        return self._read(size)

    def prepare(self, frame: Frame, marks: Landmarks) -> None:
        """Pose the avatar from this frame's landmarks and place it on the person (before drawing)."""
        h, w = frame.image.shape[:2]
        self._keep_occluder()
        if marks.found:
            self.wardrobe.update(marks)
            self.place(marks, (w, h))

    def blend(self, frame: Frame, marks: Landmarks, rgba: np.ndarray, mirror: bool = False, warp: bool = True):
        """The drawn garments (BGRA, as prepared for this frame) over the camera frame, warped to
        the player's silhouette (unless warp is False), the player's arms in front: (BGR image,
        garment mask)."""
        image = frame.image
        h, w = image.shape[:2]
        if rgba.shape[:2] != (h, w):
            rgba = cv2.resize(rgba, (w, h), interpolation=cv2.INTER_LINEAR)
        if warp and self.warp is not None and marks.found and marks.mask is not None:
            rgba = self.warp(rgba, marks.mask > 0.5, marks)
        alpha = rgba[..., 3:].astype(np.float32) / 255.0
        if marks.found and marks.mask is not None:
            arms = arm_mask(marks, (w, h), self.sleeve) & (marks.mask > 0.5)
            alpha[arms] = 0.0
        out = image.astype(np.float32) * (1 - alpha) + rgba[..., :3].astype(np.float32) * alpha
        out = np.clip(out, 0, 255).astype(np.uint8)
        mask = alpha[..., 0] > 0.5
        if mirror:
            out, mask = out[:, ::-1].copy(), mask[:, ::-1].copy()
        return out, mask

    def composite(self, frame: Frame, marks: Landmarks, mirror: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Pose, place, render and blend over the camera frame: (BGR image, garment mask)."""
        self.prepare(frame, marks)
        h, w = frame.image.shape[:2]
        return self.blend(frame, marks, self.render((w, h)), mirror)

    def _read(self, size: tuple[int, int]) -> np.ndarray:
        if self.buffer is not None:
            img = self.buffer.read()
            if img is None:
                return np.zeros((size[1], size[0], 4), np.uint8)
        else:
            tex = self.texture
            data = tex.getRamImageAs("BGRA")
            img = np.frombuffer(data, np.uint8).reshape(tex.getYSize(), tex.getXSize(), 4)[::-1]
        if img.shape[1::-1] != size:
            img = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
        return img

    def remove(self) -> None:
        for light in self._lights:
            self.base.render.clearLight(light)
            light.removeNode()
        self.body_as_occluder(False)
