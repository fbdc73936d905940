"""MediaPipe pose landmark names and indices, the camera->avatar axis change and the mirror rule.

Mirror rule (anatomical, not mirrored): the player's LEFT limb drives the avatar's LEFT limb.
The avatar faces the viewer the way the player faces the camera, so an unmirrored camera
image and the rendered avatar look alike: the player's left arm appears on the right of both.
A "mirror" display (selfie view) is a view option that flips the image, never the skeleton.

MediaPipe names sides from the person's point of view ("left_shoulder" is the person's own
left shoulder), so no side swap happens anywhere in the pipeline.
"""
from __future__ import annotations

import numpy as np

NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
COUNT = len(NAMES)
INDEX = {name: i for i, name in enumerate(NAMES)}

NOSE = INDEX["nose"]
LEFT_EYE, RIGHT_EYE = INDEX["left_eye"], INDEX["right_eye"]
LEFT_EAR, RIGHT_EAR = INDEX["left_ear"], INDEX["right_ear"]
LEFT_SHOULDER, RIGHT_SHOULDER = INDEX["left_shoulder"], INDEX["right_shoulder"]
LEFT_ELBOW, RIGHT_ELBOW = INDEX["left_elbow"], INDEX["right_elbow"]
LEFT_WRIST, RIGHT_WRIST = INDEX["left_wrist"], INDEX["right_wrist"]
LEFT_INDEX, RIGHT_INDEX = INDEX["left_index"], INDEX["right_index"]
LEFT_HIP, RIGHT_HIP = INDEX["left_hip"], INDEX["right_hip"]
LEFT_KNEE, RIGHT_KNEE = INDEX["left_knee"], INDEX["right_knee"]
LEFT_ANKLE, RIGHT_ANKLE = INDEX["left_ankle"], INDEX["right_ankle"]
LEFT_HEEL, RIGHT_HEEL = INDEX["left_heel"], INDEX["right_heel"]
LEFT_FOOT_INDEX, RIGHT_FOOT_INDEX = INDEX["left_foot_index"], INDEX["right_foot_index"]

# MediaPipe world axes: x to the image right, y down, z away from the camera; the person faces
# the camera (-z). The avatar frame is glTF's: +Y up, the avatar faces +Z, its left is +X.
# Person's left is image right (+x), so the change is a 180 degree turn about x: (x, -y, -z).
CAMERA_TO_AVATAR = np.diag([1.0, -1.0, -1.0])


def to_avatar_frame(world: np.ndarray) -> np.ndarray:
    """MediaPipe world landmarks (N, 3) -> avatar frame (N, 3), metres."""
    return np.asarray(world, dtype=np.float64) @ CAMERA_TO_AVATAR.T
