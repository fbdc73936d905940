"""Make the README's side-by-side still (source clip frame | rendered avatar frame) from a demo video."""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from avatar_wardrobe.record.video import read_video

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = REPO.parent / "shared" / "testdata" / "video" / "pose_1.mp4"
DEFAULT_FRAMES = (10, 62, 105)
TILE_PX = 300
JPEG_QUALITY = 85


def read_frames(path: Path) -> list[np.ndarray]:
    frames = read_video(path)
    if not frames:
        raise SystemExit(f"no frames in {path}")
    return frames


def square(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return cv2.resize(img[y:y + side, x:x + side], (TILE_PX, TILE_PX), interpolation=cv2.INTER_AREA)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--demo", default=str(REPO / "out" / "demo.mp4"))
    ap.add_argument("--clip", default=str(DEFAULT_CLIP))
    ap.add_argument("--frames", type=int, nargs="+", default=list(DEFAULT_FRAMES))
    ap.add_argument("--out", default=str(REPO / "docs" / "demo_side_by_side.jpg"))
    args = ap.parse_args()
    demo, clip = read_frames(Path(args.demo)), read_frames(Path(args.clip))
    columns = []
    for i in args.frames:
        columns.append(np.vstack([square(clip[i]), square(demo[i])]))
    sheet = np.hstack(columns)
    cv2.imwrite(args.out, sheet, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    print(f"wrote {args.out}: frames {args.frames}, top row clip, bottom row avatar")


if __name__ == "__main__":
    main()
