"""Coverage-guided fuzzing of the glTF importer and `garment check` with atheris (libFuzzer for Python).

    python tools/fuzz_gltf.py -runs=20000             # or -max_total_time=600; any libFuzzer flag
    python tools/fuzz_gltf.py -runs=20000 CORPUS_DIR   # keep the grown corpus (outside the repo)

Seeds: the valid files in ../shared/testdata/gltf (when present) and a shipped garment, copied to
a temporary corpus. Each input is written to a file and read the way a user's file is: structure
(`gltf_io.validate`), garment semantics (`load_garment`) and `garment check --gltf-only`. The
property: nothing but WardrobeError comes out, and no message is a catch-all wrapper (those mean
a check forgot a case). A finding stops the run with the input saved as crash-<hash> (libFuzzer).
The body checks of `garment check` are left out: they load an avatar per input (see
tests/reliability/test_fuzz.py, which covers them with hypothesis).
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [ROOT.parent / "shared" / "testdata" / "gltf" / name for name in
         ("RiggedSimple.glb", "RiggedFigure.glb", "SimpleSkin/SimpleSkin.gltf")] + \
        [ROOT / "models" / "garments" / "skirt_S.glb"]
CATCH_ALL_MARKERS = ("could not be read as glTF (", "CHECK_FAILED", "checks could not finish")
MAX_LEN = 1 << 20  # bytes per input (libFuzzer's -max_len), enough for the seeds

with atheris.instrument_imports(include=["avatar_wardrobe"]):
    from avatar_wardrobe import gltf_io
    from avatar_wardrobe.errors import WardrobeError
    from avatar_wardrobe.garments.garment_io import load_garment
    from avatar_wardrobe.garments.validate import check_garment

WORK = Path(tempfile.mkdtemp(prefix="aw-fuzz-"))


def _caught(message: str) -> None:
    if any(marker in message for marker in CATCH_ALL_MARKERS):
        raise AssertionError(f"a catch-all wrapper answered: {message[:300]}")


def one_input(data: bytes) -> None:
    path = WORK / ("input.glb" if data[:4] == b"glTF" else "input.gltf")
    path.write_bytes(data)
    for read in (gltf_io.validate, load_garment):
        try:
            read(path)
        except WardrobeError as exc:
            _caught(str(exc))
    for problem in check_garment(path, gltf_only=True):
        _caught(f"{problem.code}: {problem.message}")


def main(argv: list[str]) -> None:
    corpus = [a for a in argv[1:] if not a.startswith("-")]
    flags = [a for a in argv[1:] if a.startswith("-")]
    seeds = WORK / "seeds"
    seeds.mkdir()
    for seed in SEEDS:
        if seed.is_file():
            shutil.copy(seed, seeds / seed.name)
    # libFuzzer writes new inputs to the first corpus folder and reads seeds from all of them.
    folders = corpus + [str(seeds)] if corpus else [str(WORK / "grown"), str(seeds)]
    Path(folders[0]).mkdir(parents=True, exist_ok=True)
    atheris.Setup([argv[0], f"-max_len={MAX_LEN}", "-timeout=10", "-rss_limit_mb=4096", *flags, *folders],
                  one_input)
    try:
        atheris.Fuzz()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv)
