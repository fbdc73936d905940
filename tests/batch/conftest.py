"""Tiny real catalogs for the batch tests: bundled garments, body and motion; few small frames."""
from __future__ import annotations

from pathlib import Path

TINY_OUTPUTS = """[outputs]
clip_frames = 4
turntable_views = 2
width = 64
height = 96
fps = 12.0
"""
CORRUPT_BYTES = 4000  # a truncated copy of a real garment file


def write_catalog(folder: Path, garments: list[tuple[str, str, list[str]]], limits: str = "",
                  outputs: str = TINY_OUTPUTS) -> Path:
    """garments: (name, file template, sizes); one body (female_165_58) and one motion (pose_1)."""
    lines = [outputs, limits]
    for name, template, sizes in garments:
        lines += ["[[garments]]", f'name = "{name}"', f'file = "{template}"',
                  "sizes = [" + ", ".join(f'"{s}"' for s in sizes) + "]", ""]
    lines += ['[[bodies]]', 'preset = "female_165_58"', "", "[[motions]]", 'preset = "pose_1"', ""]
    path = folder / "catalog.toml"
    path.write_text("\n".join(lines))
    return path
