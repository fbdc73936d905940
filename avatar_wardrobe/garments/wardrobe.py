"""Outfit rules: slots (equipping replaces), layer order, body hiding, colour variants, equip events."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ..errors import WardrobeError
from .garment import BODY_REGIONS, SLOTS, Garment

# Within a layer, later slots sit outside earlier ones: a top's hem falls over the waistband.
DRAW_ORDER = ("bottom", "dress", "top", "shoes", "outer", "hat", "accessory")
# A dress covers both the top and bottom slots; equipping either side takes the dress off.
SLOT_CONFLICTS = {"dress": ("top", "bottom"), "top": ("dress",), "bottom": ("dress",)}
OPAQUE = "OPAQUE"

Listener = Callable[[Garment], None]


class Outfit:
    """The garments an avatar wears, one per slot, kept in layer order (inner first)."""

    def __init__(self):
        self._slots: dict[str, Garment] = {}
        self.on_equip: list[Listener] = []
        self.on_unequip: list[Listener] = []

    def __contains__(self, slot: str) -> bool:
        return slot in self._slots

    def __getitem__(self, slot: str) -> Garment:
        return self._slots[slot]

    def items(self) -> list[Garment]:
        """Worn garments, inner first: by layer, then DRAW_ORDER (a top over the bottom's waistband)."""
        order = {slot: i for i, slot in enumerate(DRAW_ORDER)}
        return sorted(self._slots.values(), key=lambda g: (g.meta.layer, order[g.meta.slot]))

    def equip(self, garment: Garment) -> list[Garment]:
        """Wear `garment` in its slot; returns the garments it took off (same or conflicting slot)."""
        slot = garment.meta.slot
        if slot not in SLOTS:
            raise WardrobeError(f"garment {garment.name} has slot '{slot}': use one of {', '.join(SLOTS)}.")
        removed = [self.unequip(s) for s in (slot, *SLOT_CONFLICTS.get(slot, ())) if s in self._slots]
        self._slots[slot] = garment
        for listener in self.on_equip:
            listener(garment)
        return removed

    def unequip(self, slot: str) -> Garment | None:
        garment = self._slots.pop(slot, None)
        if garment is not None:
            for listener in self.on_unequip:
                listener(garment)
        return garment

    def hidden_regions(self) -> set[str]:
        """Body regions covered by an opaque garment that declares it hides them."""
        hidden = set()
        for g in self._slots.values():
            if all(m.alpha_mode == OPAQUE for m in g.materials):
                hidden.update(g.meta.hides)
        return hidden

    def hidden_faces(self, faces: np.ndarray, regions: np.ndarray) -> np.ndarray:
        """Mask of body triangles to hide: all three corners lie in hidden regions."""
        ids = [BODY_REGIONS.index(r) for r in self.hidden_regions() if r in BODY_REGIONS]
        if not ids:
            return np.zeros(len(faces), bool)
        corner_hidden = np.isin(regions, ids)
        return corner_hidden[faces].all(axis=1)


def with_variant(garment: Garment, variant: str) -> Garment:
    """A copy of the garment with a named colour variant applied to every material."""
    spec = garment.meta.variants.get(variant)
    if spec is None:
        known = ", ".join(garment.meta.variants) or "none"
        raise WardrobeError(f"garment {garment.name} has no variant '{variant}' (it has: {known}).")
    colour = tuple(float(c) for c in spec.get("base_color", (1, 1, 1, 1)))
    materials = [dataclasses.replace(m, base_color=colour) for m in garment.materials]
    return dataclasses.replace(garment, materials=materials)
