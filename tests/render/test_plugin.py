"""Wardrobe as a plugin: attached to an existing ShowBase, its task drives the avatar from landmarks."""
import time

import numpy as np

from avatar_wardrobe.render.plugin import TASK_NAME, Wardrobe
from landmark_fixtures import make_landmarks, timed

ARM_OUT = dict(left_elbow=(0.46, -0.5, 0), left_wrist=(0.72, -0.5, 0))
SETTLE_FRAMES = 12


def test_play_drives_the_avatar_in_a_task(panda_base):
    parent = panda_base.render.attachNewNode("game_level")
    wardrobe = Wardrobe(panda_base, parent=parent)  # the default avatar
    try:
        assert wardrobe.node.getParent() == parent
        hand = wardrobe.actor.expose("hand_l")
        wardrobe.play([timed(make_landmarks(), 0)], fps=30, loop=True)
        assert panda_base.taskMgr.hasTaskNamed(TASK_NAME)
        panda_base.taskMgr.step()
        down = np.array(hand.getPos(panda_base.render))
        # A live-style stream, one record per rendered frame; the pose filter follows within a few.
        wardrobe.play(iter([timed(make_landmarks(**ARM_OUT), i + 1) for i in range(SETTLE_FRAMES)]))
        for _ in range(SETTLE_FRAMES):
            panda_base.taskMgr.step()
        out = np.array(hand.getPos(panda_base.render))
        assert out[2] - down[2] > 0.3  # the hand rose (Panda's Z is up)
        panda_base.taskMgr.step()  # the stream ended: the task finishes, the pose stays
        assert not panda_base.taskMgr.hasTaskNamed(TASK_NAME)
        assert np.allclose(np.array(hand.getPos(panda_base.render)), out)
    finally:
        wardrobe.remove()
        parent.removeNode()
    assert not panda_base.taskMgr.hasTaskNamed(TASK_NAME)


def test_cloth_settings_set_the_sim_mesh_budget_and_timings_split_cloth_from_upload(panda_base):
    import dataclasses

    from avatar_wardrobe.cloth.simulator import ClothSettings
    from avatar_wardrobe.garments.garment_io import load_garment
    from avatar_wardrobe.settings import load_scene, model_path

    scene = dataclasses.replace(load_scene(), outfit=[])
    # Without its own sim mesh the garment's render mesh is clustered down to the budget.
    shirt = dataclasses.replace(load_garment(model_path("garments/tshirt_M.glb")), sim=None)
    small, large = ClothSettings(sim_vertices=200), ClothSettings(sim_vertices=800)
    wardrobe = Wardrobe(panda_base, scene=scene, cloth_settings=small)
    try:
        wardrobe.equip(shirt)
        few = wardrobe.cloth_nodes
        wardrobe.set_cloth(True, large)  # rebuilds the worn garment's simulation with the new budget
        many = wardrobe.cloth_nodes
        assert 0 < few < many, (few, many)
        wardrobe.update(timed(make_landmarks(), 0))
        assert {"solve", "pose", "cloth", "garments"} <= set(wardrobe.timings_ms)
        wardrobe.set_cloth(False)
        assert wardrobe.cloth_nodes == 0
        wardrobe.update(timed(make_landmarks(), 1))
        assert "cloth" not in wardrobe.timings_ms and "garments" in wardrobe.timings_ms
    finally:
        wardrobe.remove()


def _dress_frames(panda_base, scene, lag: bool, frames: int):
    """Garment positions over `frames` updates of an arm-raising stream, and the cloth workers' pids."""
    wardrobe = Wardrobe(panda_base, scene=scene)
    wardrobe.cloth_lag = lag
    out = []
    try:
        for i in range(frames):
            marks = make_landmarks(**ARM_OUT) if i >= 2 else make_landmarks()
            for worn in wardrobe._worn.values():  # workers that keep up (a late one is skipped: tests/cloth/test_host.py)
                while worn.sim.world is not None and not worn.sim.world.nodes_ready():
                    time.sleep(0.002)
            dressed = wardrobe.prepare(timed(marks, i))  # what update() does, keeping the shapes shown
            wardrobe.apply(dressed)
            wardrobe.advance_cloth()
            out.append([np.array(positions) for _, positions, _, _ in dressed.shapes])
        pids = wardrobe.cloth_pids  # the workers start with the garments' first frame
    finally:
        wardrobe.remove()
    return out, pids


def test_cloth_in_worker_processes_dresses_the_same_frames(panda_base):
    """[cloth] process: each garment's PyBullet in its own worker (or, shared_process, all in one); the frames
    are the ones stepped here,
    in lag mode too (advance() only sends the physics; the next frame collects it), and remove()
    ends the workers."""
    import dataclasses
    import os

    from avatar_wardrobe.settings import load_scene

    base_scene = load_scene()
    for lag, shared in ((False, False), (True, False), (False, True), (True, True)):
        here, none = _dress_frames(panda_base, dataclasses.replace(
            base_scene, cloth=dataclasses.replace(base_scene.cloth, process=False)), lag, 6)
        there, pids = _dress_frames(panda_base, dataclasses.replace(
            base_scene, cloth=dataclasses.replace(base_scene.cloth, process=True, shared_process=shared)), lag, 6)
        # shared_process: every garment's world in one worker
        assert none == [] and len(pids) == (1 if shared else len(base_scene.outfit)) and len(base_scene.outfit) >= 2
        for a, b in zip(here, there):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)
        assert not np.array_equal(here[1][0], here[-1][0])  # the garments moved
        for pid in pids:  # the workers ended with remove()
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_settle_builds_the_cloth_before_the_first_frame(panda_base):
    marks = timed(make_landmarks(**ARM_OUT), 0)
    wardrobe = Wardrobe(panda_base)  # the default outfit: t-shirt and trousers, simulated
    try:
        sims = [w.sim for w in wardrobe._worn.values() if w.sim is not None]
        assert sims and all(s.world is None for s in sims), "the cloth is built lazily, on the first frame"
        wardrobe.settle(marks)
        worlds = [s.world for s in sims]
        assert all(w is not None for w in worlds)
        wardrobe.apply(wardrobe.prepare(marks))
        assert [s.world for s in sims] == worlds, "the first frame stepped the settled cloth, not a new one"
        assert all(s.frame >= 1 for s in sims)
    finally:
        wardrobe.remove()
