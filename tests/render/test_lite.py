"""The lite shading (render/lite.py) draws the posed, dressed avatar like simplepbr does, skinned on the GPU.

Each shading needs its own ShowBase (simplepbr, once set up, stays on render), so each render runs
in a subprocess and hands its frame back as .npy.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from avatar_wardrobe.settings import REPO_ROOT

SIZE = (320, 240)
POSED_FRAME = 62              # of the bundled motion: arms up, one knee raised
SCRIPT = r"""
import json, sys
import numpy as np
from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.pose.recording import read_motion
from avatar_wardrobe.render.avatar_actor import to_panda_points
from avatar_wardrobe.render.capture import FrameGrabber
from avatar_wardrobe.render.engine import create_base
from avatar_wardrobe.render.plugin import Wardrobe
from avatar_wardrobe.render.studio import Studio
from avatar_wardrobe.settings import model_path
from panda3d.core import Point2, Point3

shading, frame, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
pbr = shading == "pbr"
base = create_base(window=False, size=(%d, %d), msaa=0)
model = load_avatar(model_path("avatar/female_165_58.glb"))
Studio(base, model.height_m, pbr=pbr, msaa=0)
grabber = FrameGrabber(base)
empty = grabber.render()
import dataclasses
from avatar_wardrobe.settings import load_scene
scene = load_scene()
scene = dataclasses.replace(scene, outfit=["garments/tshirt_M.glb"], cloth=dataclasses.replace(scene.cloth, enabled=False))
wardrobe = Wardrobe(base, model, scene=scene)
motion = read_motion(model_path("motions/pose_1.jsonl"))
for marks in motion.frames[:frame + 1]:
    wardrobe.update(marks)
image = grabber.render()
sk = model.skeleton
joints = sk.positions(wardrobe.pose.local_rotations, wardrobe.pose.root_offset)
pixels = {}
for name in ("hand_l", "hand_r", "head", "spine_03", "calf_l", "bind_hand_l"):
    point = sk.bind_world[sk.index(name[5:]), :3, 3] if name.startswith("bind_") else joints[sk.index(name)]
    p3 = base.cam.getRelativePoint(base.render, Point3(*to_panda_points(point)))
    p2 = Point2()
    base.camLens.project(p3, p2)
    pixels[name] = [int((p2.x + 1) / 2 * base.win.getXSize()), int((1 - p2.y) / 2 * base.win.getYSize())]
np.save(out + ".npy", np.stack([empty, image]))
json.dump(pixels, open(out + ".json", "w"))
""" % SIZE
PIXEL_CHANGE = 30             # summed BGR difference that counts as "something is drawn here"
MEAN_DIFF_MAX = 6.0           # lite vs simplepbr, mean absolute difference per channel (0-255)
P95_DIFF_MAX = 24.0


def _render(shading: str, tmp_path) -> tuple[np.ndarray, np.ndarray, dict]:
    out = tmp_path / shading
    proc = subprocess.run([sys.executable, "-c", SCRIPT, shading, str(POSED_FRAME), str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    empty, image = np.load(str(out) + ".npy")
    return empty, image, json.loads(open(str(out) + ".json").read())


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lite")
    return {s: _render(s, tmp) for s in ("lite", "pbr")}


def _changed(a: np.ndarray, b: np.ndarray, xy) -> bool:
    x, y = xy
    return int(np.abs(a[y, x].astype(int) - b[y, x].astype(int)).sum()) > PIXEL_CHANGE


def test_lite_draws_the_avatar_in_its_pose_not_its_bind_pose(renders):
    empty, image, px = renders["lite"]
    for joint in ("hand_l", "hand_r", "head", "spine_03", "calf_l"):
        assert _changed(image, empty, px[joint]), f"nothing drawn at the posed {joint} {px[joint]}"
    # The raised hand's bind-pose place (arm down, beside the hip) is empty floor: GPU skinning moved it.
    assert not _changed(image, empty, px["bind_hand_l"]), "the hand is still drawn where the bind pose has it"


def test_lite_floor_shows_tiles_that_fade_into_the_backdrop(renders):
    empty, _image, _px = renders["lite"]
    h = empty.shape[0]
    top = empty[:5].reshape(-1, 3).astype(float)
    assert top.std(axis=0).max() < 1.0, "the backdrop is not a flat colour"
    backdrop = top.mean(axis=0)
    rows = {"near": empty[int(h * 0.92):], "far": empty[int(h * 0.40):int(h * 0.44)]}  # the horizon is near 0.38
    spread = {k: v.reshape(-1, 3).astype(float).std(axis=0).max() for k, v in rows.items()}
    gap = {k: np.abs(v.reshape(-1, 3).astype(float).mean(axis=0) - backdrop).max() for k, v in rows.items()}
    assert spread["near"] > 3.0, "the near floor has no tile pattern"
    assert spread["far"] < spread["near"] and gap["far"] < gap["near"], "the fog does not fade the far floor"


def test_lite_looks_like_simplepbr(renders):
    _e1, lite, _ = renders["lite"]
    _e2, pbr, _ = renders["pbr"]
    diff = np.abs(lite.astype(float) - pbr.astype(float))
    assert diff.mean() < MEAN_DIFF_MAX, diff.mean()
    assert np.percentile(diff, 95) < P95_DIFF_MAX, np.percentile(diff, 95)
