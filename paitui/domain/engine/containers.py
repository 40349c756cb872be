"""What the engine service reports about managed containers: state, events, stats, pull progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

#: Labels every paitui container carries; paitui touches no container without MANAGED_LABEL.
MANAGED_LABEL = "paitui.managed"
APP_LABEL = "paitui.app"
VARIANT_LABEL = "paitui.variant"
ENTRY_HASH_LABEL = "paitui.entry-hash"


class ContainerStatus(StrEnum):
    """The engine's own view of a container (``State.Status``)."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"
    GONE = "gone"  # removed; kept so the UI can show it went away

    @classmethod
    def read(cls, value: object) -> ContainerStatus:
        """The engine's state word (inspect's ``State.Status``, the list's ``State``); one
        paitui does not know reads as dead, none as created."""
        try:
            return cls(str(value or "created"))
        except ValueError:
            return cls.DEAD


@dataclass(frozen=True)
class PublishedPort:
    """A container port published on the host."""

    container_port: int
    protocol: str  # "tcp" or "udp"
    host_ip: str
    host_port: int


@dataclass(frozen=True)
class ContainerInfo:
    """A managed container as last seen."""

    id: str
    name: str
    app_id: str
    variant: str
    image: str
    status: ContainerStatus
    exit_code: int | None = None
    started_at: float | None = None  # epoch seconds
    finished_at: float | None = None
    ports: tuple[PublishedPort, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineEvent:
    """One container event from the engine's event stream (or a connection change)."""

    action: str  # create, start, die, stop, kill, destroy, restart, pause, unpause, oom, ...
    container_id: str | None
    app_id: str | None = None
    variant: str | None = None
    name: str | None = None
    exit_code: int | None = None
    time: float = 0.0  # epoch seconds (from timeNano)


@dataclass(frozen=True)
class EngineConnection:
    """Whether the engine is reachable; posted when that changes."""

    connected: bool
    message: str  # readable: what happened and what to do
    host: str | None = None


@dataclass(frozen=True)
class ManagedSnapshot:
    """Every managed container as listed when the event stream (re)connects.

    Posted after each ``EngineConnection(True)`` so a consumer can replace its whole view:
    events missed while the engine was away are covered by this listing.
    """

    containers: tuple[ContainerInfo, ...]
    host: str | None = None
    time: float = 0.0


@dataclass(frozen=True)
class StatsSample:
    """One stats reading of a container."""

    container_id: str
    cpu_percent: float
    memory_bytes: int
    memory_limit: int
    time: float


@dataclass(frozen=True)
class LayerProgress:
    """One image layer during a pull."""

    id: str
    status: str  # "Waiting", "Downloading", "Extracting", "Pull complete", "Already exists", ...
    current: int = 0  # bytes of the layer's blob downloaded so far
    total: int = 0  # size of the layer's blob (compressed), 0 while unknown
    extracted: int = 0  # bytes of the blob extracted so far


@dataclass(frozen=True)
class PullProgress:
    """The state of a whole pull: per layer, overall bytes, speed and ETA."""

    image: str
    layers: tuple[LayerProgress, ...] = ()
    downloaded: int = 0  # bytes downloaded over all layers
    total: int = 0  # bytes to download over all layers known so far
    speed: float = 0.0  # bytes per second
    eta: float | None = None  # seconds
    status: str = ""
    done: bool = False
