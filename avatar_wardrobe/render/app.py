"""The standalone wardrobe app: a window with the dressed avatar, the UI panel, HUD, recording."""
from __future__ import annotations

import importlib.util
import json
import threading
import time
from pathlib import Path

from ..errors import WardrobeError
from ..garments.garment import SIZES
from ..settings import MODELS_DIR, SceneSettings, load_scene
from ..shape.bodies import GENDERS, HEIGHT_RANGE_M, MASS_RANGE_KG
from .engine import create_base
from .plugin import Wardrobe
from .studio import Studio
from .ui import Control, Panel

APP_SIZE = (1280, 720)
CATALOG = MODELS_DIR / "garments" / "catalog.json"
OUT_DIR = Path("out")
GARMENT_KEYS = "123456"
HUD_PERIOD_S = 0.25
MAX_CAPTURED_POSES = 30 * 60 * 10  # ten minutes at 30 fps
LIVE_MSAA = 0            # the live window skips multisampling: it costs a third of the frame on a CPU
PANEL_OFFSET_M = -0.4    # aim the camera left of the avatar so the panel does not cover it
BODY_SLIDERS = (("height", 1.70, *HEIGHT_RANGE_M), ("mass", 70.0, *MASS_RANGE_KG),
                ("gender", 0.5, min(GENDERS.values()), max(GENDERS.values())))  # 0 = male .. 1 = female
BODY_POLL_S = 0.2        # how often the app looks whether a body being built is ready
DEFAULT_REFINE_STYLE = "enhance"  # what the refine toggle turns on when the scene's style is "off"
MOTION_SUFFIX = ".jsonl"
# Features that later stages provide; their controls are disabled, with the reason, until they land.
FEATURES = {
    "cloth": ("avatar_wardrobe.cloth.simulator", "cloth simulation is not installed in this build"),
    "fitmap": ("avatar_wardrobe.cloth.fit", "the fit map needs the cloth stage"),
    "refine": ("torch", "the refine pass needs PyTorch: pip install torch==2.13.0"),
    "ar": ("avatar_wardrobe.render.ar_window", "AR in the live window is not in this build: use `avatar-wardrobe ar`"),
    "export_motion": ("avatar_wardrobe.record.gltf_anim", "motion export is not installed in this build"),
    "export_dressed": ("avatar_wardrobe.garments.export", "dressed-avatar export is not installed in this build"),
    "body_sliders": ("anny", "body sliders need the anny extra: pip install 'avatar-wardrobe[tools]'"),
}


def missing(feature: str) -> str:
    """'' when a feature is available, else the reason it is not."""
    module, reason = FEATURES[feature]
    try:
        return "" if importlib.util.find_spec(module) is not None else reason
    except (ImportError, ValueError):
        return reason


def load_catalog(path: Path = CATALOG) -> dict[str, dict[str, str]]:
    """Garment type -> {size: file relative to models/} from the shipped catalog (empty if absent)."""
    if not path.is_file():
        return {}
    entries = json.loads(path.read_text()).get("garments", [])
    catalog: dict[str, dict[str, str]] = {}
    for e in entries:
        catalog.setdefault(e["type"], {})[e["size"]] = f"garments/{e['file']}"
    return catalog


class WardrobeApp:
    """Everything the player sees; driven by keys, DirectGUI and messenger events (so tests can)."""

    def __init__(self, source=None, scene: SceneSettings | str | None = None, window: bool | None = True,
                 size=APP_SIZE):
        self.scene = scene if isinstance(scene, SceneSettings) else load_scene(scene)
        self.base = create_base(window, size, title="avatar_wardrobe")
        self.wardrobe = Wardrobe(self.base, scene=self.scene)
        r = self.scene.render
        self.studio = Studio(self.base, self.wardrobe.avatar.height_m, pbr=r.pbr, msaa=min(r.msaa, LIVE_MSAA),
                             camera=self.scene.camera, kind=self.scene.set.kind)
        self.studio.frame(self.wardrobe.avatar.height_m, centre_x=PANEL_OFFSET_M)
        self.catalog = load_catalog()
        self.size = "M"
        self.garment_type: dict[str, str] = {}  # slot -> type
        self.variant: dict[str, str] = {}        # slot -> colour variant name
        for garment in self.wardrobe.outfit.items():  # the scene's outfit
            if garment.meta.kind in self.catalog:
                self.garment_type[garment.meta.slot] = garment.meta.kind
        self.recorder = None
        self.mirror = False
        if source is None and self.scene.input.source != "motion":
            source = self.scene.input.source  # the scene's camera index or video
        self.source = source
        self.ar = None          # ar_window.ArWindow while AR mode is on
        self.refine = None      # refine_window.RefineView, made on first use
        self.refine_on = False
        self.body_shape = {name: value for name, value, _lo, _hi in BODY_SLIDERS}
        self.body_job: dict | None = None  # a body being built with anny in a thread
        self._build_panel()
        self._bind_keys()
        self.wardrobe.follow(source if source is not None else self.scene.motion.path)
        self._hud_time = 0.0
        self.base.taskMgr.add(self._hud, "avatar_wardrobe.hud", sort=50)
        self.poses: list = []
        self.base.taskMgr.add(self._capture_pose, "avatar_wardrobe.capture_pose", sort=51)
        if self.scene.input.mirror:
            self.set_mirror(True)
        if self.scene.ar.enabled and not self._ar_reason():
            self.set_ar(True)
        if self.scene.refine.style != "off" and not missing("refine"):
            self.set_refine(True)

    # -- UI -----------------------------------------------------------------------------------
    def _build_panel(self) -> None:
        p = self.panel = Panel(self.base)
        p.heading("Wardrobe")
        types = sorted(self.catalog)
        if not types:
            p.note("no garments found: run `make garments` to build models/garments/")
        for i in range(0, len(types), 3):
            p.row([Control(t, "ui-equip", [t]) for t in types[i:i + 3]])
        p.row([Control("take off all", "ui-undress")])
        p.heading("Size")
        p.row([Control(s, "ui-size", [s]) for s in SIZES])
        p.select("ui-size", [self.size])
        p.heading("Colour")
        p.row([Control("next colour", "ui-variant")])
        p.heading("Body")
        bodies = sorted(f.stem for f in (MODELS_DIR / "avatar").glob("*.glb"))
        p.row([Control(b.replace("_", " "), "ui-body", [b]) for b in bodies])
        reason = missing("body_sliders")
        for name, value, lo, hi in BODY_SLIDERS:
            p.slider(name, f"ui-body-{name}", value, lo, hi, reason)
        p.row([Control("make this body", "ui-body-make", disabled_reason=reason)])
        p.heading("View")
        p.row([Control("cloth", "ui-cloth", toggle=True, checked=self.wardrobe.cloth_enabled,
                       disabled_reason=missing("cloth")),
               Control("fit map", "ui-fitmap", toggle=True, disabled_reason=missing("fitmap"))])
        p.row([Control("refine", "ui-refine", toggle=True, disabled_reason=missing("refine")),
               Control("AR", "ui-ar", toggle=True, disabled_reason=self._ar_reason()),
               Control("mirror", "ui-mirror", toggle=True)])
        p.heading("Capture")
        p.row([Control("screenshot", "ui-screenshot"), Control("record", "ui-record", toggle=True)])
        p.row([Control("export motion", "ui-export-motion", disabled_reason=missing("export_motion")),
               Control("export .glb", "ui-export-dressed", disabled_reason=missing("export_dressed"))])
        by_reason: dict[str, list[str]] = {}
        for event, reason in p.reasons.items():
            if reason:
                by_reason.setdefault(reason, []).append(event[3:])
        for reason, events in by_reason.items():
            p.note(f"{', '.join(events)}: {reason}")

    def _bind_keys(self) -> None:
        b = self.base
        handlers = {"ui-equip": self.equip_type, "ui-undress": self.undress, "ui-size": self.set_size,
                    "ui-variant": self.next_variant, "ui-body": self.set_body, "ui-mirror": self.set_mirror,
                    "ui-screenshot": self.screenshot, "ui-record": self.set_recording,
                    "ui-cloth": self.wardrobe.set_cloth, "ui-fitmap": self.set_fit_map,
                    "ui-export-motion": self.export_motion, "ui-export-dressed": self.export_dressed,
                    "ui-body-make": self.make_body, "ui-ar": self.set_ar, "ui-refine": self.set_refine}
        for name, *_ in BODY_SLIDERS:
            handlers[f"ui-body-{name}"] = lambda value, name=name: self.body_shape.__setitem__(name, float(value))
        for event, handler in handlers.items():
            b.accept(event, handler)
        for i, t in enumerate(sorted(self.catalog)[:len(GARMENT_KEYS)]):
            b.accept(GARMENT_KEYS[i], self.equip_type, [t])
        for key, s in zip("smlx", SIZES):
            b.accept(key, self.set_size, [s])
        b.accept("v", self.next_variant)
        if not missing("cloth"):
            b.accept("c", lambda: self.wardrobe.set_cloth(not self.wardrobe.cloth_enabled))
            b.accept("f", lambda: self.set_fit_map(not self.wardrobe.fit_map))
        b.accept("m", lambda: self.set_mirror(not self.mirror))
        if not self._ar_reason():
            b.accept("a", lambda: self.set_ar(self.ar is None))
        if not missing("refine"):
            b.accept("r", lambda: self.set_refine(not self.refine_on))
        b.accept("p", self.screenshot)
        b.accept("o", lambda: self.set_recording(self.recorder is None))
        b.accept("h", self.panel.toggle_hint)
        bodies = sorted(f.stem for f in (MODELS_DIR / "avatar").glob("*.glb"))
        b.accept("b", lambda: self.set_body(self._next_bundled(bodies)))
        b.accept("escape", self.base.userExit)

    # -- actions ------------------------------------------------------------------------------
    def equip_type(self, garment_type: str) -> None:
        sizes = self.catalog.get(garment_type, {})
        path = sizes.get(self.size) or next(iter(sizes.values()), None)
        if path is None:
            self.panel.show_status(f"no garment '{garment_type}'")
            return
        try:
            garment = self.wardrobe.equip(path)
        except WardrobeError as exc:
            self.panel.show_status(str(exc))
            return
        self.garment_type[garment.meta.slot] = garment_type
        self.panel.select("ui-equip", [garment_type])

    def undress(self) -> None:
        for slot in list(self.garment_type):
            self.wardrobe.unequip(slot)
        self.garment_type.clear()

    def set_size(self, size: str) -> None:
        self.size = size
        self.panel.select("ui-size", [size])
        for garment_type in list(self.garment_type.values()):
            self.equip_type(garment_type)

    def next_variant(self) -> None:
        """Every worn garment to its next colour variant."""
        for slot, garment_type in list(self.garment_type.items()):
            names = list(self.wardrobe.outfit[slot].meta.variants)
            if not names:
                continue
            current = self.variant.get(slot)
            nxt = names.index(current) + 1 if current in names else 1  # the file shows variant 0
            self.variant[slot] = names[nxt % len(names)]
            self.wardrobe.equip(self.catalog[garment_type].get(self.size), variant=self.variant[slot])

    def set_body(self, name: str | Path) -> None:
        """Wear a bundled body (its name) or any avatar .glb (a body made with the sliders)."""
        self.wardrobe.set_body(name)
        self.panel.select("ui-body", [name])
        self.studio.frame(self.wardrobe.avatar.height_m, centre_x=PANEL_OFFSET_M)

    def _next_bundled(self, bodies: list[str]) -> str:
        current = self.wardrobe.avatar.path.stem
        return bodies[(bodies.index(current) + 1) % len(bodies)] if current in bodies else bodies[0]

    def make_body(self) -> None:
        """Build the slider's body with anny in a thread (about a minute the first time, seconds once
        anny's data is cached; a body built before comes from the cache) and wear it when ready."""
        if self.body_job is not None:
            self.panel.show_status("a body is already being made")
            return
        from ..shape.bodies import body_avatar, body_request

        shape = self.body_shape
        try:
            request = body_request(shape["height"], shape["mass"], shape["gender"])
        except WardrobeError as exc:
            self.panel.show_status(str(exc))
            return
        job: dict = {"name": request.name}

        def build():
            try:
                job["path"] = body_avatar(request.height_m, request.mass_kg, request.gender)
            except WardrobeError as exc:
                job["error"] = str(exc)
            except Exception as exc:  # noqa: BLE001 - a failed build must not take the app down
                job["error"] = f"the body could not be made ({type(exc).__name__}: {exc})"

        self.body_job = job
        job["thread"] = threading.Thread(target=build, name="avatar_wardrobe.make_body", daemon=True)
        job["thread"].start()
        self.panel.show_status(f"making body {request.name} ...")
        self.base.taskMgr.doMethodLater(BODY_POLL_S, self._body_ready, "avatar_wardrobe.body_ready")

    def _body_ready(self, task):
        job = self.body_job
        if job is None or job["thread"].is_alive():
            return task.again
        self.body_job = None
        if "error" in job:
            self.panel.show_status(job["error"])
            return task.done
        self.set_body(job["path"])
        self.panel.show_status(f"wearing body {job['name']}")
        return task.done

    def set_mirror(self, on: bool) -> None:
        """Mirror view: flip the picture left-right (the skeleton is never flipped). In AR mode the
        composite is flipped instead of the 3D view."""
        from panda3d.core import CullFaceAttrib, Mat4

        self.mirror = bool(on)
        flip = self.mirror and self.ar is None
        lens = self.base.camLens
        lens.setViewMat(Mat4.scaleMat(-1, 1, 1) if flip else Mat4.identMat())
        self.base.render.setAttrib(CullFaceAttrib.makeReverse() if flip else CullFaceAttrib.makeDefault())
        self.panel.set_checked("ui-mirror", self.mirror)

    def _ar_reason(self) -> str:
        """'' when AR mode can run, else why not."""
        reason = missing("ar")
        if reason:
            return reason
        if self.source is None or str(self.source).endswith(MOTION_SUFFIX):
            return "AR needs a camera or a video: start the app with --camera N or --video FILE"
        return ""

    def set_ar(self, on: bool) -> None:
        """AR mode: the camera image with the garments drawn over the player (ar_window.ArWindow)."""
        reason = self._ar_reason()
        if on and reason:
            self.panel.show_status(reason)
            return
        if on and self.ar is None:
            from .ar_window import ArWindow

            try:
                self.ar = ArWindow(self.base, self.wardrobe, self.source, self.scene.ar.camera_fov_deg,
                                   mirror=lambda: self.mirror, studio=self.studio, srgb=self.scene.render.pbr)
            except WardrobeError as exc:
                self.panel.show_status(str(exc))
                return
            self.panel.show_status("AR mode: the garments over the camera image")
        elif not on and self.ar is not None:
            self.ar.remove()
            self.ar = None
            self.wardrobe.follow(self.source)
            self.panel.show_status("AR mode off")
        self.panel.set_checked("ui-ar", self.ar is not None)
        self.set_mirror(self.mirror)
        self._update_refine()

    def set_refine(self, on: bool) -> None:
        """The refinement pass (small GAN, PyTorch) on the window's picture, AR's included."""
        if on and missing("refine"):
            self.panel.show_status(missing("refine"))
            return
        self.refine_on = bool(on)
        self.panel.set_checked("ui-refine", self.refine_on)
        if on and self.refine is None:
            from .refine_window import RefineView

            style = self.scene.refine.style if self.scene.refine.style != "off" else DEFAULT_REFINE_STYLE
            self.refine = RefineView(self.base, style, self.scene.refine, srgb=self.scene.render.pbr)
            if self.refine.reason:
                self.panel.show_status(self.refine.reason)
        self._update_refine()

    def _update_refine(self) -> None:
        if self.refine is None:
            return
        if self.refine_on and self.ar is None:
            self.refine.start()
        else:
            self.refine.stop()
        if self.ar is not None:
            self.ar.refiner = self.refine.refiner if self.refine_on else None

    def set_fit_map(self, on: bool) -> None:
        if on and not self.wardrobe.cloth_enabled:
            self.wardrobe.set_cloth(True)
        self.wardrobe.set_fit_map(on)

    def _capture_pose(self, task):
        """Keep this session's poses in memory for a motion export (capped, nothing written)."""
        pose = self.wardrobe.pose
        if pose is not None and (not self.poses or self.poses[-1] is not pose):
            self.poses.append(pose)
            del self.poses[:-MAX_CAPTURED_POSES]
        return task.cont

    def export_motion(self) -> list[Path]:
        """Write the motion seen so far as a glTF animation (.glb with the avatar) and a BVH."""
        import numpy as np

        from ..record.bvh import write_bvh
        from ..record.gltf_anim import JointAnimation, write_gltf_animation

        if len(self.poses) < 2:
            self.panel.show_status("nothing to export yet: let the avatar move first")
            return []
        times = np.arange(len(self.poses)) / self.scene.render.fps
        anim = JointAnimation(times, np.array([p.local_rotations for p in self.poses]),
                              np.array([p.root_offset for p in self.poses]))
        OUT_DIR.mkdir(exist_ok=True)
        stem = OUT_DIR / time.strftime("motion_%Y%m%d_%H%M%S")
        avatar = self.wardrobe.avatar
        paths = [write_gltf_animation(avatar.path, avatar.skeleton, anim, stem.with_suffix(".glb")),
                 write_bvh(avatar.skeleton, avatar.solver.rest.body, anim, stem.with_suffix(".bvh"))]
        self.panel.show_status(f"saved {paths[0]} and {paths[1].name}")
        return paths

    def export_dressed(self) -> Path:
        """Write the avatar with what it wears now as one .glb (opens in Blender)."""
        from ..garments.export import export_dressed

        OUT_DIR.mkdir(exist_ok=True)
        garments = self.wardrobe.worn()
        path = export_dressed(self.wardrobe.avatar.path, garments, OUT_DIR / time.strftime("dressed_%Y%m%d_%H%M%S.glb"))
        self.panel.show_status(f"saved {path}")
        return path

    def screenshot(self) -> Path:
        OUT_DIR.mkdir(exist_ok=True)
        path = OUT_DIR / time.strftime("screenshot_%Y%m%d_%H%M%S.png")
        self.base.screenshot(str(path), defaultFilename=False)
        self.panel.show_status(f"saved {path}")
        return path

    def set_recording(self, on: bool) -> None:
        """Record the rendered picture (not the camera) to an MP4 in out/."""
        from ..record.video import VideoWriter
        from .capture import FrameGrabber

        if on and self.recorder is None:
            OUT_DIR.mkdir(exist_ok=True)
            path = OUT_DIR / time.strftime("recording_%Y%m%d_%H%M%S.mp4")
            grabber = getattr(self, "_grabber", None) or FrameGrabber(self.base)
            self._grabber = grabber
            self.recorder = VideoWriter(path, self.scene.render.fps,
                                        (self.base.win.getXSize(), self.base.win.getYSize()))
            self.base.taskMgr.add(self._record, "avatar_wardrobe.record", sort=60)
            self.panel.show_status(f"recording to {path}")
        elif not on and self.recorder is not None:
            self.base.taskMgr.remove("avatar_wardrobe.record")
            self.recorder.close()
            self.panel.show_status(f"saved {self.recorder.path}")
            self.recorder = None

    def _record(self, task):
        image = self._grabber.read()
        if image.shape[1::-1] == self.recorder.size:
            self.recorder.write(image)
        return task.cont

    def _hud(self, task):
        now = time.perf_counter()
        if now - self._hud_time >= HUD_PERIOD_S:
            self._hud_time = now
            fps = self.base.clock.getAverageFrameRate()
            timings = dict(self.wardrobe.timings_ms)
            if self.ar is not None:
                timings.update(self.ar.timings_ms)
            if self.refine_on and self.refine is not None and self.refine.refiner.active:
                timings["refine"] = self.refine.refiner.last_ms
            stages = "  ".join(f"{k} {v:.1f}" for k, v in timings.items())
            state = self.ar.tracking if self.ar is not None else self.wardrobe.tracking
            tracking = {None: "waiting", True: "tracking", False: "nobody in view"}[state]
            if self.ar is not None:
                tracking += "   AR"
                if self.ar.error and self.panel.status.getText() != self.ar.error:
                    self.panel.show_status(self.ar.error)
            self.panel.hud.setText(f"{fps:.0f} fps   {tracking}\n{stages} ms")
        return task.cont

    def step(self, frames: int = 1) -> None:
        for _ in range(frames):
            self.base.taskMgr.step()

    def run(self) -> None:
        self.base.run()
