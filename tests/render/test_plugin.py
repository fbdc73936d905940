"""Wardrobe as a plugin: attached to an existing ShowBase, its task drives the avatar from landmarks."""
import numpy as np

from avatar_wardrobe.render.plugin import TASK_NAME, Wardrobe
from landmark_fixtures import as_record, make_landmarks

ARM_OUT = dict(left_elbow=(0.46, -0.5, 0), left_wrist=(0.72, -0.5, 0))


def test_play_drives_the_avatar_in_a_task(panda_base):
    parent = panda_base.render.attachNewNode("game_level")
    wardrobe = Wardrobe(panda_base, parent=parent)  # the default avatar
    try:
        assert wardrobe.node.getParent() == parent
        hand = wardrobe.actor.expose("hand_l")
        frames = [as_record(make_landmarks()), as_record(make_landmarks(**ARM_OUT))]
        wardrobe.play([frames[0]], fps=30, loop=True)
        assert panda_base.taskMgr.hasTaskNamed(TASK_NAME)
        panda_base.taskMgr.step()
        down = np.array(hand.getPos(panda_base.render))
        wardrobe.play(iter([frames[1]]))  # a live-style stream: one record per frame
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
