"""The soak's random motion: moves like a body, within the solver's joint limits, no leg through another limb."""
from __future__ import annotations

import numpy as np

from avatar_wardrobe.cloth.random_motion import SOAK_MIN_LIMB_GAP_M, LimbGap, random_motion
from avatar_wardrobe.transforms import quat_to_matrix

LIMIT_TOLERANCE_DEG = 0.5    # eased frames between two keyframes inside the limits stay (about) inside


def test_random_motion_is_smooth_with_rare_jumps(avatar, motion):
    poses = list(random_motion(avatar, motion, frames=700, fps=30.0, seed=1))
    assert len(poses) == 700
    sk = avatar.skeleton
    pos = np.stack([sk.positions(p.local_rotations, p.root_offset) for p in poses])
    step = np.linalg.norm(np.diff(pos, axis=0), axis=2).max(axis=1)
    jumps = np.flatnonzero(step > 0.25)
    assert 1 <= len(jumps) <= 2                       # one teleport every 20 s
    assert np.median(step) < 0.05                     # otherwise it moves like a body


def test_random_motion_keeps_the_joint_limits_and_the_legs_apart(avatar, proxies, full_motion):
    gap = LimbGap(avatar, proxies)
    assert gap(avatar.skeleton.rest_rotations(), np.zeros(3)) > 0.02     # the legs stand apart at rest
    poses = list(random_motion(avatar, full_motion, frames=600, fps=30.0, seed=3, proxies=proxies))
    gaps = np.array([gap(p.local_rotations, p.root_offset) for p in poses])
    assert gaps.min() >= SOAK_MIN_LIMB_GAP_M - 1e-9
    worst = 0.0
    for p in poses[::5]:
        m = quat_to_matrix(p.local_rotations)
        held = avatar.solver.within_limits(m)
        cos = (np.trace(np.swapaxes(m, 1, 2) @ held, axis1=1, axis2=2) - 1) / 2
        worst = max(worst, float(np.degrees(np.arccos(np.clip(cos, -1, 1))).max()))
    assert worst <= LIMIT_TOLERANCE_DEG
