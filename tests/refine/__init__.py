"""Tests of the optional GAN refinement pass: shipped weights on real renders, fallbacks, targets, the demo."""
