"""Offline render passes of scripted shots for the refiner's data: cheap, high-cost (soft lights) and normal/depth."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import cv2
import numpy as np
from panda3d.core import AntialiasAttrib, DirectionalLight, GraphicsOutput, Shader, Texture, Vec3, Vec4
from tqdm import tqdm

from .studio import FRAME_BOTTOM, FRAME_TOP, LIGHTS, Studio

# The high-cost pass replaces each studio light by this many weaker ones spread around it
# (an area light; simplepbr's shadows crash with skinned actors on llvmpipe, so no shadow maps).
SOFT_LIGHT_OFFSETS_DEG = ((0.0, 0.0), (9.0, 6.0), (-9.0, 6.0), (0.0, -8.0))
# ... plus a soft sky fill: weak lights from high above, all around (lifts the shadow side a little).
SKY_LIGHTS = tuple((heading, -65.0) for heading in (45.0, 135.0, 225.0, 315.0))
SKY_COLOUR = (0.10, 0.11, 0.14)
SOFT_MAX_LIGHTS = 16
# Object ids written to the aux pass's alpha channel.
ID_BACKGROUND, ID_FLOOR, ID_AVATAR = 0, 128, 255

# The aux pass draws twice per shot: view-space normals (RGB) + object id (A), then linear view
# depth packed in 16 bits (R high byte, G low byte) over DEPTH_RANGE_M. Multisampling is off for it.
DEPTH_RANGE_M = 25.6
AUX_VERT = """#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelViewMatrix;
uniform mat3 p3d_NormalMatrix;
in vec4 p3d_Vertex;
in vec3 p3d_Normal;
out vec3 v_normal;
out float v_depth;
void main() {
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
    v_normal = p3d_NormalMatrix * p3d_Normal;
    v_depth = -(p3d_ModelViewMatrix * p3d_Vertex).z;
}
"""
AUX_FRAG = """#version 330
uniform float object_id;
uniform float aux_mode;
uniform float depth_range;
in vec3 v_normal;
in float v_depth;
out vec4 o_color;
void main() {
    if (aux_mode < 0.5) {
        vec3 n = normalize(v_normal);
        if (!gl_FrontFacing) n = -n;
        o_color = vec4(n * 0.5 + 0.5, object_id);
    } else {
        float v = floor(clamp(v_depth / depth_range, 0.0, 1.0) * 65535.0 + 0.5);
        float hi = floor(v / 256.0);
        o_color = vec4(hi / 255.0, (v - hi * 256.0) / 255.0, 0.0, 1.0);
    }
}
"""


class ShotRenderer:
    """One pass over scripted shots in this process's ShowBase (offscreen)."""

    def __init__(self, pass_name: str, size: tuple[int, int], avatars: list[str]):
        from ..avatar.model import load_avatar
        from ..settings import model_path
        from .avatar_actor import AvatarActor
        from .engine import create_base

        self.pass_name = pass_name
        self.base = base = create_base(window=False, size=size)
        self.models = [load_avatar(model_path(a)) for a in avatars]
        self.height = self.models[0].height_m
        self.studio = Studio(base, self.height, pbr=pass_name != "aux", msaa=0)
        self.actors = [AvatarActor(m.path, m.skeleton, base.render) for m in self.models]
        self.light_base = {name: heading for name, _c, heading, _p in LIGHTS}
        self.extra_lights = []
        if pass_name == "hq":
            self._soften_lights()
        self.colour = Texture("colour")
        base.win.addRenderTexture(self.colour, GraphicsOutput.RTMCopyRam, GraphicsOutput.RTPColor)
        if pass_name == "aux":
            base.setBackgroundColor(0.5, 0.5, 0.5, ID_BACKGROUND / 255)
            base.render.setShader(Shader.make(Shader.SL_GLSL, AUX_VERT, AUX_FRAG))  # replaces the lite shading
            self.studio.floor.clearShader()  # the lite floor's own shader too
            base.render.setAntialias(AntialiasAttrib.MNone, 100)
            base.render.setShaderInput("depth_range", DEPTH_RANGE_M)
            base.render.setShaderInput("aux_mode", 0.0)
            base.render.setShaderInput("object_id", ID_BACKGROUND / 255)
            self.studio.floor.setShaderInput("object_id", ID_FLOOR / 255)
            for actor in self.actors:
                actor.node.setShaderInput("object_id", ID_AVATAR / 255)
            base.render.clearFog()

    def _soften_lights(self) -> None:
        """Each key/fill/rim light becomes a cluster of weaker lights (softer terminators)."""
        base, studio = self.base, self.studio
        k = len(SOFT_LIGHT_OFFSETS_DEG)
        self.studio.pipeline.max_lights = SOFT_MAX_LIGHTS
        for name, colour, heading, pitch in LIGHTS:
            base.render.clearLight(studio.lights[name])
            for dh, dp in SOFT_LIGHT_OFFSETS_DEG:
                light = DirectionalLight(f"{name}_soft")
                light.setColor(Vec4(*(c / k for c in colour), 1))
                np_ = studio.root.attachNewNode(light)
                np_.setHpr(heading + dh, pitch + dp, 0)
                base.render.setLight(np_)
                self.extra_lights.append((np_, heading + dh))
        for heading, pitch in SKY_LIGHTS:
            light = DirectionalLight("sky")
            light.setColor(Vec4(*SKY_COLOUR, 1))
            np_ = studio.root.attachNewNode(light)
            np_.setHpr(heading, pitch, 0)
            base.render.setLight(np_)
            self.extra_lights.append((np_, heading))

    def place(self, shots, i: int) -> None:
        """Pose the avatar and set camera and lights for shot i."""
        a = int(shots.avatar_index[i])
        for k, actor in enumerate(self.actors):
            if k == a:
                actor.node.show()
            else:
                actor.node.hide()
        model, actor = self.models[a], self.actors[a]
        actor.apply_local(model.skeleton.local_matrices(shots.rotations[i], shots.root_offset[i]))
        actor.node.setH(float(shots.heading_deg[i]))
        height = model.height_m
        self.studio.frame(height)
        cam = self.base.camera
        target = Vec3(0, 0, height * (FRAME_TOP + FRAME_BOTTOM) / 2)
        offset = (cam.getPos() - target) * float(shots.camera_scale[i])
        shift = Vec3(float(shots.camera_shift[i][0]), 0, float(shots.camera_shift[i][1]))
        cam.setPos(target + offset + shift)
        cam.lookAt(target + shift)
        turn = float(shots.light_turn_deg[i])
        for name, np_ in self.studio.lights.items():
            np_.setH(self.light_base[name] + turn)
        for np_, heading in self.extra_lights:
            np_.setH(heading + turn)

    def _draw(self, fmt: str) -> np.ndarray:
        base = self.base
        base.taskMgr.step()
        base.graphicsEngine.syncFrame()
        h, w = base.win.getYSize(), base.win.getXSize()
        img = np.frombuffer(self.colour.getRamImageAs(fmt), np.uint8).reshape(h, w, len(fmt))[::-1]
        return np.ascontiguousarray(img)  # OpenGL rows run bottom-up

    def grab(self) -> dict[str, np.ndarray]:
        """Render the placed shot: {"colour"} for cheap/hq; normals, depth, masks for aux."""
        if self.pass_name != "aux":
            return {"colour": self._draw("BGR")}
        base = self.base
        base.setBackgroundColor(0.5, 0.5, 0.5, ID_BACKGROUND / 255)
        base.render.setShaderInput("aux_mode", 0.0)
        rgba = self._draw("RGBA")
        base.setBackgroundColor(1.0, 1.0, 0.0, 1.0)
        base.render.setShaderInput("aux_mode", 1.0)
        packed = self._draw("RGBA").astype(np.float32)
        depth = (packed[..., 0] * 256.0 + packed[..., 1]) / 65535.0 * DEPTH_RANGE_M
        n = rgba[..., :3].astype(np.float32) / 127.5 - 1.0
        n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-6)
        ids = rgba[..., 3]
        focal_px = base.win.getYSize() / 2 / math.tan(math.radians(base.camLens.getFov()[1] / 2))
        return {"normals": n.astype(np.float16), "depth_m": depth.astype(np.float32), "focal_px": np.float32(focal_px),
                "background": ids < ID_FLOOR // 2, "avatar": ids > (ID_FLOOR + ID_AVATAR) // 2}


def run(shots_path: Path, pass_name: str, size: tuple[int, int], out: Path, progress: bool = True,
        downsample: int = 1) -> None:
    """Render every shot in one pass and save the frames (.npz); colour is area-downsampled by `downsample`."""
    from ..refine.data import Shots

    shots = Shots.load(shots_path)
    renderer = ShotRenderer(pass_name, size, shots.avatars)
    frames: dict[str, list] = {}
    renderer.place(shots, 0)
    renderer.grab()  # the first frame compiles shaders; render it twice
    for i in tqdm(range(len(shots)), desc=f"render {pass_name} {size[0]}x{size[1]}", unit="frame",
                  disable=not progress, file=sys.stderr):
        renderer.place(shots, i)
        for key, value in renderer.grab().items():
            if key == "colour" and downsample > 1:
                value = cv2.resize(value, (size[0] // downsample, size[1] // downsample), interpolation=cv2.INTER_AREA)
            frames.setdefault(key, []).append(value)
    np.savez(out, **{k: np.stack(v) for k, v in frames.items()})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Render one pass of scripted shots (used by refine.data).")
    ap.add_argument("--shots", required=True, type=Path)
    ap.add_argument("--pass", dest="pass_name", required=True, choices=("cheap", "hq", "aux"))
    ap.add_argument("--size", type=int, nargs=2, required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--downsample", type=int, default=1, help="area-downsample colour frames by this factor")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    run(args.shots, args.pass_name, tuple(args.size), args.out, not args.quiet, args.downsample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
