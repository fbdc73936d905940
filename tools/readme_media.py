"""Make the README's pictures: demo side by side, wardrobe contact sheet, fit map, AR, app screenshot."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from avatar_wardrobe.record.video import read_video

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
CLIP = REPO.parent / "shared" / "testdata" / "video" / "pose_1.mp4"
SQUATS = REPO.parent / "shared" / "testdata" / "video" / "pose_squats.mp4"
DEMO_FRAMES = (10, 62, 105)
TILE_PX = 300
JPEG_QUALITY = 85
GARMENT_TYPES = ("tshirt", "longsleeve", "jacket", "trousers", "skirt", "dress")
SIZES = ("S", "M", "L", "XL")
XVFB_DISPLAY = ":91"
GIF_TILE_PX = 180
GIF_FRAME_STEP = 2
AR_FRAMES = (0, 9, 41)           # standing, squatting, right hand in front of the shirt
AR_CROP = (30, 90, 300, 400)     # x, y, width, height in the 360 x 640 working frame
AR_APP_FRAMES = 12               # frames into the clip for the app's AR screenshot (a squat)


def save(image: np.ndarray, name: str) -> Path:
    DOCS.mkdir(exist_ok=True)
    path = DOCS / name
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    print(f"wrote {path}")
    return path


def square(img: np.ndarray, px: int = TILE_PX) -> np.ndarray:
    h, w = img.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return cv2.resize(img[y:y + side, x:x + side], (px, px), interpolation=cv2.INTER_AREA)


def demo_side_by_side(args) -> None:
    demo, clip = read_video(REPO / "out" / "demo.mp4"), read_video(CLIP)
    if not demo:
        raise SystemExit("out/demo.mp4 is missing: run `make demo` first")
    save(np.hstack([np.vstack([square(clip[i]), square(demo[i])]) for i in DEMO_FRAMES]), "demo_side_by_side.jpg")


def demo_gif(args) -> None:
    """The clip beside the avatar, animated (GIF through imageio-ffmpeg's bundled ffmpeg)."""
    import imageio_ffmpeg

    demo, clip = read_video(REPO / "out" / "demo.mp4"), read_video(CLIP)
    frames = [np.hstack([square(clip[i], GIF_TILE_PX), square(demo[i], GIF_TILE_PX)])
              for i in range(0, min(len(demo), len(clip)), GIF_FRAME_STEP)]
    DOCS.mkdir(exist_ok=True)
    out = DOCS / "demo.gif"
    gen = imageio_ffmpeg.write_frames(str(out), (2 * GIF_TILE_PX, GIF_TILE_PX), fps=30 / GIF_FRAME_STEP, codec="gif",
                                      pix_fmt_in="bgr24", pix_fmt_out="pal8", macro_block_size=1,
                                      output_params=["-vf", "split[a][b];[a]palettegen=max_colors=96[p];[b][p]paletteuse",
                                                     "-loop", "0"], ffmpeg_log_level="error")
    gen.send(None)
    for frame in frames:
        gen.send(np.ascontiguousarray(frame))
    gen.close()
    print(f"wrote {out}")


def _studio(size=(360, 480)):
    from avatar_wardrobe.render.capture import FrameGrabber
    from avatar_wardrobe.render.engine import create_base
    from avatar_wardrobe.render.plugin import Wardrobe
    from avatar_wardrobe.render.studio import Studio
    from avatar_wardrobe.settings import load_scene

    scene = load_scene()
    scene.outfit = []
    base = create_base(False, size)
    wardrobe = Wardrobe(base, scene=scene)
    Studio(base, wardrobe.avatar.height_m, msaa=4)
    return wardrobe, FrameGrabber(base)


def wardrobe_sheet(args) -> None:
    """Every garment type (size M) on the default avatar, then the t-shirt in four sizes."""
    wardrobe, grabber = _studio()
    wardrobe.set_cloth(False)
    tiles = []
    for kind in GARMENT_TYPES:
        wardrobe.undress()
        if kind == "jacket":
            wardrobe.equip("garments/tshirt_M.glb")
        wardrobe.equip(f"garments/{kind}_M.glb")
        grabber.render()
        tiles.append(grabber.render())
    save(np.hstack([cv2.resize(t, (240, 320), interpolation=cv2.INTER_AREA) for t in tiles]), "wardrobe_sheet.jpg")


def fit_map(args) -> None:
    """The fit map (cloth strain) of the t-shirt in size S and XL after settling on the default body."""
    wardrobe, grabber = _studio()
    from avatar_wardrobe.records import Landmarks

    tiles = []
    for size in ("S", "XL"):
        wardrobe.undress()
        wardrobe.set_cloth(True)
        wardrobe.set_fit_map(True)
        wardrobe.equip(f"garments/tshirt_{size}.glb")
        for i in range(30):
            wardrobe.update(Landmarks(i, i / 30))
        grabber.render()
        img = grabber.render()
        cv2.putText(img, f"size {size}", (12, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        tiles.append(img)
    save(np.hstack(tiles), "fit_map_S_XL.jpg")


def ar_pictures(args) -> None:
    """Standing, squatting, and an arm passing in front: the t-shirt over pose_squats.mp4 (cropped to the person)."""
    from avatar_wardrobe.ar.bench import composites
    from avatar_wardrobe.jobs import StageTimer

    keep = {}
    for i, (_m, out, _mask, _size, _plain) in enumerate(composites(str(SQUATS), ["garments/tshirt_M.glb"], 55.0,
                                                            max(AR_FRAMES) + 1, StageTimer(), progress=False)):
        if i in AR_FRAMES:
            x, y, w, h = AR_CROP
            keep[i] = out[y:y + h, x:x + w]
    save(np.hstack([keep[i] for i in AR_FRAMES]), "ar_tshirt.jpg")


def ar_app_screenshot(args) -> None:
    """The app window in AR mode on pose_squats.mp4 (the default outfit, skinned), under Xvfb."""
    shot = REPO / "out" / "app_ar.png"
    shot.parent.mkdir(exist_ok=True)
    scene = REPO / "out" / "ar_app_scene.toml"
    scene.write_text('outfit = ["garments/tshirt_M.glb", "garments/trousers_M.glb"]\n'
                     "[cloth]\nenabled = false\n[ar]\nenabled = true\n")
    xvfb = subprocess.Popen(["Xvfb", XVFB_DISPLAY, "-screen", "0", "1280x720x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        subprocess.run([sys.executable, "-m", "avatar_wardrobe", "app", "--video", str(SQUATS), "--scene", str(scene),
                        "--frames", str(AR_APP_FRAMES), "--screenshot", str(shot)],
                       check=True, env={**os.environ, "DISPLAY": XVFB_DISPLAY}, cwd=REPO)
    finally:
        xvfb.terminate()
    save(cv2.imread(str(shot)), "app_ar.jpg")


def app_screenshot(args) -> None:
    shot = REPO / "out" / "app.png"
    shot.parent.mkdir(exist_ok=True)
    xvfb = subprocess.Popen(["Xvfb", XVFB_DISPLAY, "-screen", "0", "1280x720x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        subprocess.run([sys.executable, "-m", "avatar_wardrobe", "app", "--frames", "40", "--screenshot", str(shot)],
                       check=True, env={**os.environ, "DISPLAY": XVFB_DISPLAY}, cwd=REPO)
    finally:
        xvfb.terminate()
    save(cv2.imread(str(shot)), "app.jpg")


JOBS = {"demo": demo_side_by_side, "gif": demo_gif, "wardrobe": wardrobe_sheet, "fitmap": fit_map, "ar": ar_pictures, "arapp": ar_app_screenshot,
        "app": app_screenshot}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=sorted(JOBS), nargs="?", default="demo",
                    help="one picture per run (Panda3D allows one ShowBase per process)")
    args = ap.parse_args()
    JOBS[args.what](args)


if __name__ == "__main__":
    main()
