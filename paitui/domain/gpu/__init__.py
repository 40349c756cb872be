"""Live GPU use: DRM client stats, per-GPU readings and per-app sums (pure)."""
