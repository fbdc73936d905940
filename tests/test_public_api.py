"""The public names import, and importing the package does not drag in the heavy dependencies."""
import subprocess
import sys

import avatar_wardrobe


def test_every_public_name_resolves():
    for name in avatar_wardrobe.__all__:
        assert getattr(avatar_wardrobe, name) is not None


def test_plain_import_is_light():
    code = ("import sys, avatar_wardrobe; "
            "print(','.join(m for m in ('panda3d', 'mediapipe', 'torch', 'pybullet') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
