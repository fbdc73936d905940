"""Tests for avatar_wardrobe.garments."""
