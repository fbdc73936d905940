"""Bone-name maps: semantic body roles -> a rig's joint names (game_engine for the default avatar)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import WardrobeError

SIDES = ("l", "r")
LIMB_ROLES = ("clavicle", "upper_arm", "lower_arm", "hand", "upper_leg", "lower_leg", "foot", "toes")


@dataclass(frozen=True)
class RigMap:
    """Which joint plays each role. Limb roles are keyed "<role>_<side>", side "l" or "r"
    being the avatar's own left and right."""

    name: str
    hips: str
    spine: tuple[str, ...]  # pelvis side first; the last one is the chest
    neck: str
    head: str
    limbs: dict[str, str]

    def limb(self, role: str, side: str) -> str:
        return self.limbs[f"{role}_{side}"]

    def all_joints(self) -> list[str]:
        return [self.hips, *self.spine, self.neck, self.head, *self.limbs.values()]

    def check(self, joint_names) -> None:
        """Raise WardrobeError naming the mapped joints the avatar lacks."""
        have = set(joint_names)
        missing = [j for j in self.all_joints() if j not in have]
        if missing:
            raise WardrobeError(
                f"rig map '{self.name}' names joints the avatar does not have: {', '.join(missing)}. "
                "Pick the rig map that matches the avatar's skeleton, or write one for it."
            )


def _limbs(fmt: dict[str, str]) -> dict[str, str]:
    return {f"{role}_{side}": fmt[role].format(side=side) for role in fmt for side in SIDES}


GAME_ENGINE = RigMap(
    name="game_engine",
    hips="pelvis",
    spine=("spine_01", "spine_02", "spine_03"),
    neck="neck_01",
    head="head",
    limbs=_limbs({
        "clavicle": "clavicle_{side}", "upper_arm": "upperarm_{side}", "lower_arm": "lowerarm_{side}",
        "hand": "hand_{side}", "upper_leg": "thigh_{side}", "lower_leg": "calf_{side}",
        "foot": "foot_{side}", "toes": "ball_{side}",
    }),
)

RIG_MAPS = {GAME_ENGINE.name: GAME_ENGINE}


def detect(joint_names) -> RigMap:
    """The first known rig map whose joints the avatar has all of."""
    have = set(joint_names)
    for rig in RIG_MAPS.values():
        if set(rig.all_joints()) <= have:
            return rig
    raise WardrobeError(
        "no known rig map fits this avatar's skeleton (known: " + ", ".join(RIG_MAPS) + "). "
        "Use an avatar on the game_engine rig, or add a bone-name map for its rig."
    )
