"""Retarget solver: MediaPipe landmarks -> per-joint local rotations of any mapped rig (pure numpy).

Every rotation is found in world space as a delta on the joint's bind (rest) orientation, then
converted to the joint's local frame; so a rig's own bone axes never need per-rig flips. The rest
body frame (the rig's left, up and facing directions) is measured from the bind pose, and the
landmarks are turned into that frame first, so Z-up rigs and rigs that face -Z need nothing
special either. One function per body region; `solve()` runs them in order. Stateless: temporal
smoothing, visibility gating and foot locking live in retarget.pose_filter.PoseFilter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..avatar.skeleton import Skeleton
from ..pose import landmarks as lm
from ..records import Landmarks, Pose
from ..settings import ArSettings
from .geometry import EPS, floats, frame, matrices_to_quats, norm, perp, rotation_between, unit
from .keypoints import KNEE_LANDMARK_ALONG_THIGH_M, REFERENCE_TORSO_M, SHOULDER_LANDMARK_M
from . import lifter as learned
from . import vec3 as v3
from .lifting import lift
from .limits import FREE, JOINT_LIMITS, clamp_rows
from .rigmap import LIMB_GROUPS, SIDES, RigMap

# -- torso: MediaPipe's depth (z) is exaggerated, so the torso's lean toward or away from the camera
# is damped and capped; sideways lean (in the image plane) is trusted more. A trade-off, measured:
# on pose_1.mp4 (a dancer, mostly upright) the chest leans 25 degrees (median) undamped, 18 at
# 0.7, 15 at 0.6; on `bench retarget` renders (true leans of 0-20 degrees) the spine's median
# error is 3.8 degrees undamped, 6.4 at 0.7 (raw MediaPipe: 4.8).
TORSO_PITCH_GAIN = 0.7
TORSO_PITCH_FORWARD_LIMIT_DEG = 45.0
TORSO_PITCH_BACK_LIMIT_DEG = 20.0
TORSO_ROLL_GAIN = 1.0
TORSO_ROLL_LIMIT_DEG = 40.0
PELVIS_TILT_SHARE = 0.5   # the pelvis takes this share of the torso's lean, the spine the rest
NECK_SHARE = 0.5          # the neck takes this share of the head's turn relative to the chest
# The neck then swings so the ears sit where they are seen relative to the shoulders (a head held
# forward or to the side, a ducked head), the part toward or away from the camera damped like
# the torso's. Measured on pose_1.mp4 (bench keypoints): PCK 0.826 without, 0.833 with.
NECK_AIM = True
# -- head: facing from the ears to the eyes and nose. MediaPipe puts the nose/eyes of a level head
# slightly above the ear line (median 6 degrees over pose_squats.mp4, a woman looking at the
# camera), so this much chin-down pitch is added to the measured head.
HEAD_PITCH_CORRECTION_DEG = 6.0
# -- clavicle shrug: the ear's height above its shoulder, as a share of the torso length, for a
# relaxed shoulder (median 0.38-0.39 on pose_1.mp4 and pose_squats.mp4).
NEUTRAL_EAR_ABOVE_SHOULDER = 0.385
# -- twist of upper arms and thighs from the bend of the elbow and knee: none while the limb is
# straight (the bend plane is undefined), full once it bends this much.
BEND_TWIST_START_DEG = 10.0
BEND_TWIST_FULL_DEG = 35.0
FOREARM_TWIST_SHARE = 0.6   # of the hand's twist about the forearm, the rest stays in the wrist
MIN_PALM_WIDTH_SHARE = 0.3  # palm width / hand length below which the palm's side is unreliable

BODY_AXIS_SNAP_DEG = 10.0  # see _snap_to_axes
# Aim at landmarks lifted from the 2D image with known bone lengths (retarget.lifting) rather than
# at MediaPipe's world landmarks, whose depth is poor (bench retarget measures both).
LIFT_FROM_2D = True
CAMERA_UP = np.array([0.0, -1.0, 0.0])
# Lifting follows each landmark's pixel ray (perspective) for a camera of this vertical field of
# view unless told the real one (`Solver.vertical_fov_deg`; None: weak perspective). On `bench
# retarget` renders (a 30 degree camera) assuming 20-55 degrees all beat weak perspective.
ASSUMED_VERTICAL_FOV_DEG = ArSettings.camera_fov_deg  # "up" in MediaPipe's camera axes for a level camera
# The depth prior of the lifting: MediaPipe's world landmarks re-aimed by the learned lifter
# (retarget.lifter, models/lifter.npz) when its weights are there. "auto": use them when present,
# else lift with MediaPipe's world landmarks as the prior (and say so once in the log).
LEARNED_PRIOR = "auto"
# True: lifting takes the lifter's bones as they are (retarget.lifter.TRUSTED); False: as the depth
# prior of the 2D lifting only. Measured with bench keypoints on pose_1.mp4 (a real video), taking
# them as they are broke the image fit (PCK 0.86 -> 0.69-0.74); as a prior it stays at 0.85.
LIFTER_DIRECT = False
# Which joint ends each aimed bone in the rig (its direction in the bind pose).
BONE_END = {"clavicle": "upper_arm", "upper_arm": "lower_arm", "lower_arm": "hand", "upper_leg": "lower_leg",
            "lower_leg": "foot", "foot": "toes"}
SIDE_NAMES = {"l": "left", "r": "right"}
# Limb segments lifted with the rig's own lengths (landmark pairs).
LIFT_SEGMENTS = (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"), ("knee", "ankle"))
FOOT_ROLES = ("foot", "toes")


def _lm(points: np.ndarray, side: str, part: str) -> np.ndarray:
    return points[lm.INDEX[f"{SIDE_NAMES[side]}_{part}"]]


def _ramp(bend_deg: float) -> float:
    """How much a limb's bend defines its twist: 0 straight, 1 from BEND_TWIST_FULL_DEG, smooth."""
    t = min(1.0, max(0.0, (bend_deg - BEND_TWIST_START_DEG) / (BEND_TWIST_FULL_DEG - BEND_TWIST_START_DEG)))
    return t * t * (3.0 - 2.0 * t)


def _snap_to_axes(body: np.ndarray) -> np.ndarray:
    """The measured rest body frame, or the axis-aligned frame within BODY_AXIS_SNAP_DEG of it:
    rigs are modelled along their file's axes, and a 1-3 degree lean of the bind pose's hips or
    shoulders should not tilt the whole avatar (or a BVH's Y-up)."""
    snapped = np.zeros((3, 3))
    for c in range(3):
        k = int(np.argmax(np.abs(body[:, c])))
        snapped[k, c] = math.copysign(1.0, body[k, c])
    if abs(np.linalg.det(snapped) - 1.0) < 1e-9 and all(
            body[:, c] @ snapped[:, c] > math.cos(math.radians(BODY_AXIS_SNAP_DEG)) for c in range(3)):
        return snapped
    return body


def _as_floats(value):
    """numpy arrays, also inside tuples and dicts, as (nested) lists of floats (retarget.vec3)."""
    if isinstance(value, dict):
        return {k: _as_floats(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_as_floats(v) for v in value)
    return floats(value)


def _ancestors(parents: list[int], j: int) -> list[int]:
    """The joints above joint j, its parent first."""
    out = []
    while parents[j] >= 0:
        j = parents[j]
        out.append(j)
    return out


def _angle_deg(a, b) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, v3.dot(v3.unit(a), v3.unit(b))))))


@dataclass
class RestFrame:
    """The bind pose measured once per skeleton: joint positions and world orientations."""

    positions: np.ndarray  # (J, 3)
    rotations: np.ndarray  # (J, 3, 3) world orientation of each joint
    body: np.ndarray       # (3, 3) columns: the rig's left, up and facing directions, in skeleton space


class Solver:
    """Turns one Landmarks record into a Pose for one skeleton and rig map."""

    def __init__(self, skeleton: Skeleton, rig: RigMap, lift: bool = LIFT_FROM_2D,
                 vertical_fov_deg: float | None = ASSUMED_VERTICAL_FOV_DEG, learned_prior=LEARNED_PRIOR):
        """`learned_prior`: "auto" (the lifter's weights when present), False (none), True (the
        default weights, WardrobeError when missing) or a weights path (WardrobeError when missing)."""
        rig.check(skeleton.names)
        self.skeleton, self.rig = skeleton, rig
        self.lift = lift
        self.lifter = self._load_lifter(learned_prior) if lift else None
        self._prior_cache: tuple | None = None
        self.vertical_fov_deg = vertical_fov_deg  # the camera's; None lifts in weak perspective
        self.j = {name: skeleton.index(name) for name in rig.all_joints()}
        world = skeleton.bind_world
        rot = world[:, :3, :3] / np.linalg.norm(world[:, :3, :3], axis=1, keepdims=True)
        pos = world[:, :3, 3]
        body = _snap_to_axes(frame(self._rest_up(pos), self._rest_left(pos)))
        self.rest = RestFrame(pos, rot, body)
        self.left, self.up, self.forward = body[:, 0], body[:, 1], body[:, 2]
        self._feet = [self._idx(r, s) for r in FOOT_ROLES for s in SIDES if rig.has(r, s)]
        self.rest_torso_length = float(np.linalg.norm(self._rest_up(pos)))
        self._roles = self._joint_roles()
        self._limit_axes = self._bone_axes()
        self._limits = {j: JOINT_LIMITS[r] for j, r in self._roles.items()
                        if j in self._limit_axes and JOINT_LIMITS.get(r, FREE) != FREE}
        self._rest_local = self._bind_local()
        # to_local's inputs as retarget.vec3 rows, and which joints' world rotations it carries
        self._parents = skeleton.parents.tolist()
        self._rest_world_rows, self._rest_local_rows = self.rest.rotations.tolist(), self._rest_local.tolist()
        self._limit_frames = {j: (self._rest_local_rows[j], v3.transpose(self._rest_local_rows[j]),
                                  self._limit_axes[j].tolist()) for j in self._limits}
        self._carried_for = set(self.j.values())
        self._carried = {a for j in self._carried_for for a in _ancestors(self._parents, j)}
        self._rest_floor = float((pos[self._feet] @ self.up).min())
        self._limb_rest = {s: self._limb_rest_dirs(s) for s in SIDES}
        self._clavicle_rest = {s: pos[self._idx("upper_arm", s)] - pos[self._idx("clavicle", s)]
                               for s in SIDES if rig.has("clavicle", s)}
        self.limb_joints = self._limb_joints()
        self.bone_lengths = self.rest_bone_lengths()
        self._rest_ears_over_shoulders = self._rest_ear_offset()
        # Limbs are aimed from joint to joint: where MediaPipe marks a shoulder and a knee is off
        # the joint (keypoints: SHOULDER_LANDMARK_M, KNEE_LANDMARK_ALONG_THIGH_M). On `bench retarget`
        # renders this took the arms' median error at the front view from 13.9 to 12.8 degrees
        # (seed 0; 16.2 to 15.2 on seed 2); legs within 0.4 either way.
        size = self.rest_torso_length / REFERENCE_TORSO_M
        self._shoulder_mark = {side: self.rest.body @ (np.array([sign, 1.0, 1.0]) * SHOULDER_LANDMARK_M) * size
                               for side, sign in (("l", 1.0), ("r", -1.0))}
        self._knee_mark = KNEE_LANDMARK_ALONG_THIGH_M * size
        # What the per-frame regions read, as retarget.vec3 floats.
        self._up_v, self._forward_v, self._body_t = self.up.tolist(), self.forward.tolist(), self.rest.body.T.tolist()
        self._limb_rest, self._clavicle_rest, self._shoulder_mark, self._rest_ears_over_shoulders = _as_floats(
            (self._limb_rest, self._clavicle_rest, self._shoulder_mark, self._rest_ears_over_shoulders))

    @staticmethod
    def _load_lifter(choice):
        if choice is False or choice is None:
            return None
        if choice == "auto":
            found = learned.load()
            if found is None:
                import logging

                logging.getLogger(__name__).warning(
                    "no lifter weights at %s: lifting with MediaPipe's world landmarks as the depth prior "
                    "(less accurate arms); restore models/%s to use the learned prior",
                    learned.weights_path(), learned.DEFAULT_WEIGHTS)
            return found
        return learned.load(None if choice is True else choice, required=True)

    # -- rest measurements -------------------------------------------------------------------
    def _idx(self, role: str, side: str) -> int:
        return self.j[self.rig.limb(role, side)]

    def _mid(self, pos, role):
        return (pos[self._idx(role, "l")] + pos[self._idx(role, "r")]) / 2

    def _rest_up(self, pos):
        return self._mid(pos, "upper_arm") - self._mid(pos, "upper_leg")

    def _rest_left(self, pos):
        return pos[self._idx("upper_leg", "l")] - pos[self._idx("upper_leg", "r")]

    def rest_bone_lengths(self, torso: bool = False) -> dict[tuple[str, str], float]:
        """The rig's own segment lengths (metres) under retarget.lifting.TREE's landmark edges,
        measured between its rest keypoints where a detector puts them (keypoints.detector_keypoints:
        MediaPipe's shoulder landmark sits above the shoulder joint, its knee below the knee joint
        ...): the known lengths the 2D landmarks are lifted with. Hands and feet keep MediaPipe's,
        and so does the torso unless `torso` (on `bench retarget` renders the spine's median error
        was 6.1 degrees with MediaPipe's torso length, 7.6 with the rig's)."""
        from .keypoints import detector_keypoints

        k = detector_keypoints(self, Pose(0, 0.0, self.skeleton.rest_rotations()))
        k["mid_hip"], k["mid_shoulder"] = ((k[f"left_{p}"] + k[f"right_{p}"]) / 2 for p in ("hip", "shoulder"))
        out = {("mid_hip", "mid_shoulder"): norm(k["mid_shoulder"] - k["mid_hip"])} if torso else {}
        for name in SIDE_NAMES.values():
            out[("mid_hip", f"{name}_hip")] = norm(k[f"{name}_hip"] - k["mid_hip"])
            out[("mid_shoulder", f"{name}_shoulder")] = norm(k[f"{name}_shoulder"] - k["mid_shoulder"])
            for a, b in LIFT_SEGMENTS:
                out[(f"{name}_{a}", f"{name}_{b}")] = norm(k[f"{name}_{b}"] - k[f"{name}_{a}"])
        return out

    def use_calibration(self, calibration) -> None:
        """Lift with the player's own segment lengths (pose.calibration.Calibration, measured between
        MediaPipe's landmarks in an A/T stance) instead of the rig's: the issue's "known bone lengths
        from calibration". Only their ratios count. `reset_lengths()` goes back to the rig's."""
        b = calibration.bone_lengths_m
        out = {("mid_hip", "mid_shoulder"): b["torso"]}
        for name in SIDE_NAMES.values():
            out[("mid_hip", f"{name}_hip")] = b["hip_width"] / 2
            out[("mid_shoulder", f"{name}_shoulder")] = b["shoulder_width"] / 2
            for (a, end), segment in zip(LIFT_SEGMENTS, ("upper_arm", "lower_arm", "upper_leg", "lower_leg")):
                out[(f"{name}_{a}", f"{name}_{end}")] = b[segment]
        self.bone_lengths = {k: float(v) for k, v in out.items()}

    def reset_lengths(self) -> None:
        self.bone_lengths = self.rest_bone_lengths()

    def _rest_ear_offset(self) -> np.ndarray:
        """Mid-ear minus mid-shoulder at rest (rig space), where a detector marks them."""
        from .keypoints import detector_keypoints

        k = detector_keypoints(self, Pose(0, 0.0, self.skeleton.rest_rotations()))
        return self.to_rig(((k["left_ear"] + k["right_ear"]) - (k["left_shoulder"] + k["right_shoulder"]))[None] / 2)[0]

    def _rest_dir(self, role: str, side: str) -> np.ndarray:
        p = self.rest.positions
        return unit(p[self._idx(BONE_END[role], side)] - p[self._idx(role, side)])

    def _rest_hand(self, side: str):
        """(hand direction, palm side: index minus pinky) at rest, or None without finger joints."""
        if not (self.rig.has("index", side) and self.rig.has("pinky", side)):
            return None
        p = self.rest.positions
        index, pinky = p[self._idx("index", side)], p[self._idx("pinky", side)]
        return (index + pinky) / 2 - p[self._idx("hand", side)], index - pinky

    def _rest_foot(self, side: str) -> np.ndarray:
        """The sole's heading at rest: the foot-to-toes direction laid flat on the floor."""
        if self.rig.has("toes", side):
            d = perp(self._rest_dir("foot", side), self.up)
            if norm(d) > 1e-3:
                return unit(d)
        return self.forward

    def _bind_local(self) -> np.ndarray:
        rot = self.rest.rotations
        return np.array([rot[j] if p < 0 else rot[p].T @ rot[j] for j, p in enumerate(self.skeleton.parents)])

    def _limb_rest_dirs(self, side: str) -> dict:
        """Bind-pose directions the limb solvers start from, per side."""
        out = {role: self._rest_dir(role, side) for role in ("upper_arm", "lower_arm", "upper_leg", "lower_leg")}
        out["elbow_bend"] = unit(perp(self.forward, out["upper_arm"]))
        out["knee_bend"] = unit(perp(-self.forward, out["upper_leg"]))
        out["sole"] = self._rest_foot(side)
        hand = self._rest_hand(side)
        out["hand"] = None if hand is None else (*hand, frame(*hand))
        return out

    def _joint_roles(self) -> dict[int, str]:
        roles = {self.j[self.rig.hips]: "hips", self.j[self.rig.head]: "head"}
        roles.update({self.j[name]: "spine" for name in self.rig.spine})
        if self.rig.neck:
            roles[self.j[self.rig.neck]] = "neck"
        for key, name in self.rig.limbs.items():
            role = key.rsplit("_", 1)[0]
            if role in JOINT_LIMITS:
                roles[self.j[name]] = role
        return roles

    def _bone_axes(self) -> dict[int, np.ndarray]:
        """Each limited joint's bone axis in its own rest frame: toward the joint that continues its
        body part (the next spine joint, the elbow ...), so a chest's axis runs up the spine and not
        toward a clavicle, its first child."""
        pos, rig, axes = self.rest.positions, self.rig, {}
        chain = [*rig.spine, *([rig.neck] if rig.neck else []), rig.head]
        ends = {self.j[a]: pos[self.j[b]] for a, b in zip(chain, chain[1:])}
        ends[self.j[rig.head]] = pos[self.j[rig.head]] + self.up
        for key, name in rig.limbs.items():
            role, side = key.rsplit("_", 1)
            if role in BONE_END and rig.has(BONE_END[role], side):
                ends[self.j[name]] = pos[self._idx(BONE_END[role], side)]
            elif role == "hand":
                hand = self._rest_hand(side)
                ends[self.j[name]] = pos[self.j[name]] + (hand[0] if hand is not None else
                                                          pos[self.j[name]] - pos[self._idx("lower_arm", side)])
        for j, end in ends.items():
            d = end - pos[j]
            if j in self._roles and np.linalg.norm(d) > EPS:
                axes[j] = unit(self.rest.rotations[j].T @ d)
        return axes

    def _limb_joints(self) -> dict[str, list[int]]:
        """Joints per gated limb (names as in pose.filtering.LIMB_LANDMARKS)."""
        out = {}
        for group, roles in LIMB_GROUPS.items():
            for side in SIDES:
                out[f"{group}_{side}"] = [self._idx(r, side) for r in roles if self.rig.has(r, side)]
        out["head"] = [self.j[n] for n in (self.rig.neck, self.rig.head) if n]
        out["torso"] = [self.j[self.rig.hips], *(self.j[n] for n in self.rig.spine),
                        *(self._idx("clavicle", s) for s in SIDES if self.rig.has("clavicle", s))]
        return out

    def to_rig(self, avatar_points: np.ndarray) -> np.ndarray:
        """Points in the canonical avatar frame (x left, y up, z facing) -> the rig's skeleton space."""
        return np.asarray(avatar_points) @ self.rest.body.T

    # -- solve -------------------------------------------------------------------------------
    def solve(self, marks: Landmarks, ground: bool = True, up: np.ndarray | None = None,
              measured: np.ndarray | None = None) -> Pose:
        """Local rotations for every joint; the rest pose when nobody was tracked.

        `ground=False` leaves root_offset at zero (for callers that ground the pose themselves).
        `up`: the world's up direction in MediaPipe's camera axes when the camera is tilted (see
        retarget.pose_filter.GravityEstimate); default: the camera is level, up is -y.
        `measured`: `measured_world(marks, ...)` when the caller has it already (PoseFilter does).
        """
        if not marks.found:
            return Pose(marks.index, marks.time_s, self.skeleton.rest_rotations())
        world = self.measured_world(marks) if measured is None else measured
        if up is not None:  # turn the camera's tilt out: the world's up becomes the camera's -y
            world = world @ rotation_between(np.asarray(up, dtype=np.float64), CAMERA_UP).T
        pts = self.to_rig(lm.to_avatar_frame(world)).tolist()  # rows of floats for the regions (retarget.vec3)
        deltas: dict[int, v3.Mat] = {}
        pelvis, chest = self._torso(pts, deltas)
        self._head(pts, chest, deltas)
        for side in SIDES:
            self._arm(pts, side, self._clavicle(pts, side, chest, deltas), deltas)
            self._leg(pts, side, pelvis, deltas)
        rotations = self.to_local(deltas)
        root = self.ground_offset(rotations) if ground else np.zeros(3)
        return Pose(marks.index, marks.time_s, matrices_to_quats(rotations), root)

    def measured_world(self, marks: Landmarks, previous: np.ndarray | None = None) -> np.ndarray:
        """The world landmarks the solver aims at: lifted from the 2D landmarks (retarget.lifting)
        with `bone_lengths` (the rig's own unless a calibration set the player's) when it can be,
        else MediaPipe's own."""
        if self.lift and marks.image is not None and min(marks.image_size) > 0:
            focal = None
            if self.vertical_fov_deg:
                focal = marks.image_size[1] / 2 / math.tan(math.radians(self.vertical_fov_deg) / 2)
            prior, blend = self.depth_prior(marks)
            return lift(marks.image, marks.world, marks.image_size, self.bone_lengths, focal, prior=prior,
                        trusted=learned.TRUSTED if prior is not None and LIFTER_DIRECT else (),
                        blend=blend, previous=previous)
        return np.asarray(marks.world, dtype=np.float64)

    def depth_prior(self, marks: Landmarks) -> tuple[np.ndarray | None, dict | None]:
        """(world landmarks lifting takes its depths from, the arms' blend shares) from the learned
        lifter when loaded; (None, None) without it (lifting then takes MediaPipe's). The last
        frame's is kept (lifting the same landmarks again, with and without a temporal prior)."""
        if self.lifter is None or marks.visibility is None:
            return None, None
        if self._prior_cache is not None and self._prior_cache[0] is marks:
            return self._prior_cache[1]
        fov = self.vertical_fov_deg or ASSUMED_VERTICAL_FOV_DEG
        focal = marks.image_size[1] / 2 / math.tan(math.radians(fov) / 2)
        prior_blend = self.lifter.prior_and_blend(marks.image, marks.visibility, marks.world, marks.image_size, focal)
        self._prior_cache = (marks, prior_blend)
        return prior_blend

    def _torso(self, pts, deltas):
        """Pelvis and chest: yaw from the hip line, lean (damped) from hips to shoulders, the bend
        spread over the spine chain; the chest's side from the shoulder line."""
        up = self._up_v
        mid_hip = v3.mid(_lm(pts, "l", "hip"), _lm(pts, "r", "hip"))
        mid_sh = v3.mid(_lm(pts, "l", "shoulder"), _lm(pts, "r", "shoulder"))
        hip_line = v3.sub(_lm(pts, "l", "hip"), _lm(pts, "r", "hip"))
        heading = v3.frame(up, v3.perp(hip_line, up))  # yaw only
        roll_c, up_c, pitch_c = v3.mat_vec(v3.transpose(heading), v3.unit(v3.sub(mid_sh, mid_hip)))
        pitch = math.atan2(pitch_c, max(up_c, EPS)) * TORSO_PITCH_GAIN
        pitch = min(math.radians(TORSO_PITCH_FORWARD_LIMIT_DEG), max(-math.radians(TORSO_PITCH_BACK_LIMIT_DEG), pitch))
        roll = math.atan2(roll_c, max(up_c, EPS)) * TORSO_ROLL_GAIN
        roll = min(math.radians(TORSO_ROLL_LIMIT_DEG), max(-math.radians(TORSO_ROLL_LIMIT_DEG), roll))
        lean_up = v3.mat_vec(heading, v3.unit((math.tan(roll), 1.0, math.tan(pitch))))
        shoulder_line = v3.sub(_lm(pts, "l", "shoulder"), _lm(pts, "r", "shoulder"))
        chest = v3.mat_mul(v3.frame(lean_up, shoulder_line), self._body_t)
        pelvis_up = v3.mat_vec(v3.slerp(v3.IDENTITY, v3.rotation_between(up, lean_up), PELVIS_TILT_SHARE), up)
        pelvis = v3.mat_mul(v3.frame(pelvis_up, hip_line), self._body_t)
        deltas[self.j[self.rig.hips]] = pelvis
        n = len(self.rig.spine)
        for k, name in enumerate(self.rig.spine):
            deltas[self.j[name]] = v3.slerp(pelvis, chest, (k + 1) / n)
        return pelvis, chest

    def _head(self, pts, chest, deltas):
        """Head turn from the ear line (side) and the ears-to-eyes-and-nose direction (facing)."""
        mid_ear = v3.mid(_lm(pts, "l", "ear"), _lm(pts, "r", "ear"))
        face = v3.mid(v3.mid(_lm(pts, "l", "eye"), _lm(pts, "r", "eye")), pts[lm.NOSE])
        left = v3.sub(_lm(pts, "l", "ear"), _lm(pts, "r", "ear"))
        measured = v3.frame(v3.cross(v3.sub(face, mid_ear), left), left)  # up = facing x left
        side_axis = (measured[0][0], measured[1][0], measured[2][0])
        measured = v3.mat_mul(v3.axis_angle(side_axis, math.radians(HEAD_PITCH_CORRECTION_DEG)), measured)
        head = v3.mat_mul(measured, self._body_t)
        if self.rig.neck:
            neck = v3.slerp(chest, head, NECK_SHARE)
            if NECK_AIM:
                seen = v3.sub(mid_ear, v3.mid(_lm(pts, "l", "shoulder"), _lm(pts, "r", "shoulder")))
                facing = v3.mat_vec(chest, self._forward_v)
                seen = v3.sub(seen, v3.scale(facing, (1.0 - TORSO_PITCH_GAIN) * v3.dot(seen, facing)))
                neck = v3.mat_mul(v3.rotation_between(v3.mat_vec(neck, self._rest_ears_over_shoulders), seen), neck)
            deltas[self.j[self.rig.neck]] = neck
        deltas[self.j[self.rig.head]] = head

    def _clavicle(self, pts, side, chest, deltas):
        """Shrug: the shoulder's rise toward the ear, turned into a clavicle roll about the chest's
        facing axis. Returns the delta the upper arm starts from."""
        if not self.rig.has("clavicle", side):
            return chest
        mid_hip = v3.mid(_lm(pts, "l", "hip"), _lm(pts, "r", "hip"))
        mid_sh = v3.mid(_lm(pts, "l", "shoulder"), _lm(pts, "r", "shoulder"))
        chest_up = v3.mat_vec(chest, self._up_v)
        ear_above = v3.dot(v3.sub(_lm(pts, side, "ear"), _lm(pts, side, "shoulder")), chest_up) / max(
            v3.norm(v3.sub(mid_sh, mid_hip)), EPS)
        rest_clav = self._clavicle_rest[side]
        rise = (NEUTRAL_EAR_ABOVE_SHOULDER - ear_above) / max(v3.norm(rest_clav) / self.rest_torso_length, EPS)
        axis = v3.cross(v3.mat_vec(chest, v3.unit(rest_clav)), chest_up)
        delta = v3.mat_mul(v3.axis_angle(axis, math.asin(min(1.0, max(-1.0, rise)))), chest)
        deltas[self._idx("clavicle", side)] = delta
        return delta

    @staticmethod
    def _aim(parent_delta, rest_dir, target):
        """Swing the bone from where its parent carried it onto `target` (no twist)."""
        return v3.mat_mul(v3.rotation_between(v3.mat_vec(parent_delta, rest_dir), target), parent_delta)

    def _arm(self, pts, side, parent, deltas):
        """Upper arm aimed at the elbow and twisted so the elbow bends the way the arm does;
        forearm aimed at the wrist; hand (and forearm twist) from the index and pinky landmarks."""
        rest = self._limb_rest[side]
        shoulder, elbow, wrist = (_lm(pts, side, p) for p in ("shoulder", "elbow", "wrist"))
        shoulder = v3.sub(shoulder, v3.mat_vec(parent, self._shoulder_mark[side]))  # the landmark sits above the joint
        upper = self._aim(parent, rest["upper_arm"], v3.sub(elbow, shoulder))
        axis = v3.unit(v3.sub(elbow, shoulder))
        fore = v3.sub(wrist, elbow)
        # An elbow flexes the forearm toward the body's front (from the anatomical pose).
        theta = v3.signed_angle(v3.mat_vec(upper, rest["elbow_bend"]), fore, axis) * _ramp(_angle_deg(axis, fore))
        upper = v3.mat_mul(v3.axis_angle(axis, theta), upper)
        deltas[self._idx("upper_arm", side)] = upper
        lower = self._aim(upper, rest["lower_arm"], fore)
        rest_hand = rest["hand"]
        if rest_hand is not None:
            index, pinky = _lm(pts, side, "index"), _lm(pts, side, "pinky")
            hand_dir, palm_side = v3.sub(v3.mid(index, pinky), wrist), v3.sub(index, pinky)
            if v3.norm(v3.perp(palm_side, v3.unit(hand_dir))) > MIN_PALM_WIDTH_SHARE * v3.norm(hand_dir):
                hand = v3.mat_mul(v3.frame(hand_dir, palm_side), v3.transpose(rest_hand[2]))
                fore_axis = v3.unit(fore)
                twist = v3.signed_angle(v3.mat_vec(lower, rest_hand[1]), v3.mat_vec(hand, rest_hand[1]), fore_axis)
                lower = v3.mat_mul(v3.axis_angle(fore_axis, FOREARM_TWIST_SHARE * twist), lower)
                deltas[self._idx("hand", side)] = hand
        deltas[self._idx("lower_arm", side)] = lower

    def _leg(self, pts, side, pelvis, deltas):
        """Thigh aimed at the knee, twisted by the knee's bend (or, straight, by the foot's heading);
        shin aimed at the ankle; foot pitched and turned from the heel to the foot index."""
        rest = self._limb_rest[side]
        hip, knee, ankle = (_lm(pts, side, p) for p in ("hip", "knee", "ankle"))
        knee = v3.sub(knee, v3.scale(v3.unit(v3.sub(knee, hip)), self._knee_mark))  # the landmark sits down the thigh
        foot = v3.sub(_lm(pts, side, "foot_index"), _lm(pts, side, "heel"))
        upper = self._aim(pelvis, rest["upper_leg"], v3.sub(knee, hip))
        axis = v3.unit(v3.sub(knee, hip))
        shin = v3.sub(ankle, knee)
        w = _ramp(_angle_deg(axis, shin))
        # A knee flexes the shin toward the body's back; a straight leg turns with its foot.
        theta_bend = v3.signed_angle(v3.mat_vec(upper, rest["knee_bend"]), shin, axis)
        theta_foot = v3.signed_angle(v3.mat_vec(upper, rest["sole"]), foot, axis)
        upper = v3.mat_mul(v3.axis_angle(axis, w * theta_bend + (1 - w) * theta_foot), upper)
        deltas[self._idx("upper_leg", side)] = upper
        lower = self._aim(upper, rest["lower_leg"], shin)
        deltas[self._idx("lower_leg", side)] = lower
        deltas[self._idx("foot", side)] = self._aim(lower, rest["sole"], foot)

    # -- local rotations, limits, ground ------------------------------------------------------
    def to_local(self, deltas: dict[int, np.ndarray], limits: bool = True) -> np.ndarray:
        """World deltas (joint index -> 3x3, numpy or retarget.vec3 rows) -> local rotation matrices
        (J, 3, 3) within the joint limits. Joints without a delta keep their bind rotation relative
        to their parent; a limited joint's children still turn to where their own deltas say."""
        rest_world, local = self._rest_world_rows, list(self._rest_local_rows)
        # World rotations are needed only above a joint with a delta (not down the fingers).
        carried = self._carried if deltas.keys() <= self._carried_for else None
        world: dict[int, v3.Mat] = {}
        for j, p in enumerate(self._parents):
            delta = deltas.get(j)
            if delta is not None:
                target = v3.mat_mul(floats(delta), rest_world[j])
                local[j] = target if p < 0 else v3.mat_mul(v3.transpose(world[p]), target)
                if limits:
                    local[j] = self._limited_rows(j, local[j])
            if carried is None or j in carried:
                world[j] = local[j] if p < 0 else v3.mat_mul(world[p], local[j])
        return np.array(local)

    def within_limits(self, local: np.ndarray) -> np.ndarray:
        """Local rotation matrices (J, 3, 3) with every limited joint held inside its joint limits, as
        to_local holds a solved pose (the cloth soak's random motion keeps to them too)."""
        out = np.array(local, dtype=np.float64)
        for j in self._limits:
            out[j] = self._limited_rows(j, out[j].tolist())
        return out

    def _limited_rows(self, j: int, local):
        """One joint's local rotation (retarget.vec3 rows) held inside its limit: its deviation from
        the bind pose clamped (limits.clamp_rows), turned back into a local rotation."""
        limit = self._limits.get(j)
        if limit is None:
            return local
        r0, r0_t, axis = self._limit_frames[j]
        return v3.mat_mul(r0, clamp_rows(v3.mat_mul(r0_t, local), axis, limit))

    def ground_offset(self, rotations: np.ndarray, posed: np.ndarray | None = None) -> np.ndarray:
        """Root offset along the rig's up that keeps the lowest foot joint at its rest height
        (`posed`: the joints' world positions for these rotations, when the caller has them)."""
        if posed is None:
            posed = self.skeleton.positions(rotations)
        drop = self._rest_floor - float((posed[self._feet] @ self.up).min())
        return drop * self.up
