"""PhysicsHost: the cloth stepped in a worker process equals the cloth stepped here; errors and a dead worker."""
from __future__ import annotations

import os
import subprocess
import sys
import signal
import time
from dataclasses import replace

import numpy as np
import pytest

from avatar_wardrobe.cloth.host import PhysicsHost
from avatar_wardrobe.cloth.simulator import ClothSettings, GarmentSim
from avatar_wardrobe.errors import WardrobeError

FRAMES = 12  # enough for the settle, the entry blend and several frames of motion with substeps


def _run(shirt, avatar, proxies, motion, process: bool, mode: str = "step"):
    with GarmentSim(shirt, avatar, settings=ClothSettings(process=process), proxies=proxies) as sim:
        states = [sim.reset(motion[0])]
        for pose in motion[1:FRAMES]:
            if mode == "step":
                states.append(sim.step(pose))
            else:
                if mode == "lag_sent" and sim.world is not None:
                    _wait_ready(sim)  # a worker that keeps up (a late one is skipped: see the test below)
                states.append(sim.follow(pose))
                sim.advance(wait=mode == "lag")
        if process:
            assert sim._host is not None and sim._host.alive()
        return states, sim.world.steps


@pytest.mark.parametrize("mode", ["step", "lag", "lag_sent"])
def test_the_worker_process_steps_the_same_cloth_bit_for_bit(shirt, avatar, proxies, motion, mode):
    """step(); follow() + advance(); follow() + advance(wait=False), collected by the next follow()."""
    here, here_steps = _run(shirt, avatar, proxies, motion, process=False, mode=mode)
    there, there_steps = _run(shirt, avatar, proxies, motion, process=True, mode=mode)
    assert there_steps == here_steps > FRAMES
    for a, b in zip(here, there):
        assert b.simulated == a.simulated and b.resets == a.resets
        np.testing.assert_array_equal(b.sim_positions, a.sim_positions)
        np.testing.assert_array_equal(b.positions, a.positions)
    moved = np.linalg.norm(here[-1].sim_positions - here[1].sim_positions, axis=1)
    assert moved.max() > 0.01  # the frames compared are a moving cloth, not a frozen one


def test_an_error_in_the_worker_is_raised_here_as_the_projects_error(shirt):
    with PhysicsHost() as host:
        world = host.world(1 / 60, 0.02, (0.0, -9.81, 0.0))
        two_pieces = np.array([[0, 1, 2], [3, 4, 5]])
        points = np.random.default_rng(0).random((6, 3))
        with pytest.raises(WardrobeError, match="one connected piece"):
            world.add_cloth(points, two_pieces)
        world.step()                      # the worker goes on after an error
        world.push_node(7, 0, (0.0, 0.0, 1.0))  # no such cloth: an error nobody waits for...
        with pytest.raises(WardrobeError, match="push_node"):
            world.sync()                  # ...is told at the next answered call
        world.sync()                      # and only once
        assert host.alive()
    assert not host.alive()


def test_a_dead_worker_leaves_the_garment_skinned_and_says_why(shirt, avatar, proxies, motion):
    with GarmentSim(shirt, avatar, settings=ClothSettings(process=True), proxies=proxies) as sim:
        sim.reset(motion[0])
        os.kill(sim._host.process.pid, signal.SIGKILL)
        sim._host.process.wait(5)
        state = sim.step(motion[1])
        assert not state.simulated and "stopped" in sim.failure
        np.testing.assert_allclose(state.positions, sim.skinned(motion[1]).positions)
        again = sim.reset(motion[1])      # reset starts a new worker
        assert again.simulated and sim._host.alive() and not sim.failure


def test_closing_the_garment_ends_its_worker(shirt, avatar, proxies, motion):
    sim = GarmentSim(shirt, avatar, settings=replace(ClothSettings(), process=True), proxies=proxies)
    sim.reset(motion[0])
    process = sim._host.process
    sim.close()
    assert process.poll() is not None


def test_two_garments_started_together_equal_each_stepped_alone(shirt, skirt, avatar, proxies, motion):
    """start() both, then finish() both: their workers step at the same time, each to its own result."""
    settings = ClothSettings(process=True)
    alone = {}
    for name, garment in (("shirt", shirt), ("skirt", skirt)):
        alone[name] = _run(garment, avatar, proxies, motion, process=False)[0][-1]
    with GarmentSim(shirt, avatar, settings=settings, proxies=proxies) as a, \
            GarmentSim(skirt, avatar, settings=settings, proxies=proxies) as b:
        a.reset(motion[0]), b.reset(motion[0])
        for pose in motion[1:FRAMES]:
            a.start(pose)
            b.start(pose)
            sa, sb = a.finish(), b.finish()
    np.testing.assert_array_equal(sa.positions, alone["shirt"].positions)
    np.testing.assert_array_equal(sb.positions, alone["skirt"].positions)


def test_a_reset_while_physics_is_out_drops_it(shirt, avatar, proxies, motion):
    with GarmentSim(shirt, avatar, settings=ClothSettings(process=True), proxies=proxies) as sim:
        sim.reset(motion[0])
        sim.follow(motion[1])
        sim.advance(wait=False)           # sent, not collected
        state = sim.reset(motion[2])      # the rebuild's own calls get their own answers
        assert state.simulated and sim.step(motion[3]).simulated


def test_a_script_without_a_main_guard_can_run_the_worker(tmp_path):
    """The worker is a fresh interpreter: the caller's script is not run again in it (a game's script
    would start a second game), so a plain top-level script works."""
    script = tmp_path / "game.py"
    script.write_text("from avatar_wardrobe.cloth.host import PhysicsHost\n"
                      "with PhysicsHost() as host:\n"
                      "    world = host.world(1 / 60, 0.02, (0.0, -9.81, 0.0))\n"
                      "    world.step()\n"
                      "    world.sync()\n"
                      "print('ran once')\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("ran once") == 1


def _wait_ready(sim, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not sim.world.nodes_ready():
        assert time.monotonic() < deadline, "the worker did not answer"
        time.sleep(0.005)


def test_a_late_worker_does_not_hold_the_frame_and_catches_up(shirt, avatar, proxies, motion):
    """follow() + advance(wait=False) with the worker stopped (SIGSTOP: a real stall, as when the
    machine is busy): frames keep coming from the last simulated cloth, nothing waits, and once the
    worker runs again one longer step catches up with the newest pose."""
    with GarmentSim(shirt, avatar, settings=ClothSettings(process=True), proxies=proxies) as sim:
        sim.reset(motion[0])
        sim.follow(motion[1])
        sim.advance(wait=False)
        _wait_ready(sim)
        before = sim.follow(motion[2])    # collects frame 1
        pid = sim._host.process.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            sim.advance(wait=False)       # frame 2, sent to a stalled worker
            sent = sim.world.steps
            for pose in motion[3:5]:
                t0 = time.perf_counter()
                state = sim.follow(pose)  # the last simulated cloth, carried onto the pose
                sim.advance(wait=False)   # nothing sent: the worker is still on frame 2
                assert time.perf_counter() - t0 < 2.0 and state.simulated
            assert sim.late_frames == 2 and sim.world.steps == sent
        finally:
            os.kill(pid, signal.SIGCONT)
        _wait_ready(sim)
        sim.follow(motion[5])             # collects frame 2
        sim.advance(wait=False)           # one frame spanning the two it missed and this one
        assert sim.world.steps - sent >= 3 * sim.substeps
        _wait_ready(sim)
        state = sim.follow(motion[6])
        assert state.simulated and np.isfinite(state.positions).all()
        assert not np.array_equal(state.sim_positions, before.sim_positions)


def _grid(n: int, x0: float):
    xs = np.linspace(0.0, 0.3, n)
    gx, gz = np.meshgrid(xs, xs)
    pos = np.stack([gx.ravel() + x0, np.full(n * n, 1.0), gz.ravel()], axis=1)
    faces = [(i * n + j, i * n + j + 1, (i + 1) * n + j + 1) for i in range(n - 1) for j in range(n - 1)]
    faces += [(i * n + j, (i + 1) * n + j + 1, (i + 1) * n + j) for i in range(n - 1) for j in range(n - 1)]
    return pos, np.array(faces)


def test_worlds_sharing_a_worker_each_get_their_own_answers():
    """Several garments' worlds in one worker: answers are routed by world, whatever order they are
    collected in, and a closed world's late answer reaches nobody."""
    with PhysicsHost() as host:
        worlds = [host.world(1 / 60, 0.02, (0.0, -9.81, 0.0)) for _ in range(3)]
        sizes = (4, 5, 6)
        cloths = [w.add_cloth(*_grid(n, float(k))) for k, (w, n) in enumerate(zip(worlds, sizes))]
        for _ in range(2):
            for w, c in zip(worlds, cloths):
                w.step()
                w.request_nodes([c])
            worlds[2].close()                     # owed an answer, closed before collecting it
            for k in (1, 0):                      # collected in the other order
                while not worlds[k].nodes_ready():
                    time.sleep(0.001)
                nodes = worlds[k].collect_nodes()
                assert nodes.shape == (sizes[k] ** 2, 3) and abs(nodes[:, 0].min() - k) < 0.01
            worlds[2] = host.world(1 / 60, 0.02, (0.0, -9.81, 0.0))
            cloths[2] = worlds[2].add_cloth(*_grid(sizes[2], 2.0))
        assert worlds[0].nodes(cloths[0]).shape == (16, 3)  # an answered call after all that


def test_a_dead_shared_worker_leaves_every_garment_on_it_skinned_and_each_can_start_again(
        shirt, skirt, avatar, proxies, motion):
    """Garments sharing one worker (GarmentSim(host=...)); the worker is killed: both show their
    skinned garment and say why; reset() gives each its own worker (the shared one is gone)."""
    settings = ClothSettings(process=True)
    with PhysicsHost() as shared:
        sims = [GarmentSim(g, avatar, settings=settings, proxies=proxies, host=shared) for g in (shirt, skirt)]
        try:
            for sim in sims:
                sim.reset(motion[0])
            assert {sim.worker_pid for sim in sims} == {shared.process.pid} and sims[0]._host is None
            os.kill(shared.process.pid, signal.SIGKILL)
            shared.process.wait(5)
            for sim in sims:
                state = sim.step(motion[1])
                assert not state.simulated and "stopped" in sim.failure
            for sim in sims:
                assert sim.reset(motion[1]).simulated and not sim.failure
            pids = {sim.worker_pid for sim in sims}
            assert len(pids) == 2 and shared.process.pid not in pids
        finally:
            for sim in sims:
                sim.close()
