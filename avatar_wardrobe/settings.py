"""Every tunable in dataclasses, loaded from scenes/*.toml; paths to the bundled models."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

from .errors import WardrobeError

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
MODELS_DIR = Path(os.environ.get("AVATAR_WARDROBE_MODELS", REPO_ROOT / "models"))
SCENES_DIR = REPO_ROOT / "scenes"
DEFAULT_SCENE = SCENES_DIR / "default.toml"


@dataclass
class AvatarSettings:
    path: str = "avatar/female_165_58.glb"  # relative to models/ unless absolute
    rig: str = "auto"                        # a rig map name, or "auto" to detect


@dataclass
class MotionSettings:
    path: str = "motions/pose_1.jsonl"       # the bundled motion (relative to models/)


@dataclass
class RenderSettings:
    width: int = 640
    height: int = 480
    fps: float = 30.0
    msaa: int = 4           # 0 is fastest; 4 looks best offline
    pbr: bool = True        # simplepbr shading
    body_lod: str = "auto"  # the avatar's triangles: "auto" (the coarse list while it is small on screen), "full", "low"
    cull_hidden_insides: bool = True  # garments: the inner side drawn only near openings (hems, cuffs, collars)


@dataclass
class CameraSettings:
    vertical_fov_deg: float = 30.0
    elevation_deg: float = 6.0   # look down at the avatar by this much
    yaw_deg: float = 0.0         # orbit around the avatar (0 = in front)


@dataclass
class SetSettings:
    kind: str = "studio"         # "studio" (floor + three-point light) or "runway"


@dataclass
class InputSettings:
    source: str = "motion"       # "motion" (the [motion] file), a camera index like "0", or a video path
    mirror: bool = False         # show the camera image mirrored (selfie view); never flips the skeleton


@dataclass
class ArSettings:
    enabled: bool = False        # draw the garments over the camera image
    camera_fov_deg: float = 55.0 # assumed vertical field of view of the webcam


# The refiner's training frames are 256x192 (refine/data.py DATA_SIZE): at that height it sees what it
# was trained on, at ~29 ms per 640x480 frame on one thread against ~55-70 ms at 240 (measured here,
# loaded machine); its output differs from a full-size refine by 0.25 grey levels mean (240: 0.21).
REFINE_INTERNAL_HEIGHT = 192


@dataclass
class RefineSettings:
    style: str = "off"           # "off", "enhance" (toward a supersampled soft-lit render) or "toon"
    internal_height: int = REFINE_INTERNAL_HEIGHT  # refiner input height, correction scaled up; 0 = full
    threads: int = 2             # torch intra-op threads (set explicitly; 0 = leave torch's default)


@dataclass
class ClothSceneSettings:
    enabled: bool = True         # simulate garments with PyBullet; False: garments are skinned only
    fit_map: bool = False        # colour garments by strain (blue loose, green fits, red tight)
    process: bool = False        # step each garment's PyBullet in a worker process (cloth/host.py): PyBullet
                                 # holds the GIL while it steps; on two cores the workers' CPU costs more than
                                 # the GIL saves (docs/bench/cloth_process.json), so it is off
    shared_process: bool = False  # with process: every garment's PyBullet in one worker (one interpreter for all)


@dataclass
class SceneSettings:
    avatar: AvatarSettings = field(default_factory=AvatarSettings)
    motion: MotionSettings = field(default_factory=MotionSettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    camera: CameraSettings = field(default_factory=CameraSettings)
    set: SetSettings = field(default_factory=SetSettings)
    input: InputSettings = field(default_factory=InputSettings)
    ar: ArSettings = field(default_factory=ArSettings)
    cloth: ClothSceneSettings = field(default_factory=ClothSceneSettings)
    outfit: list = field(default_factory=list)   # garment files (relative to models/) worn at start
    refine: RefineSettings = field(default_factory=RefineSettings)


def model_path(path: str | Path) -> Path:
    """Resolve a path given relative to models/ (absolute and ./relative paths pass through)."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p.resolve()
    return MODELS_DIR / p


def _fill(cls, data: dict, where: str):
    known = [f.name for f in fields(cls)]
    unknown = set(data) - set(known)
    if unknown:
        raise WardrobeError(f"unknown setting(s) {', '.join(sorted(unknown))} in [{where}]: "
                            f"known ones are {', '.join(known)}.")
    kwargs = {}
    for name, value in data.items():
        sub = getattr(cls(), name)
        if is_dataclass(sub):
            if not isinstance(value, dict):
                raise WardrobeError(f"[{where + '.' if where else ''}{name}] must be a table.")
            kwargs[name] = _fill(type(sub), value, f"{where}.{name}" if where else name)
        else:
            if (not isinstance(value, type(sub)) or isinstance(value, bool) != isinstance(sub, bool)) and not (
                    isinstance(sub, float) and isinstance(value, int) and not isinstance(value, bool)):
                raise WardrobeError(f"setting {where}.{name} should be {type(sub).__name__}, got {value!r}.")
            kwargs[name] = type(sub)(value)
    return cls(**kwargs)


def load_scene(path: str | Path | None = None) -> SceneSettings:
    """Read a scene TOML file (the bundled default when None)."""
    path = Path(path) if path else DEFAULT_SCENE
    if not path.is_file():
        if path == DEFAULT_SCENE:
            return SceneSettings()
        raise WardrobeError(f"scene file not found: {path}. Pass an existing .toml (see scenes/default.toml).")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WardrobeError(f"{path.name} is not valid TOML ({exc}). Fix the line it names.") from None
    return _fill(SceneSettings, data, "")
