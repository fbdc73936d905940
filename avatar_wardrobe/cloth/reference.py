"""The machine's speed for cloth: DESIGN.md's prototype measure (a bare ~1k-node tube on moving capsules) re-run now.

DESIGN.md gives the prototype's cost on these machines when it was written: a tube "shirt"
of ~1k nodes around moving capsules, classic world, two 1/60 s steps a frame plus the node
read-back, 3.6 ms a frame. The VMs' speed drifts (the same code has measured 1.2-1.5x apart on
one evening), so `bench cloth` runs this bare tube in the same run and reports the garments'
cost against it: the product's cloth (more proxies, anchored rings, the skinned/simulated
blend, push-outs) is then compared with a number taken on the same machine at the same time.
"""
from __future__ import annotations

import time

import numpy as np

from ..avatar.proxies import CAPSULE, ProxyPose
from .bullet import ClothWorld

DESIGN_MS = 3.6            # DESIGN.md's "~1k" figure
AROUND, ROWS = 40, 25      # 1,000 nodes
RADIUS_M, TOP_M, LENGTH_M = 0.17, 1.4, 0.5
MARGIN_M = 0.006
SETTLE_STEPS = 30
STEPS_PER_FRAME = 2
WARM_FRAMES = 30           # left out of the median (sparse-SDF cells being built)
FRAMES = 150
SWAY_M, SWAY_HZ = 0.08, 1.0      # the body sways sideways...
ARM_M, ARM_HZ = 0.10, 1.5        # ...and the arms go up and down
# capsules (radius, half length, rest centre): a torso inside the tube and two arms beside it
CAPSULES = ((0.15, 0.175, (0.0, 1.15, 0.0)), (0.05, 0.125, (-0.25, 1.25, 0.0)), (0.05, 0.125, (0.25, 1.25, 0.0)))
UPRIGHT = np.array([np.sqrt(0.5), -np.sqrt(0.5), 0.0, 0.0])  # w, x, y, z: a capsule's local +Z onto world +Y


def tube() -> tuple[np.ndarray, np.ndarray]:
    """(positions (AROUND*ROWS, 3), faces): an open tube, row 0 at the top."""
    ring = 2 * np.pi * np.arange(AROUND) / AROUND
    rows = TOP_M - LENGTH_M * np.arange(ROWS) / (ROWS - 1)
    pos = np.array([[RADIUS_M * np.cos(a), y, RADIUS_M * np.sin(a)] for y in rows for a in ring])
    faces = []
    for j in range(ROWS - 1):
        for i in range(AROUND):
            a, b = j * AROUND + i, j * AROUND + (i + 1) % AROUND
            faces += [(a, b, a + AROUND), (b, b + AROUND, a + AROUND)]
    return pos, np.array(faces)


def _capsules(t: float) -> tuple[np.ndarray, np.ndarray]:
    """(centres, linear velocities) of the capsules at time t."""
    rest = np.array([c for _, _, c in CAPSULES])
    sway = SWAY_M * np.sin(2 * np.pi * SWAY_HZ * t)
    sway_v = SWAY_M * 2 * np.pi * SWAY_HZ * np.cos(2 * np.pi * SWAY_HZ * t)
    centres, vel = rest + [sway, 0.0, 0.0], np.tile([sway_v, 0.0, 0.0], (len(rest), 1))
    for k, side in ((1, -1.0), (2, 1.0)):
        phase = 2 * np.pi * ARM_HZ * t + side
        centres[k, 1] += ARM_M * np.sin(phase)
        vel[k, 1] = ARM_M * 2 * np.pi * ARM_HZ * np.cos(phase)
    return centres, vel


def measure(frames: int = FRAMES) -> dict:
    """Run the tube; returns its median ms a frame (steps, moves and read-back) with DESIGN.md's."""
    pos, faces = tube()
    n = len(CAPSULES)
    centres, _ = _capsules(0.0)
    q = np.tile(UPRIGHT, (n, 1))
    zero = np.zeros((n, 3))
    proxies = ProxyPose(np.full(n, CAPSULE), centres, q, np.tile([0.0, 1.0, 0.0], (n, 1)),
                        np.array([r for r, _, _ in CAPSULES]), np.array([h for _, h, _ in CAPSULES]),
                        (None,) * n, (None,) * n, np.zeros(n, np.int64), zero, zero)
    top = pos[:AROUND]
    times = []
    with ClothWorld() as world:
        world.add_proxies(proxies)
        world.add_frames(top, None)
        cloth = world.add_cloth(pos, faces, margin=MARGIN_M)
        world.anchor(cloth, np.arange(AROUND), np.arange(AROUND))
        for _ in range(SETTLE_STEPS):
            world.step()
        dt = world.time_step
        for f in range(frames):
            t0 = time.perf_counter()
            for k in range(STEPS_PER_FRAME):
                t = (f * STEPS_PER_FRAME + k + 1) * dt
                centres, vel = _capsules(t)
                world.move_proxies(centres, q, vel, zero)
                shift = centres[0] - CAPSULES[0][2]
                world.move_frames(top + shift, None, np.tile(vel[0], (AROUND, 1)))
                world.step()
            world.nodes(cloth)
            times.append((time.perf_counter() - t0) * 1e3)
    return {"nodes": len(pos), "frames": frames, "ms_per_frame_median": round(float(np.median(times[WARM_FRAMES:])), 3),
            "design_md_ms": DESIGN_MS}
