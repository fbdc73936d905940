"""The Garment record: a render mesh in the avatar's bind pose plus what fitting and cloth need."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import WardrobeError

SLOTS = ("top", "bottom", "dress", "outer", "shoes", "hat", "accessory")
FABRICS = ("cotton", "denim", "silk", "knit", "leather")
SIZES = ("S", "M", "L", "XL")
ALPHA_MODES = ("OPAQUE", "MASK", "BLEND")
# Default layer per slot: higher layers are drawn over (and simulated outside) lower ones.
DEFAULT_LAYER = {"top": 1, "bottom": 1, "dress": 1, "shoes": 1, "outer": 2, "hat": 2, "accessory": 3}
INFLUENCES = 4
EXTRAS_KEY = "avatar_wardrobe"  # glTF extras holding the garment metadata (see docs/garment-format.md)


@dataclass
class GarmentMaterial:
    """PBR material as glTF has it; colours are linear RGBA, textures are encoded image bytes."""

    name: str = "fabric"
    base_color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    base_color_texture: bytes | None = None
    metallic: float = 0.0
    roughness: float = 0.9
    normal_texture: bytes | None = None
    alpha_mode: str = "OPAQUE"
    alpha_cutoff: float = 0.5
    double_sided: bool = True


@dataclass
class GarmentMeta:
    """What the artist declares in the glTF extras (defaults fill what is missing)."""

    slot: str = "top"
    layer: int = 1
    fabric: str = "cotton"
    size: str = "M"
    made_for: dict[str, float] = field(default_factory=dict)  # body measurements, metres: height, chest...
    hides: tuple[str, ...] = ()                                # body regions hidden under it
    variants: dict[str, dict] = field(default_factory=dict)    # name -> {"base_color": [r, g, b, a]}
    warnings: list[str] = field(default_factory=list)          # defaults that were filled in
    kind: str = ""                 # garment type name (extras aw_garment): "t-shirt", "skirt", ...
    source_avatar: str = ""        # avatar it was modelled on (aw_made_for.avatar); "" = the default avatar


@dataclass
class SimMesh:
    """A coarse mesh for the cloth solver and how the render mesh rides on it."""

    positions: np.ndarray        # (S, 3)
    faces: np.ndarray            # (U, 3)
    pin: np.ndarray              # (S,) 0..1
    # Embedding of each render vertex: sim triangle, barycentric weights, offset along its normal.
    triangle: np.ndarray | None = None     # (V,)
    barycentric: np.ndarray | None = None  # (V, 3)
    offset: np.ndarray | None = None       # (V,)


@dataclass
class Garment:
    """One garment in the avatar's bind pose (glTF frame: +Y up, facing +Z, metres).

    parts: (first_face, face_count, material index) per glTF primitive, over `faces`.
    joints/weights: skin influences on `joint_names` (the avatar's bone names), or None when
    the garment has no skin yet (fitting transfers weights from the body).
    pin: 1 where the cloth is held to the body (waistband, collar), 0 where it is free.
    max_distance: how far (metres) each vertex may move away from its skinned place; 0 = skinned.
    """

    name: str
    meta: GarmentMeta
    positions: np.ndarray
    normals: np.ndarray
    uvs: np.ndarray
    faces: np.ndarray
    parts: list[tuple[int, int, int]]
    materials: list[GarmentMaterial]
    pin: np.ndarray
    max_distance: np.ndarray
    joint_names: list[str] | None = None
    joints: np.ndarray | None = None
    weights: np.ndarray | None = None
    colors: np.ndarray | None = None
    sim: SimMesh | None = None
    source: Path | None = None

    @property
    def vertex_count(self) -> int:
        return len(self.positions)

    def check_shapes(self) -> None:
        """Raise WardrobeError when the arrays do not agree with each other."""
        n = len(self.positions)
        expect = {"positions": (n, 3), "normals": (n, 3), "uvs": (n, 2), "pin": (n,), "max_distance": (n,)}
        if self.joints is not None:
            expect.update(joints=(n, INFLUENCES), weights=(n, INFLUENCES))
        for name, shape in expect.items():
            value = getattr(self, name)
            if value is None or value.shape != shape:
                got = None if value is None else value.shape
                raise WardrobeError(f"garment {self.name}: {name} has shape {got}, expected {shape}.")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or len(self.faces) == 0:
            raise WardrobeError(f"garment {self.name}: faces must be a non-empty (T, 3) triangle list.")
        if self.faces.min() < 0 or self.faces.max() >= n:
            raise WardrobeError(f"garment {self.name}: a face points past the {n} vertices.")
        if not np.isfinite(self.positions).all():
            raise WardrobeError(f"garment {self.name}: positions hold NaN or infinity.")

# Body regions a garment can hide; avatars carry one per vertex in the `_REGION` attribute.
BODY_REGIONS = ("head", "neck", "torso", "upper_arms", "lower_arms", "hands", "hips", "upper_legs",
                "lower_legs", "feet")
