"""Cloth: PyBullet soft-body garments on the moving avatar (GarmentSim), fit maps and size advice."""
