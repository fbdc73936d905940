"""Fuzzing the glTF importer and `garment check` with mutated valid files: only WardrobeError escapes.

CI runs AW_FUZZ_EXAMPLES examples in all (default 360: 26 for each of 14 targets, 364); the long
run is `AW_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest tests/reliability/test_fuzz.py -q` (11,676).
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import struct
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avatar_wardrobe import gltf_io
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.garments.garment_io import load_garment
from avatar_wardrobe.garments.validate import check_garment

REPO = Path(__file__).resolve().parents[2]
GARMENT = REPO / "models" / "garments" / "tshirt_M.glb"
EXAMPLES_TOTAL = int(os.environ.get("AW_FUZZ_EXAMPLES", "360"))
TARGETS = 14                    # 6 shared files + the garment, each with JSON and with byte mutations

EXAMPLES = -(-EXAMPLES_TOTAL // TARGETS)
SECONDS_PER_INPUT = 2.0         # CPU seconds per call (the machine is shared: wall time is noisy)
MAX_ITEMS_MUTATED = 6
# The generic "could not be read" wrappers catch what a check forgot: a fuzz hit there is a bug.
CATCH_ALL_MARKERS = ("could not be read as glTF (", "CHECK_FAILED")
SHARED_GLTF = ("CesiumMan.glb", "Fox.glb", "RiggedFigure.glb", "RiggedSimple.glb", "cryptovoxels.vrm",
               "SimpleSkin/SimpleSkin.gltf")
assert TARGETS == 2 * (len(SHARED_GLTF) + 1)
WEIRD_VALUES = (2**31, 2**32 + 1, 2**63, 10**30, -1, -2**31, 0, 0.5, 1e308, -1e308, float("nan"), "x", "",
                None, True, [], {}, [0] * 3, {"a": 1})


def _fuzz_settings():
    return settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=EXAMPLES < 1000,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# --- building mutated files ---------------------------------------------------------------------

def _split(data: bytes) -> tuple[dict, bytes | None]:
    """JSON and BIN of a well-formed GLB (the seeds only)."""
    json_len = struct.unpack_from("<I", data, 12)[0]
    raw = json.loads(data[20:20 + json_len])
    rest = data[20 + json_len:]
    return raw, (rest[8:8 + struct.unpack_from("<I", rest, 0)[0]] if rest else None)


def _glb(raw: dict, bin_chunk: bytes | None) -> bytes:
    text = json.dumps(raw).encode()
    text += b" " * (-len(text) % 4)
    body = struct.pack("<I4s", len(text), b"JSON") + text
    if bin_chunk is not None:
        body += struct.pack("<I4s", len(bin_chunk), b"BIN\x00") + bin_chunk
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def _paths(value, prefix=()):
    """Every (path, value) in a JSON tree, containers included."""
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):  # the first few items: long numeric arrays add nothing new
        for i, v in enumerate(value[:MAX_ITEMS_MUTATED]):
            yield from _paths(v, prefix + (i,))


def _set(root, path, value, delete=False):
    obj = root
    for key in path[:-1]:
        obj = obj[key]
    if delete:
        del obj[path[-1]]
    else:
        obj[path[-1]] = value


@st.composite
def json_mutations(draw, raw: dict):
    """A copy of `raw` with 1-4 values replaced (huge, negative, float, string, out-of-range index) or deleted."""
    raw = json.loads(json.dumps(raw))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p, _ in _paths(raw) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(("weird", "delete", "index", "scale")))
        old = _get(raw, path)
        if kind == "delete":
            _set(raw, path, None, delete=True)
        elif kind == "index":
            _set(raw, path, draw(st.sampled_from((-1, 10**6, 2**32, 255, 65535))))
        elif kind == "scale" and isinstance(old, (int, float)) and not isinstance(old, bool):
            _set(raw, path, old * draw(st.sampled_from((-1, 2, 1000, 10**9, 0.5))))
        else:
            _set(raw, path, copy.deepcopy(draw(st.sampled_from(WEIRD_VALUES))))  # never share the list/dict
    return raw


def _get(root, path):
    for key in path:
        root = root[key]
    return root


@st.composite
def byte_mutations(draw, data: bytes):
    """Flipped bytes, a truncation, or an edited GLB length field."""
    data = bytearray(data)
    kind = draw(st.sampled_from(("flip", "truncate", "length", "flip_json")))
    if kind == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    if kind == "length" and data[:4] == b"glTF":
        json_len = struct.unpack_from("<I", data, 12)[0]
        offsets = [8, 12] + ([20 + json_len] if 20 + json_len + 4 <= len(data) else [])
        at = draw(st.sampled_from(offsets))
        value = draw(st.sampled_from((0, 1, 3, 2**31, 2**32 - 1, len(data), len(data) * 2)) | st.integers(0, 2**32 - 1))
        struct.pack_into("<I", data, at, value)
        return bytes(data)
    hi = len(data)
    if kind == "flip_json" and data[:4] == b"glTF":
        hi = min(len(data), 20 + struct.unpack_from("<I", data, 12)[0])
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, hi - 1))
        data[at] ^= draw(st.integers(1, 255))
    return bytes(data)


# --- the property -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory(prefix="aw-fuzz-") as folder:
        yield Path(folder)


def _seeds(testdata: Path) -> list[Path]:
    return [testdata / "gltf" / name for name in SHARED_GLTF] + [GARMENT]


def _write(workdir: Path, seed: Path, data: bytes) -> Path:
    folder = workdir / "case"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    if seed.suffix == ".gltf":  # keep the sibling buffers
        for sibling in seed.parent.iterdir():
            if sibling != seed:
                shutil.copy(sibling, folder / sibling.name)
    path = folder / seed.name
    path.write_bytes(data)
    return path


def assert_only_wardrobe_errors(path: Path) -> None:
    """validate, load_garment and check_garment on `path`: only WardrobeError, no catch-all, within bounds."""
    for call in (gltf_io.validate, load_garment):
        start = time.process_time()
        try:
            call(path)
        except WardrobeError as exc:
            assert str(exc).strip(), "an empty error message"
            assert not any(m in str(exc) for m in CATCH_ALL_MARKERS), f"{call.__name__}: catch-all hit: {exc}"
        _assert_fast(start, call.__name__)
    start = time.process_time()
    problems = check_garment(path)
    _assert_fast(start, "check_garment")
    assert isinstance(problems, list)
    assert all(p.code != "CHECK_FAILED" for p in problems), [p.message for p in problems]


def _assert_fast(start: float, what: str) -> None:
    elapsed = time.process_time() - start
    assert elapsed < SECONDS_PER_INPUT, f"{what} took {elapsed:.1f} CPU s on one input"


@pytest.mark.parametrize("seed_index", range(TARGETS // 2),
                         ids=[*SHARED_GLTF, "tshirt_M.glb"])
def test_mutated_json_gives_only_wardrobe_errors(testdata, workdir, seed_index):
    seed = _seeds(testdata)[seed_index]
    data = seed.read_bytes()
    if seed.suffix == ".gltf":
        raw, bin_chunk, pack = json.loads(data), None, lambda r, b: json.dumps(r).encode()
    else:
        (raw, bin_chunk), pack = _split(data), _glb

    @_fuzz_settings()
    @given(json_mutations(raw))
    def run(mutated):
        assert_only_wardrobe_errors(_write(workdir, seed, pack(mutated, bin_chunk)))

    run()


@pytest.mark.parametrize("seed_index", range(TARGETS // 2),
                         ids=[*SHARED_GLTF, "tshirt_M.glb"])
def test_mutated_bytes_give_only_wardrobe_errors(testdata, workdir, seed_index):
    seed = _seeds(testdata)[seed_index]
    data = seed.read_bytes()

    @_fuzz_settings()
    @given(byte_mutations(data))
    def run(mutated):
        assert_only_wardrobe_errors(_write(workdir, seed, mutated))

    run()
