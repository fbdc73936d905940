"""Hand-made hostile files: each refused with a message naming the problem, before any large allocation.

The cases tests/test_gltf_io.py and tests/garments/ already cover (truncated GLB, huge accessor
counts, URIs leaving the folder, deeply nested JSON) are listed in docs/faults.md, not repeated.
"""
from __future__ import annotations

import json
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest

from avatar_wardrobe import gltf_io
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.gltf_io import MAX_GLTF_OBJECTS
from avatar_wardrobe.garments.garment_io import (MAX_TEXTURE_SIDE, image_size, load_garment, read_garment,
                                                  save_garment)
from avatar_wardrobe.garments.validate import check_garment

REPO = Path(__file__).resolve().parents[2]
GARMENT = REPO / "models" / "garments" / "tshirt_M.glb"
MAX_PEAK_BYTES = 256 * 2**20  # far below what the hostile files declare (tens of GiB)


def _refusal(call, *args) -> str:
    """The WardrobeError message of call(*args); the traced Python/numpy peak stays small."""
    tracemalloc.start()
    try:
        with pytest.raises(WardrobeError) as info:
            call(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"{peak >> 20} MiB allocated before refusing"
    return str(info.value)


def _png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk declaring width x height RGBA pixels, and no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk)) + end


@pytest.fixture
def huge_texture_garment(tmp_path) -> Path:
    """The shipped T-shirt with a base colour texture whose PNG header declares 100k x 100k pixels."""
    garment = load_garment(GARMENT)
    garment.materials[0].base_color_texture = _png_header(100_000, 100_000)
    return save_garment(garment, tmp_path / "huge_texture.glb")


@pytest.mark.timeout(30)
def test_a_declared_100k_texture_is_refused_before_decoding(huge_texture_garment):
    assert image_size(_png_header(100_000, 100_000)) == (100_000, 100_000)
    message = _refusal(load_garment, huge_texture_garment)
    assert "100000 x 100000 pixels" in message and f"{MAX_TEXTURE_SIDE}" in message, message
    found = [p for p in check_garment(huge_texture_garment) if "100000 x 100000" in p.message]
    assert [p.code for p in found] == ["MISSING_IMAGE"]


@pytest.mark.timeout(30)
def test_the_renderer_refuses_a_huge_texture_before_decoding():
    from avatar_wardrobe.render.dynamic_mesh import load_texture

    message = _refusal(load_texture, _png_header(100_000, 100_000), "huge", True)
    assert "100000 x 100000 pixels" in message
    # An ordinary size still goes to the decoder (which then finds no pixel data).
    assert "could not be decoded" in _refusal(load_texture, _png_header(64, 64), "small", True)


def test_a_texture_at_the_limit_is_read(tmp_path):
    garment = load_garment(GARMENT)
    garment.materials[0].base_color_texture = _png_header(MAX_TEXTURE_SIDE, 16)
    path = save_garment(garment, tmp_path / "edge.glb")
    read, problems = read_garment(gltf_io.validate(path))
    assert read.materials[0].base_color_texture is not None, [p.message for p in problems]


def _chain_gltf(path: Path, count: int, loop: bool) -> Path:
    nodes = [{"children": [i + 1]} for i in range(count - 1)] + [{"children": [0]} if loop else {}]
    path.write_text(json.dumps({"asset": {"version": "2.0"}, "scenes": [{"nodes": [0]}], "nodes": nodes}))
    return path


@pytest.mark.timeout(30)
def test_a_100k_node_chain_is_refused_quickly(tmp_path):
    path = _chain_gltf(tmp_path / "deep.gltf", 100_000, loop=False)
    message = _refusal(gltf_io.validate, path)
    assert "declares 100001 glTF objects (100000 nodes, 1 scenes)" in message and str(MAX_GLTF_OBJECTS) in message
    assert [p.code for p in check_garment(path)] == ["GLTF_STRUCTURE"]


@pytest.mark.timeout(60)
def test_the_deepest_allowed_node_chain_gives_no_recursion_error(tmp_path):
    path = _chain_gltf(tmp_path / "deep.gltf", MAX_GLTF_OBJECTS - 2, loop=False)
    problems = check_garment(path)  # a deep but well-formed tree: no mesh, so not a garment
    assert problems and all(p.code != "CHECK_FAILED" for p in problems), [p.message for p in problems]
    with pytest.raises(WardrobeError) as info:
        load_garment(path)
    assert "could not be read" not in str(info.value)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("count", [2, 2_000])
def test_a_cyclic_node_graph_is_refused(tmp_path, count):
    path = _chain_gltf(tmp_path / "cycle.gltf", count, loop=True)
    assert "form a loop" in _refusal(gltf_io.validate, path)
    assert "form a loop" in _refusal(load_garment, path)
    assert any("form a loop" in p.message for p in check_garment(path))


@pytest.mark.parametrize("suffix", [".gltf", ".glb"])
def test_non_utf8_json_is_refused(tmp_path, suffix):
    text = b'{"asset": {"version": "2.0", "generator": "\xff\xfe latin-1 \xe9"}}'
    if suffix == ".glb":
        text += b" " * (-len(text) % 4)
        body = struct.pack("<I4s", len(text), b"JSON") + text
        text = struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body
    path = tmp_path / f"latin1{suffix}"
    path.write_bytes(text)
    assert "not valid UTF-8" in _refusal(gltf_io.validate, path)
    assert "not valid UTF-8" in _refusal(load_garment, path)
    assert [p.code for p in check_garment(path)] == ["GLTF_STRUCTURE"]


def test_an_image_uri_climbing_out_of_the_folder_is_never_opened(tmp_path):
    garment = load_garment(GARMENT)
    garment.materials[0].base_color_texture = _png_header(4, 4)
    glb = save_garment(garment, tmp_path / "g.glb")
    doc, _ = gltf_io._split_glb(glb.read_bytes(), glb.name)  # noqa: SLF001 - the JSON as written
    raw = json.loads(doc)
    for image in raw["images"]:
        image.pop("bufferView", None)
        image.pop("mimeType", None)
    for uri in ("../../etc/passwd", "/etc/passwd"):
        for image in raw["images"]:
            image["uri"] = uri
        path = tmp_path / "g2.glb"
        text = json.dumps(raw).encode()
        text += b" " * (-len(text) % 4)
        _, bin_chunk = gltf_io._split_glb(glb.read_bytes(), glb.name)  # noqa: SLF001
        body = (struct.pack("<I4s", len(text), b"JSON") + text
                + struct.pack("<I4s", len(bin_chunk), b"BIN\0") + bin_chunk)
        path.write_bytes(struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body)
        assert "URI_OUTSIDE" in _refusal(load_garment, path)
        assert "URI_OUTSIDE" in {p.code for p in check_garment(path)}
