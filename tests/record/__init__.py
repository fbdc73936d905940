"""Tests for avatar_wardrobe.record."""
