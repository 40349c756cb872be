"""Hardware detection: udev, sysfs, the host and the engine's runtimes."""
