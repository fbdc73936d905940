"""GarmentSim.follow/advance: the cloth shown at once from the last simulated frame, the physics a frame behind."""
from __future__ import annotations

import numpy as np

from avatar_wardrobe.cloth.bench import BodySurface
from avatar_wardrobe.cloth.simulator import ClothSettings, GarmentSim

from .test_simulator import MAX_DEPTH_M, MAX_INSIDE_SHARE, RUNAWAY_KICK_M_S

LAG_MEDIAN_M = 0.001   # most of the garment is where the synchronous cloth puts it...
LAG_P99_M = 0.025      # ...and the loose rest within a frame's swing of it


def test_follow_then_advance_tracks_the_synchronous_cloth(avatar, proxies, shirt, motion):
    body = BodySurface(avatar)
    with GarmentSim(shirt, avatar, proxies=proxies) as sync, GarmentSim(shirt, avatar, proxies=proxies) as lag:
        sync.reset(motion[0])
        lag.follow(motion[0])
        gaps = []
        for pose in motion[1:]:
            want = sync.step(pose)
            got = lag.follow(pose)
            assert lag.advance()["physics"] > 0          # the physics ran, after the frame was shown
            assert got.simulated and np.isfinite(got.positions).all() and np.isfinite(got.normals).all()
            gaps.append(np.linalg.norm(got.positions - want.positions, axis=1))
            body.pose(pose)
            d, fold = body.classify(got.positions)
            assert ((d < 0) & ~fold).mean() <= MAX_INSIDE_SHARE and max(0.0, -d[~fold].min()) <= MAX_DEPTH_M
        assert lag.frame == sync.frame == len(motion) - 1 and lag.resets == sync.resets == 0
        gaps = np.concatenate(gaps)
        assert np.median(gaps) <= LAG_MEDIAN_M and np.percentile(gaps, 99) <= LAG_P99_M
        assert gaps.max() > 0  # it is a frame behind, not the same computation
        assert lag.advance() == {}  # nothing waits: a second advance does nothing


def test_a_fault_found_while_advancing_shows_the_skin_next(avatar, proxies, tshirt, motion):
    with GarmentSim(tshirt, avatar, settings=ClothSettings(settle_steps=5), proxies=proxies) as sim:
        sim.follow(motion[0])
        sim.follow(motion[1])
        sim.advance()
        sim.kick([RUNAWAY_KICK_M_S, 0.0, 0.0])  # a fault in the next physics step (test_simulator: why the t-shirt)
        sim.follow(motion[2])
        sim.advance()
        assert sim.resets == 1
        state = sim.follow(motion[3])
        skinned = sim.skinned(motion[3]).positions
        assert np.linalg.norm(state.positions - skinned, axis=1).mean() < 0.002  # faded out to the skin
        sim.advance()
        after = []
        for pose in motion[4:8]:
            after.append(sim.follow(pose))
            sim.advance()
        assert all(s.simulated and np.isfinite(s.positions).all() for s in after) and sim.resets == 1
