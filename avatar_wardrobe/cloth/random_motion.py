"""Random motion for the cloth soak: keyframes from a motion turned at random, within a body's reach.

Each keyframe is a pose of the base motion with every mapped joint turned up to SOAK_TURN_DEG
more at random, then held inside the solver's joint limits (the ones a solved pose of real input
keeps to). A keyframe, or an eased path to it, that puts a leg through another limb is drawn
again: a body cannot do that, and the cloth soak measured it. With turns alone (seed 7, the
first minute) the legs' capsules overlapped in 17% of the frames, up to 11 cm (the right calf
through the left thigh), where the bundled motion's solved poses come within 0.5 cm; trousers_M's
cloth was then caught between the legs (34 of its 49 resets in that minute were stretch faults
there). The solver itself does not keep legs apart: real input that crosses them still can.
"""
from __future__ import annotations

import numpy as np

from ..avatar.proxies import CAPSULE, BodyProxies
from ..records import Pose
from ..transforms import matrix_to_quat, nlerp_quats, normalize, quat_to_matrix

SOAK_KEY_SECONDS = (0.4, 1.2)
SOAK_TURN_DEG = 25.0
SOAK_JUMP_EVERY_S = 20.0      # a re-detection jump (new pose at once, body moved up to SOAK_JUMP_M)
SOAK_JUMP_M = 1.0
# Between keyframes no joint moves faster than this on average (a fast kick; the eased curve peaks
# at 1.5x): keyframes drawn far apart (e.g. a per-frame solve that put a shin the other way in depth)
# get a longer blend instead of a whip.
SOAK_MAX_JOINT_SPEED_M_S = 3.0
SMOOTHSTEP_PEAK = 1.5
SOAK_SEED = 7
# A leg's capsules may overlap another limb's proxies by at most this (the bundled motion's solved
# poses come to -0.5 cm: the capsules are fitted at the 95th-percentile radius, so touching limbs
# overlap a little)...
SOAK_MIN_LIMB_GAP_M = -0.005
SOAK_PATH_CHECKS = 7          # ...on the keyframe and at this many points of the eased path to it
SOAK_KEY_TRIES = 50           # keyframes drawn before one is taken as it is
AXIS_SAMPLES = 5              # points along each capsule's axis tested against the other limbs


class LimbGap:
    """How close the avatar's legs come to its other limbs, by the body proxies: the least distance
    from points along each limb capsule's axis to the proxies of another limb, less the capsule's
    radius (negative: overlapping). Only pairs with a leg in them count: hands meet, legs do not
    pass through anything."""

    def __init__(self, avatar, proxies: BodyProxies | None = None):
        self.skeleton = sk = avatar.skeleton
        self.proxies = proxies or BodyProxies.for_avatar(avatar)
        rig = avatar.rig
        trunk = {sk.index(n) for n in (rig.hips, *rig.spine)}
        limb = np.zeros(len(sk), np.int64)  # the limb's first joint (0: trunk, head)
        for j in range(len(sk)):
            p = sk.parents[j]
            limb[j] = 0 if j in trunk or p < 0 else (j if p in trunk else limb[p])
        head = limb[sk.index(rig.head)]
        self.limb = np.where(limb[self.proxies.bones] == head, 0, limb[self.proxies.bones])
        hips = sk.index(rig.hips)
        self.leg = np.array([k > 0 and sk.parents[k] == hips for k in self.limb])
        self.capsules = np.flatnonzero((self.proxies.kinds == CAPSULE) & (self.limb > 0))
        # (capsule, proxy) pairs that count: another limb, and a leg on one side
        other = (self.limb[None, :] > 0) & (self.limb[None, :] != self.limb[self.capsules, None])
        self.pairs = other & (self.leg[None, :] | self.leg[self.capsules, None])
        self.inv_bind = np.linalg.inv(sk.bind_world)
        self._along = np.linspace(-1.0, 1.0, AXIS_SAMPLES)

    def __call__(self, rotations: np.ndarray, offset: np.ndarray) -> float:
        """The least gap (metres) for a pose given as local rotations (J, 4) and root offset."""
        pose = self.proxies.pose(self.skeleton.forward(rotations, offset) @ self.inv_bind)
        c = self.capsules
        points = pose.axis_points(c, self._along)
        d = pose.distances(points.reshape(-1, 3)).reshape(len(c), AXIS_SAMPLES, -1).min(axis=1)
        d -= pose.radii[c, None]
        return float(d[self.pairs].min()) if self.pairs.any() else np.inf


def _ease(t: float) -> float:
    return t * t * (3 - 2 * t)


def random_motion(avatar, base: list[Pose], frames: int, fps: float = 30.0, seed: int = SOAK_SEED,
                  proxies: BodyProxies | None = None):
    """Endless-style random motion: keyframes drawn from `base` with every mapped joint turned up
    to SOAK_TURN_DEG more at random and held inside the joint limits, none with a leg through
    another limb, eased between; every SOAK_JUMP_EVERY_S a jump (new pose at once, the body moved
    up to SOAK_JUMP_M). Yields Pose records."""
    rng = np.random.default_rng(seed)
    sk = avatar.skeleton
    mapped = np.array(sorted({sk.index(n) for n in avatar.rig.all_joints()} - {sk.index(avatar.rig.hips)}))
    gap = LimbGap(avatar, proxies)

    def draw() -> np.ndarray:
        q = base[int(rng.integers(len(base)))].local_rotations.copy()
        axis = normalize(rng.normal(size=(len(mapped), 3)))
        angle = np.radians(rng.uniform(0, SOAK_TURN_DEG, len(mapped)))
        turn = np.concatenate([np.cos(angle / 2)[:, None], axis * np.sin(angle / 2)[:, None]], axis=1)
        m = quat_to_matrix(q)
        m[mapped] = quat_to_matrix(turn) @ m[mapped]
        return matrix_to_quat(avatar.solver.within_limits(m))

    def key(before: np.ndarray | None = None) -> np.ndarray:
        """A keyframe whose legs, and the eased path to it from `before`, stay clear of the other limbs."""
        path = [_ease(k / (SOAK_PATH_CHECKS + 1)) for k in range(1, SOAK_PATH_CHECKS + 1)] if before is not None else []
        for _ in range(SOAK_KEY_TRIES):
            q = draw()
            if gap(q, offset) >= SOAK_MIN_LIMB_GAP_M and \
                    all(gap(nlerp_quats(before, q, t), offset) >= SOAK_MIN_LIMB_GAP_M for t in path):
                return q
        return q

    def span_for(q0: np.ndarray, q1: np.ndarray) -> int:
        """Frames to ease from q0 to q1: the drawn time, or longer if a joint would move too fast."""
        far = np.linalg.norm(sk.positions(q1, offset) - sk.positions(q0, offset), axis=1).max()
        least = SMOOTHSTEP_PEAK * far / SOAK_MAX_JOINT_SPEED_M_S
        return max(1, int(np.ceil(max(rng.uniform(*SOAK_KEY_SECONDS), least) * fps)))

    offset = np.zeros(3)
    a = key()
    b = key(a)
    span = span_for(a, b)
    k = 0
    jump_every = int(SOAK_JUMP_EVERY_S * fps)
    for i in range(frames):
        if i and i % jump_every == 0:
            step = rng.uniform(-1, 1, 3) * [1, 0, 1]
            offset = offset + normalize(step) * rng.uniform(0.3, SOAK_JUMP_M)
            a = key()
            b, k = key(a), 0
            span = span_for(a, b)
        if k >= span:
            a, b, k = b, key(b), 0
            span = span_for(a, b)
        t = _ease(k / span)
        k += 1
        yield Pose(i, i / fps, nlerp_quats(a, b, t), offset.copy())
