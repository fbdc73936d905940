"""A minimal Panda3D game that embeds avatar_wardrobe: its own camera and lights, our dressed avatar."""
import sys

from direct.showbase.ShowBase import ShowBase
from panda3d.core import AmbientLight, DirectionalLight, loadPrcFileData

from avatar_wardrobe import Wardrobe

if "--offscreen" in sys.argv:  # for tests and CI: no window needed
    loadPrcFileData("", "load-display p3headlessgl\nwindow-type offscreen\naudio-library-name null")


class Game(ShowBase):
    def __init__(self):
        super().__init__()
        self.disableMouse()
        self.setBackgroundColor(0.2, 0.25, 0.3)
        self.camera.setPos(0, -5, 1.4)             # the game's own camera ...
        self.camera.lookAt(0, 0, 0.9)
        sun = self.render.attachNewNode(DirectionalLight("sun"))
        sun.setHpr(30, -45, 0)
        sky = AmbientLight("sky")
        sky.setColor((0.35, 0.35, 0.4, 1))
        self.render.setLight(sun)                  # ... and its own lights
        self.render.setLight(self.render.attachNewNode(sky))
        self.wardrobe = Wardrobe(self)             # the default avatar, under render
        self.wardrobe.node.setH(20)                # place it like any model
        self.wardrobe.follow("motions/pose_1.jsonl")  # a recording; or a camera index: follow(0)
        self.accept("escape", sys.exit)


if __name__ == "__main__":
    game = Game()
    frames = int(sys.argv[sys.argv.index("--frames") + 1]) if "--frames" in sys.argv else game.run()
    for _ in range(frames or 0):
        game.taskMgr.step()
    if "--screenshot" in sys.argv:
        game.screenshot(sys.argv[sys.argv.index("--screenshot") + 1], defaultFilename=False)
    game.wardrobe.remove()
