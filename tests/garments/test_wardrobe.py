"""Outfit rules: one garment per slot, dresses against tops/bottoms, layer order, hiding, variants, events."""
import numpy as np
import pytest

from avatar_wardrobe.errors import WardrobeError
from avatar_wardrobe.garments.garment import BODY_REGIONS, Garment, GarmentMaterial, GarmentMeta
from avatar_wardrobe.garments.wardrobe import Outfit, with_variant


def tiny(name, slot, layer=1, hides=(), alpha="OPAQUE", variants=None):
    pos = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
    return Garment(name, GarmentMeta(slot=slot, layer=layer, hides=tuple(hides), variants=variants or {}),
                   pos, np.tile([0, 0, 1.0], (3, 1)).astype(np.float32), np.zeros((3, 2), np.float32),
                   np.array([[0, 1, 2]]), [(0, 1, 0)], [GarmentMaterial(alpha_mode=alpha)],
                   np.zeros(3, np.float32), np.zeros(3, np.float32))


def test_equipping_replaces_the_slot_and_fires_events():
    outfit, events = Outfit(), []
    outfit.on_equip.append(lambda g: events.append(("on", g.name)))
    outfit.on_unequip.append(lambda g: events.append(("off", g.name)))
    outfit.equip(tiny("tee", "top"))
    removed = outfit.equip(tiny("blouse", "top"))
    assert [g.name for g in removed] == ["tee"] and outfit["top"].name == "blouse"
    assert events == [("on", "tee"), ("off", "tee"), ("on", "blouse")]


def test_a_dress_takes_off_top_and_bottom_and_back():
    outfit = Outfit()
    outfit.equip(tiny("tee", "top"))
    outfit.equip(tiny("jeans", "bottom"))
    removed = outfit.equip(tiny("dress", "dress"))
    assert sorted(g.name for g in removed) == ["jeans", "tee"]
    assert "top" not in outfit and "bottom" not in outfit
    assert [g.name for g in outfit.equip(tiny("skirt", "bottom"))] == ["dress"]


def test_layers_inner_first():
    outfit = Outfit()
    outfit.equip(tiny("jacket", "outer", layer=2))
    outfit.equip(tiny("tee", "top", layer=1))
    outfit.equip(tiny("hat", "hat", layer=2))
    outfit.equip(tiny("skirt", "bottom", layer=1))
    assert [g.name for g in outfit.items()] == ["skirt", "tee", "jacket", "hat"]


def test_only_opaque_garments_hide_their_regions():
    outfit = Outfit()
    outfit.equip(tiny("tee", "top", hides=["torso"]))
    outfit.equip(tiny("veil", "hat", hides=["head"], alpha="BLEND"))
    regions = np.array([BODY_REGIONS.index("torso")] * 3 + [BODY_REGIONS.index("head")] * 3, np.uint8)
    faces = np.array([[0, 1, 2], [3, 4, 5], [2, 3, 4]])
    assert outfit.hidden_faces(faces, regions).tolist() == [True, False, False]


def test_bad_slot_and_unknown_variant_are_clear_errors():
    with pytest.raises(WardrobeError, match="slot"):
        Outfit().equip(tiny("thing", "cape"))
    g = tiny("tee", "top", variants={"red": {"base_color": [0.8, 0.1, 0.1, 1]}})
    assert with_variant(g, "red").materials[0].base_color == (0.8, 0.1, 0.1, 1.0)
    assert g.materials[0].base_color != (0.8, 0.1, 0.1, 1.0)  # the original is untouched
    with pytest.raises(WardrobeError, match="red"):
        with_variant(g, "blue")
