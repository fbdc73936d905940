"""Fit map and size advice: per-vertex strain, heat-map colours, strain at chest/waist/hips/shoulders per size."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import WardrobeError
from ..garments.garment import SIZES, Garment
from ..mesh_topology import unique_edges

# Heat map: strain (edge length / rest length) -> colour.
STRAIN_SLACK = 0.97      # at or below: blue (loose, slack cloth)
STRAIN_OK = 1.0          # green
STRAIN_TIGHT = 1.04      # green until here...
STRAIN_STRETCHED = 1.12  # ...red from here
SLACK_RGB = (0.15, 0.35, 0.95)
OK_RGB = (0.2, 0.8, 0.3)
STRETCHED_RGB = (0.95, 0.15, 0.1)
# Size advice: the smallest size whose worst region strain stays at or below this fits.
FIT_MAX_STRAIN = 1.03
REGIONS = ("chest", "waist", "hips", "shoulders")
# Region bands, by joint heights of the avatar's bind pose (metres): robust to body shape.
CHEST_SHARE = 0.55           # chest centre: this share of the way from the chest joint to the shoulders
CHEST_HALF_BAND_M = 0.05
WAIST_HALF_BAND_M = 0.04     # around the middle spine joint
HIPS_BAND_M = (-0.07, 0.03)  # around the hip (thigh) joints
SHOULDER_BAND_M = (-0.04, 0.10)  # around the shoulder (upper arm) joints
MIN_REGION_VERTICES = 20
REGION_PERCENTILE = 90.0
FIT_SETTLE_STEPS = 45


def edge_strain(positions: np.ndarray, rest_positions: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per-vertex strain: the mean length / rest length of the edges at each vertex (V,)."""
    e = unique_edges(np.asarray(faces))
    # float64: squared float32 differences of coincident vertices would underflow
    positions, rest_positions = np.asarray(positions, np.float64), np.asarray(rest_positions, np.float64)
    rest = np.linalg.norm(rest_positions[e[:, 0]] - rest_positions[e[:, 1]], axis=1)
    cur = np.linalg.norm(positions[e[:, 0]] - positions[e[:, 1]], axis=1)
    ratio = cur / np.maximum(rest, 1e-12)
    n = len(positions)
    acc = np.bincount(e[:, 0], ratio, n) + np.bincount(e[:, 1], ratio, n)
    return acc / np.maximum(np.bincount(e.ravel(), minlength=n), 1)


def clearance_strain(positions: np.ndarray, rest_positions: np.ndarray, faces: np.ndarray, body_points: np.ndarray,
                     body_normals: np.ndarray, clearance: float) -> tuple[np.ndarray, np.ndarray]:
    """Strain the cloth needs to clear the body: vertices closer than `clearance` to the body
    surface (or inside it; signed by the nearest body vertex's normal) are pushed out to that
    clearance, then the per-vertex edge strain is measured. Returns (strain, pushed positions)."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(body_points).query(positions)
    n = body_normals[idx]
    gap = np.einsum("vi,vi->v", positions - body_points[idx], n)
    pushed = positions + np.maximum(clearance - gap, 0.0)[:, None] * n
    return edge_strain(pushed, rest_positions, faces), pushed


def strain_colors(strain: np.ndarray) -> np.ndarray:
    """(V, 4) float32 RGBA heat map: blue = slack, green = fits, red = stretched."""
    s = np.asarray(strain, dtype=np.float64)
    slack, ok, red = (np.array(c) for c in (SLACK_RGB, OK_RGB, STRETCHED_RGB))
    t_slack = np.clip((STRAIN_OK - s) / (STRAIN_OK - STRAIN_SLACK), 0.0, 1.0)[:, None]
    t_red = np.clip((s - STRAIN_TIGHT) / (STRAIN_STRETCHED - STRAIN_TIGHT), 0.0, 1.0)[:, None]
    rgb = ok + t_slack * (slack - ok) + t_red * (red - ok)
    return np.concatenate([rgb, np.ones((len(s), 1))], axis=1).astype(np.float32)


def region_masks(points: np.ndarray, avatar) -> dict[str, np.ndarray]:
    """Which bind-pose points lie in each fit region (height bands set by the avatar's joints)."""
    sk, rig = avatar.skeleton, avatar.rig
    y = np.asarray(points)[:, 1]

    def jy(name: str) -> float:
        return float(sk.bind_world[sk.index(name), 1, 3])

    shoulder = 0.5 * (jy(rig.limb("upper_arm", "l")) + jy(rig.limb("upper_arm", "r")))
    chest_joint = jy(rig.spine[-1])
    chest = chest_joint + CHEST_SHARE * (shoulder - chest_joint)
    waist = jy(rig.spine[len(rig.spine) // 2])
    hips = 0.5 * (jy(rig.limb("upper_leg", "l")) + jy(rig.limb("upper_leg", "r")))
    return {
        "chest": np.abs(y - chest) <= CHEST_HALF_BAND_M,
        "waist": np.abs(y - waist) <= WAIST_HALF_BAND_M,
        "hips": (y >= hips + HIPS_BAND_M[0]) & (y <= hips + HIPS_BAND_M[1]),
        "shoulders": (y >= shoulder + SHOULDER_BAND_M[0]) & (y <= shoulder + SHOULDER_BAND_M[1]),
    }


def region_strain(strain: np.ndarray, points: np.ndarray, avatar) -> dict[str, float | None]:
    """Strain per region: the REGION_PERCENTILE of its vertices (the tight spots, not the average
    with the loose folds); None where the garment has too few vertices in the region."""
    out = {}
    for name, mask in region_masks(points, avatar).items():
        out[name] = (round(float(np.percentile(strain[mask], REGION_PERCENTILE)), 4)
                     if mask.sum() >= MIN_REGION_VERTICES else None)
    return out


@dataclass
class SizeFit:
    size: str
    strain: dict[str, float | None]   # region -> strain (90th percentile of its vertices)
    worst: float                       # the highest region strain
    vertex_strain: np.ndarray | None = field(default=None, repr=False)  # (V,) for the fit map
    positions: np.ndarray | None = field(default=None, repr=False)      # (V, 3) the draped garment


@dataclass
class SizeAdvice:
    garment: str
    sizes: list[SizeFit] = field(default_factory=list)
    recommended: str = ""
    reason: str = ""

    def table(self) -> str:
        rows = [f"{'size':<6}" + "".join(f"{r:>11}" for r in REGIONS) + f"{'worst':>9}"]
        for s in self.sizes:
            cells = "".join(f"{'-' if s.strain[r] is None else format(s.strain[r], '.3f'):>11}" for r in REGIONS)
            mark = "  <- recommended" if s.size == self.recommended else ""
            rows.append(f"{s.size:<6}{cells}{s.worst:>9.3f}{mark}")
        return "\n".join(rows)

    def as_dict(self) -> dict:
        return {"garment": self.garment, "recommended": self.recommended, "reason": self.reason,
                "sizes": {s.size: {"strain": s.strain, "worst": round(s.worst, 4)} for s in self.sizes}}


def size_advice(garments_by_size: dict[str, Garment], avatar, fabric=None, settings=None, pose=None,
                proxies=None) -> SizeAdvice:
    """Drape each size on the avatar (settled in the rest pose, or `pose`) and read the strain
    at chest, waist, hips and shoulders; recommend the smallest size that does not stretch."""
    from .simulator import ClothSettings, GarmentSim
    from ..avatar.proxies import BodyProxies

    if not garments_by_size:
        raise WardrobeError("size advice needs at least one garment size.")
    order = sorted(garments_by_size, key=lambda s: SIZES.index(s) if s in SIZES else len(SIZES))
    settings = settings or ClothSettings(settle_steps=FIT_SETTLE_STEPS, skin_tight=False,  # drape all of it,
                                         stretch_limit=None)  # and read its strain as PyBullet left it
    proxies = proxies or BodyProxies.for_avatar(avatar)
    first = garments_by_size[order[0]]
    advice = SizeAdvice(garment=first.name)
    from ..avatar.skinning import skin_matrices, skin_points

    body = avatar.body
    if pose is None:
        body_pts, body_nrm = body.positions, body.normals
    else:
        m = skin_matrices(avatar.skeleton, pose.local_rotations, pose.root_offset)
        body_pts, body_nrm = skin_points(body.positions, body.joints, body.weights, m, body.normals)
    for size in order:
        garment = garments_by_size[size]
        with GarmentSim(garment, avatar, fabric=fabric, settings=settings, proxies=proxies) as sim:
            state = sim.reset(pose)
            draped = sim.simulated_render(state)
            clearance = sim.fabric.margin_m
        strain, pushed = clearance_strain(draped, garment.positions, garment.faces, body_pts, body_nrm, clearance)
        regions = region_strain(strain, garment.positions, avatar)
        values = [v for v in regions.values() if v is not None]
        advice.sizes.append(SizeFit(size, regions, max(values) if values else 1.0, strain, pushed))
    fitting = [s for s in advice.sizes if s.worst <= FIT_MAX_STRAIN]
    if fitting:
        advice.recommended = fitting[0].size
        advice.reason = f"the smallest size with every region's strain at or below {FIT_MAX_STRAIN}"
    else:
        best = min(advice.sizes, key=lambda s: s.worst)
        advice.recommended = best.size
        advice.reason = f"no size stays at or below strain {FIT_MAX_STRAIN}: the least stretched one"
    return advice
