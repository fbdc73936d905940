"""JSONL motion recordings of Landmarks: a header line, then one line per frame (write and read).

Line 1: {"format": "avatar_wardrobe.motion", "version": 1 or 2, "fps": .., "source": ..,
         "image_size": [w, h], "landmark_names": [...], ...caller metadata}
Version 1 (MotionWriter), line 2+:
         {"index": i, "time_s": t, "found": bool, "image": [[x, y, z] * 33] | null,
          "world": [[x, y, z] * 33] | null, "visibility": [v * 33] | null, ...caller fields}
Version 2 (TrackWriter, what `avatar-wardrobe track` writes), line 2+:
         {"frame": i, "time_s": t, "source": file name or frame index, "detected": bool,
          "landmarks_2d": [[x px, y px, visibility] * 33] | null, "landmarks_2d_z": [z * 33] | null,
          "landmarks_world": [[x, y, z] * 33] | null (metres, MediaPipe axes),
          "rotations": {joint: [w, x, y, z]}, "root": [x, y, z],
          optional "joints_2d": {name: [x px, y px]}, "joints_cam": {name: [x, y, z]}, ...}
Both read back as Landmarks plus the other fields ("extras"). Floats are rounded to
FLOAT_DECIMALS. Caller fields come back as plain JSON values (lists, not numpy arrays).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import WardrobeError
from ..records import Landmarks
from . import landmarks as lm

MOTION_FORMAT = "avatar_wardrobe.motion"
LANDMARKS_VERSION = 1  # MotionWriter's line format
TRACK_VERSION = 2      # TrackWriter's line format (the track job's)
MOTION_VERSION = TRACK_VERSION  # the newest version this program reads
FLOAT_DECIMALS = 5  # 1e-5 of the image (0.01 px at 1000 px) and 0.01 mm in world metres
HEADER_KEYS = ("format", "version", "fps", "source", "image_size", "landmark_names")
FRAME_KEYS = ("index", "time_s", "found", "image", "world", "visibility")
_FRAME_EXAMPLE = ('{"index": 0, "time_s": 0.0, "found": true, "image": [[x, y, z] x 33], '
                  '"world": [[x, y, z] x 33], "visibility": [v x 33]}')


def _jsonable(value: Any, where: str) -> Any:
    """numpy/py values -> JSON values with floats rounded; non-finite floats are refused."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise ValueError(f"{where} contains NaN or infinity, which JSON cannot hold")
        if value.dtype.kind in "fc":
            return np.round(value.astype(np.float64), FLOAT_DECIMALS).tolist()
        return value.tolist()
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise ValueError(f"{where} is {value}, which JSON cannot hold")
        return round(float(value), FLOAT_DECIMALS)
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (Path,)):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"{where} of type {type(value).__name__} cannot be stored in a motion recording")


def _reject_reserved(extra: dict | None, reserved: tuple[str, ...], what: str) -> dict:
    extra = dict(extra or {})
    clash = sorted(set(extra) & set(reserved))
    if clash:
        raise ValueError(f"{what} may not set the reserved keys {clash}")
    return extra


class MotionWriter:
    """Writes Landmarks to a JSONL motion recording, one line per `write()`, flushed per line.

    The header is written with the first frame (or on close), so image_size may be left out and
    is then taken from the first Landmarks. Use as a context manager or call `close()`.
    """

    version = LANDMARKS_VERSION

    def __init__(self, path: str | os.PathLike, header_extra: dict | None = None, *,
                 fps: float, source: str = "", image_size: tuple[int, int] | None = None):
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.path = Path(path)
        self._header_extra = _jsonable(
            _reject_reserved(header_extra, HEADER_KEYS, "header_extra"), "header_extra")
        self.fps = float(fps)
        self.source = str(source)
        self.image_size = image_size
        self.frames_written = 0
        self._header_written = False
        try:
            self._file = open(self.path, "w", encoding="utf-8", newline="\n", buffering=1)
        except OSError as exc:
            raise WardrobeError(
                f"cannot write motion recording {self.path} ({exc.strerror}): choose a path in "
                f"an existing, writable folder"
            ) from exc

    def _write_header(self, image_size: tuple[int, int] | None) -> None:
        size = self.image_size if self.image_size is not None else (image_size or (0, 0))
        header = {
            "format": MOTION_FORMAT,
            "version": self.version,
            "fps": self.fps,
            "source": self.source,
            "image_size": [int(size[0]), int(size[1])],
            "landmark_names": list(lm.NAMES),
            **self._header_extra,
        }
        self._file.write(json.dumps(header, allow_nan=False) + "\n")
        self._header_written = True

    def write(self, landmarks: Landmarks, extra: dict | None = None) -> None:
        """Append one frame; `extra` adds caller fields (e.g. {"rotations": array}) to its line."""
        if self._file is None:
            raise RuntimeError(f"MotionWriter for {self.path} is closed")
        if not self._header_written:
            self._write_header(landmarks.image_size if landmarks.image_size != (0, 0) else None)
        found = landmarks.found
        where = f"frame {landmarks.index}"
        if found:
            for key, shape in (("image", (lm.COUNT, 3)), ("world", (lm.COUNT, 3)),
                               ("visibility", (lm.COUNT,))):
                value = getattr(landmarks, key)
                if value is None or np.shape(value) != shape:
                    raise ValueError(f"{where}: {key} must have shape {shape}, "
                                     f"got {None if value is None else np.shape(value)}")
        record = {
            "index": int(landmarks.index),
            "time_s": _jsonable(float(landmarks.time_s), f"{where} time_s"),
            "found": found,
            "image": _jsonable(np.asarray(landmarks.image), f"{where} image") if found else None,
            "world": _jsonable(np.asarray(landmarks.world), f"{where} world") if found else None,
            "visibility": (_jsonable(np.asarray(landmarks.visibility), f"{where} visibility")
                           if found else None),
        }
        record.update(_jsonable(_reject_reserved(extra, FRAME_KEYS, "extra"), f"{where} extra"))
        self._file.write(json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n")
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file (writing the header if no frame came); safe to call twice."""
        if self._file is None:
            return
        try:
            if not self._header_written:
                self._write_header(None)
        finally:
            self._file.close()
            self._file = None

    def __enter__(self) -> "MotionWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


TRACK_FRAME_KEYS = ("frame", "time_s", "source", "detected", "landmarks_2d", "landmarks_2d_z",
                    "landmarks_world", "rotations", "root")
_TRACK_EXAMPLE = ('{"frame": 0, "time_s": 0.0, "source": "0", "detected": true, "landmarks_2d": [[x, y, v] x 33], '
                  '"landmarks_world": [[x, y, z] x 33], "rotations": {"joint": [w, x, y, z]}, "root": [x, y, z]}')


class TrackWriter(MotionWriter):
    """Writes the track job's per-frame records (version 2 lines; see the module docstring)."""

    version = TRACK_VERSION

    def write_track(self, landmarks: Landmarks, source: str | int, rotations: dict[str, np.ndarray],
                    root: np.ndarray, extra: dict | None = None) -> None:
        """Append one frame: its landmarks in pixels and metres, the solved joint rotations
        ({joint: (w, x, y, z)}) and root offset; `extra` adds fields (joints_2d, joints_cam ...)."""
        if self._file is None:
            raise RuntimeError(f"TrackWriter for {self.path} is closed")
        if not self._header_written:
            self._write_header(landmarks.image_size if landmarks.image_size != (0, 0) else None)
        found = landmarks.found
        where = f"frame {landmarks.index}"
        record = {"frame": int(landmarks.index), "time_s": _jsonable(float(landmarks.time_s), f"{where} time_s"),
                  "source": source if isinstance(source, (int, str)) else str(source), "detected": found,
                  "landmarks_2d": None, "landmarks_2d_z": None, "landmarks_world": None}
        if found:
            width, height = landmarks.image_size
            image = np.asarray(landmarks.image, dtype=np.float64)
            px = np.column_stack([image[:, 0] * width, image[:, 1] * height, landmarks.visibility])
            record["landmarks_2d"] = _jsonable(px, f"{where} landmarks_2d")
            record["landmarks_2d_z"] = _jsonable(image[:, 2], f"{where} landmarks_2d_z")
            record["landmarks_world"] = _jsonable(np.asarray(landmarks.world), f"{where} landmarks_world")
        record["rotations"] = {str(k): _jsonable(np.asarray(v, dtype=np.float64), f"{where} rotations.{k}")
                               for k, v in rotations.items()}
        record["root"] = _jsonable(np.asarray(root, dtype=np.float64), f"{where} root")
        record.update(_jsonable(_reject_reserved(extra, TRACK_FRAME_KEYS, "extra"), f"{where} extra"))
        self._file.write(json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n")
        self.frames_written += 1


@dataclass
class Motion:
    """A motion recording read back: the header, fps, one Landmarks per frame and its caller fields."""

    header: dict
    fps: float
    frames: list[Landmarks] = field(default_factory=list)
    extras: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[Landmarks]:
        return iter(self.frames)


class _BadLine(Exception):
    """Internal: what is wrong with one line (the reader adds the file and line number)."""


def _array(value: Any, shape: tuple[int, ...], key: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _BadLine(f'"{key}" must be numbers in shape {list(shape)}') from None
    if array.shape != shape:
        raise _BadLine(f'"{key}" has shape {list(array.shape)}, expected {list(shape)}')
    if not np.all(np.isfinite(array)):
        raise _BadLine(f'"{key}" contains non-finite numbers')
    return array


def _frame_fields(obj: Any, keys: tuple[str, str, str], example: str) -> tuple[int, float, bool]:
    """A frame line's (index, time, detected) under the format's own key names, each checked."""
    if not isinstance(obj, dict):
        raise _BadLine(f"it is not a JSON object; expected a frame like {example}")
    missing = [key for key in keys if key not in obj]
    if missing:
        raise _BadLine(f"it lacks {missing}; expected a frame like {example}")
    index_key, time_key, found_key = keys
    index, time_s, found = (obj[key] for key in keys)
    if not isinstance(index, int) or isinstance(index, bool):
        raise _BadLine(f'"{index_key}" must be an integer, got {index!r}')
    if isinstance(time_s, bool) or not isinstance(time_s, (int, float)) or not math.isfinite(time_s):
        raise _BadLine(f'"{time_key}" must be a number of seconds, got {time_s!r}')
    if not isinstance(found, bool):
        raise _BadLine(f'"{found_key}" must be true or false, got {found!r}')
    return index, float(time_s), found


def _parse_track_frame(obj: Any, image_size: tuple[int, int]) -> tuple[Landmarks, dict]:
    index, time_s, found = _frame_fields(obj, ("frame", "time_s", "detected"), _TRACK_EXAMPLE)
    extra = {key: value for key, value in obj.items()
             if key not in ("frame", "time_s", "detected", "landmarks_2d", "landmarks_2d_z", "landmarks_world")}
    if not found:
        return Landmarks(index=index, time_s=float(time_s), image_size=image_size), extra
    width, height = image_size
    if width <= 0 or height <= 0:
        raise _BadLine('a detected frame needs the header\'s "image_size" to turn pixels into image fractions')
    px = _array(obj.get("landmarks_2d"), (lm.COUNT, 3), "landmarks_2d")
    z = obj.get("landmarks_2d_z")
    z = np.zeros(lm.COUNT) if z is None else _array(z, (lm.COUNT,), "landmarks_2d_z")
    image = np.column_stack([px[:, 0] / width, px[:, 1] / height, z])
    return Landmarks(index=index, time_s=float(time_s), image=image,
                     world=_array(obj.get("landmarks_world"), (lm.COUNT, 3), "landmarks_world"),
                     visibility=px[:, 2].copy(), image_size=image_size), extra


def _parse_header(obj: Any) -> tuple[dict, float, tuple[int, int]]:
    if not isinstance(obj, dict) or obj.get("format") != MOTION_FORMAT:
        raise _BadLine(f'it is not a motion recording header; expected a JSON object with '
                       f'"format": "{MOTION_FORMAT}"')
    version = obj.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _BadLine(f'"version" must be a positive integer, got {version!r}')
    if version > MOTION_VERSION:
        raise _BadLine(f"it is format version {version}, newer than this program reads "
                       f"({MOTION_VERSION}): upgrade avatar_wardrobe")
    fps = obj.get("fps")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0:
        raise _BadLine(f'"fps" must be a positive number, got {fps!r}')
    size = obj.get("image_size", [0, 0])
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in size)):
        raise _BadLine(f'"image_size" must be [width, height] in pixels, got {size!r}')
    names = obj.get("landmark_names")
    if names is not None and list(names) != list(lm.NAMES):
        raise _BadLine(f'"landmark_names" do not match the {lm.COUNT} MediaPipe pose landmarks '
                       f'this program uses; the file was made by another tool')
    return obj, float(fps), (size[0], size[1])


def _parse_frame(obj: Any, image_size: tuple[int, int]) -> tuple[Landmarks, dict]:
    index, time_s, found = _frame_fields(obj, ("index", "time_s", "found"), _FRAME_EXAMPLE)
    extra = {key: value for key, value in obj.items() if key not in FRAME_KEYS}
    if not found:
        return Landmarks(index=index, time_s=float(time_s), image_size=image_size), extra
    return Landmarks(
        index=index, time_s=float(time_s),
        image=_array(obj.get("image"), (lm.COUNT, 3), "image"),
        world=_array(obj.get("world"), (lm.COUNT, 3), "world"),
        visibility=_array(obj.get("visibility"), (lm.COUNT,), "visibility"),
        image_size=image_size,
    ), extra


def read_motion(path: str | os.PathLike) -> Motion:
    """Read a JSONL motion recording; a bad, truncated or foreign file raises WardrobeError
    naming the line and what was expected there."""
    path = Path(path)
    if not path.is_file():
        raise WardrobeError(f"no motion recording at {path}: check the path (recordings are .jsonl "
                            f"files written by `avatar-wardrobe record`)")
    motion: Motion | None = None
    image_size = (0, 0)
    line_number = 0
    try:
        with open(path, "rb") as stream:
            for line_number, raw in enumerate(stream, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    cut = line_number > 1 and not raw.endswith(b"\n")
                    raise _BadLine(
                        "it is cut off (the recording was interrupted): delete that line or "
                        "record again" if cut else "it is not valid JSON") from None
                if motion is None:
                    if line_number != 1:
                        raise _BadLine("expected the header first")
                    header, fps, image_size = _parse_header(obj)
                    motion = Motion(header=header, fps=fps)
                    parse = _parse_track_frame if header["version"] >= TRACK_VERSION else _parse_frame
                    continue
                landmarks, extra = parse(obj, image_size)
                motion.frames.append(landmarks)
                motion.extras.append(extra)
    except _BadLine as bad:
        hint = ("" if line_number > 1 else
                f" (line 1 must be the header of an {MOTION_FORMAT} file)")
        raise WardrobeError(f"{path} line {line_number}: {bad}{hint}") from None
    except OSError as exc:
        raise WardrobeError(f"cannot read motion recording {path} ({exc.strerror}): check "
                            f"the file's permissions") from exc
    if motion is None:
        raise WardrobeError(f"{path} is empty: expected a motion recording ({MOTION_FORMAT} JSONL "
                            f"with a header on line 1)")
    return motion
