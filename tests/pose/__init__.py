"""Tests of avatar_wardrobe.pose: sources, MediaPipe tracking, motion recordings."""
