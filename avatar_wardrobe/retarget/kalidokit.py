"""Kalidokit's pose solver (npm kalidokit, through Node) as a baseline for `bench retarget`.

Kalidokit (MIT) turns MediaPipe's landmarks into Euler angles for a VRM 0.x avatar. Its demo
(github.com/yeemachine/kalidokit, docs/script.js) applies them to the avatar's normalised bones,
which rest in a T-pose with identity rotations and face -Z, with the scene turned 180 degrees to
face the camera; hips take 0.7 of their angles, the spine 0.45 and the chest 0.25 of "Spine", the
limbs all of theirs (XYZ order). Its "Right" limbs are driven by MediaPipe's left landmarks: the
avatar is a mirror of the player (the demo shows the video mirrored). Here the same rig is posed in
numpy and mirrored back, so its bones can be scored like ours, in the camera frame.

Install (pinned, outside the package): `npm install --prefix .venv/node kalidokit@1.1.5`.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..errors import WardrobeError
from ..records import Landmarks

KALIDOKIT_VERSION = "1.1.5"
NODE_PREFIX = Path(__file__).resolve().parents[2] / ".venv" / "node"  # where the install line puts it
RUNNER = Path(__file__).with_name("kalidokit_pose.js")
RUN_TIMEOUT_S = 120.0
# The demo's dampeners (rigRotation(name, rotation, dampener)).
HIPS_DAMPENER = 0.7
SPINE_DAMPENER = 0.45
CHEST_DAMPENER = 0.25
# A VRM-like T-pose in the avatar's own frame (facing -Z, up +Y, its right +X), metres from the
# hip centre. Only directions are scored; the lengths matter only for the torso alignment.
SPINE_AT = np.array([0.0, 0.10, 0.0])
CHEST_ABOVE_SPINE = np.array([0.0, 0.15, 0.0])
SHOULDER_FROM_CHEST = np.array([0.18, 0.20, 0.0])  # x: +right (mirrored for the left)
HIP_AT = np.array([0.09, 0.0, 0.0])
UPPER_ARM, LOWER_ARM = 0.26, 0.25
UPPER_LEG, LOWER_LEG = 0.40, 0.40
SCENE_TURN = np.array([[-1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]])  # scene.rotation.y = PI
THREE_TO_CV = np.diag([1.0, -1.0, -1.0])  # three.js camera looking down -Z, y up -> OpenCV axes
MIRROR = np.diag([-1.0, 1.0, 1.0])


def _env() -> dict:
    env = dict(os.environ)
    paths = [str(NODE_PREFIX / "node_modules")] + ([env["NODE_PATH"]] if env.get("NODE_PATH") else [])
    env["NODE_PATH"] = os.pathsep.join(paths)
    return env


def status() -> str:
    """"available", or a sentence saying why Kalidokit cannot run here."""
    node = shutil.which("node")
    if node is None:
        return "Node.js is not installed here: Kalidokit (npm kalidokit) was not run"
    probe = subprocess.run([node, "-e", "require('kalidokit/dist/kalidokit.umd.js')"], capture_output=True,
                           text=True, timeout=30, env=_env(), check=False)
    if probe.returncode != 0:
        return (f"Node.js is present but the npm package kalidokit is not installed: not run "
                f"(npm install --prefix .venv/node kalidokit@{KALIDOKIT_VERSION})")
    return "available"


def solve(frames: list[Landmarks]) -> list[dict | None]:
    """Kalidokit.Pose.solve on each frame's landmarks (one Node process for all of them)."""
    rows = [{"world": np.column_stack([m.world, m.visibility]).tolist(),
             "image": np.column_stack([m.image, m.visibility]).tolist()} for m in frames]
    node = shutil.which("node")
    if node is None:
        raise WardrobeError("Node.js is not installed: install it to compare with Kalidokit.")
    run = subprocess.run([node, str(RUNNER)], input=json.dumps(rows), capture_output=True, text=True,
                         timeout=RUN_TIMEOUT_S, env=_env(), check=False)
    if run.returncode != 0:
        raise WardrobeError(f"Kalidokit's solver failed ({run.stderr.strip()[-300:]}): check the install "
                            f"(npm install --prefix .venv/node kalidokit@{KALIDOKIT_VERSION}).")
    return json.loads(run.stdout)


def euler_xyz(e: dict, scale: float = 1.0) -> np.ndarray:
    """three.js Euler(x, y, z, "XYZ") as a matrix: Rx @ Ry @ Rz."""
    x, y, z = (scale * float(e[k]) for k in ("x", "y", "z"))
    cx, sx, cy, sy, cz, sz = math.cos(x), math.sin(x), math.cos(y), math.sin(y), math.cos(z), math.sin(z)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rx @ ry @ rz


def player_points(rig: dict) -> dict[str, np.ndarray]:
    """Kalidokit's posed avatar, mirrored back into the player's limbs: {keypoint name: (3,)} in
    OpenCV camera axes (shoulders, elbows, wrists, hips, knees, ankles of the player's sides)."""
    hips = SCENE_TURN @ euler_xyz(rig["Hips"], HIPS_DAMPENER)
    spine = hips @ euler_xyz(rig["Spine"], SPINE_DAMPENER)
    chest = spine @ euler_xyz(rig["Spine"], CHEST_DAMPENER)
    chest_at = hips @ SPINE_AT + spine @ CHEST_ABOVE_SPINE
    avatar = {}
    for side, sign in (("Right", 1.0), ("Left", -1.0)):
        out = np.array([sign, 1.0, 1.0])
        shoulder = chest_at + chest @ (out * SHOULDER_FROM_CHEST)
        upper = chest @ euler_xyz(rig[f"{side}UpperArm"])
        elbow = shoulder + upper @ (out * [UPPER_ARM, 0, 0])
        wrist = elbow + upper @ euler_xyz(rig[f"{side}LowerArm"]) @ (out * [LOWER_ARM, 0, 0])
        hip = hips @ (out * HIP_AT)
        thigh = hips @ euler_xyz(rig[f"{side}UpperLeg"])
        knee = hip + thigh @ [0, -UPPER_LEG, 0]
        ankle = knee + thigh @ euler_xyz(rig[f"{side}LowerLeg"]) @ [0, -LOWER_LEG, 0]
        for part, p in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist), ("hip", hip), ("knee", knee),
                        ("ankle", ankle)):
            avatar[f"{side.lower()}_{part}"] = MIRROR @ THREE_TO_CV @ p
    swap = {"right": "left", "left": "right"}  # the avatar's right limb is the player's left
    return {swap[k.split("_", 1)[0]] + "_" + k.split("_", 1)[1]: v for k, v in avatar.items()}
