"""Tests of the live loop: the shared memory slot, the pose worker process and the two-process scene loop."""
