"""Long-session soak test: the full wardrobe with cloth under random motion (resets, explosions, memory)."""
