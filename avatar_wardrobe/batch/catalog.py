"""Catalog TOML -> plain task records (garment x size x body x motion); bad keys and values are named."""
from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import WardrobeError
from ..garments.garment import SIZES
from ..settings import MODELS_DIR, model_path

SIZE_PLACEHOLDER = "{size}"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
AVATAR_DIR = "avatar"           # bundled body presets: models/avatar/<preset>.glb
MOTION_DIR = "motions"          # bundled motions: models/motions/<preset>.jsonl
TOP_KEYS = ("outputs", "limits", "garments", "bodies", "motions")
GARMENT_KEYS = ("name", "file", "files", "sizes")
BODY_KEYS = ("name", "preset", "file", "height_m", "mass_kg", "gender")
MOTION_KEYS = ("name", "preset", "file")
ID_SEPARATOR = "__"


@dataclass
class Outputs:
    """What each task writes, and how big (small on purpose: a catalog runs in minutes)."""

    clip: bool = True             # clip.mp4: the motion, cloth simulated
    turntable: bool = True        # turntable.mp4: views around the body at rest
    contact_sheet: bool = True    # contact_sheet.jpg: turntable views over clip frames, labelled
    fit_report: bool = True       # fit.json: strain per region of this size draped on the body
    clip_frames: int = 48
    turntable_views: int = 8
    width: int = 240              # portrait: one standing body fills it
    height: int = 320
    fps: float = 24.0


@dataclass
class Limits:
    """Per task: a task past either is killed and recorded as failed."""

    memory_mb: int = 2048         # resident memory of the task's process tree
    time_s: float = 300.0         # wall-clock seconds


@dataclass
class BodySpec:
    """A bundled preset or avatar file (`file`), or a height/mass/gender body built with anny."""

    name: str
    file: str = ""                # absolute .glb path ("" until an anny body is built)
    height_m: float | None = None
    mass_kg: float | None = None
    gender: float | None = None   # 0 = male .. 1 = female (anny's axis)

    @property
    def needs_build(self) -> bool:
        return not self.file


@dataclass
class TaskSpec:
    """One (garment, size, body, motion): everything a worker process needs, JSON-ready."""

    id: str
    garment: str
    size: str
    garment_file: str
    body: str
    body_file: str
    motion: str
    motion_file: str
    outputs: dict = field(default_factory=dict)
    limits: dict = field(default_factory=dict)

    def key(self) -> str:
        """What the outputs depend on: the spec and the input files' sizes and times (resume checks it)."""
        stamp = {"spec": {k: v for k, v in asdict(self).items() if k != "limits"}}
        for name in ("garment_file", "body_file", "motion_file"):
            p = Path(getattr(self, name))
            stamp[name] = [p.stat().st_size, p.stat().st_mtime_ns] if p.is_file() else None
        return hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Catalog:
    path: Path
    outputs: Outputs
    limits: Limits
    garments: list[tuple[str, dict[str, str]]]   # (name, {size: file})
    bodies: list[BodySpec]
    motions: list[tuple[str, str]]               # (name, file)

    def tasks(self) -> list[TaskSpec]:
        """Every combination, in catalog order (garment, size, body, motion)."""
        out = []
        for garment, files in self.garments:
            for size, gfile in files.items():
                for body, (motion, motion_file) in itertools.product(self.bodies, self.motions):
                    out.append(TaskSpec(ID_SEPARATOR.join((f"{garment}_{size}", body.name, motion)), garment, size,
                                        gfile, body.name, body.file, motion, motion_file, asdict(self.outputs),
                                        asdict(self.limits)))
        return out


def load_catalog(path: str | Path) -> Catalog:
    """Read and check a catalog file; WardrobeError naming the bad key, value or entry."""
    path = Path(path)
    if not path.is_file():
        raise WardrobeError(f"catalog file not found: {path}. Pass a .toml such as scenes/catalog.toml.")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WardrobeError(f"{path.name} is not valid TOML ({exc}). Fix the line it names.") from None
    where = path.name
    _known(data, TOP_KEYS, where, "the top level")
    outputs = _table(Outputs, data.get("outputs", {}), where, "outputs")
    limits = _table(Limits, data.get("limits", {}), where, "limits")
    _check_outputs(outputs, limits, where)
    base = path.resolve().parent
    garments = [_garment(g, i, base, where) for i, g in enumerate(_entries(data, "garments", where))]
    bodies = [_body(b, i, base, where) for i, b in enumerate(_entries(data, "bodies", where))]
    motions = [_motion(m, i, base, where) for i, m in enumerate(_entries(data, "motions", where))]
    for kind, names in (("garments", [g[0] for g in garments]), ("bodies", [b.name for b in bodies]),
                        ("motions", [m[0] for m in motions])):
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise WardrobeError(f"{where}: [[{kind}]] names must be unique; {', '.join(dup)} appear(s) twice. "
                                "Give each entry its own name = \"...\".")
    return Catalog(path, outputs, limits, garments, bodies, motions)


# -- helpers ------------------------------------------------------------------------------------------------
def resolve_path(text: str, base: Path) -> Path:
    """A catalog path: absolute, or relative to the catalog's folder, else to models/."""
    p = Path(text).expanduser()
    if p.is_absolute():
        return p
    near = base / p
    return near.resolve() if near.exists() else model_path(p)


def _known(table: dict, keys: tuple[str, ...], where: str, what: str) -> None:
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise WardrobeError(f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)} in {what}: "
                            f"known keys are {', '.join(keys)}.")


def _table(cls, value, where: str, name: str):
    if not isinstance(value, dict):
        raise WardrobeError(f"{where}: [{name}] must be a table, got {value!r}.")
    known = tuple(f.name for f in fields(cls))
    _known(value, known, where, f"[{name}]")
    kwargs = {}
    for key, v in value.items():
        want = type(getattr(cls(), key))
        ok = isinstance(v, want) and isinstance(v, bool) == (want is bool)
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            v, ok = float(v), True
        if not ok:
            raise WardrobeError(f"{where}: {name}.{key} should be {want.__name__}, got {v!r}.")
        kwargs[key] = v
    return cls(**kwargs)


def _check_outputs(o: Outputs, limits: Limits, where: str) -> None:
    if not (o.clip or o.turntable or o.contact_sheet or o.fit_report):
        raise WardrobeError(f"{where}: [outputs] asks for nothing: set clip, turntable, contact_sheet or "
                            "fit_report = true.")
    for key, low in (("clip_frames", 1), ("turntable_views", 1), ("width", 16), ("height", 16)):
        if getattr(o, key) < low:
            raise WardrobeError(f"{where}: outputs.{key} must be at least {low}, got {getattr(o, key)}.")
    if o.width % 2 or o.height % 2:
        raise WardrobeError(f"{where}: outputs.width and height must be even (H.264), got {o.width}x{o.height}.")
    if not o.fps > 0:
        raise WardrobeError(f"{where}: outputs.fps must be positive, got {o.fps}.")
    if limits.memory_mb < 64 or not limits.time_s > 0:
        raise WardrobeError(f"{where}: [limits] needs memory_mb >= 64 and time_s > 0, got "
                            f"{limits.memory_mb} MB and {limits.time_s} s.")


def _entries(data: dict, kind: str, where: str) -> list[dict]:
    value = data.get(kind)
    if not value:
        raise WardrobeError(f"{where}: no [[{kind}]] entries: the catalog needs at least one (see "
                            "scenes/catalog.toml).")
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise WardrobeError(f"{where}: '{kind}' must be an array of tables ([[{kind}]]).")
    return value


def _name(entry: dict, default: str, where: str) -> str:
    name = entry.get("name", default)
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or ID_SEPARATOR in name:
        raise WardrobeError(f"{where}: name {name!r} is not usable in file names: use letters, digits, '-', "
                            f"'_' or '.' (no '{ID_SEPARATOR}'), at most 64 characters.")
    return name


def _str(entry: dict, key: str, where: str) -> str:
    value = entry[key]
    if not isinstance(value, str) or not value:
        raise WardrobeError(f"{where}: {key} should be a non-empty string, got {value!r}.")
    return value


def _garment(entry: dict, i: int, base: Path, where: str) -> tuple[str, dict[str, str]]:
    at = f"{where} [[garments]] #{i + 1}"
    _known(entry, GARMENT_KEYS, at, "this entry")
    if ("file" in entry) == ("files" in entry):
        raise WardrobeError(f"{at}: give either file = \"garments/tshirt_{{size}}.glb\" with sizes = [...], "
                            "or files = { S = \"...\", M = \"...\" }.")
    if "files" in entry:
        table = entry["files"]
        if not isinstance(table, dict) or not table:
            raise WardrobeError(f"{at}: files should be a table of size = \"path.glb\", got {table!r}.")
        if "sizes" in entry:
            raise WardrobeError(f"{at}: with files = {{...}} the sizes are its keys: drop sizes.")
        sizes = list(table)
        paths = {s: _str(table, s, f"{at} files") for s in sizes}
    else:
        template = _str(entry, "file", at)
        sizes = entry.get("sizes")
        if not isinstance(sizes, list) or not sizes or not all(isinstance(s, str) for s in sizes):
            raise WardrobeError(f"{at}: sizes should be a list such as [\"S\", \"M\"], got {sizes!r}.")
        if len(sizes) > 1 and SIZE_PLACEHOLDER not in template:
            raise WardrobeError(f"{at}: file {template!r} has no {SIZE_PLACEHOLDER} placeholder, so every size "
                                "would read the same file: write e.g. garments/tshirt_{size}.glb.")
        paths = {s: template.replace(SIZE_PLACEHOLDER, s) for s in sizes}
    bad = [s for s in sizes if s not in SIZES]
    if bad or len(set(sizes)) != len(sizes):
        raise WardrobeError(f"{at}: sizes {sizes} must be distinct and among {', '.join(SIZES)}"
                            f"{' (not ' + ', '.join(bad) + ')' if bad else ''}.")
    default = Path(next(iter(paths.values()))).stem.replace(f"_{sizes[0]}", "")
    name = _name(entry, default, at)
    # A missing or broken file is the task's failure (reported in the summary), not the catalog's.
    return name, {s: str(resolve_path(p, base)) for s, p in paths.items()}


def _body(entry: dict, i: int, base: Path, where: str) -> BodySpec:
    at = f"{where} [[bodies]] #{i + 1}"
    _known(entry, BODY_KEYS, at, "this entry")
    shape = [k for k in ("height_m", "mass_kg", "gender") if k in entry]
    given = [k for k in ("preset", "file") if k in entry] + (["height_m/mass_kg/gender"] if shape else [])
    if len(given) != 1:
        raise WardrobeError(f"{at}: give exactly one of preset = \"female_165_58\", file = \"body.glb\" or "
                            f"height_m + mass_kg + gender (got {', '.join(given) or 'none'}).")
    if "preset" in entry:
        preset, path = _preset(entry, AVATAR_DIR, ".glb", at, "body",
                               ", a file = \"body.glb\", or height_m/mass_kg/gender (anny extra)")
        return BodySpec(_name(entry, preset, at), str(path))
    if "file" in entry:
        path = resolve_path(_str(entry, "file", at), base)
        if not path.is_file():
            raise WardrobeError(f"{at}: body file not found: {path}.")
        return BodySpec(_name(entry, path.stem, at), str(path))
    missing = [k for k in ("height_m", "mass_kg", "gender") if k not in entry]
    if missing:
        raise WardrobeError(f"{at}: a body by measurements needs height_m, mass_kg and gender "
                            f"(missing {', '.join(missing)}).")
    h, m, g = entry["height_m"], entry["mass_kg"], entry["gender"]
    for key, value in (("height_m", h), ("mass_kg", m)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise WardrobeError(f"{at}: {key} should be a number, got {value!r}.")
    if isinstance(g, bool) or not isinstance(g, (str, int, float)):
        raise WardrobeError(f"{at}: gender should be \"female\", \"male\" or a number 0..1, got {g!r}.")
    from ..shape.bodies import body_request  # light: anny is imported only to build a body

    try:
        request = body_request(h, m, g)
    except WardrobeError as exc:
        raise WardrobeError(f"{at}: {exc}.") from None
    return BodySpec(_name(entry, request.name, at), "", request.height_m, request.mass_kg, request.gender)


def _preset(entry: dict, folder: str, suffix: str, at: str, kind: str, other: str) -> tuple[str, Path]:
    """A bundled file named by `preset` (models/<folder>/<preset><suffix>), or an error listing them."""
    preset = _str(entry, "preset", at)
    path = MODELS_DIR / folder / f"{preset}{suffix}"
    if not path.is_file():
        known = sorted(p.stem for p in (MODELS_DIR / folder).glob(f"*{suffix}"))
        raise WardrobeError(f"{at}: unknown {kind} preset {preset!r}: use one of {', '.join(known)}{other}.")
    return preset, path


def _motion(entry: dict, i: int, base: Path, where: str) -> tuple[str, str]:
    at = f"{where} [[motions]] #{i + 1}"
    _known(entry, MOTION_KEYS, at, "this entry")
    if ("preset" in entry) == ("file" in entry):
        raise WardrobeError(f"{at}: give either preset = \"pose_1\" (a bundled motion) or file = \"x.jsonl\" "
                            "(a recording made by `avatar-wardrobe track`).")
    if "preset" in entry:
        preset, path = _preset(entry, MOTION_DIR, ".jsonl", at, "motion", " or file = \"recording.jsonl\"")
        return _name(entry, preset, at), str(path)
    path = resolve_path(_str(entry, "file", at), base)
    if not path.is_file():
        raise WardrobeError(f"{at}: motion file not found: {path}. Record one with `avatar-wardrobe track VIDEO "
                            "--out motion.jsonl`.")
    return _name(entry, path.stem, at), str(path)
