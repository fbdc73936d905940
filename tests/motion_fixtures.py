"""A short solved clip for export tests: the bundled motion through PoseFilter on any avatar."""
import numpy as np

from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.pose.recording import read_motion
from avatar_wardrobe.record.gltf_anim import JointAnimation
from avatar_wardrobe.retarget.pose_filter import PoseFilter
from avatar_wardrobe.settings import MODELS_DIR

ROUND_TRIP_DEG = 0.5  # issue target: re-imported rotations within half a degree
CLIP_FRAMES = 24
DEFAULT_AVATAR = MODELS_DIR / "avatar" / "female_165_58.glb"
SHARED_RIGS = ("RiggedFigure.glb", "CesiumMan.glb", "cryptovoxels.vrm")


def solved_clip(path, frames: int = CLIP_FRAMES):
    """(AvatarModel, JointAnimation) of the first `frames` of models/motions/pose_1.jsonl."""
    avatar = load_avatar(path)
    motion = read_motion(MODELS_DIR / "motions" / "pose_1.jsonl")
    poses = PoseFilter(avatar.solver).process(motion.frames[:frames])
    anim = JointAnimation(np.array([p.time_s for p in poses]), np.array([p.local_rotations for p in poses]),
                          np.array([p.root_offset for p in poses]))
    return avatar, anim
