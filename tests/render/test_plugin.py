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
