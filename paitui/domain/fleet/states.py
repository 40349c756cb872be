"""The states an app is shown in (apart from ``status``, whose dataclasses the first frame does
not need: the taskbar and the state badges draw from these names alone)."""

from __future__ import annotations

from enum import StrEnum


class AppState(StrEnum):
    """What the user sees for an app."""

    PULLING = "pulling"
    CREATING = "creating"
    STARTING = "starting"  # container runs; the service does not answer yet
    LOADING = "loading"  # the service answers and says it is loading
    READY = "ready"
    UNHEALTHY = "unhealthy"
    PAUSED = "paused"
    STOPPING = "stopping"
    EXITED = "exited"
    CRASHED = "crashed"
    REMOVED = "removed"
    UNKNOWN = "unknown"  # the engine is away: what the container does cannot be known
