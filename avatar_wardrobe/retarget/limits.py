"""Named joint limits per body role (swing cone + twist range) and their application to local rotations.

A joint's deviation from its bind pose, D = rest_local^T @ local (in the joint's own rest axes), is
split into a twist about the bone axis and a swing of that axis; the swing angle is clamped to
the cone and the twist to its range. Angles are in degrees, measured from the bind pose, so they
read the same on every rig (for an A-pose rig, "swing" of an upper arm counts from the A-pose).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import vec3 as v3
from .geometry import EPS, floats


@dataclass(frozen=True)
class JointLimit:
    swing_deg: float      # largest angle between the bone and its bind direction
    twist_min_deg: float  # twist about the bone, right-handed about the bone's direction
    twist_max_deg: float


FREE = JointLimit(180.0, -180.0, 180.0)
# Ranges of motion of an adult (clinical ROM tables, rounded out so that tracking noise at the end
# of a range is not clipped hard), counted from a rest pose that is close to standing.
JOINT_LIMITS = {
    "hips": FREE,                              # the root: yaw is free; pitch and roll are damped elsewhere
    "spine": JointLimit(35.0, -35.0, 35.0),    # per spine joint; the chain adds up
    "neck": JointLimit(50.0, -60.0, 60.0),
    "head": JointLimit(50.0, -60.0, 60.0),
    "clavicle": JointLimit(30.0, -15.0, 15.0),
    "upper_arm": JointLimit(180.0, -100.0, 100.0),
    "lower_arm": JointLimit(155.0, -90.0, 90.0),   # elbow flexion; forearm pronation/supination
    "hand": JointLimit(80.0, -30.0, 30.0),
    "upper_leg": JointLimit(135.0, -50.0, 50.0),
    "lower_leg": JointLimit(155.0, -35.0, 35.0),
    "foot": JointLimit(55.0, -25.0, 25.0),
    "toes": JointLimit(60.0, -10.0, 10.0),
}


def swing_twist(delta: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, float]:
    """Split rotation `delta` (3x3) into swing @ twist, twist about unit `axis`; returns (swing, twist rad)."""
    swing, twist = swing_twist_rows(floats(delta), floats(axis))
    return np.array(swing), twist


def swing_twist_rows(delta, axis, moved=None) -> tuple[v3.Mat, float]:
    """swing_twist on retarget.vec3 tuples (`moved`: delta @ axis, when the caller has it)."""
    swing = v3.rotation_between(axis, v3.mat_vec(delta, axis) if moved is None else moved)
    twist = v3.mat_mul(v3.transpose(swing), delta)  # a rotation about `axis`
    # Its angle, from how it turns a vector perpendicular to the axis.
    ref = v3.unit(v3.any_perpendicular(axis))
    return swing, v3.signed_angle(ref, v3.mat_vec(twist, ref), axis)


def clamp_rotation(delta: np.ndarray, axis: np.ndarray, limit: JointLimit) -> np.ndarray:
    """`delta` with its swing (about `axis`) and twist held inside `limit`; `delta` itself when inside."""
    rows = floats(delta)
    out = clamp_rows(rows, floats(axis), limit)
    return delta if out is rows else np.array(out)


def clamp_rows(delta, axis, limit: JointLimit):
    """clamp_rotation on retarget.vec3 tuples; `delta` itself when inside."""
    if limit == FREE:
        return delta
    moved = v3.mat_vec(delta, axis)
    swing_angle = math.acos(max(-1.0, min(1.0, v3.dot(axis, moved))))
    swing, twist = swing_twist_rows(delta, axis, moved)
    max_swing = math.radians(limit.swing_deg)
    lo, hi = math.radians(limit.twist_min_deg), math.radians(limit.twist_max_deg)
    if swing_angle <= max_swing and lo <= twist <= hi:
        return delta
    if swing_angle > max_swing:
        bend_axis = v3.cross(axis, moved)
        if v3.norm(bend_axis) < EPS:  # turned right round: any perpendicular axis
            bend_axis = v3.any_perpendicular(axis)
        swing = v3.axis_angle(bend_axis, max_swing)
    return v3.mat_mul(swing, v3.axis_angle(axis, min(hi, max(lo, twist))))
