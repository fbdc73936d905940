"""The app in a real window under Xvfb: the UI draws, and the equip control changes what is worn."""
import json
import os
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

DISPLAY = ":88"
SCRIPT = """
import json, sys
from avatar_wardrobe.render.app import WardrobeApp
app = WardrobeApp(window=True)
app.step(5)
before = sorted(g.name for g in app.wardrobe.outfit.items())
types = sorted(app.catalog)
if types:
    app.base.messenger.send("ui-equip", [types[0]])
app.step(5)
after = sorted(g.name for g in app.wardrobe.outfit.items())
app.base.messenger.send("ui-export-dressed")
app.base.messenger.send("ui-export-motion")
app.base.messenger.send("ui-cloth", [False])
app.step(2)
import pathlib
exports = sorted(p.suffix for p in pathlib.Path("out").glob("*"))
app.base.screenshot(sys.argv[1], defaultFilename=False)
print(json.dumps({"before": before, "after": after, "types": types, "exports": exports,
                  "cloth": app.wardrobe.cloth_enabled}))
"""


@pytest.fixture(scope="module")
def xvfb():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb; .ci/run installs it when it can)")
    proc = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", "1280x720x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    yield {**os.environ, "DISPLAY": DISPLAY}
    proc.terminate()
    proc.wait()


@pytest.mark.slow
def test_app_window_shows_ui_and_equips(xvfb, tmp_path):
    shot = tmp_path / "app.png"
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(shot)], capture_output=True, text=True,
                         timeout=300, env=xvfb, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    state = json.loads(run.stdout.strip().splitlines()[-1])
    img = cv2.imread(str(shot))
    assert img.shape[:2] == (720, 1280)
    panel = img[40:600, 20:260].astype(int)
    scene = img[40:600, 700:1000].astype(int)
    assert panel.mean() < scene.mean() - 20, "the dark UI panel should be drawn on the left"
    assert np.abs(np.diff(panel, axis=1)).mean() > 3, "the panel should have text and buttons on it"
    assert state["types"], "no garments in models/garments/catalog.json: run `make garments`"
    equipped = f"{state['types'][0]}_M"
    assert equipped not in state["before"] and equipped in state["after"], state
    assert state["exports"] == [".bvh", ".glb", ".glb"], "dressed .glb, motion .glb and .bvh"
    assert state["cloth"] is False


BODY_SCRIPT = """
import json, time
from avatar_wardrobe.render.app import WardrobeApp
app = WardrobeApp(window=False, size=(640, 360))
app.step(2)
worn_before = sorted(g.name for g in app.wardrobe.outfit.items())
height_before = app.wardrobe.avatar.height_m
for name, value in (("height", 1.58), ("mass", 82.0), ("gender", 1.0)):
    app.base.messenger.send(f"ui-body-{name}", [value])  # what the sliders send
app.base.messenger.send("ui-body-make")
start = time.monotonic()
while app.body_job is not None and time.monotonic() - start < 240:
    app.step(1)
    time.sleep(0.05)
app.step(2)
print(json.dumps({"avatar": app.wardrobe.avatar.path.name, "height": app.wardrobe.avatar.height_m, "height_before": height_before,
                  "worn": sorted(g.name for g in app.wardrobe.outfit.items()), "worn_before": worn_before,
                  "status": app.panel.status.getText()}))
"""


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_body_sliders_make_and_wear_an_anny_body(tmp_path):
    pytest.importorskip("anny", reason="the anny extra is not installed (pip install -e '.[tools]')")
    env = {**os.environ, "AVATAR_WARDROBE_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", BODY_SCRIPT], capture_output=True, text=True, timeout=380,
                         env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    state = json.loads(run.stdout.strip().splitlines()[-1])
    assert state["avatar"] == "female_158_82.glb", state
    assert state["height"] < state["height_before"] - 0.05  # 1.58 m instead of the default 1.65 m
    assert state["worn"] == state["worn_before"] and state["worn"], "the outfit is put on the new body"
    assert state["status"] == "wearing body female_158_82"
    assert (tmp_path / "cache" / "bodies" / "female_158_82.glb").is_file()
