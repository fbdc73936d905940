"""The latest-frame slot across processes: newest complete frame, never torn, monotonic, fixed size."""
from __future__ import annotations

import multiprocessing as mp

import numpy as np

from avatar_wardrobe.live.shm import FrameSlot, slot_bytes
from avatar_wardrobe.live.worker import START_METHOD
from avatar_wardrobe.pose import landmarks as lm

WIDTH, HEIGHT = 64, 48
FRAMES = 3000


def _pattern(i: int):
    """Frame i: every image byte and every landmark value encodes i, so a torn read mixes values."""
    image = np.full((HEIGHT, WIDTH, 3), i % 251, np.uint8)
    points = np.full((lm.COUNT, 3), float(i))
    return image, points, points + 0.5, np.full(lm.COUNT, float(i))


def _writer(name: str, frames: int, go) -> None:
    slot = FrameSlot.attach(name, WIDTH, HEIGHT)
    go.wait()
    for i in range(1, frames + 1):
        image, xyz, world, vis = _pattern(i)
        slot.write(i, i * 1000, image, xyz, world, vis)
    slot.close()


def test_reader_in_another_process_never_sees_a_torn_frame_and_sequence_only_grows():
    ctx = mp.get_context(START_METHOD)
    slot = FrameSlot.create(WIDTH, HEIGHT)
    go = ctx.Event()
    proc = ctx.Process(target=_writer, args=(slot.name, FRAMES, go), daemon=True)
    proc.start()
    buffer = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    seen, last = [], 0
    go.set()
    try:
        while last < FRAMES:
            frame = slot.wait(last, timeout_s=20.0, image_out=buffer, alive=proc.is_alive)
            if frame is None:
                frame = slot.read(last, buffer)  # the writer may have finished between two looks
                if frame is None:
                    break
            i = frame.index
            assert frame.seq == i  # the writer's i-th write
            assert frame.captured_ns == i * 1000
            assert np.all(frame.image == i % 251), "image bytes from two different frames"
            assert np.all(frame.image_xyz == i) and np.all(frame.world_xyz == i + 0.5)
            assert np.all(frame.visibility == i)
            assert frame.seq > last
            seen.append(frame.seq)
            last = frame.seq
    finally:
        proc.join(20)
        slot.close()
    assert last == FRAMES, "the reader must end on the newest frame"
    assert len(seen) >= 2


def test_read_returns_the_newest_frame_only_once_and_the_block_does_not_grow():
    with FrameSlot.create(WIDTH, HEIGHT) as slot:
        size = slot.shm.size
        assert slot.read(0) is None
        for i in range(1, 6):
            slot.write(i, i, *_pattern(i))
        frame = slot.read(0, with_image=True)
        assert frame.seq == 5 and frame.index == 5 and np.all(frame.image == 5)  # latest, not the oldest
        assert slot.read(frame.seq) is None  # nothing newer: no backlog of the four overwritten ones
        slot.write(6, 6, None, None, None, None)  # nobody found
        frame = slot.read(5)
        assert frame.seq == 6 and not frame.found
        assert slot.shm.size == size >= slot_bytes(WIDTH, HEIGHT)


def test_attached_reader_sees_the_writers_frames():
    with FrameSlot.create(WIDTH, HEIGHT) as slot:
        other = FrameSlot.attach(slot.name, WIDTH, HEIGHT)
        slot.write(7, 70, *_pattern(7))
        frame = other.read(0)
        other.close()
        assert frame.index == 7 and frame.captured_ns == 70 and frame.found


def test_reader_timing_reaches_the_writer_and_leaves_the_frame_alone():
    slot = FrameSlot.create(WIDTH, HEIGHT)
    try:
        assert slot.reader_timing() == (0, 0)
        image, xyz, world, vis = _pattern(1)
        seq = slot.write(1, 1000, image, xyz, world, vis)
        writer = FrameSlot.attach(slot.name, WIDTH, HEIGHT)
        slot.report_taken(123_456_789, 40_000_000)
        assert writer.reader_timing() == (123_456_789, 40_000_000)
        frame = slot.read(0)
        assert frame.seq == seq and frame.captured_ns == 1000 and np.all(frame.world_xyz == world)
        writer.close()
    finally:
        slot.close()
