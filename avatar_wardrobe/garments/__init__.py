"""Garments: the Garment record, glTF import and checks, fitting to a body, slots and layering."""
