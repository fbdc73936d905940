"""Fabric presets (cotton, denim, silk, knit, leather) mapped onto the knobs the classic PyBullet world honours.

Measured with pybullet 3.2.7 (classic soft-body world, `resetSimulation()` without flags): a
cloth draped on a capsule was run 90 steps with one parameter changed at a time and its node
positions compared with the unchanged run (bit-identical repeats).

Changed the result (these are the knobs):
- `collisionMargin` given to `loadSoftBody`: cloth thickness; 0.01 -> 0.03 moved nodes 7-14 cm.
- the time step: 1/60 -> 1/120 -> 1/240 cut the edge stretch p99 of a hanging cloth from 1.05
  to 1.025 to 1.015 (the solver's fixed iterations run more often): a stiffness knob.
- mesh resolution: 12x12 -> 24x24 -> 36x36 nodes raised stretch p99 at 1/60 s from 1.03 to 1.05
  to 1.09: coarser meshes are stiffer and fold in larger waves.
- `sparseSdfVoxelSize` of the world: 0.25 (default) let the cloth fall into the capsule.
- the capsule's own `lateralFriction` (`changeDynamics` on the rigid body): 0 and 2 both changed
  the drape against 0.5; the cloth side of the contact friction is fixed in the classic world.
- gravity (per world; each garment has its own world): stands in for air drag, which the
  classic world lacks, so light fabrics can float.

Made no difference at all (identical node positions): `mass`, `frictionCoeff`, `useMassSpring`,
`springElasticStiffness`, `springDampingStiffness`, `useBendingSprings`,
`springBendingStiffness`, `useNeoHookean`, `useSelfCollision`, `useFaceContact`,
`repulsionStiffness`, `numSolverIterations`, `erp`/`contactERP`, and `changeDynamics` on the
soft body (mass, lateralFriction, linearDamping, contactStiffness/Damping, collisionMargin).
`mass_kg_m2` is kept for the deformable-world baseline, where mass does count.

`max_distance_scale` is ours: it scales each vertex's Chaos-style max distance, so stiff
fabrics swing less far from the skinned shape.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import WardrobeError

FRAME_TIME_S = 1 / 30  # every preset's substeps cover one 30 fps frame


@dataclass(frozen=True)
class Fabric:
    name: str
    margin_m: float            # collision margin: cloth thickness (honoured)
    friction: float            # the body capsules' lateral friction (honoured, rigid side)
    time_step_s: float         # fixed solver step (honoured: smaller = stiffer, slower)
    substeps: int              # steps per frame (substeps * time_step_s = one frame)
    sim_vertices: int          # sim mesh budget (honoured: fewer = stiffer, faster)
    gravity_scale: float       # world gravity factor (honoured; stands in for air drag)
    max_distance_scale: float  # ours: scales how far the cloth may leave its skinned place
    mass_kg_m2: float          # areal density: ignored by the classic world (deformable baseline only)

    def with_(self, **changes) -> "Fabric":
        return replace(self, **changes)


FABRICS: dict[str, Fabric] = {
    "cotton": Fabric("cotton", 0.006, 0.5, 1 / 60, 2, 1000, 1.0, 1.0, 0.15),
    "denim": Fabric("denim", 0.008, 0.7, 1 / 90, 3, 700, 1.0, 0.6, 0.35),
    "silk": Fabric("silk", 0.004, 0.2, 1 / 60, 2, 1300, 0.7, 1.3, 0.08),
    "knit": Fabric("knit", 0.006, 0.8, 1 / 60, 2, 1000, 1.0, 0.8, 0.22),
    "leather": Fabric("leather", 0.010, 0.9, 1 / 120, 4, 500, 1.0, 0.4, 0.6),
}


def fabric(name: str | Fabric | None) -> Fabric:
    """A preset by name (None = cotton), or a Fabric passed through."""
    if isinstance(name, Fabric):
        return name
    key = (name or "cotton").lower()
    if key not in FABRICS:
        raise WardrobeError(f"unknown fabric '{name}': use one of {', '.join(FABRICS)}.")
    return FABRICS[key]
