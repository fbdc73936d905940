"""Tests for avatar_wardrobe.retarget."""
