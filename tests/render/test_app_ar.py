"""AR mode and the refine pass inside the live app window (a real window under Xvfb)."""
import json
import subprocess
import sys

import pytest

from .test_app import xvfb  # noqa: F401 - the Xvfb display fixture

SCRIPT = """
import json, sys
import numpy as np
from avatar_wardrobe.render.app import WardrobeApp
app = WardrobeApp(source=sys.argv[1], window=True)
app.wardrobe.set_cloth(False)
app.step(3)
studio = app.wardrobe.node.getMat()
app.base.messenger.send("ui-ar", [True])      # what the AR check box sends
app.step(10)
marks, mask = app.ar.last
person = marks.mask > 0.5
state = {"ar": app.ar is not None, "garment_px": int(mask.sum()),
         "on_person": float((mask & person).sum() / max(1, mask.sum())),
         "main_view_drawn": app.base.camNode.isActive(), "hud": app.panel.hud.getText()}
app.base.screenshot(sys.argv[2], defaultFilename=False)
app.base.messenger.send("a")                   # the AR key toggles it off again
app.step(3)
state.update(ar_after=app.ar is not None, main_view_after=app.base.camNode.isActive(),
             avatar_back=app.wardrobe.node.getMat() == studio,
             following=app.base.taskMgr.hasTaskNamed("avatar_wardrobe.update"))
app.base.messenger.send("r")                   # the refine key
app.step(3)
state.update(refine=app.refine_on, refine_active=app.refine.active, refiner=app.refine.refiner.active,
             main_view_refine=app.base.camNode.isActive())
print(json.dumps(state))
"""


@pytest.mark.slow
def test_ar_mode_and_refine_in_the_window(xvfb, testdata, tmp_path):  # noqa: F811
    clip = testdata / "video" / "pose_squats.mp4"
    shot = tmp_path / "ar.png"
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(clip), str(shot)], capture_output=True, text=True, check=False,
                         timeout=300, env=xvfb, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    s = json.loads(run.stdout.strip().splitlines()[-1])
    assert s["ar"] and not s["main_view_drawn"] and "AR" in s["hud"], s
    assert s["garment_px"] > 2000 and s["on_person"] > 0.75, s   # the garments lie over the player
    assert (s["ar_after"], s["main_view_after"], s["avatar_back"], s["following"]) == (False, True, True, True), s
    assert s["refine"] and s["refine_active"] and s["refiner"] and not s["main_view_refine"], s
    assert shot.stat().st_size > 10_000


LOST_SCRIPT = """
import json, sys
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.render.ar_window import ArWindow
from avatar_wardrobe.render.engine import create_base
from avatar_wardrobe.render.plugin import Wardrobe
from avatar_wardrobe.settings import load_scene
base = create_base(False, (640, 360))
scene = load_scene()
scene.cloth.enabled = False
ar = ArWindow(base, Wardrobe(base, scene=scene), sys.argv[1], 55.0)
for _ in range(3):
    base.taskMgr.step()
shown = ar.last is not None

def unplugged():  # a camera that stops mid-stream (a fault this machine cannot cause for real)
    raise WardrobeError("camera 0 stopped sending frames")
    yield

ar._iter = unplugged()
for _ in range(3):
    base.taskMgr.step()
print(json.dumps({"shown": shown, "error": ar.error, "still_running": base.taskMgr.hasTaskNamed("avatar_wardrobe.ar_window")}))
"""


@pytest.mark.slow
def test_ar_mode_survives_a_source_that_stops(testdata):
    run = subprocess.run([sys.executable, "-c", LOST_SCRIPT, str(testdata / "video" / "pose_squats.mp4")],
                         capture_output=True, text=True, check=False, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    s = json.loads(run.stdout.strip().splitlines()[-1])
    assert s["shown"] and s["still_running"], s
    assert "stopped sending frames" in s["error"], s
