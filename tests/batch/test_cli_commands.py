"""The batch commands from the command line: user errors exit 2 with the message; bodies by measurement
without the anny extra give one clear message."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from avatar_wardrobe.cli import main

from .conftest import write_catalog


def test_bad_catalog_exits_2_with_the_key(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text("[[garmnets]]\nname = 'x'\n")
    assert main(["batch", str(path), "--out", str(tmp_path / "out")]) == 2
    assert "unknown key(s) 'garmnets'" in capsys.readouterr().err


def test_bench_needs_two_worker_counts(capsys):
    assert main(["bench", "batch", "--workers", "2"]) == 2
    assert "at least two counts" in capsys.readouterr().err


def test_measured_body_without_anny_says_what_to_install(tmp_path):
    pytest.importorskip("avatar_wardrobe.shape.bodies", reason="the body builder (avatar_wardrobe.shape) is absent")
    catalog = write_catalog(tmp_path, [("tshirt", "garments/tshirt_{size}.glb", ["S"])])
    catalog.write_text(catalog.read_text().replace('preset = "female_165_58"',
                                                   'height_m = 1.92\nmass_kg = 88\ngender = "male"'))
    code = ("import sys; sys.modules['anny'] = None\n"  # as on an install without the extra
            "from avatar_wardrobe.cli import main\n"
            f"sys.exit(main(['batch', {str(catalog)!r}, '--out', {str(tmp_path / 'out')!r}, '--backend', 'local']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.getcwd(), "AVATAR_WARDROBE_CACHE": str(tmp_path)})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "male_192_88" in proc.stderr and "need the anny extra" in proc.stderr
    assert not (tmp_path / "out" / "tasks").exists()  # nothing ran
