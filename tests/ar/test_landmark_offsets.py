"""The landmark offsets the AR fit uses are what MediaPipe measures on the rendered avatar today."""
import json
import subprocess
import sys

import pytest

TOLERANCE = 0.015  # torso lengths (about 7 mm on the default avatar)


@pytest.mark.slow
def test_kept_offsets_match_a_fresh_measurement():
    from avatar_wardrobe.ar.fit import LANDMARK_OFFSETS

    run = subprocess.run([sys.executable, "-m", "avatar_wardrobe.ar.landmark_offsets"], capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    measured = json.loads(run.stdout.strip().splitlines()[-1])
    for kind, (outward, up) in LANDMARK_OFFSETS.items():
        assert measured[kind]["frames"] >= 20, measured
        assert measured[kind]["outward"] == pytest.approx(outward, abs=TOLERANCE), measured
        assert measured[kind]["up"] == pytest.approx(up, abs=TOLERANCE), measured
        assert up > 0.0  # MediaPipe marks shoulders and hips above the rig's joints
