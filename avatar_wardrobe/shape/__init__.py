"""Avatars of any height, mass and gender, built from anny (the optional extra) and cached."""
