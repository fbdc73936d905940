"""AR try-on on a real clip: the composited garment lies over the person, not beside them."""
import json
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = """
import json, sys
import numpy as np
from avatar_wardrobe.ar.bench import composites
from avatar_wardrobe.ar.masks import iou, torso_region
from avatar_wardrobe.jobs import StageTimer
out = []
for marks, image, mask, size, plain in composites(sys.argv[1], ["garments/tshirt_M.glb"], 55.0, 8, StageTimer(),
                                                  progress=False, unwarped=True):
    person = marks.mask > 0.5
    torso = torso_region(marks, size, marks.mask)
    out.append({"garment_px": int(mask.sum()), "on_person": float((mask & person).sum() / max(1, mask.sum())),
                "iou": iou(mask, torso), "iou_unwarped": iou(plain, torso),
                "on_person_unwarped": float((plain & person).sum() / max(1, plain.sum())),
                "changed": float(np.abs(image.astype(int) - 0).mean())})
print(json.dumps(out))
"""


@pytest.mark.slow
def test_garment_pixels_lie_over_the_person(testdata):
    clip = testdata / "video" / "pose_squats.mp4"
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(clip)], capture_output=True, text=True, check=False,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    frames = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(frames) == 8
    for f in frames:
        assert f["garment_px"] > 2000, "the garment should be drawn"
        assert f["on_person"] > 0.75, f"most garment pixels should lie on the person: {f}"
        assert f["iou"] > 0.6, f  # garment vs torso; the bench measures the whole clip (docs/bench/ar_*.json)
        assert f["iou"] > f["iou_unwarped"] - 0.02, f  # the silhouette warp never makes a frame much worse
        assert f["on_person"] >= f["on_person_unwarped"] - 0.02, f
    gain = np.median([f["iou"] - f["iou_unwarped"] for f in frames])
    assert gain > 0.03, f"the silhouette warp should bring the garment onto the torso: median IoU gain {gain:.3f}"
