"""Latest-frame shared memory slot: one writer, any readers, a seqlock, no queue (a new frame overwrites)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

from ..pose import landmarks as lm

# Layout: a header of int64/float64 fields, the landmarks, then the BGR image. Every field is 8-byte aligned.
# TAKEN_NS and BUSY_NS are written by the reader (outside the seqlock: each is one aligned 8-byte store):
# when it last took a frame and how long it works on one, so the writer can time its next frame.
SEQ, INDEX, FOUND, WIDTH, HEIGHT, CAPTURED_NS, SKIPPED, TAKEN_NS, BUSY_NS, HEADER_FIELDS = range(10)
HEADER_BYTES = HEADER_FIELDS * 8
POINTS_FLOATS = lm.COUNT * 3
MARKS_FLOATS = 2 * POINTS_FLOATS + lm.COUNT  # image xyz, world xyz, visibility
READ_POLL_S = 0.0005     # how long a reader sleeps between looks for a newer frame
MAX_TORN_RETRIES = 1000  # a reader retrying this often finds a writer that died mid-frame


@dataclass
class SlotFrame:
    """One frame read out of the slot: the writer's sequence, the capture time and what was tracked."""

    seq: int                # frames written so far (1 for the first); always increases
    index: int              # the source's frame index
    captured_ns: int        # time.monotonic_ns() when the frame was captured
    skipped: int            # frames the writer's source skipped before this one (a slow tracker)
    found: bool
    image_xyz: np.ndarray   # (33, 3)
    world_xyz: np.ndarray   # (33, 3)
    visibility: np.ndarray  # (33,)
    image: np.ndarray | None  # (H, W, 3) BGR uint8, when the reader asked for it


def slot_bytes(width: int, height: int) -> int:
    return HEADER_BYTES + MARKS_FLOATS * 8 + width * height * 3


class FrameSlot:
    """A shared memory block holding the newest frame; `create` in the parent, `attach` by name in a child.

    Seqlock: the writer makes the sequence odd, writes, then makes it even; a reader copies and keeps
    the copy only if the sequence was even and unchanged around it, so it never returns a torn frame.
    """

    def __init__(self, shm: shared_memory.SharedMemory, width: int, height: int, owner: bool):
        self.shm, self.width, self.height, self.owner = shm, int(width), int(height), owner
        buf = shm.buf
        self._header = np.ndarray((HEADER_FIELDS,), np.int64, buf, 0)
        self._marks = np.ndarray((MARKS_FLOATS,), np.float64, buf, HEADER_BYTES)
        self._image = np.ndarray((self.height, self.width, 3), np.uint8, buf, HEADER_BYTES + MARKS_FLOATS * 8)
        self.torn_retries = 0  # reads that had to retry because the writer was mid-frame

    @classmethod
    def create(cls, width: int, height: int) -> "FrameSlot":
        shm = shared_memory.SharedMemory(create=True, size=slot_bytes(width, height))
        slot = cls(shm, width, height, owner=True)
        slot._header[:] = 0
        return slot

    @classmethod
    def attach(cls, name: str, width: int, height: int) -> "FrameSlot":
        return cls(shared_memory.SharedMemory(name=name), width, height, owner=False)

    @property
    def name(self) -> str:
        return self.shm.name

    @property
    def seq(self) -> int:
        """The number of frames written so far (the raw counter is odd while a write is under way)."""
        return int(self._header[SEQ]) // 2

    # -- writer -------------------------------------------------------------------------------
    def write(self, index: int, captured_ns: int, image: np.ndarray | None, image_xyz: np.ndarray | None,
              world_xyz: np.ndarray | None, visibility: np.ndarray | None, skipped: int = 0) -> int:
        """Publish one frame (one writer only); returns its sequence number."""
        h = self._header
        raw = int(h[SEQ])
        h[SEQ] = raw + 1  # odd: readers keep off
        h[INDEX], h[CAPTURED_NS], h[SKIPPED] = index, captured_ns, skipped
        found = world_xyz is not None
        h[FOUND] = int(found)
        if found:
            m = self._marks
            m[:POINTS_FLOATS] = np.ravel(image_xyz)
            m[POINTS_FLOATS:2 * POINTS_FLOATS] = np.ravel(world_xyz)
            m[2 * POINTS_FLOATS:] = visibility
        if image is not None:
            ih, iw = image.shape[:2]
            if (iw, ih) != (self.width, self.height):
                raise ValueError(f"slot holds {self.width}x{self.height} images, got {iw}x{ih}")
            self._image[...] = image
        h[WIDTH], h[HEIGHT] = self.width, self.height
        h[SEQ] = raw + 2  # even: complete
        return (raw + 2) // 2

    def reader_timing(self) -> tuple[int, int]:
        """(monotonic ns when the reader last took a frame, ns it works per frame); zeros before it reports."""
        return int(self._header[TAKEN_NS]), int(self._header[BUSY_NS])

    # -- reader -------------------------------------------------------------------------------
    def report_taken(self, taken_ns: int, busy_ns: int) -> None:
        """Tell the writer when this reader took a frame and how long it works on one (see reader_timing)."""
        self._header[TAKEN_NS] = taken_ns
        self._header[BUSY_NS] = busy_ns

    def read(self, after: int = 0, image_out: np.ndarray | None = None, with_image: bool = False) -> SlotFrame | None:
        """The newest complete frame if its sequence is above `after`, else None (never blocks long).

        image_out: a reused (H, W, 3) uint8 buffer for the image (with_image allocates one instead)."""
        h = self._header
        for _ in range(MAX_TORN_RETRIES):
            s0 = int(h[SEQ])
            if s0 // 2 <= after and s0 % 2 == 0:
                return None
            if s0 % 2:
                self.torn_retries += 1
                time.sleep(0)
                continue
            header = h.copy()
            marks = self._marks.copy()
            image = None
            if image_out is not None:
                np.copyto(image_out, self._image)
                image = image_out
            elif with_image:
                image = self._image.copy()
            if int(h[SEQ]) == s0:
                found = bool(header[FOUND])
                return SlotFrame(seq=s0 // 2, index=int(header[INDEX]), captured_ns=int(header[CAPTURED_NS]),
                                 skipped=int(header[SKIPPED]), found=found,
                                 image_xyz=marks[:POINTS_FLOATS].reshape(lm.COUNT, 3),
                                 world_xyz=marks[POINTS_FLOATS:2 * POINTS_FLOATS].reshape(lm.COUNT, 3),
                                 visibility=marks[2 * POINTS_FLOATS:], image=image)
            self.torn_retries += 1
        raise RuntimeError("the frame slot's writer stopped in the middle of a frame")

    def wait(self, after: int, timeout_s: float, image_out: np.ndarray | None = None,
             alive=None) -> SlotFrame | None:
        """Block until a frame newer than `after` (None on timeout, or when `alive()` turns false)."""
        deadline = time.monotonic() + timeout_s
        while True:
            frame = self.read(after, image_out)
            if frame is not None:
                return frame
            if time.monotonic() > deadline or (alive is not None and not alive()):
                return None
            time.sleep(READ_POLL_S)

    def close(self) -> None:
        """Detach (and free the block, in the process that created it); safe to call twice."""
        if self.shm is None:
            return
        del self._header, self._marks, self._image
        self.shm.close()
        if self.owner:
            self.shm.unlink()
        self.shm = None

    def __enter__(self) -> "FrameSlot":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
