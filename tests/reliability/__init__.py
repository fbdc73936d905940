"""Reliability tests: hostile files, input faults, missing pieces and privacy (docs/faults.md)."""
