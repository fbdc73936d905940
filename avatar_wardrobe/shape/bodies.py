"""`body_avatar(height, mass, gender)`: an avatar .glb for any adult body, built once with anny."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import WardrobeError
from .cache import bodies_dir

HEIGHT_RANGE_M = (1.45, 2.05)    # adult bodies anny's height/weight/muscle fit reaches
MASS_RANGE_KG = (40.0, 140.0)
GENDERS = {"female": 1.0, "male": 0.0}  # anny's gender axis; anything in between is allowed too


@dataclass(frozen=True)
class BodyRequest:
    """What a player or a catalog asks for; `name` is the cache key and the avatar's name."""

    height_m: float
    mass_kg: float
    gender: float  # 0 = male .. 1 = female

    @property
    def name(self) -> str:
        kind = {1.0: "female", 0.0: "male"}.get(self.gender, f"g{round(self.gender * 100):03d}")
        return f"{kind}_{round(self.height_m * 100)}_{round(self.mass_kg)}"


def body_request(height_m: float, mass_kg: float, gender: float | str) -> BodyRequest:
    """Check the numbers and name the body; a WardrobeError says what range is allowed."""
    if isinstance(gender, str):
        if gender not in GENDERS:
            raise WardrobeError(f"gender {gender!r} is not one of {sorted(GENDERS)} (or a number 0..1, "
                                "0 = male, 1 = female)")
        gender = GENDERS[gender]
    checks = (("height", height_m, HEIGHT_RANGE_M, "m"), ("mass", mass_kg, MASS_RANGE_KG, "kg"),
              ("gender", gender, (0.0, 1.0), ""))
    for what, value, (low, high), unit in checks:
        if not isinstance(value, (int, float)) or not low <= value <= high:
            raise WardrobeError(f"body {what} {value!r} is outside {low:g}..{high:g} {unit}".rstrip()
                                + ": pick a value in that range")
    return BodyRequest(float(height_m), float(mass_kg), float(gender))


def body_avatar(height_m: float, mass_kg: float, gender: float | str, cache: Path | None = None) -> Path:
    """The .glb of this body: from the cache, else built with anny (about a minute, once)."""
    request = body_request(height_m, mass_kg, gender)
    folder = Path(cache) if cache else bodies_dir()
    path = folder / f"{request.name}.glb"
    if path.exists():
        return path
    from . import anny_model  # raises WardrobeError naming the extra when anny is missing
    from .spec import Body

    body = Body(request.gender, request.height_m, request.mass_kg)
    glb, _ = anny_model.build_glb(body, request.name)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(fd, "wb") as f:
        f.write(glb)
    os.replace(tmp, path)  # atomic: a concurrent builder of the same body writes the same bytes
    return path
