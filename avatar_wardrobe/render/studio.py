"""The studio scene: floor, three-point lighting and a camera framed on the avatar (Panda3D, Z up)."""
from __future__ import annotations

import math

from panda3d.core import (AmbientLight, CardMaker, DirectionalLight, Fog, Material, PNMImage, SamplerState,
                          Texture, TextureStage, Vec3, Vec4)

from ..errors import WardrobeError
from ..settings import CameraSettings
from . import lite

FLOOR_SIZE_M = 60.0
FLOOR_TILE_M = 0.5
FLOOR_TEX_PX = 256
BACKGROUND = (0.30, 0.31, 0.34, 1.0)  # sRGB
SET_KINDS = ("studio", "runway")
RUNWAY_WIDTH_M, RUNWAY_LENGTH_M, RUNWAY_FRONT_M, RUNWAY_LIFT_M = 2.2, 30.0, 1.5, 0.002
RUNWAY_COLOUR = (0.85, 0.84, 0.82)
FLOOR_DIM_ON_RUNWAY = (0.35, 0.35, 0.38)
# The frame spans these fractions of the avatar's height: feet to raised hands.
FRAME_BOTTOM, FRAME_TOP = -0.06, 1.32
FOG_DENSITY = 0.09         # exponential fog, per metre: the floor fades into the backdrop
NEAR_M, FAR_M = 0.05, 100.0
# (name, colour, heading, pitch): key from front-left above, fill from front-right, rim from behind.
LIGHTS = (
    ("key", (2.6, 2.45, 2.3), -35.0, -40.0),
    ("fill", (0.75, 0.8, 0.95), 50.0, -15.0),
    ("rim", (1.8, 1.8, 2.0), 160.0, -30.0),
)
AMBIENT = (0.18, 0.18, 0.2)


def _srgb_to_linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _floor_texture() -> Texture:
    """A soft two-tone tile pattern, made in memory."""
    img = PNMImage(FLOOR_TEX_PX, FLOOR_TEX_PX, 3)
    half = FLOOR_TEX_PX // 2
    for x in range(FLOOR_TEX_PX):
        for y in range(FLOOR_TEX_PX):
            light = (x < half) == (y < half)
            img.setXel(x, y, (0.42, 0.42, 0.44) if light else (0.36, 0.36, 0.38))
    tex = Texture("floor")
    tex.load(img)
    tex.setMinfilter(SamplerState.FT_linear_mipmap_linear)
    tex.setAnisotropicDegree(4)
    return tex


class Studio:
    """Lights, floor and camera for one avatar standing at the origin, facing -Y (the camera)."""

    def __init__(self, base, subject_height_m: float = 1.7, pbr: bool = True, msaa: int = 0,
                 camera: CameraSettings | None = None, kind: str = "studio"):
        """pbr: simplepbr (msaa: its samples); else the lite shader (render/lite.py: several times
        cheaper on llvmpipe; its multisampling is the window's, see engine.create_base)."""
        if kind not in SET_KINDS:
            raise WardrobeError(f"unknown set '{kind}': use one of {', '.join(SET_KINDS)}.")
        self.base = base
        self.camera = camera or CameraSettings()
        self.kind = kind
        self.root = base.render.attachNewNode("studio")
        # Both shadings light in linear space and tone-map at the end. simplepbr tone-maps the
        # cleared buffer too; the lite shader runs on geometry only, so its clear colour is the
        # tone-mapped backdrop (the fog still fades to the linear one: the two meet at the horizon).
        backdrop = tuple(_srgb_to_linear(c) for c in BACKGROUND[:3])
        clear = backdrop if pbr else tuple(lite.tone_map(c) for c in backdrop)
        base.setBackgroundColor(*clear, 1.0)
        fog = Fog("studio")
        fog.setColor(*backdrop)
        fog.setExpDensity(FOG_DENSITY)
        base.render.setFog(fog)
        self._add_floor()
        if kind == "runway":
            self._add_runway()
        self._add_lights()
        self.frame(subject_height_m)
        self.pipeline = None
        if not pbr:
            base.render.setMaterial(Material("lite-fallback"))
            lite.apply(base.render, self.floor)
        else:
            import simplepbr

            self.pipeline = simplepbr.init(render_node=base.render, window=base.win, camera_node=base.cam,
                                           taskmgr=base.taskMgr, msaa_samples=msaa, use_330=True,
                                           enable_shadows=False, enable_fog=True, exposure=0.0)

    def _add_floor(self):
        cm = CardMaker("floor")
        h = FLOOR_SIZE_M / 2
        cm.setFrame(-h, h, -h, h)
        reps = FLOOR_SIZE_M / (2 * FLOOR_TILE_M)
        cm.setUvRange((0, 0), (reps, reps))
        floor = self.root.attachNewNode(cm.generate())
        floor.setP(-90)
        mat = Material("floor")
        mat.setBaseColor(Vec4(1, 1, 1, 1))
        mat.setRoughness(0.9)
        mat.setMetallic(0.0)
        floor.setMaterial(mat)
        floor.setTexture(TextureStage.getDefault(), _floor_texture())
        self.floor = floor

    def _add_runway(self):
        """A lighter strip running away from the camera, the avatar standing at its near end."""
        cm = CardMaker("runway")
        cm.setFrame(-RUNWAY_WIDTH_M / 2, RUNWAY_WIDTH_M / 2, -RUNWAY_FRONT_M, RUNWAY_LENGTH_M)  # card z -> world +y
        strip = self.root.attachNewNode(cm.generate())
        strip.setP(-90)
        strip.setZ(RUNWAY_LIFT_M)
        mat = Material("runway")
        mat.setBaseColor(Vec4(*RUNWAY_COLOUR, 1))
        mat.setRoughness(0.35)
        strip.setMaterial(mat)
        self.floor.setColorScale(*FLOOR_DIM_ON_RUNWAY, 1)

    def _add_lights(self):
        self.lights = {}
        for name, colour, heading, pitch in LIGHTS:
            light = DirectionalLight(name)
            light.setColor(Vec4(*colour, 1))
            np_ = self.root.attachNewNode(light)
            np_.setHpr(heading, pitch, 0)
            self.base.render.setLight(np_)
            self.lights[name] = np_
        amb = self.root.attachNewNode(AmbientLight("ambient"))
        amb.node().setColor(Vec4(*AMBIENT, 1))
        self.base.render.setLight(amb)

    def frame(self, subject_height_m: float, centre_x: float = 0.0) -> None:
        """Place the camera so a standing subject of this height fills the frame."""
        lens = self.base.camLens
        lens.setNearFar(NEAR_M, FAR_M)
        aspect = self.base.win.getXSize() / max(1, self.base.win.getYSize())
        fov = self.camera.vertical_fov_deg
        lens.setFov(2 * math.degrees(math.atan(math.tan(math.radians(fov / 2)) * aspect)), fov)
        half = subject_height_m * (FRAME_TOP - FRAME_BOTTOM) / 2
        dist = half / math.tan(math.radians(fov / 2))
        elev, yaw = math.radians(self.camera.elevation_deg), math.radians(self.camera.yaw_deg)
        target = Vec3(centre_x, 0, subject_height_m * (FRAME_TOP + FRAME_BOTTOM) / 2)
        flat = dist * math.cos(elev)
        self.base.camera.setPos(target + Vec3(flat * math.sin(yaw), -flat * math.cos(yaw), dist * math.sin(elev)))
        self.base.camera.lookAt(target)

    def remove(self) -> None:
        """Take the studio's lights, floor and fog out of the scene (simplepbr, once set up, stays)."""
        for light in self.root.findAllMatches("**/+Light"):
            self.base.render.clearLight(light)
        self.base.render.clearFog()
        if self.pipeline is None:  # the lite shading is ours to take out again
            self.base.render.clearShader()
            self.base.render.clearMaterial()
        self.root.removeNode()
