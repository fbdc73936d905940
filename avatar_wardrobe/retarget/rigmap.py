"""Bone-name maps: body roles -> a rig's joint names (game_engine, mixamo, VRM, Khronos rigs, user TOML).

A RigMap only names joints. Which way a rig faces, which axis is up and how its bones are
oriented is measured from the skeleton's bind pose by the solver, never written here.

User rigs: a TOML file (see rigs/README.md) with one `role = "joint"` line per role:

    name = "my_rig"
    hips = "Hips"
    spine = ["Spine", "Chest"]        # pelvis side first; the last one is the chest
    neck = "Neck"                     # optional
    head = "Head"
    upper_arm_l = "LeftArm"           # <role>_l / <role>_r, l and r being the avatar's own sides
    ...
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import WardrobeError

SIDES = ("l", "r")
REQUIRED_LIMB_ROLES = ("upper_arm", "lower_arm", "hand", "upper_leg", "lower_leg", "foot")
# clavicle: shrug; toes: foot direction at rest; index/pinky (first finger joints): palm and twist.
OPTIONAL_LIMB_ROLES = ("clavicle", "toes", "index", "pinky")
LIMB_ROLES = REQUIRED_LIMB_ROLES + OPTIONAL_LIMB_ROLES
# Limbs the pose filter gates by visibility (names as in pose.filtering.LIMB_LANDMARKS) -> roles.
LIMB_GROUPS = {
    "arm": ("upper_arm", "lower_arm"),
    "hand": ("hand",),
    "leg": ("upper_leg", "lower_leg"),
    "foot": ("foot", "toes"),
}
RIGS_DIR = Path(__file__).resolve().parents[2] / "rigs"
TOML_SCALAR_ROLES = ("name", "hips", "neck", "head")


@dataclass(frozen=True)
class RigMap:
    """Which joint plays each role. Limb roles are keyed "<role>_<side>", side "l" or "r"
    being the avatar's own left and right; optional roles may be absent."""

    name: str
    hips: str
    spine: tuple[str, ...]  # pelvis side first; the last one is the chest
    neck: str | None
    head: str
    limbs: dict[str, str] = field(default_factory=dict)

    def limb(self, role: str, side: str) -> str | None:
        return self.limbs.get(f"{role}_{side}")

    def has(self, role: str, side: str = "l") -> bool:
        return f"{role}_{side}" in self.limbs

    def all_joints(self) -> list[str]:
        return [self.hips, *self.spine, *([self.neck] if self.neck else []), self.head, *self.limbs.values()]

    def check(self, joint_names) -> None:
        """Raise WardrobeError naming the mapped joints the avatar lacks or the roles left out."""
        have = set(joint_names)
        missing = [j for j in self.all_joints() if j not in have]
        if missing:
            raise WardrobeError(
                f"rig map '{self.name}' names joints the avatar does not have: {', '.join(missing)}. "
                "Pick the rig map that matches the avatar's skeleton, or write one for it (rigs/README.md)."
            )
        lacking = [f"{r}_{s}" for r in REQUIRED_LIMB_ROLES for s in SIDES if not self.has(r, s)]
        if not self.spine:
            lacking.insert(0, "spine")
        if lacking:
            raise WardrobeError(f"rig map '{self.name}' leaves out the required roles {', '.join(lacking)}: "
                                "add them (rigs/README.md lists every role).")
        if len(set(self.all_joints())) != len(self.all_joints()):
            raise WardrobeError(f"rig map '{self.name}' gives one joint two roles: each role needs its own joint.")


def _limbs(fmt: dict[str, str], sides: dict[str, str] | None = None) -> dict[str, str]:
    sides = sides or {s: s for s in SIDES}
    return {f"{role}_{side}": fmt[role].format(side=sides[side]) for role in fmt for side in SIDES}


GAME_ENGINE = RigMap(
    name="game_engine",
    hips="pelvis",
    spine=("spine_01", "spine_02", "spine_03"),
    neck="neck_01",
    head="head",
    limbs=_limbs({
        "clavicle": "clavicle_{side}", "upper_arm": "upperarm_{side}", "lower_arm": "lowerarm_{side}",
        "hand": "hand_{side}", "upper_leg": "thigh_{side}", "lower_leg": "calf_{side}",
        "foot": "foot_{side}", "toes": "ball_{side}", "index": "index_01_{side}", "pinky": "pinky_01_{side}",
    }),
)


def mixamo(prefix: str = "mixamorig:") -> RigMap:
    """Mixamo's names, with the prefix the file uses ("mixamorig:", "mixamorig1:", "" ...)."""
    p = prefix
    return RigMap(
        name="mixamo", hips=f"{p}Hips", spine=(f"{p}Spine", f"{p}Spine1", f"{p}Spine2"),
        neck=f"{p}Neck", head=f"{p}Head",
        limbs=_limbs({
            "clavicle": p + "{side}Shoulder", "upper_arm": p + "{side}Arm", "lower_arm": p + "{side}ForeArm",
            "hand": p + "{side}Hand", "upper_leg": p + "{side}UpLeg", "lower_leg": p + "{side}Leg",
            "foot": p + "{side}Foot", "toes": p + "{side}ToeBase", "index": p + "{side}HandIndex1",
            "pinky": p + "{side}HandPinky1",
        }, {"l": "Left", "r": "Right"}),
    )


MIXAMO = mixamo()

# Khronos glTF sample RiggedFigure: joint 1 of an arm is the shoulder, 2 the elbow, 3 the wrist;
# of a leg 1 the hip, 2 the knee, 3 the ankle, 5 the toe; neck_joint_2 is the head.
RIGGED_FIGURE = RigMap(
    name="rigged_figure", hips="torso_joint_1", spine=("torso_joint_2", "torso_joint_3"),
    neck="neck_joint_1", head="neck_joint_2",
    limbs=_limbs({
        "upper_arm": "arm_joint_{side}_1", "lower_arm": "arm_joint_{side}_2", "hand": "arm_joint_{side}_3",
        "upper_leg": "leg_joint_{side}_1", "lower_leg": "leg_joint_{side}_2", "foot": "leg_joint_{side}_3",
        "toes": "leg_joint_{side}_5",
    }, {"l": "L", "r": "R"}),
)

# Khronos CesiumMan: the same figure's rig re-exported with irregular arm names (checked by
# joint positions: the L arm runs shoulder __4_ -> elbow __3_ -> wrist __2_, the R arm the other way).
CESIUM_MAN = RigMap(
    name="cesium_man", hips="Skeleton_torso_joint_1", spine=("Skeleton_torso_joint_2", "torso_joint_3"),
    neck="Skeleton_neck_joint_1", head="Skeleton_neck_joint_2",
    limbs={
        "upper_arm_l": "Skeleton_arm_joint_L__4_", "lower_arm_l": "Skeleton_arm_joint_L__3_",
        "hand_l": "Skeleton_arm_joint_L__2_",
        "upper_arm_r": "Skeleton_arm_joint_R", "lower_arm_r": "Skeleton_arm_joint_R__2_",
        "hand_r": "Skeleton_arm_joint_R__3_",
        **_limbs({"upper_leg": "leg_joint_{side}_1", "lower_leg": "leg_joint_{side}_2",
                  "foot": "leg_joint_{side}_3", "toes": "leg_joint_{side}_5"}, {"l": "L", "r": "R"}),
    },
)

RIG_MAPS = {rig.name: rig for rig in (GAME_ENGINE, MIXAMO, RIGGED_FIGURE, CESIUM_MAN)}

# VRM humanoid bone names (VRM 0.x list of {bone, node}; VRM 1.0 dict {bone: {node}}) -> roles.
VRM_BONES = {
    "hips": "hips", "neck": "neck", "head": "head",
    **{f"{side}{bone}": f"{role}_{s}" for side, s in (("left", "l"), ("right", "r")) for bone, role in (
        ("Shoulder", "clavicle"), ("UpperArm", "upper_arm"), ("LowerArm", "lower_arm"), ("Hand", "hand"),
        ("UpperLeg", "upper_leg"), ("LowerLeg", "lower_leg"), ("Foot", "foot"), ("Toes", "toes"),
        ("IndexProximal", "index"), ("LittleProximal", "pinky"))},
}
VRM_SPINE = ("spine", "chest", "upperChest")


def vrm_rig(raw: dict) -> RigMap | None:
    """The rig map a VRM file declares (extensions.VRM or VRMC_vrm humanoid.humanBones), or None."""
    ext = raw.get("extensions") or {}
    nodes = raw.get("nodes") or []
    bones: dict[str, int] = {}
    if isinstance(ext.get("VRM"), dict):  # VRM 0.x
        for item in (ext["VRM"].get("humanoid") or {}).get("humanBones") or []:
            if isinstance(item, dict) and isinstance(item.get("node"), int):
                bones[str(item.get("bone"))] = item["node"]
    elif isinstance(ext.get("VRMC_vrm"), dict):  # VRM 1.0
        for bone, item in ((ext["VRMC_vrm"].get("humanoid") or {}).get("humanBones") or {}).items():
            if isinstance(item, dict) and isinstance(item.get("node"), int):
                bones[bone] = item["node"]
    if not bones:
        return None

    def name(node: int) -> str:
        if not 0 <= node < len(nodes):
            raise WardrobeError(f"the VRM humanoid names node {node}, which the file does not have. "
                                "Re-export the VRM.")
        return nodes[node].get("name") or f"joint{node}"

    roles = {VRM_BONES[b]: name(n) for b, n in bones.items() if b in VRM_BONES}
    for required in ("hips", "head"):
        if required not in roles:
            raise WardrobeError(f"the VRM humanoid lacks its '{required}' bone: re-export the VRM.")
    return RigMap(name="vrm", hips=roles.pop("hips"), spine=tuple(name(bones[b]) for b in VRM_SPINE if b in bones),
                  neck=roles.pop("neck", None), head=roles.pop("head"), limbs=roles)


def load_rig_toml(path: str | Path) -> RigMap:
    """A user rig map from TOML (`role = "joint"` lines; `spine` is a list)."""
    path = Path(path)
    if not path.is_file():
        raise WardrobeError(f"rig map file not found: {path}. Write one like rigs/README.md shows.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WardrobeError(f"{path.name} is not valid TOML ({exc}): fix the line it names.") from None
    known = set(TOML_SCALAR_ROLES) | {"spine"} | {f"{r}_{s}" for r in LIMB_ROLES for s in SIDES}
    unknown = sorted(set(data) - known)
    if unknown:
        raise WardrobeError(f"{path.name}: unknown role(s) {', '.join(unknown)}; roles are hips, spine, neck, head "
                            f"and <role>_l / <role>_r for {', '.join(LIMB_ROLES)}.")
    for key in ("hips", "head", "spine"):
        if key not in data:
            raise WardrobeError(f"{path.name} lacks '{key}': every rig map names hips, spine and head.")
    spine = data["spine"]
    if isinstance(spine, str):
        spine = [spine]
    bad = [k for k, v in data.items() if k != "spine" and not isinstance(v, str)]
    if bad or not isinstance(spine, list) or not all(isinstance(s, str) for s in spine):
        raise WardrobeError(f"{path.name}: every role takes a joint name in quotes (spine: a list of names); "
                            f"check {', '.join(bad) or 'spine'}.")
    limbs = {k: v for k, v in data.items() if k not in TOML_SCALAR_ROLES and k != "spine"}
    return RigMap(name=data.get("name", path.stem), hips=data["hips"], spine=tuple(spine),
                  neck=data.get("neck"), head=data["head"], limbs=limbs)


def _mixamo_prefix(joint_names) -> str | None:
    for name in joint_names:
        if name.endswith("Hips") and (name == "Hips" or name[-5] in ":_"):
            return name[: -len("Hips")]
    return None


def _fits(rig: RigMap, have: set[str]) -> bool:
    return set(rig.all_joints()) <= have


def detect(joint_names, raw_gltf: dict | None = None) -> RigMap:
    """The rig map for an avatar: its VRM humanoid when the file has one, else the first known map
    (then rigs/*.toml) whose joints the avatar has all of."""
    if raw_gltf is not None:
        rig = vrm_rig(raw_gltf)
        if rig is not None:
            return rig
    have = set(joint_names)
    candidates = list(RIG_MAPS.values())
    prefix = _mixamo_prefix(joint_names)
    if prefix is not None:
        candidates.insert(0, mixamo(prefix))
    candidates += [load_rig_toml(p) for p in sorted(RIGS_DIR.glob("*.toml"))]
    for rig in candidates:
        if _fits(rig, have):
            return rig
    closest = max(candidates, key=lambda r: len(set(r.all_joints()) & have))
    unmapped = [f"{role} ('{joint}')" for role, joint in _roles(closest) if joint not in have]
    raise WardrobeError(
        "no known rig map fits this avatar's skeleton (known: " + ", ".join(RIG_MAPS) + ", VRM humanoid, "
        f"rigs/*.toml). The closest, '{closest.name}', finds no bone for the roles {_listed(unmapped)}; the "
        f"avatar's bones are {_listed(list(joint_names))}. Write a TOML map that gives each role one of these "
        "bones (rigs/README.md shows the format) and pass it as the rig, e.g. rig = \"rigs/my_avatar.toml\"."
    )


def _roles(rig: RigMap) -> list[tuple[str, str]]:
    """(role, joint) for every joint the map names: hips, spine_1.., neck, head, <role>_<side>."""
    roles = [("hips", rig.hips), *((f"spine_{i + 1}", j) for i, j in enumerate(rig.spine))]
    roles += [("neck", rig.neck)] if rig.neck else []
    return roles + [("head", rig.head), *rig.limbs.items()]


def _listed(items: list[str], shown: int = 10) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def resolve(spec: str, joint_names, raw_gltf: dict | None = None) -> RigMap:
    """A rig map from a setting: "auto", a known name, "vrm", a rigs/<name>.toml name or a .toml path."""
    if spec == "auto":
        return detect(joint_names, raw_gltf)
    if spec == "vrm":
        rig = vrm_rig(raw_gltf or {})
        if rig is None:
            raise WardrobeError("rig 'vrm' was asked for but the avatar has no VRM humanoid: use rig = \"auto\".")
        return rig
    if spec == "mixamo":
        return mixamo(_mixamo_prefix(joint_names) or "mixamorig:")
    if spec in RIG_MAPS:
        return RIG_MAPS[spec]
    path = Path(spec) if spec.endswith(".toml") else RIGS_DIR / f"{spec}.toml"
    if path.is_file():
        return load_rig_toml(path)
    raise WardrobeError(f"unknown rig map '{spec}': use one of {', '.join(RIG_MAPS)}, 'vrm', 'auto', "
                        "a rigs/<name>.toml name or a path to a .toml map.")
