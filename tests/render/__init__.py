"""Tests for avatar_wardrobe.render."""
