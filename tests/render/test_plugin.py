"""Wardrobe as a plugin: attached to an existing ShowBase, its task drives the avatar from landmarks."""
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
