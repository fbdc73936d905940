"""Where built bodies and anny's own cache live: a per-user cache folder, never the network."""
from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "AVATAR_WARDROBE_CACHE"  # overrides the folder for built bodies
ANNY_CACHE_ENV = "ANNY_CACHE_DIR"  # anny's own variable: its precomputed model data (~0.8 GB)


def cache_root() -> Path:
    """$AVATAR_WARDROBE_CACHE, else $XDG_CACHE_HOME/avatar_wardrobe, else ~/.cache/avatar_wardrobe."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "avatar_wardrobe"


def bodies_dir() -> Path:
    return cache_root() / "bodies"


def anny_cache_dir() -> Path:
    return Path(os.environ.get(ANNY_CACHE_ENV) or cache_root() / "anny")
