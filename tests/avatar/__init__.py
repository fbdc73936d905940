"""Tests for avatar_wardrobe.avatar."""
