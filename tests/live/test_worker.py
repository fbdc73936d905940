"""The pose worker's pacing: just-in-time tracking holds off only as long as the scene will not look."""
from avatar_wardrobe.live.worker import JIT_MARGIN_NS, JIT_MAX_HOLD_S, hold_off_s

MS = 1_000_000


def test_worker_starts_so_the_frame_is_ready_just_before_the_scene_comes_back():
    # The scene took a frame at t=100 ms and works 60 ms on each; tracking takes 20 ms.
    wait = hold_off_s((100 * MS, 60 * MS), 20 * MS, now_ns=110 * MS)
    assert abs(wait - (100 + 60 - 20 - 110 - JIT_MARGIN_NS / MS) / 1000) < 1e-9


def test_worker_does_not_wait_for_a_fast_scene_or_before_the_scene_reports():
    assert hold_off_s((100 * MS, 15 * MS), 20 * MS, now_ns=101 * MS) == 0.0   # scene faster than tracking
    assert hold_off_s((0, 0), 20 * MS, now_ns=5 * MS) == 0.0                  # nothing reported yet
    assert hold_off_s((100 * MS, 10_000 * MS), 20 * MS, now_ns=101 * MS) == JIT_MAX_HOLD_S  # a stalled scene
