"""`garment check`: structural and garment-semantic problems of garment files, each with a code and severity."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import gltf_io
from ..errors import WardrobeError
from .garment import Garment
from .garment_io import (DEFAULT_SOURCE_AVATAR, ERROR, WARNING, Problem, outside_uri_problems, problem,
                         read_garment)

MAX_GARMENT_SIZE_M = 3.0        # a bounding box longer than this is not a garment in metres (cm? mm?)
MIN_GARMENT_SIZE_M = 0.02       # ... nor one shorter than this (exported in km, or a speck)
Y_UP_SLOTS = ("top", "bottom", "dress", "outer")  # garments that are taller than deep on a standing body
NOT_Y_UP_RATIO = 1.5            # Z extent over Y extent above which a Y_UP_SLOTS garment was exported Z-up
FAR_FROM_BODY_M = 0.15          # median distance to the reference body above which it does not sit on it
FAR_FROM_BODY_SKIPS = ("accessory",)  # bags, props: may hang away from the body
INSIDE_DEPTH_M = 0.01           # a vertex deeper than this inside the body counts as inside
INSIDE_FRACTION = 0.05          # warn when more than this share of the vertices is inside
MAX_LISTED_BONES = 8


@dataclass
class FileReport:
    """The problems of one file; valid when none is an error."""

    path: str
    problems: list[Problem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not any(p.severity == ERROR for p in self.problems)

    def as_dict(self) -> dict:
        return {"path": self.path, "valid": self.valid,
                "errors": sum(p.severity == ERROR for p in self.problems),
                "warnings": sum(p.severity == WARNING for p in self.problems),
                "problems": [p.as_dict() for p in self.problems]}


def check_garment(path: str | Path, reference_avatar: str | Path | None = None,
                  gltf_only: bool = False) -> list[Problem]:
    """Every problem of one garment file; never raises for anything the file holds.

    Structure first (gltf_io's checks, GLTF_STRUCTURE); only a structurally sound file is read as a
    garment. The body checks compare it with `reference_avatar` (default: the garment's
    aw_made_for.avatar, else the default avatar). With `gltf_only`, only the glTF structure is
    judged, as the Khronos glTF-Validator does: the project's stricter findings (GLTF_STRICTER)
    become warnings and the garment semantics are not read.
    """
    path = Path(path)
    try:
        return _check(path, reference_avatar, gltf_only)
    except Exception as exc:  # noqa: BLE001 - the promise is a report, never a crash
        return [problem("CHECK_FAILED", f"the checks could not finish ({type(exc).__name__}: {exc}); please "
                                        "report this with the file.")]


def _check(path: Path, reference_avatar, gltf_only: bool) -> list[Problem]:
    problems = outside_uri_problems(path)
    if problems:
        return problems
    stricter: list[str] = []
    try:
        doc = gltf_io.load(path)
        structural = gltf_io.check(doc, stricter=stricter)
    except WardrobeError as exc:
        return [problem("GLTF_STRUCTURE", str(exc))]
    found = [problem("GLTF_STRUCTURE", p) for p in structural]
    found += [problem("GLTF_STRICTER", f"{p} (valid glTF, but not usable as a garment or avatar)",
                      WARNING if gltf_only else ERROR) for p in stricter]
    if gltf_only or found:
        return found
    garment, problems = read_garment(doc)
    if garment is not None and not any(p.code == "GLTF_STRUCTURE" for p in problems):
        with np.errstate(under="ignore"):
            problems += body_problems(garment, reference_avatar)
    return problems


def body_problems(garment: Garment, reference_avatar=None) -> list[Problem]:
    """Units, up axis, bones and placement of a garment against the reference avatar."""
    found = []
    size = garment.positions.max(axis=0).astype(np.float64) - garment.positions.min(axis=0)
    longest = float(size.max())
    if longest > MAX_GARMENT_SIZE_M or longest < MIN_GARMENT_SIZE_M:
        found.append(problem("NOT_METRES", f"the garment's bounding box is {_dims(size)}; a garment on a human "
                                           f"is {MIN_GARMENT_SIZE_M * 100:g} cm to {MAX_GARMENT_SIZE_M:g} m. Model in "
                                           "metres (Blender: Unit Scale 1.0, Apply Scale before export)."))
        return found  # the body checks mean nothing at the wrong scale
    lying = garment.meta.slot in Y_UP_SLOTS and size[2] > NOT_Y_UP_RATIO * size[1]
    if lying:
        found.append(problem("NOT_Y_UP", f"the garment is {size[2]:.2f} m along Z but only {size[1]:.2f} m along "
                                         "Y: it was exported Z-up or lying down. Export with +Y Up on, standing "
                                         "like the reference avatar."))
    from .fitting import BodySurface, load_avatar_body  # scipy only when a body check runs

    avatar = reference_avatar or garment.meta.source_avatar or DEFAULT_SOURCE_AVATAR
    try:
        skeleton, body = load_avatar_body(avatar)
    except WardrobeError as exc:
        found.append(problem("NO_REFERENCE_AVATAR", f"{exc} The bone and body checks were skipped.", WARNING))
        return found
    if garment.joint_names is not None:
        used = np.unique(garment.joints[garment.weights > 0]) if garment.weights is not None else []
        unknown = [garment.joint_names[j] for j in used if garment.joint_names[j] not in skeleton.names]
        if unknown:
            listed = ", ".join(f"'{n}'" for n in unknown[:MAX_LISTED_BONES])
            more = f" and {len(unknown) - MAX_LISTED_BONES} more" if len(unknown) > MAX_LISTED_BONES else ""
            found.append(problem("UNKNOWN_BONE", f"the skin uses joints {listed}{more} that avatar '{avatar}' does "
                                                 "not have; weight-paint the garment to the reference avatar's "
                                                 "armature (game_engine bone names such as 'spine_03', "
                                                 "'upperarm_l'), or remove the skin to take weights from the body."))
    if lying or garment.meta.slot in FAR_FROM_BODY_SKIPS:
        return found  # a garment lying down cannot sit on the body
    signed = BodySurface.from_body(body).signed_distance(garment.positions)
    median = float(np.median(np.abs(signed)))
    if median > FAR_FROM_BODY_M:
        found.append(problem("FAR_FROM_BODY", f"half the vertices are more than {median:.2f} m from avatar "
                                              f"'{avatar}''s body; model the garment on the A-pose reference "
                                              "avatar (models/avatar/female_165_58.glb), feet at y = 0, facing +Z."))
    else:
        inside = float(np.mean(signed < -INSIDE_DEPTH_M))
        if inside > INSIDE_FRACTION:
            found.append(problem("INSIDE_BODY", f"{inside:.0%} of the vertices lie more than "
                                                f"{INSIDE_DEPTH_M * 100:g} cm inside avatar '{avatar}''s body; "
                                                "fitting pushes them out, but check the garment's size.", WARNING))
    return found


def check_files(paths, reference_avatar=None, gltf_only: bool = False) -> list[FileReport]:
    return [FileReport(str(p), check_garment(p, reference_avatar, gltf_only)) for p in paths]


def report_text(reports: list[FileReport]) -> str:
    """Human-readable report: one block per file, problems as 'severity CODE: message'."""
    lines = []
    for r in reports:
        lines.append(f"{r.path}: {'valid' if r.valid else 'INVALID'}")
        for p in r.problems:
            first, *rest = p.message.splitlines() or [""]
            lines.append(f"  {p.severity} {p.code}: {first}")
            lines.extend(f"      {line.strip()}" for line in rest if line.strip())
    valid = sum(r.valid for r in reports)
    lines.append(f"{len(reports)} file(s): {valid} valid, {len(reports) - valid} invalid")
    return "\n".join(lines)


def report_json(reports: list[FileReport]) -> dict:
    valid = sum(r.valid for r in reports)
    return {"files": [r.as_dict() for r in reports], "checked": len(reports), "valid": valid,
            "invalid": len(reports) - valid}


def _dims(size: np.ndarray) -> str:
    return " x ".join(f"{v:.3g}" for v in size) + " (x, y, z)"
