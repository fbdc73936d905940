"""FramePipeline: dressing frame N+1 in a helper thread while Panda draws frame N changes no frame."""
import threading

import numpy as np
import pytest

from avatar_wardrobe.cloth.simulator import ClothSettings
from avatar_wardrobe.pose.recording import read_motion
from avatar_wardrobe.render.capture import FrameGrabber
from avatar_wardrobe.render.pipeline import FramePipeline
from avatar_wardrobe.render.plugin import Wardrobe
from avatar_wardrobe.settings import model_path

FRAMES = 8
# The software renderer is not bit-reproducible under concurrent load: from bit-identical inputs
# (joint matrices, garment positions and normals) the frame drawn while the dress thread ran
# PyBullet came out 1 level different on a few pixels (reproduced in session 5; CI saw such a
# mismatch twice). The inputs are compared bit for bit; the pictures up to this.
PIXEL_LEVELS = 1
PIXEL_SHARE = 0.001
SIM_NODES = 300  # a small simulated shirt keeps the test quick; cloth still runs in the helper thread


@pytest.fixture(scope="module")
def motion_frames():
    return read_motion(model_path("motions/pose_1.jsonl")).frames[30:30 + FRAMES]


def _run(base, frames, threaded, grabber, emit_extra=None, finish=None, drawn=None, lag=False, inputs=None):
    """Fresh wardrobe (fresh filter and cloth), the frames through a pipeline; the images and who prepared them
    (and each drawn frame, before any finish stage, appended to `drawn` if given; what each frame was
    drawn from, its joints' local matrices and garment positions and normals, to `inputs`)."""
    wardrobe = Wardrobe(base, studio=True, cloth_settings=ClothSettings(sim_vertices=SIM_NODES))
    wardrobe.cloth_lag = lag
    prepared_in, images, order = [], [], []
    prepare = wardrobe.prepare

    def spy(marks):
        prepared_in.append(threading.current_thread().name)
        return prepare(marks)

    wardrobe.prepare = spy
    todo = iter(frames)

    def emit(shown):
        images.append(shown.image)
        if inputs is not None:
            inputs.append([shown.dressed.local.copy()] + [np.array(a) for shape in shown.dressed.shapes
                                                          for a in shape[1:3]])
        order.append(shown.dressed.marks.index)
        assert set(shown.ms) == ({"render", "refine"} if finish else {"render"})
        assert min(shown.cpu_ms.values()) >= 0.0
        return emit_extra(shown) if emit_extra else None

    def draw(clock):
        with clock("render"):
            image = grabber.render()
        if drawn is not None:
            drawn.append(image.copy())
        return image

    try:
        with FramePipeline(wardrobe, draw, threaded=threaded, finish=finish) as pipe:
            shown = pipe.run(lambda: next(todo, None), emit)
    finally:
        wardrobe.remove()
    return shown, images, order, prepared_in


def _same(inputs_a, inputs_b, images_a, images_b):
    assert len(inputs_a) == len(inputs_b) == len(images_a) == len(images_b)
    for a, b in zip(inputs_a, inputs_b):
        assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))
    for a, b in zip(images_a, images_b):
        diff = np.abs(a.astype(int) - b.astype(int)).max(axis=-1)
        assert diff.max() <= PIXEL_LEVELS and (diff > 0).mean() <= PIXEL_SHARE


def test_threaded_frames_equal_the_serial_frames(panda_base, motion_frames):
    grabber = FrameGrabber(panda_base)
    inputs_s, inputs_t = [], []
    n_serial, serial, order_s, who_s = _run(panda_base, motion_frames, False, grabber, inputs=inputs_s)
    n_threaded, threaded, order_t, who_t = _run(panda_base, motion_frames, True, grabber, inputs=inputs_t)
    assert n_serial == n_threaded == FRAMES
    assert order_s == order_t == [m.index for m in motion_frames]  # in order, none skipped or repeated
    assert set(who_s) == {threading.main_thread().name}
    assert all(name.startswith("aw-dress") for name in who_t)  # the cloth really ran beside the draw
    moved = sum(not np.array_equal(a, b) for a, b in zip(serial[:-1], serial[1:]))
    assert moved >= FRAMES // 2  # the frames show motion, so equality below means something
    _same(inputs_s, inputs_t, serial, threaded)


def test_with_cloth_lag_threaded_frames_equal_the_serial_ones_and_the_physics_runs_on_the_helper(
        panda_base, motion_frames):
    grabber = FrameGrabber(panda_base)
    physics, inputs_s, inputs_t = [], [], []
    _, serial, _, _ = _run(panda_base, motion_frames, False, grabber, lag=True, inputs=inputs_s)
    _, threaded, order, _ = _run(panda_base, motion_frames, True, grabber, lag=True, inputs=inputs_t,
                                 emit_extra=lambda shown: physics.append(shown.dressed.timings_ms.get("physics")))
    _, synchronous, _, _ = _run(panda_base, motion_frames, False, grabber)
    assert order == [m.index for m in motion_frames]
    # frame 0 settles the cloth, frame 1 is the first shown a frame behind: from frame 2 on each frame
    # carries the physics run (on the helper, before it waited for the frame) for the one before it
    assert physics[:2] == [None, None] and all(ms > 0 for ms in physics[2:])
    _same(inputs_s, inputs_t, serial, threaded)
    assert any(not np.array_equal(a, b) for a, b in zip(serial, synchronous))  # the cloth really is a frame behind


def test_emit_false_stops_and_errors_in_the_helper_reach_the_caller(panda_base, motion_frames):
    grabber = FrameGrabber(panda_base)
    shown, *_ = _run(panda_base, motion_frames, True, grabber, emit_extra=lambda s: False)
    assert shown == 1
    wardrobe = Wardrobe(panda_base, scene=None)
    try:
        def produce():
            raise RuntimeError("camera fell over")

        with FramePipeline(wardrobe, lambda clock: grabber.render()) as pipe:
            with pytest.raises(RuntimeError, match="camera fell over"):
                pipe.run(produce, lambda shown: None)
    finally:
        wardrobe.remove()


def test_a_finish_stage_refines_in_its_own_thread_with_the_same_frames(panda_base, motion_frames):
    """The refiner as the finish stage: in its own thread it gets each frame just as it was drawn, in
    order, and what is emitted is exactly what it made of each. (That the threaded run draws the
    serial run's frames is test_threaded_frames_equal_the_serial_frames. Compared across the two runs
    here too, with the refiner's thread running beside the draw, the drawn frames differed once, in
    a CI run of the full suite, and never in 76 repeats here; cause not found: README, Tests.)"""
    from avatar_wardrobe.refine.runner import Refiner
    from avatar_wardrobe.settings import RefineSettings

    refiner = Refiner.create("enhance", RefineSettings(style="enhance", internal_height=96, threads=1))
    assert refiner.active  # the shipped weights
    finished_in, seen, made = [], [], []

    def finish(image, clock):
        finished_in.append(threading.current_thread().name)
        seen.append(image.copy())
        with clock("refine"):
            out = refiner(image)
        made.append(out.copy())
        return out

    grabber = FrameGrabber(panda_base)
    drawn = []
    _, serial, _, _ = _run(panda_base, motion_frames, False, grabber, finish=finish, drawn=drawn)
    assert set(finished_in) == {threading.main_thread().name}
    assert not np.array_equal(drawn[0], serial[0])  # the refiner changed the frame
    finished_in.clear(), seen.clear(), made.clear(), drawn.clear()
    n, threaded, order, _ = _run(panda_base, motion_frames, True, grabber, finish=finish, drawn=drawn)
    assert n == FRAMES and order == [m.index for m in motion_frames]
    assert finished_in and all(name.startswith("aw-finish") for name in finished_in)
    assert len(seen) == len(drawn) == len(made) == FRAMES
    moved = sum(not np.array_equal(a, b) for a, b in zip(drawn[:-1], drawn[1:]))
    assert moved >= FRAMES // 2  # distinct frames, so a mix-up between them would show
    for a, b in zip(drawn, seen):   # the finish thread got each frame as drawn, in order
        assert np.array_equal(a, b)
    for emitted, out in zip(threaded, made):  # ...and what was emitted is what it made of each
        assert np.array_equal(emitted, out)


def test_freeze_startup_heap_takes_the_live_objects_out_of_the_collectors_walk():
    import gc

    from avatar_wardrobe.render.pipeline import freeze_startup_heap

    tracked = len(gc.get_objects())
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= tracked // 2  # the heap alive now (less what the first collect freed)
        assert len(gc.get_objects()) < tracked // 2   # ...is no longer in any generation the collector walks
    finally:
        gc.unfreeze()
