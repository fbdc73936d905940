"""Tests for avatar_wardrobe.cloth: PyBullet cloth (real DIRECT worlds) on the real default avatars."""
