"""Watching running apps: the fleet tracker, HTTP probes, and free host ports."""
