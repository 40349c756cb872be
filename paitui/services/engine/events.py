"""Following the engine: its event stream filtered to paitui's label, reconnecting by itself.

One ``EventPump`` thread per subscription holds one ``/events`` stream (no polling). On connect
it posts ``EngineConnection(True)`` and a ``ManagedSnapshot`` of every managed container, then
every container event; when the engine goes away it posts ``EngineConnection(False)`` and retries
with backoff until the engine is back, then subscribes and lists again. A frozen engine keeps the
stream open and says nothing, so a ping every ``HEARTBEAT_S`` tells silence from a hang.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from paitui.domain.engine.containers import (
    APP_LABEL,
    MANAGED_LABEL,
    VARIANT_LABEL,
    ContainerInfo,
    ContainerStatus,
    EngineConnection,
    EngineEvent,
    ManagedSnapshot,
    PublishedPort,
)
from paitui.domain.engine.errors import not_answering, translate
from paitui.services.engine.raw_api import ping

if TYPE_CHECKING:
    import docker
    from docker.types.daemon import CancellableStream

EngineUpdate = EngineEvent | EngineConnection | ManagedSnapshot
#: Seconds between liveness pings while connected, and how long a ping may take to answer.
HEARTBEAT_S = 10.0
#: Inspects in flight at once while listing (the docker client pools 10 connections).
INSPECT_WORKERS = 8
ANSWER_TIMEOUT_S = 5.0
MANAGED_FILTER = {"label": f"{MANAGED_LABEL}=true"}


def parse_time(value: str | None) -> float | None:
    """Docker's RFC 3339 time with nanoseconds as epoch seconds; None for the zero time."""
    if not value or value.startswith("0001-01-01"):
        return None
    text = value.replace("Z", "+00:00")
    main, _, rest = text.partition(".")
    if rest:
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{main}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def info_from_attrs(attrs: dict[str, Any]) -> ContainerInfo:
    """A ContainerInfo from ``docker inspect`` data."""
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    labels: dict[str, str] = dict(config.get("Labels") or {})
    ports: list[PublishedPort] = []
    for key, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        for b in bindings or ():
            ports.append(
                PublishedPort(
                    int(port), proto or "tcp", b.get("HostIp", ""), int(b.get("HostPort") or 0)
                )
            )
    cstatus = ContainerStatus.read(state.get("Status"))
    exit_code = state.get("ExitCode")
    return ContainerInfo(
        id=str(attrs.get("Id", "")),
        name=str(attrs.get("Name", "")).lstrip("/"),
        app_id=labels.get(APP_LABEL, ""),
        variant=labels.get(VARIANT_LABEL, ""),
        image=str(config.get("Image", "")),
        status=cstatus,
        exit_code=int(exit_code)
        if exit_code is not None and cstatus != ContainerStatus.RUNNING
        else None,
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
        ports=tuple(ports),
        labels=labels,
    )


def event_from_raw(raw: dict[str, Any]) -> EngineEvent:
    """An EngineEvent from one decoded ``/events`` message."""
    actor = raw.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    # "exec_start: sh -c ..." and "health_status: healthy" carry details after a colon.
    action = str(raw.get("Action") or raw.get("status") or "").split(":", 1)[0].strip()
    exit_code = attrs.get("exitCode")
    nano = raw.get("timeNano")
    return EngineEvent(
        action=action,
        container_id=actor.get("ID") or raw.get("id"),
        app_id=attrs.get(APP_LABEL),
        variant=attrs.get(VARIANT_LABEL),
        name=attrs.get("name"),
        exit_code=int(exit_code)
        if exit_code is not None and str(exit_code).lstrip("-").isdigit()
        else None,
        time=nano / 1e9 if isinstance(nano, int) else float(raw.get("time") or 0),
    )


def list_managed(client: docker.DockerClient) -> list[ContainerInfo]:
    """Every managed container, running or not (blocking), in the engine's order.

    The list lacks the start time and the ports' host addresses, so each container is inspected;
    up to ``INSPECT_WORKERS`` at once (50 in a row took most of the time to the first list).
    """
    raw = client.api.containers(all=True, filters=MANAGED_FILTER)

    def inspect(summary: dict[str, Any]) -> ContainerInfo | None:
        try:
            return info_from_attrs(client.api.inspect_container(summary["Id"]))
        except Exception as exc:
            if type(exc).__name__ != "NotFound":  # removed between list and inspect
                raise
            return None

    found = _map_in_daemon_threads(inspect, raw, INSPECT_WORKERS)
    return [info for info in found if info is not None]


def _map_in_daemon_threads(
    func: Callable[[Any], ContainerInfo | None], items: list[Any], workers: int
) -> list[ContainerInfo | None]:
    """``func`` over ``items`` in up to ``workers`` threads, results in order; the first error
    is raised. Daemon threads (not an executor's): one stuck on a frozen engine must never hold
    up the process's exit."""
    if len(items) <= 1:
        return [func(item) for item in items]
    results: list[ContainerInfo | None] = [None] * len(items)
    errors: list[BaseException] = []
    todo = iter(enumerate(items))
    lock = threading.Lock()

    def work() -> None:
        while not errors:
            with lock:
                nxt = next(todo, None)
            if nxt is None:
                return
            index, item = nxt
            try:
                results[index] = func(item)
            except BaseException as exc:  # raised in the caller's thread below
                errors.append(exc)
                return

    threads = [
        threading.Thread(target=work, name="paitui-inspect", daemon=True)
        for _ in range(min(workers, len(items)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


class EventPump:
    """A thread that follows one engine's managed-container events and calls ``callback``."""

    def __init__(
        self,
        connect: Callable[[], docker.DockerClient],
        callback: Callable[[EngineUpdate], None],
        host: str | None,
        *,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        heartbeat: float | None = HEARTBEAT_S,
        answer_timeout: float = ANSWER_TIMEOUT_S,
    ) -> None:
        self._connect = connect
        self._heartbeat = heartbeat
        self._answer_timeout = answer_timeout
        self._state_lock = threading.Lock()
        self._callback = callback
        self._host = host
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._stream: CancellableStream[dict[str, Any]] | None = None
        self._client: docker.DockerClient | None = None
        self.connected: bool | None = None
        #: When the connection attempt under way began (None when none is): the heartbeat
        #: reports an engine that takes the connection and never answers the first requests.
        self._connecting_since: float | None = None
        self._thread = threading.Thread(target=self._run, name="paitui-engine-events", daemon=True)
        self._beater = threading.Thread(target=self._beat, name="paitui-engine-beat", daemon=True)

    def start(self) -> EventPump:
        """Start following; returns self."""
        self._thread.start()
        if self._heartbeat:
            self._beater.start()
        return self

    def close(self, wait: float | None = 2.0) -> None:
        """Stop following and close the stream (safe from any thread, idempotent)."""
        self._stop.set()
        with self._lock:
            stream, self._stream = self._stream, None
            client, self._client = self._client, None
        for closer in (stream, client):
            if closer is not None:
                with contextlib.suppress(Exception):
                    closer.close()
        if (
            wait is not None
            and threading.current_thread() is not self._thread
            and self._thread.is_alive()
        ):
            self._thread.join(wait)

    @property
    def closed(self) -> bool:
        """Whether close() was called."""
        return self._stop.is_set()

    def _emit(self, update: EngineUpdate) -> None:
        if not self._stop.is_set():
            self._callback(update)

    def _set_connected(self, connected: bool, message: str) -> None:
        with self._state_lock:  # the pump and the heartbeat both report
            if self.connected is connected:
                return
            self.connected = connected
            self._emit(EngineConnection(connected, message, self._host))

    def _beat(self) -> None:
        """Ping while connected: a frozen engine keeps the event stream open and silent."""
        assert self._heartbeat
        while not self._stop.wait(self._heartbeat):
            with self._lock:
                client, stream = self._client, self._stream
                since = self._connecting_since
            if since is not None and time.monotonic() - since > self._answer_timeout:
                # Frozen while we connect (the SDK's own timeout is the request's, a minute).
                waited = round(time.monotonic() - since)
                error = not_answering(self._host, waited)
                self._set_connected(False, f"{error.message}; retrying")
                continue
            if client is None or stream is None or self.connected is not True:
                continue
            try:
                ping(client, self._answer_timeout)
            except Exception as exc:
                if self._stop.is_set():
                    return
                error = translate(exc, host=self._host)
                self._set_connected(False, f"{error.message}; retrying")
                # The pump reconnects once the stream is closed, and only an engine that
                # answers again gets it back to connected.
                with contextlib.suppress(Exception):
                    stream.close()

    def _run(self) -> None:
        delay = self._backoff_initial
        while not self._stop.is_set():
            with self._lock:
                self._connecting_since = time.monotonic()
            try:
                client = self._connect()
                with self._lock:
                    if self._stop.is_set():
                        client.close()
                        return
                    self._client = client
                # Subscribe before listing so nothing that happens in between is lost.
                stream = client.api.events(
                    decode=True, filters={**MANAGED_FILTER, "type": "container"}
                )
                with self._lock:
                    self._stream = stream
                    if self._stop.is_set():
                        stream.close()
                        return
                containers = list_managed(client)
                with self._lock:
                    self._connecting_since = None
                self._set_connected(
                    True, f"connected to the Docker engine at {self._host or 'default'}"
                )
                self._emit(ManagedSnapshot(tuple(containers), self._host, time.time()))
                delay = self._backoff_initial
                for raw in stream:
                    if self._stop.is_set():
                        return
                    if raw.get("Type", "container") == "container":
                        self._emit(event_from_raw(raw))
                # The stream ended: the engine closed it (shutting down) or it was closed by us.
                if self._stop.is_set():
                    return
                self._check_alive(client)
            except Exception as exc:
                if self._stop.is_set():
                    return
                error = translate(exc, host=self._host)
                self._set_connected(False, f"{error.message}; retrying")
            finally:
                with self._lock:
                    self._connecting_since = None
                    held, self._stream = self._stream, None
                    client_, self._client = self._client, None
                for closer in (held, client_):
                    if closer is not None:
                        with contextlib.suppress(Exception):
                            closer.close()
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, self._backoff_max)

    def _check_alive(self, client: docker.DockerClient) -> None:
        try:
            client.ping()
        except Exception as exc:
            error = translate(exc, host=self._host)
            self._set_connected(False, f"{error.message}; retrying")
