"""Simulation faults on a shipped garment and the soak command: caught and reset within one frame, no leak."""
from __future__ import annotations

import json

import numpy as np
import pytest

from avatar_wardrobe import cli
from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.avatar.proxies import BodyProxies
from avatar_wardrobe.cloth.bench import motion_poses
from avatar_wardrobe.cloth.simulator import ClothSettings, GarmentSim
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.garments.fitting import fitted_for
from avatar_wardrobe.garments.garment_io import load_garment
from avatar_wardrobe.settings import AvatarSettings, model_path
from avatar_wardrobe.soak.soak import rss_mib


@pytest.fixture(scope="module")
def worn():
    """The default avatar, its proxies, the first poses of the bundled motion and the fitted shipped T-shirt."""
    avatar = load_avatar(model_path(AvatarSettings().path))
    poses, _ = motion_poses(avatar)
    shirt = fitted_for(load_garment(model_path("garments/tshirt_M.glb")), avatar)
    return avatar, BodyProxies.for_avatar(avatar), poses[:8], shirt


RUNAWAY_KICK_M_S = 1000.0
ABSORBED_KICK_M_S = 100.0
ABSORBED_MOVE_M = 0.3   # a kick the anchored rows absorb moves no node further than this in the frame


@pytest.mark.parametrize("drill,reason", [("nan", "nan"), ("impulse", "energy")])
def test_a_fault_in_a_shipped_garment_is_reset_within_one_frame(worn, drill, reason):
    avatar, proxies, poses, shirt = worn
    with GarmentSim(shirt, avatar, shirt.meta.fabric, settings=ClothSettings(settle_steps=5), proxies=proxies) as sim:
        sim.reset(poses[0])
        sim.step(poses[1])
        if drill == "nan":
            sim.push_node(int(np.argmax(sim.node_max_distance)), [np.nan, 0.0, 0.0])
        else:  # a runaway impulse: every simulated node flung at 1000 m/s (see the next test for 100 m/s)
            sim.kick([RUNAWAY_KICK_M_S, 0.0, 0.0])
        state = sim.step(poses[2])
        assert state.fault == reason and state.resets == 1
        assert np.isfinite(state.positions).all()
        np.testing.assert_allclose(state.positions, sim.skinned(poses[2]).positions, atol=1e-12)
        after = [sim.step(p) for p in poses[3:6]]
        assert all(np.isfinite(s.positions).all() and not s.fault for s in after)


def test_a_fault_storm_pauses_the_cloth_before_rebuilding_it(worn):
    """A fault right after the last one (the pose that tore the cloth is still there) does not
    rebuild at once: the garment stays skinned BACKOFF_FRAMES frames, twice as long for a third,
    then the cloth comes back and steps on."""
    from avatar_wardrobe.cloth.simulator import BACKOFF_FRAMES

    avatar, proxies, poses, shirt = worn
    with GarmentSim(shirt, avatar, shirt.meta.fabric, settings=ClothSettings(settle_steps=5), proxies=proxies) as sim:
        sim.reset(poses[0])
        sim.step(poses[1])
        sim.kick([RUNAWAY_KICK_M_S, 0.0, 0.0])
        assert sim.step(poses[2]).fault == "energy" and sim.paused == 0  # a single fault: rebuilt at once
        world = sim.world
        sim.kick([RUNAWAY_KICK_M_S, 0.0, 0.0])
        assert sim.step(poses[3]).fault == "energy" and sim.paused == BACKOFF_FRAMES  # caught again: a storm
        for k in range(BACKOFF_FRAMES):
            pose = poses[4 + k % 4]
            state = sim.step(pose)
            assert not state.fault and not state.simulated
            np.testing.assert_allclose(state.positions, sim.skinned(pose).positions, atol=1e-12)
        assert sim.paused == 0 and sim.world is not world  # rebuilt on the pause's last frame
        after = sim.step(poses[7])
        assert after.simulated and not after.fault and np.isfinite(after.positions).all()
        sim.kick([RUNAWAY_KICK_M_S, 0.0, 0.0])
        assert sim.step(poses[7]).fault == "energy" and sim.paused == 2 * BACKOFF_FRAMES  # the next storm waits longer
        assert sim.resets == 3


def test_a_kick_the_anchors_absorb_is_no_fault_and_the_cloth_stays_put(worn):
    """Since only the loose part is simulated, a third of PyBullet's nodes are anchored rows: a
    100 m/s kick on every node is pulled back within the frame (measured: 0.15 m at most), so there
    is nothing to reset, and the cloth must not be reset either."""
    avatar, proxies, poses, shirt = worn
    with GarmentSim(shirt, avatar, shirt.meta.fabric, settings=ClothSettings(settle_steps=5), proxies=proxies) as sim:
        sim.reset(poses[0])
        before = sim.step(poses[1]).sim_positions.copy()
        sim.kick([ABSORBED_KICK_M_S, 0.0, 0.0])
        state = sim.step(poses[2])
        assert not state.fault and state.resets == 0
        assert np.isfinite(state.positions).all()
        assert np.linalg.norm(state.sim_positions - before, axis=1).max() < ABSORBED_MOVE_M


def test_rss_is_read_from_proc():
    assert rss_mib() > 10  # this Python process holds tens of MiB at least


@pytest.mark.timeout(180)
def test_a_short_soak_reports_resets_explosions_penetration_and_memory(capsys):
    code = cli.main(["soak", "--minutes", "0.1", "--json", "--garments", "tshirt_M,skirt_M"])
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["garments"] == ["tshirt_M", "skirt_M"] and report["frames"] > 5
    assert report["explosions"] == 0, report["per_garment"]
    assert 0 <= report["inside_depth_max_cm"] < 5.0
    assert report["memory"]["rss_mib_end"] > 0 and len(report["memory"]["samples"]) >= 2
    assert code == (0 if all(ok for _, ok in report["targets"].values()) else 1)


def test_soak_names_an_unknown_garment():
    from avatar_wardrobe.soak.soak import run

    with pytest.raises(WardrobeError, match="garment 'nosuch_M' not found.*catalog.json"):
        run(0.01, ("nosuch_M",))
