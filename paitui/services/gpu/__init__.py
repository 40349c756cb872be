"""Live GPU use: sysfs, /proc, NVML and the helper container that read it (I/O)."""
