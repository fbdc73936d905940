"""Any humanoid rig: a raised left arm raises the rig's own left arm, checked in each file's glTF world
(Z-up rigs under a root matrix, a VRM facing -Z) and against Panda3D's posed joints."""
import shutil

import numpy as np
import pytest

from avatar_wardrobe import gltf_io
from avatar_wardrobe.avatar.model import load_avatar
from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.retarget.rigmap import RIGGED_FIGURE, detect, load_rig_toml, resolve
from avatar_wardrobe.settings import MODELS_DIR
from avatar_wardrobe.transforms import normalize, quat_to_matrix
from landmark_fixtures import as_record, make_landmarks

RAISED_LEFT_ARM = dict(left_elbow=(0.18, -0.78, 0), left_wrist=(0.18, -1.03, 0))
ARM_OUT_RIGHT = dict(right_elbow=(-0.46, -0.50, 0), right_wrist=(-0.72, -0.50, 0))
MAX_ANGLE_DEG = 8.0
FK_TOLERANCE_M = 1e-3
# The rig's LEFT upper arm joint and its elbow, by the names in each file (the avatar's own left:
# "L" in the Khronos rigs, "Left" in the VRM).
RIGS = {
    "RiggedFigure.glb": ("rigged_figure", "arm_joint_L_1", "arm_joint_L_2", "arm_joint_R_1", "arm_joint_R_2"),
    "CesiumMan.glb": ("cesium_man", "Skeleton_arm_joint_L__4_", "Skeleton_arm_joint_L__3_",
                      "Skeleton_arm_joint_R", "Skeleton_arm_joint_R__2_"),
    "cryptovoxels.vrm": ("vrm", "Left arm", "Left elbow", "Right arm", "Right elbow"),
}
GLTF_UP = np.array([0.0, 1.0, 0.0])


def _node_local(node: dict) -> np.ndarray:
    if "matrix" in node:
        return np.array(node["matrix"], dtype=float).reshape(4, 4).T
    m = np.eye(4)
    w, x, y, z = (node.get("rotation", [0, 0, 0, 1])[i] for i in (3, 0, 1, 2))
    m[:3, :3] = quat_to_matrix(np.array([w, x, y, z])) * np.array(node.get("scale", [1, 1, 1]))
    m[:3, 3] = node.get("translation", [0, 0, 0])
    return m


def skin_to_world(path) -> np.ndarray:
    """The glTF world transform of the skin's bind space: node world x inverse bind, first joint."""
    doc = gltf_io.load(path)
    raw = gltf_io.raw_json(doc)
    parent = {c: i for i, n in enumerate(raw["nodes"]) for c in n.get("children", [])}
    skin = raw["skins"][0]
    node = skin["joints"][0]
    world, n = np.eye(4), node
    while n is not None:
        world = _node_local(raw["nodes"][n]) @ world
        n = parent.get(n)
    ibm = gltf_io.read_accessor(doc, skin["inverseBindMatrices"])[0].reshape(4, 4).T
    return world @ ibm


def _direction(avatar, pose, a, b):
    pos = avatar.skeleton.positions(pose.local_rotations, pose.root_offset)
    return pos[avatar.skeleton.index(b)] - pos[avatar.skeleton.index(a)]


def _angle(a, b):
    return np.degrees(np.arccos(np.clip(normalize(a) @ normalize(b), -1, 1)))


@pytest.mark.parametrize("name", sorted(RIGS))
def test_raised_left_arm_raises_the_rigs_left_arm(testdata, name):
    path = testdata / "gltf" / name
    rig_name, left_arm, left_elbow, right_arm, right_elbow = RIGS[name]
    avatar = load_avatar(path)
    assert avatar.rig.name == rig_name
    to_world = skin_to_world(path)[:3, :3]
    pose = avatar.solver.solve(as_record(make_landmarks(**RAISED_LEFT_ARM)))
    assert _angle(to_world @ _direction(avatar, pose, left_arm, left_elbow), GLTF_UP) < MAX_ANGLE_DEG
    assert _angle(to_world @ _direction(avatar, pose, right_arm, right_elbow), -GLTF_UP) < 30  # the right hangs
    # And the right arm straight out goes to the avatar's right: away from its left arm's side.
    pose = avatar.solver.solve(as_record(make_landmarks(**ARM_OUT_RIGHT)))
    rest = avatar.skeleton.bind_world[:, :3, 3]
    rightward = rest[avatar.skeleton.index(right_arm)] - rest[avatar.skeleton.index(left_arm)]
    assert _angle(_direction(avatar, pose, right_arm, right_elbow), rightward) < MAX_ANGLE_DEG + 5


@pytest.mark.parametrize("name", sorted(RIGS))
def test_panda_poses_the_rig_like_numpy(panda_base, testdata, tmp_path, name):
    from avatar_wardrobe.render.avatar_actor import AvatarActor, to_panda_points

    path = testdata / "gltf" / name
    avatar = load_avatar(path)
    loadable = tmp_path / (path.stem + ".glb")  # Panda's loader picks plugins by suffix: .vrm is a .glb
    shutil.copy(path, loadable)
    actor = AvatarActor(loadable, avatar.skeleton, panda_base.render)
    try:
        pose = avatar.solver.solve(as_record(make_landmarks(**RAISED_LEFT_ARM)))
        actor.apply_local(avatar.skeleton.local_matrices(pose.local_rotations, pose.root_offset))
        actor.actor.update(force=True)
        exposed = [actor.expose(n) for n in avatar.skeleton.names]
        panda = np.array([list(e.getPos(actor.character)) for e in exposed])
        numpy_fk = to_panda_points(avatar.skeleton.positions(pose.local_rotations, pose.root_offset))
        err = np.linalg.norm(panda - numpy_fk, axis=1)
        assert err.max() < FK_TOLERANCE_M, f"joint {avatar.skeleton.names[err.argmax()]} off by {err.max()} m"
        left_arm, left_elbow = RIGS[name][1:3]
        moved = np.linalg.norm(numpy_fk - to_panda_points(avatar.skeleton.bind_world[:, :3, 3]), axis=1)
        assert moved[avatar.skeleton.index(left_elbow)] > 0.1  # the pose really moved the arm
    finally:
        actor.remove()


def test_default_avatar_is_game_engine():
    avatar = load_avatar(MODELS_DIR / "avatar" / "female_165_58.glb")
    assert avatar.rig.name == "game_engine"


def test_vrm_map_is_read_from_the_files_humanoid(testdata):
    raw = gltf_io.raw_json(gltf_io.load(testdata / "gltf" / "cryptovoxels.vrm"))
    rig = detect([], raw)
    assert rig.name == "vrm" and rig.hips == "Hips" and rig.limb("upper_arm", "l") == "Left arm"
    assert rig.limb("foot", "r") == "Right ankle" and rig.spine[0] == "Spine"


def test_mixamo_names_are_detected_with_their_prefix():
    sides = {"Left": "", "Right": ""}
    names = ["mixamorig1:Hips", "mixamorig1:Spine", "mixamorig1:Spine1", "mixamorig1:Spine2",
             "mixamorig1:Neck", "mixamorig1:Head"]
    for side in sides:
        names += [f"mixamorig1:{side}{b}" for b in ("Shoulder", "Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot",
                                                    "ToeBase", "HandIndex1", "HandPinky1")]
    rig = detect(names)
    assert rig.name == "mixamo" and rig.limb("lower_arm", "l") == "mixamorig1:LeftForeArm"


def test_user_toml_map_drives_a_rig_like_the_built_in_one(testdata, tmp_path):
    lines = ['name = "my_figure"', f'hips = "{RIGGED_FIGURE.hips}"',
             "spine = [" + ", ".join(f'"{s}"' for s in RIGGED_FIGURE.spine) + "]",
             f'neck = "{RIGGED_FIGURE.neck}"', f'head = "{RIGGED_FIGURE.head}"']
    lines += [f'{key} = "{joint}"' for key, joint in RIGGED_FIGURE.limbs.items()]
    toml = tmp_path / "my_figure.toml"
    toml.write_text("\n".join(lines) + "\n")
    path = testdata / "gltf" / "RiggedFigure.glb"
    ours, builtin = load_avatar(path, str(toml)), load_avatar(path)
    assert ours.rig.name == "my_figure"
    marks = as_record(make_landmarks(**RAISED_LEFT_ARM))
    assert np.allclose(ours.solver.solve(marks).local_rotations, builtin.solver.solve(marks).local_rotations)


@pytest.mark.parametrize("text, message", [
    ('hips = "a"\nhead = "b"\n', "lacks 'spine'"),
    ('hips = "a"\nspine = ["s"]\nhead = "b"\nelbow_l = "x"\n', "unknown role"),
    ('hips = "a"\nspine = ["s"]\nhead = 3\n', "joint name in quotes"),
    ("hips = \n", "not valid TOML"),
])
def test_bad_toml_maps_say_what_to_fix(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(WardrobeError, match=message):
        load_rig_toml(path)


def test_a_map_naming_missing_joints_or_roles_is_refused(testdata):
    with pytest.raises(WardrobeError, match="names joints the avatar does not have"):
        load_avatar(testdata / "gltf" / "RiggedFigure.glb", "game_engine")
    with pytest.raises(WardrobeError, match="unknown rig map"):
        resolve("no_such_rig", [])


def test_bundled_toml_maps_load_and_name_every_required_role():
    from avatar_wardrobe.retarget.rigmap import REQUIRED_LIMB_ROLES, RIGS_DIR, SIDES

    maps = sorted(RIGS_DIR.glob("*.toml"))
    assert maps, "rigs/*.toml examples are missing"
    for path in maps:
        rig = load_rig_toml(path)
        rig.check(rig.all_joints())  # complete and one joint per role
        assert all(rig.has(r, s) for r in REQUIRED_LIMB_ROLES for s in SIDES)
