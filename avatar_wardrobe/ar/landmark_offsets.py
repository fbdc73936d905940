"""Where MediaPipe puts shoulders and hips on the avatar itself, relative to the rig's joints (measured once).

The AR fit pairs the avatar's upper-arm and thigh joints with MediaPipe's shoulder and hip
landmarks, but the two are not the same point: MediaPipe marks the shoulder near the top of the
shoulder's outline, above the joint a rig rotates about. Fitting joint to landmark then lifts the
avatar (and the shirt) above the person. This module renders the dressed default avatar, posed
from a recording that is not the benchmark clip, tracks the render with MediaPipe, and measures
each landmark's offset from its joint in the torso's own frame (outward, up), in torso lengths.
`python -m avatar_wardrobe.ar.landmark_offsets` prints the numbers kept in fit.LANDMARK_OFFSETS.
"""
from __future__ import annotations

import json

import numpy as np

from ..pose import landmarks as lm
from .fit import AVATAR_TO_CAMERA, Intrinsics, Placement, torso_frame

MOTION = "motions/pose_1.jsonl"
GARMENTS = ("garments/tshirt_M.glb", "garments/trousers_M.glb")
RENDER_SIZE = (360, 640)
CAMERA_DISTANCE_M = 2.6
FRAME_STEP = 3
MAX_TURN_DEG = 30.0  # only frames where the torso faces the camera (outward and up are then seen)
BACKGROUND = (0.6, 0.6, 0.6, 1.0)
PAIRS = (("left_shoulder", "upper_arm", "l"), ("right_shoulder", "upper_arm", "r"),
         ("left_hip", "upper_leg", "l"), ("right_hip", "upper_leg", "r"))


def measure(motion: str = MOTION, step: int = FRAME_STEP, fov_deg: float = 55.0) -> dict:
    """Median (outward, up) offset of each landmark kind from its joint, in torso lengths."""
    from ..pose.recording import read_motion
    from ..pose.tracker import PoseTracker
    from ..records import Frame
    from ..render.ar import ArView
    from ..render.engine import create_base
    from ..render.plugin import Wardrobe
    from ..settings import load_scene, model_path

    base = create_base(False, RENDER_SIZE)
    scene = load_scene()
    scene.outfit, scene.cloth.enabled = list(GARMENTS), False
    wardrobe = Wardrobe(base, scene=scene)
    view = ArView(base, wardrobe, fov_deg)
    view.body_as_occluder(False)
    base.setBackgroundColor(*BACKGROUND)
    cam = Intrinsics(*RENDER_SIZE, fov_deg)
    skeleton, rig = wardrobe.avatar.skeleton, wardrobe.avatar.rig
    joint_ids = [skeleton.index(rig.limb(role, side)) for _, role, side in PAIRS]
    samples: dict[str, list] = {"shoulder": [], "hip": []}
    with PoseTracker(static_image_mode=True, smooth_landmarks=False) as tracker:
        for marks in read_motion(model_path(motion)).frames[::step]:
            if not marks.found:
                continue
            pose = wardrobe.update(marks)
            joints = skeleton.positions(pose.local_rotations, pose.root_offset)[joint_ids]
            frame = torso_frame(joints)
            if np.degrees(np.arccos(np.clip(frame[2, 2], -1, 1))) > MAX_TURN_DEG:
                continue
            centre = joints.mean(axis=0) @ AVATAR_TO_CAMERA.T
            placement = Placement(np.eye(3), np.array([-centre[0], -centre[1], CAMERA_DISTANCE_M - centre[2]]))
            view.show(placement, RENDER_SIZE)
            image = np.ascontiguousarray(view.render(RENDER_SIZE)[..., :3])
            seen = tracker.track(Frame(marks.index, marks.time_s, image))
            if not seen.found:
                continue
            cam_pts = (joints @ AVATAR_TO_CAMERA.T) + placement.translation
            torso_len = np.linalg.norm(joints[:2].mean(0) - joints[2:].mean(0))
            for k, (name, _role, side) in enumerate(PAIRS):
                uv = seen.image[lm.INDEX[name], :2] * np.array(RENDER_SIZE) - np.array(cam.centre)
                at_depth = np.array([*(uv * cam_pts[k, 2] / cam.focal_px), cam_pts[k, 2]])
                offset = AVATAR_TO_CAMERA.T @ (at_depth - cam_pts[k])  # avatar frame (self-inverse axes)
                outward = 1.0 if side == "l" else -1.0  # the avatar's left is its +x
                local = frame.T @ offset / torso_len
                samples[name.split("_")[1]].append([local[0] * outward, local[1]])
    view.remove()
    return {kind: {"outward": round(float(np.median(np.array(v)[:, 0])), 3),
                   "up": round(float(np.median(np.array(v)[:, 1])), 3), "frames": len(v) // 2}
            for kind, v in samples.items() if v}


if __name__ == "__main__":
    print(json.dumps(measure()))
