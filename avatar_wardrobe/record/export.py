"""Export a motion recording as animation files: .glb (the avatar + a glTF clip) or .bvh."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import WardrobeError
from .gltf_anim import JointAnimation

EXPORT_SUFFIXES = (".glb", ".bvh")


def solve_motion(frames, solver) -> JointAnimation:
    """Landmarks of a clip -> the filtered, grounded poses of one avatar, as a JointAnimation."""
    from ..retarget.pose_filter import PoseFilter

    poses = PoseFilter(solver).process(frames)
    return JointAnimation(np.array([p.time_s for p in poses]), np.array([p.local_rotations for p in poses]),
                          np.array([p.root_offset for p in poses]))


def export_motion(motion_path: str | Path, out: str | Path, avatar: str | Path | None = None, rig: str = "auto",
                  frames: int | None = None) -> dict:
    """Solve a motion recording's landmarks again on `avatar` (default: the scene's) and write `out`,
    its suffix choosing the format. The recording's own rotations are not reused, so a better
    solver improves old recordings (as in render_motion)."""
    from ..avatar.model import load_avatar
    from ..pose.recording import read_motion
    from ..settings import load_scene, model_path
    from .bvh import write_bvh
    from .gltf_anim import write_gltf_animation

    out = Path(out)
    if out.suffix.lower() not in EXPORT_SUFFIXES:
        raise WardrobeError(f"cannot export to '{out.name}': name the file .glb (glTF animation with the "
                            "avatar) or .bvh (BVH motion capture).")
    motion = read_motion(motion_path)
    marks = motion.frames[:frames] if frames else motion.frames
    if not marks:
        raise WardrobeError(f"{motion_path} holds no frames: record one with `avatar-wardrobe track VIDEO`.")
    avatar_path = model_path(avatar or load_scene().avatar.path)
    model = load_avatar(avatar_path, rig)
    anim = solve_motion(marks, model.solver)
    if np.any(np.diff(anim.times_s) <= 0):  # e.g. a recording whose clock stalled: fall back to its fps
        anim.times_s = np.arange(len(anim.times_s)) / motion.fps
    if out.suffix.lower() == ".glb":
        write_gltf_animation(avatar_path, model.skeleton, anim, out)
    else:
        write_bvh(model.skeleton, model.solver.rest.body, anim, out)
    found = sum(m.found for m in marks)
    return {"out": str(out), "format": out.suffix.lower()[1:], "frames": len(marks), "found": found,
            "avatar": avatar_path.name, "rig": model.rig.name,
            "table": f"exported {len(marks)} frames ({found} with a person) on {avatar_path.name} to {out}"}
