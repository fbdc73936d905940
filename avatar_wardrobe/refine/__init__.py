"""Optional GAN refinement of rendered frames (enhance / toon); torch is imported lazily, only here."""
