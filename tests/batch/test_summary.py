"""The size recommendation in the summary follows cloth.fit.size_advice's rule."""
from __future__ import annotations

import pytest

from avatar_wardrobe.batch.summary import recommend, recommendations
from avatar_wardrobe.cloth.fit import FIT_MAX_STRAIN


def test_smallest_size_that_fits_else_least_stretched():
    ok, tight = FIT_MAX_STRAIN - 0.01, FIT_MAX_STRAIN + 0.05
    assert recommend({"XL": ok, "S": tight, "M": ok}) == "M"
    assert recommend({"S": tight + 0.02, "M": tight}) == "M"
    assert recommend({}) == ""


def test_recommendation_per_garment_and_body_ignores_failed_tasks():
    rec = [{"garment": "g", "body": "b", "size": "S", "status": "ok", "fit": {"worst": FIT_MAX_STRAIN + 0.1}},
           {"garment": "g", "body": "b", "size": "M", "status": "failed", "fit": None},
           {"garment": "g", "body": "b", "size": "L", "status": "ok", "fit": {"worst": FIT_MAX_STRAIN - 0.01}},
           {"garment": "g", "body": "c", "size": "S", "status": "ok", "fit": {"worst": FIT_MAX_STRAIN}}]
    assert recommendations(rec) == {("g", "b"): "L", ("g", "c"): "S"}


@pytest.mark.slow
def test_agrees_with_size_advice_on_real_drapes():
    from avatar_wardrobe.avatar.model import load_avatar
    from avatar_wardrobe.cloth.fit import size_advice
    from avatar_wardrobe.garments.garment_io import load_garment
    from avatar_wardrobe.settings import model_path

    avatar = load_avatar(model_path("avatar/female_165_58.glb"))
    garments = {s: load_garment(model_path(f"garments/tshirt_{s}.glb")) for s in ("S", "L")}
    advice = size_advice(garments, avatar)
    # Each batch task drapes one size alone; the summary combines their worst strains.
    alone = {s: size_advice({s: g}, avatar).sizes[0].worst for s, g in garments.items()}
    assert alone == pytest.approx({s.size: s.worst for s in advice.sizes}, abs=1e-3)
    assert recommend(alone) == advice.recommended
