"""`avatar-wardrobe export` writes .glb and .bvh files that read back, and refuses other suffixes."""
import json

from avatar_wardrobe import gltf_io
from avatar_wardrobe.cli import EXIT_USER_ERROR, main
from avatar_wardrobe.record.bvh import read_bvh
from avatar_wardrobe.record.gltf_anim import ANIMATION_NAME
from avatar_wardrobe.settings import MODELS_DIR

MOTION = MODELS_DIR / "motions" / "pose_1.jsonl"
FRAMES = 15


def test_export_glb_and_bvh(tmp_path, capsys, testdata):
    for out, avatar in ((tmp_path / "clip.glb", []), (tmp_path / "clip.bvh", ["--avatar", str(testdata / "gltf" / "CesiumMan.glb")])):
        assert main(["export", str(MOTION), "--out", str(out), "--frames", str(FRAMES), *avatar]) == 0
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert result["frames"] == FRAMES and result["format"] == out.suffix[1:]
    raw = gltf_io.raw_json(gltf_io.validate(tmp_path / "clip.glb"))
    assert raw["animations"][-1]["name"] == ANIMATION_NAME
    bvh = read_bvh(tmp_path / "clip.bvh")
    assert len(bvh.values) == FRAMES and bvh.joints[0].name == "Skeleton_torso_joint_1"


def test_export_refuses_unknown_formats(tmp_path, capsys):
    assert main(["export", str(MOTION), "--out", str(tmp_path / "clip.fbx")]) == EXIT_USER_ERROR
    assert ".glb" in capsys.readouterr().err
