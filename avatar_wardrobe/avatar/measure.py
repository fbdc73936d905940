"""Body measurements (height, chest/waist/hip girths, shoulder width, mass) from a rest-pose mesh, in numpy.

`measure(positions, faces, joint_names, joint_positions)` takes any body in the glTF frame (+Y
up, metres) in its bind pose with a `game_engine`-named skeleton (the default avatars); pass
`joints=` to name the joints of another rig. `measure_avatar(body, skeleton)` does the same for
a BodyMesh and its Skeleton. Girths are what a tape measure gives: the perimeter of the convex
hull of a horizontal slice of the trunk (the tape bridges the hollow between the breasts and
along the spine). Results are metres (mass in kg):

    height_m    lowest to highest vertex
    chest_m     largest trunk girth from spine_02 up to just below the armpits (bust)
    waist_m     smallest trunk girth from spine_01 to spine_03 (natural waist)
    hips_m      largest girth over buttocks and hips, from spine_01 down to the top of the
                thighs (both legs in one tape where the slice has split)
    shoulder_m  width across the shoulder caps at the height of the upper-arm joints
                (bideltoid breadth, the widest point of a shirt's shoulders)
    mass_kg     enclosed volume x BODY_DENSITY (anny's model; approximate for open meshes)

and where the chest, waist and hip girths were found: chest_height_m, waist_height_m,
hips_height_m (metres above the lowest vertex).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import WardrobeError

BODY_DENSITY = 980.0         # kg/m^3, as anny.Anthropometry
SLICE_STEP_M = 0.004         # girth search step along the height
WELD_M = 1e-6                # vertices closer than this are one (glTF files split them at UV seams)
CHEST_TOP_FRACTION = 0.55    # chest search ends this far from spine_03 toward the upper-arm joints
HIPS_LEG_FRACTION = 0.12     # hip search starts this far down the thigh bone (hip joint -> knee)
TRUNK_LOOP_RADIUS = 1.2      # hip slices keep loops centred within this x hip-joint spacing (not hands)
PLANE_NUDGE_M = 1e-7         # a slice plane through a vertex is moved up by this much
MIN_CLIPPED_POINTS = 8         # a trunk slice cut between the shoulder joints keeps at least this many


@dataclass(frozen=True)
class MeasureJoints:
    """Which joints mark the measuring heights (defaults: anny's game_engine rig)."""

    spine_low: str = "spine_01"     # waist search bottom, hip search top
    spine_mid: str = "spine_02"     # chest search bottom
    spine_high: str = "spine_03"    # waist search top
    upper_arm_l: str = "upperarm_l"
    upper_arm_r: str = "upperarm_r"
    thigh_l: str = "thigh_l"
    thigh_r: str = "thigh_r"
    knee_l: str = "calf_l"


GAME_ENGINE = MeasureJoints()


def measure(positions: np.ndarray, faces: np.ndarray, joint_names, joint_positions: np.ndarray,
            joints: MeasureJoints = GAME_ENGINE) -> dict[str, float]:
    """Measurements of a body at rest (see the module docstring); all values float, metres / kg."""
    verts, tris = weld(np.asarray(positions, dtype=np.float64), np.asarray(faces, dtype=np.int64))
    names = list(joint_names)
    missing = [n for n in vars(joints).values() if n not in names]
    if missing:
        raise WardrobeError(f"cannot measure the body: the skeleton has no joint {', '.join(missing)}; "
                            "pass joints=MeasureJoints(...) naming this rig's joints.")
    at = {field: np.asarray(joint_positions, dtype=np.float64)[names.index(n)] for field, n in vars(joints).items()}
    centre = (at["thigh_l"] + at["thigh_r"]) / 2
    hip_spacing = abs(at["thigh_l"][0] - at["thigh_r"][0])
    arm_spacing = abs(at["upper_arm_l"][0] - at["upper_arm_r"][0])
    shoulder_y = (at["upper_arm_l"][1] + at["upper_arm_r"][1]) / 2

    def trunk(y: float, clip: bool = False) -> np.ndarray | None:
        """Points of the slice loop around the trunk axis, or None (no loop, or arms joined in).

        With `clip`, a loop the arms joined is cut to the span between the shoulder joints instead
        (heavy bodies in an A-pose touch their sides at every height)."""
        loops = slice_loops(verts, tris, y)
        axis = np.array([centre[0], centre[2]])
        inside = [lp for lp in loops if _contains(lp, axis)]
        if not inside:
            return None
        loop = max(inside, key=len)
        if np.ptp(loop[:, 0]) <= arm_spacing:
            return loop
        if not clip:
            return None
        kept = loop[np.abs(loop[:, 0] - centre[0]) <= arm_spacing / 2]
        return kept if len(kept) >= MIN_CLIPPED_POINTS else None

    def trunk_girths(low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        ys, values = girths(trunk, low, high)
        if np.all(np.isnan(values)):  # arms touch the trunk all along: measure between the shoulders
            ys, values = girths(lambda y: trunk(y, clip=True), low, high)
        return ys, values

    def hips(y: float) -> np.ndarray | None:
        axis = np.array([centre[0], centre[2]])
        loops = [lp for lp in slice_loops(verts, tris, y)
                 if np.linalg.norm(lp.mean(0) - axis) < TRUNK_LOOP_RADIUS * hip_spacing]
        return np.concatenate(loops) if loops else None

    def girths(select, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        ys = np.arange(low, high, SLICE_STEP_M)
        values = np.array([hull_perimeter(p) if (p := select(y)) is not None else np.nan for y in ys])
        return ys, values

    spine_high = at["spine_high"][1]
    chest_y, chest = trunk_girths(at["spine_mid"][1], spine_high + CHEST_TOP_FRACTION * (shoulder_y - spine_high))
    waist_y, waist = trunk_girths(at["spine_low"][1], spine_high)
    thigh_y = (at["thigh_l"][1] + at["thigh_r"][1]) / 2
    hip_y, hip = girths(hips, thigh_y - HIPS_LEG_FRACTION * (thigh_y - at["knee_l"][1]), at["spine_low"][1])
    shoulders = slice_loops(verts, tris, shoulder_y)
    axis = np.array([centre[0], centre[2]])
    around = [lp for lp in shoulders if _contains(lp, axis)]
    if not around or np.all(np.isnan(chest)) or np.all(np.isnan(waist)) or np.all(np.isnan(hip)):
        raise WardrobeError("cannot measure the body: no trunk slice found; is it a human in its rest pose, "
                            "+Y up, in metres?")
    used = np.unique(tris)
    floor = verts[used, 1].min()
    return {
        "height_m": float(np.ptp(verts[used, 1])),
        "chest_m": float(np.nanmax(chest)),
        "waist_m": float(np.nanmin(waist)),
        "hips_m": float(np.nanmax(hip)),
        "shoulder_m": float(np.ptp(max(around, key=len)[:, 0])),
        "mass_kg": float(volume(verts, tris) * BODY_DENSITY),
        "chest_height_m": float(chest_y[np.nanargmax(chest)] - floor),
        "waist_height_m": float(waist_y[np.nanargmin(waist)] - floor),
        "hips_height_m": float(hip_y[np.nanargmax(hip)] - floor),
    }


def measure_avatar(body, skeleton, joints: MeasureJoints = GAME_ENGINE) -> dict[str, float]:
    """measure() for an avatar's BodyMesh and Skeleton (bind pose joint positions)."""
    return measure(body.positions, body.faces, skeleton.names, skeleton.bind_world[:, :3, 3], joints)


def weld(positions: np.ndarray, faces: np.ndarray, tolerance: float = WELD_M) -> tuple[np.ndarray, np.ndarray]:
    """Merge coincident vertices; drop faces that collapse."""
    key = np.round(positions / tolerance).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    tris = inverse.reshape(-1)[faces]
    keep = (tris[:, 0] != tris[:, 1]) & (tris[:, 1] != tris[:, 2]) & (tris[:, 0] != tris[:, 2])
    return positions[first], tris[keep]


def slice_loops(verts: np.ndarray, faces: np.ndarray, y: float) -> list[np.ndarray]:
    """Closed loops (each (n, 2) as x, z) where the plane at height y cuts the mesh; open chains
    (at holes in the mesh) are returned as they are."""
    if np.any(verts[:, 1] == y):
        y = y + PLANE_NUDGE_M
    above = verts[faces, 1] > y                                  # (F, 3)
    crossing = above.any(1) & ~above.all(1)
    tri = faces[crossing]
    up = above[crossing]
    edges, points = [], []
    for k in range(3):
        a, b = tri[:, k], tri[:, (k + 1) % 3]
        cut = up[:, k] != up[:, (k + 1) % 3]
        edges.append(np.where(cut[:, None], np.sort(np.stack([a, b], 1), 1), -1))
        t = (y - verts[a, 1]) / np.where(cut, verts[b, 1] - verts[a, 1], 1.0)
        points.append(verts[a] + t[:, None] * (verts[b] - verts[a]))
    edges, points = np.stack(edges, 1), np.stack(points, 1)      # (T, 3, 2), (T, 3, 3)
    # Each crossing triangle is one segment between its two cut edges.
    segments, where = [], {}
    for t in range(len(tri)):
        ends = [(tuple(edges[t, k]), points[t, k]) for k in range(3) if edges[t, k, 0] >= 0]
        if len(ends) != 2:
            continue
        s = len(segments)
        segments.append(ends)
        for key, _ in ends:
            where.setdefault(key, []).append(s)
    loops, seen = [], np.zeros(len(segments), bool)
    for start in range(len(segments)):
        if seen[start]:
            continue
        seen[start] = True
        (key0, p0), (key, p) = segments[start]
        chain = [p0, p]
        while True:
            nxt = [s for s in where.get(key, []) if not seen[s]]
            if not nxt:
                break
            s = nxt[0]
            seen[s] = True
            (ka, pa), (kb, pb) = segments[s]
            key, p = (kb, pb) if ka == key else (ka, pa)
            if key == key0:
                break
            chain.append(p)
        loops.append(np.array(chain)[:, [0, 2]])
    return loops


def hull_perimeter(points: np.ndarray) -> float:
    """Perimeter of the convex hull of 2-D points (Andrew's monotone chain)."""
    pts = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    if len(pts) < 3:
        return float(2 * np.linalg.norm(np.ptp(pts, 0))) if len(pts) else 0.0
    hull = convex_hull(pts)
    return float(np.linalg.norm(hull - np.roll(hull, 1, axis=0), axis=1).sum())


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull vertices of 2-D points."""
    pts = points[np.lexsort((points[:, 1], points[:, 0]))]

    def half(seq):
        out: list[np.ndarray] = []
        for p in seq:
            while len(out) >= 2 and _cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _contains(loop: np.ndarray, point: np.ndarray) -> bool:
    """Even-odd point-in-polygon test in the x-z plane."""
    x, z = loop[:, 0], loop[:, 1]
    x2, z2 = np.roll(x, -1), np.roll(z, -1)
    straddle = (z > point[1]) != (z2 > point[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_x = x + (point[1] - z) * (x2 - x) / (z2 - z)
    return bool(np.count_nonzero(straddle & (point[0] < cross_x)) % 2)


def volume(verts: np.ndarray, faces: np.ndarray) -> float:
    """Enclosed volume by the divergence theorem (exact for a closed, outward-facing mesh)."""
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    return float(np.einsum("ij,ij->i", np.cross(a, b), c).sum() / 6.0)
