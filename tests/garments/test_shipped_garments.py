"""The shipped wardrobe (models/garments, made by tools/make_garments.py) is garment format v1 and fits the default avatar at rest."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from avatar_wardrobe import gltf_io
from avatar_wardrobe.avatar.body import BodyMesh
from avatar_wardrobe.avatar.measure import measure_avatar
from avatar_wardrobe.avatar.skeleton import Skeleton
from avatar_wardrobe.garments.garment import BODY_REGIONS, FABRICS, SIZES, SLOTS
from avatar_wardrobe.garments.geometry import TriangleSurface

ROOT = Path(__file__).resolve().parents[2]
GARMENTS = ROOT / "models" / "garments"
CATALOG = GARMENTS / "catalog.json"
TYPES = {"tshirt", "longsleeve", "jacket", "trousers", "skirt", "dress"}
MIN_RENDER_VERTICES = 5000
MAX_SIM_VERTICES = 1500
MAX_TOTAL_BYTES = 12_500_000
WEIGHT_TOL = 1e-4
NORMAL_TOL = 1e-3
MIN_PINNED_FRACTION = 0.01  # of the render vertices held with _PIN = 1
PINNED = 0.999
MEASURE_TOL_M = 0.005
MADE_FOR_KEYS = {"height_m", "mass_kg", "chest_m", "waist_m", "hips_m", "shoulder_m"}
SIM_ROLE = {"aw_role": "simulation"}


def load_catalog() -> dict:
    if not CATALOG.exists():
        pytest.fail(f"{CATALOG} missing: run `make garments` (python tools/make_garments.py)")
    return json.loads(CATALOG.read_text())


ENTRIES = load_catalog()["garments"] if CATALOG.exists() else []


class Garment:
    """A shipped garment file read through gltf_io: render node, its mesh and the sim mesh."""

    def __init__(self, entry: dict):
        self.entry = entry
        self.path = GARMENTS / entry["file"]
        self.doc = gltf_io.validate(self.path)  # raises WardrobeError listing any structural problem
        self.raw = gltf_io.raw_json(self.doc)
        nodes = self.raw["nodes"]
        (self.node,) = [n for n in nodes if "mesh" in n and n.get("extras", {}).get("aw_role") != "simulation"]
        (self.sim_node,) = [n for n in nodes if n.get("extras") == SIM_ROLE]
        (self.prim,) = self.raw["meshes"][self.node["mesh"]]["primitives"]
        (self.sim_prim,) = self.raw["meshes"][self.sim_node["mesh"]]["primitives"]

    def attr(self, name: str, prim: dict | None = None) -> np.ndarray:
        return gltf_io.read_accessor(self.doc, (prim or self.prim)["attributes"][name])

    def faces(self, prim: dict | None = None) -> np.ndarray:
        return gltf_io.read_accessor(self.doc, (prim or self.prim)["indices"]).reshape(-1, 3).astype(np.int64)


@pytest.fixture(scope="module")
def reference():
    avatar = ROOT / "models" / "avatar" / (load_catalog()["reference_avatar"]["name"] + ".glb")
    skeleton = Skeleton.from_gltf(avatar)
    body = BodyMesh.from_gltf(avatar, skeleton)
    return skeleton, body, TriangleSurface(body.positions, body.faces, body.normals)


@pytest.fixture(scope="module")
def clearance(reference):
    """Signed distance of every render vertex to the reference body, per file (computed once)."""
    cache: dict[str, np.ndarray] = {}

    def get(g: Garment) -> np.ndarray:
        if g.path.name not in cache:
            cache[g.path.name] = reference[2].signed_distance(g.attr("POSITION").astype(np.float64))
        return cache[g.path.name]
    return get


@pytest.fixture(scope="module", params=ENTRIES, ids=[e["file"] for e in ENTRIES])
def garment(request) -> Garment:
    return Garment(request.param)


def test_catalog_has_every_type_in_every_size():
    catalog = load_catalog()
    listed = {(e["type"], e["size"]) for e in catalog["garments"]}
    assert listed == {(t, s) for t in TYPES for s in SIZES}
    total = 0
    for e in catalog["garments"]:
        data = (GARMENTS / e["file"]).read_bytes()
        assert e["file"] == f"{e['type']}_{e['size']}.glb"
        assert hashlib.sha256(data).hexdigest() == e["sha256"], "catalog out of date: rerun make garments"
        total += len(data)
    assert total < MAX_TOTAL_BYTES
    assert set(catalog["licenses"].values()) >= {"CC0-1.0"}


def test_format_v1_extras(garment):
    extras, entry = garment.node["extras"], garment.entry
    assert extras["aw_garment"] == entry["type"] and extras["aw_size"] == entry["size"]
    assert extras["aw_slot"] in SLOTS and extras["aw_fabric"] in FABRICS
    assert isinstance(extras["aw_layer"], int) and extras["aw_layer"] == entry["layer"]
    assert MADE_FOR_KEYS <= set(extras["aw_made_for"])
    assert all(extras["aw_made_for"][k] > 0 for k in MADE_FOR_KEYS)
    assert set(extras["aw_hides"]) <= set(BODY_REGIONS)
    assert len(extras["aw_variants"]) >= 2
    for variant in extras["aw_variants"].values():
        colour = variant["base_color"]
        assert len(colour) == 4 and all(0 <= c <= 1 for c in colour)
    if entry["type"] == "jacket":
        assert extras["aw_slot"] == "outer" and extras["aw_layer"] == 2
    material = garment.raw["materials"][garment.prim["material"]]
    assert material["doubleSided"] is True


def test_render_mesh_is_skinned_and_pinned(garment, reference):
    skeleton = reference[0]
    pos = garment.attr("POSITION")
    assert len(pos) >= MIN_RENDER_VERTICES
    assert garment.raw["accessors"][garment.prim["indices"]]["componentType"] == 5123  # unsigned short
    normals = garment.attr("NORMAL").astype(np.float64)
    assert np.abs(np.linalg.norm(normals, axis=1) - 1).max() < NORMAL_TOL
    assert garment.attr("TEXCOORD_0").shape == (len(pos), 2)
    weights = garment.attr("WEIGHTS_0").astype(np.float64)
    assert weights.min() >= 0 and np.abs(weights.sum(1) - 1).max() < WEIGHT_TOL
    skin = garment.raw["skins"][garment.node["skin"]]
    names = [garment.raw["nodes"][j]["name"] for j in skin["joints"]]
    assert set(names) == set(skeleton.names)
    assert garment.attr("JOINTS_0").max() < len(names)
    pin = garment.attr("_PIN")[:, 0]
    assert 0 <= pin.min() and pin.max() <= 1
    assert np.mean(pin >= PINNED) >= MIN_PINNED_FRACTION
    max_distance = garment.attr("_MAX_DISTANCE")[:, 0]
    assert max_distance.min() >= 0 and max_distance[pin >= PINNED].max() < 1e-4
    faces = garment.faces()
    assert faces.max() < len(pos)


def test_normals_point_away_from_the_body(garment, reference):
    pos = garment.attr("POSITION").astype(np.float64)
    normals = garment.attr("NORMAL").astype(np.float64)
    _, _, outward = reference[2].signed_closest(pos)
    facing = np.einsum("ij,ij->i", normals, outward) > 0
    assert facing.mean() > 0.97


def test_simulation_mesh(garment):
    pos = garment.attr("POSITION", garment.sim_prim)
    assert 3 <= len(pos) <= MAX_SIM_VERTICES
    assert garment.sim_prim.get("mode", 4) == 4
    pin = garment.attr("_PIN", garment.sim_prim)[:, 0]
    assert pin.max() == 1 and pin.min() >= 0
    faces = garment.faces(garment.sim_prim)
    assert faces.max() < len(pos) and len(np.unique(faces)) == len(pos)
    # the same surface as the render mesh: every sim vertex lies on it
    render = garment.attr("POSITION").astype(np.float64)
    surface = TriangleSurface(render, garment.faces())
    assert surface.closest(pos.astype(np.float64))[3].max() < 1e-5


def test_no_vertex_inside_the_reference_body(garment, clearance):
    sd = clearance(garment)
    assert sd.min() > 0, f"{garment.path.name}: a vertex is {-sd.min() * 1000:.1f} mm inside the body"


def _refit_clearance(garment: Garment, avatar: Path) -> np.ndarray:
    """Signed distance of the garment's vertices after fitting it to `avatar`, to that avatar's skin."""
    from avatar_wardrobe.garments.fitting import fit_to_avatar
    from avatar_wardrobe.garments.garment_io import load_garment

    fitted = fit_to_avatar(load_garment(garment.path), avatar)
    skeleton = Skeleton.from_gltf(avatar)
    body = BodyMesh.from_gltf(avatar, skeleton)
    surface = TriangleSurface(body.positions, body.faces, body.normals)
    return surface.signed_distance(fitted.positions.astype(np.float64))


def test_fits_the_other_default_body_with_no_vertex_inside(garment):
    """Made on the female avatar, refitted to the male one: every vertex stays outside his skin."""
    other = ROOT / "models" / "avatar" / "male_180_80.glb"
    sd = _refit_clearance(garment, other)
    assert sd.min() > 0, f"{garment.path.name} on {other.name}: a vertex is {-sd.min() * 1000:.1f} mm inside"


def test_fits_a_third_anny_body_with_no_vertex_inside(garment, third_body):
    """Refitted to a body built with anny in this run (1.58 m, 82 kg): every vertex stays outside."""
    sd = _refit_clearance(garment, third_body)
    assert sd.min() > 0, f"{garment.path.name} on {third_body.name}: a vertex is {-sd.min() * 1000:.1f} mm inside"


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_sizes_grow_in_order(kind, clearance):
    means = [clearance(Garment(e)).mean() for size in SIZES for e in ENTRIES
             if e["type"] == kind and e["size"] == size]
    assert len(means) == len(SIZES) and all(a < b for a, b in zip(means, means[1:])), means


def test_size_m_is_made_for_the_reference_body(reference):
    skeleton, body, _ = reference
    measured = measure_avatar(body, skeleton)
    for e in ENTRIES:
        if e["size"] == "M":
            for key in ("height_m", "chest_m", "waist_m", "hips_m", "shoulder_m"):
                assert abs(e["made_for"][key] - measured[key]) < MEASURE_TOL_M, (e["file"], key)
