"""Catalog batch: every garment x size x body x motion rendered and fitted, on Ray or a local pool."""
