"""avatar_wardrobe: dress a rigged glTF avatar that moves with the player's own body, in Panda3D.

The public API (names load on first use, so importing the package stays cheap):

    from avatar_wardrobe import Wardrobe, read_motion
    wardrobe = Wardrobe(base)                          # attach to your ShowBase
    wardrobe.play(read_motion("models/motions/pose_1.jsonl").frames, fps=30)
"""
from __future__ import annotations

from .lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Wardrobe": "render.plugin",
    "AvatarModel": "avatar.model",
    "load_avatar": "avatar.model",
    "Skeleton": "avatar.skeleton",
    "Solver": "retarget.solver",
    "RigMap": "retarget.rigmap",
    "PoseTracker": "pose.tracker",
    "VideoSource": "pose.sources",
    "ImageFolderSource": "pose.sources",
    "WebcamSource": "pose.sources",
    "open_source": "pose.sources",
    "MotionWriter": "pose.recording",
    "read_motion": "pose.recording",
    "Frame": "records",
    "Landmarks": "records",
    "Pose": "records",
    "WardrobeError": "errors",
    "Garment": "garments.garment",
    "load_garment": "garments.garment_io",
    "Outfit": "garments.wardrobe",
    "export_dressed": "garments.export",
    "PoseFilter": "retarget.pose_filter",
    "GarmentSim": "cloth.simulator",
    "load_scene": "settings",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
