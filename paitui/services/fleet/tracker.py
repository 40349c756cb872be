"""The fleet: every managed app's combined status, from the engine's events and the probes.

One ``Fleet`` per process follows the engine's event stream (no polling), keeps the probe
scheduler's targets in step with which apps run, folds both into ``AppStatus`` objects with the
pure reducers of ``paitui.domain.fleet.status``, and calls its subscribers on every change.
The UI (the Running screen and the taskbar) and ``paitui wait`` both build on it.

Stats cost the engine CPU for every open stream (see peer measurements), so they are streamed
only on request: ``watch_stats`` for what is on screen, ``unwatch_stats`` when it leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from paitui.domain.catalog.schema import App, Catalog, HealthCheck
from paitui.domain.engine.containers import (
    ContainerInfo,
    EngineConnection,
    EngineEvent,
    PullProgress,
    StatsSample,
)
from paitui.domain.fleet import status as st
from paitui.domain.fleet.status import AppState, AppStatus, ProbeResult
from paitui.domain.launch.plan import LaunchPlan
from paitui.services.fleet.probes import Prober, ProbeScheduler, ProbeTarget, probe_host_for
from paitui.settings import Settings

#: Log lines kept with a crashed app.
CRASH_LOG_LINES = 20
#: Seconds ``start`` waits for the event stream's first listing before listing by itself.
FIRST_LISTING_WAIT_S = 3.0
#: Seconds between the first listing and the first probe round: the states from the listing
#: are drawn first, without 50 probes competing for the loop.
FIRST_PROBES_DELAY_S = 0.3
_ALL_OR_LOOPBACK = {"", "0.0.0.0", "::", "127.0.0.1", "::1"}

Listener = Callable[[AppStatus], object]


class EngineLike(Protocol):
    """The part of ``paitui.services.engine.client.Engine`` the fleet uses."""

    async def list_managed(self) -> list[ContainerInfo]: ...

    async def list_managed_quick(self) -> list[ContainerInfo] | None: ...

    async def inspect(self, target: str) -> ContainerInfo: ...

    def events(self) -> AsyncIterator[Any]: ...


def health_check_of(app: App | None, ports_known: bool) -> HealthCheck | None:
    """The app's health check; a TCP connect when the catalog names none but ports exist."""
    if app is not None and app.health is not None:
        return app.health
    if ports_known:
        return HealthCheck(type="tcp")
    return None


class Fleet:
    """Live status of every managed app."""

    def __init__(
        self,
        engine: Any,
        catalog: Catalog | Callable[[], Catalog],
        settings: Settings,
        *,
        prober: Prober | None = None,
        probe_host: str | None = None,
        clock: Callable[[], float] = time.time,
        max_concurrency: int = 32,
    ) -> None:
        """``catalog`` is fixed, or read from its owner on each use (``Services.catalog``, which a
        reload replaces)."""
        self.engine = engine
        self._catalog = catalog
        self.settings = settings
        self.clock = clock
        self.probe_host = probe_host or probe_host_for(settings.docker_host)
        self.prober = prober or Prober(settings.probe_timeout)
        self.scheduler = ProbeScheduler.from_settings(
            self.prober, self._on_probe, settings, max_concurrency=max_concurrency
        )
        self.statuses: dict[str, AppStatus] = {}
        self.connection: EngineConnection | None = None
        self._listeners: list[Listener] = []
        self._connection_listeners: list[Callable[[EngineConnection], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stats: dict[str, asyncio.Task[None]] = {}
        self._started = False
        #: Apps whose status comes from the provisional (quick) listing only.
        self._provisional: set[str] = set()
        #: Set once the event stream has delivered its first listing or said the engine is away.
        self._first_listing = asyncio.Event()
        #: Apps this process is launching right now (the UI selects them as they appear).
        self.launching: set[str] = set()

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with each changed status; returns the function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def subscribe_connection(
        self, listener: Callable[[EngineConnection], None]
    ) -> Callable[[], None]:
        """Call ``listener`` when the engine connection comes or goes; returns the unsubscribe."""
        self._connection_listeners.append(listener)
        listeners = self._connection_listeners
        return lambda: listeners.remove(listener) if listener in listeners else None

    def get(self, app_id: str) -> AppStatus | None:
        """The status of one app."""
        return self.statuses.get(app_id)

    @property
    def catalog(self) -> Catalog:
        """The catalog the statuses are matched against (its owner's current one)."""
        return self._catalog if isinstance(self._catalog, Catalog) else self._catalog()

    def app(self, app_id: str) -> App | None:
        """The catalog entry of an app."""
        return self.catalog.apps.get(app_id)

    # --- life cycle --------------------------------------------------------------------------

    async def start(self, seed: list[ContainerInfo] | None = None) -> None:
        """Follow events, list the managed containers, and probe what runs.

        The event stream lists the containers once it is subscribed (so nothing in between is
        lost): ``start`` returns when that listing is applied, instead of making a second one
        at the same time (each is one inspect per container). Only if the stream says nothing
        within ``FIRST_LISTING_WAIT_S`` does it list by itself. Until the stream's listing, a
        quick one stands in (``seed``, when the caller made it already, else one made here).
        """
        if self._started:
            return
        self._started = True
        started = time.monotonic()
        self._spawn(self._follow_events())
        try:
            # On a local socket the containers are on screen while the stream still loads the
            # SDK; its full listing (with start times) replaces them. Events come only after
            # that listing, so a quick one arriving later than it is simply dropped.
            listed = seed if seed is not None else await self.engine.list_managed_quick()
            if listed is not None and not self._first_listing.is_set():
                self._apply_listing(listed, complete=True, provisional=True)
            left = max(0.0, FIRST_LISTING_WAIT_S - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first_listing.wait(), left)
                return
            try:
                containers = await self.engine.list_managed()
            except Exception as exc:  # the event stream reports and retries the connection
                self._set_connection(EngineConnection(False, str(exc)))
            else:
                self._apply_listing(containers)
        finally:
            self._spawn(self._probe_after(FIRST_PROBES_DELAY_S))

    async def _probe_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.scheduler.run()

    async def snapshot(self) -> list[AppStatus]:
        """Every managed app's status from one listing and one probe each (for ``paitui ls``)."""
        now = self.clock()
        statuses = [st.from_container(info, now) for info in await self.engine.list_managed()]

        async def probed(status: AppStatus) -> AppStatus:
            target = self.probe_target(status)
            if not status.probed or target is None:
                if status.state == AppState.STARTING and self._never_probed(status):
                    return st.no_health_check(status, now)
                return status
            result = await self.prober.probe(target)
            app = self.app(status.app_id)
            period = app.health.start_period_s if app is not None and app.health else 600.0
            return st.on_probe(status, result, period)

        try:
            return list(await asyncio.gather(*(probed(s) for s in statuses)))
        finally:
            await self.prober.aclose()

    async def close(self) -> None:
        """Stop following, probing and streaming."""
        self.scheduler.close()
        for task in [*self._tasks, *self._stats.values()]:
            task.cancel()
        for task in [*self._tasks, *self._stats.values()]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self._stats.clear()
        await self.prober.aclose()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _follow_events(self) -> None:
        from paitui.domain.engine import containers as c

        snapshot_type = getattr(c, "ManagedSnapshot", None)
        try:
            async for item in self.engine.events():
                if isinstance(item, EngineEvent):
                    self.apply_event(item)
                elif isinstance(item, EngineConnection):
                    self._set_connection(item)
                    if not item.connected:
                        self._first_listing.set()
                elif snapshot_type is not None and isinstance(item, snapshot_type):
                    self._apply_listing(list(item.containers), complete=True)
                    self._first_listing.set()
        except Exception as exc:  # the engine reconnects by itself; this is the last resort
            self._set_connection(EngineConnection(False, f"stopped following the engine: {exc}"))
        finally:
            self._first_listing.set()

    @property
    def engine_away(self) -> bool:
        """Whether the engine is known to be gone or not answering right now."""
        return self.connection is not None and not self.connection.connected

    def _set_connection(self, connection: EngineConnection) -> None:
        self.connection = connection
        if not connection.connected:
            # Nobody can say what a container does while its engine is away: every row says
            # so until the listing made on the way back replaces it.
            now = self.clock()
            for status in list(self.statuses.values()):
                self._apply(st.on_engine_away(status, now))
        for listener in list(self._connection_listeners):
            listener(connection)

    # --- folding in what the engine says ------------------------------------------------------

    def _apply_listing(
        self, containers: list[ContainerInfo], complete: bool = False, provisional: bool = False
    ) -> None:
        """Fold a listing in; a ``provisional`` one (no start times) is read afresh by the next."""
        now = self.clock()
        seen = set()
        for info in containers:
            seen.add(info.app_id)
            # A status from the provisional listing is no history: the full one starts it over,
            # as if it were the first (its start time sets since when the app runs).
            prev = None if info.app_id in self._provisional else self.statuses.get(info.app_id)
            status = st.from_container(info, now, prev)
            self._apply(status)
            if status.state == AppState.CRASHED and not status.last_logs and not provisional:
                self._spawn(self._attach_crash_logs(status.app_id, info.id))
        self._provisional = seen if provisional else set()
        if complete:
            # Containers removed while the engine was away, and launches it never saw.
            for app_id, status in list(self.statuses.items()):
                if app_id in seen or status.state == AppState.REMOVED:
                    continue
                never_made = (
                    status.container_id is None
                    and status.state == AppState.UNKNOWN
                    and app_id not in self.launching
                )
                if status.container_id is not None or never_made:
                    self._apply(
                        st.on_event(
                            status, EngineEvent("destroy", status.container_id, app_id), now
                        )
                        or status
                    )

    def apply_event(self, event: EngineEvent) -> None:
        """Fold one engine event in (public for tests and the benchmark)."""
        prev = self.statuses.get(event.app_id or "") if event.app_id else None
        if prev is None and event.container_id:
            prev = next(
                (s for s in self.statuses.values() if s.container_id == event.container_id), None
            )
        new = st.on_event(prev, event, self.clock())
        if new is None:
            return
        self._apply(new)
        action = event.action.split(":", 1)[0]
        if action in ("start", "restart") and event.container_id:
            self._spawn(self._refresh_container(new.app_id, event.container_id))
        elif new.state == AppState.CRASHED and event.container_id and action == "die":
            self._spawn(self._attach_crash_logs(new.app_id, event.container_id))

    async def _refresh_container(self, app_id: str, container_id: str) -> None:
        """Ports and start time come from inspecting the one container, not the start event."""
        with contextlib.suppress(Exception):
            info = await self.engine.inspect(container_id)
            prev = self.statuses.get(app_id)
            if prev is not None and prev.container_id == container_id:
                self._apply(st.with_container(prev, info))

    async def _attach_crash_logs(self, app_id: str, container_id: str) -> None:
        lines = await self.last_log_lines(container_id)
        prev = self.statuses.get(app_id)
        if prev is not None and prev.container_id == container_id and lines:
            self._apply(st.with_logs(prev, lines))

    async def last_log_lines(
        self, container_id: str, count: int = CRASH_LOG_LINES, timeout: float = 5.0
    ) -> tuple[str, ...]:
        """The container's last log lines (empty when the engine cannot give them)."""
        tail: deque[str] = deque(maxlen=count)

        async def read() -> None:
            async for line in self.engine.logs(container_id, follow=False, tail=count):
                tail.append(str(line).rstrip("\n"))

        with contextlib.suppress(Exception):
            await asyncio.wait_for(read(), timeout)
        return tuple(tail)

    def _apply(self, new: AppStatus) -> None:
        prev = self.statuses.get(new.app_id)
        if new.state == AppState.STARTING and self._never_probed(new):
            new = st.no_health_check(new, self.clock())
        if new == prev:
            return
        self.statuses[new.app_id] = new
        if prev is not None and dataclasses.replace(new, probe=prev.probe) == prev:
            # Only a fresh probe result of an unchanged app (a ready app's routine probe):
            # kept, but nobody is woken for it, so 50 ready apps cost the UI nothing.
            return
        self._sync_probe(prev, new)
        for listener in list(self._listeners):
            listener(new)

    # --- probes ----------------------------------------------------------------------------

    def _never_probed(self, status: AppStatus) -> bool:
        """An app with no health check and no ports: nothing to probe, ready once it runs."""
        app = self.app(status.app_id)
        has_ports = bool(status.ports) or (app is not None and bool(app.ports))
        return not has_ports and (app is None or app.health is None)

    def _check_for(self, status: AppStatus) -> HealthCheck | None:
        return health_check_of(self.app(status.app_id), bool(status.ports))

    def probe_target(self, status: AppStatus) -> ProbeTarget | None:
        """Where and how to probe an app, once its ports are known."""
        app = self.app(status.app_id)
        check = self._check_for(status)
        if check is None or not status.ports:
            return None
        wanted = app.health_port() if app is not None else None
        port = next((p for p in status.ports if p.container_port == wanted), None)
        if port is None:
            port = next((p for p in status.ports if p.protocol == "tcp"), None)
        if port is None:
            return None
        host = self.probe_host if port.host_ip in _ALL_OR_LOOPBACK else port.host_ip
        return ProbeTarget(status.app_id, host, port.host_port, check)

    def _sync_probe(self, prev: AppStatus | None, new: AppStatus) -> None:
        if not new.probed:
            self.scheduler.unwatch(new.app_id)
            return
        target = self.probe_target(new)
        if target is None:
            self.scheduler.unwatch(new.app_id)
            return
        self.scheduler.watch(target)
        restarted = (
            prev is not None
            and new.container_id == prev.container_id
            and (new.started_at != prev.started_at)
        )
        if restarted:
            self.scheduler.probe_soon(new.app_id)

    def _on_probe(self, app_id: str, result: ProbeResult) -> None:
        prev = self.statuses.get(app_id)
        if prev is None:
            return
        app = self.app(app_id)
        period = app.health.start_period_s if app is not None and app.health else 600.0
        self._apply(st.on_probe(prev, result, period))

    # --- actions ----------------------------------------------------------------------------

    async def launch(
        self,
        plan: LaunchPlan,
        *,
        on_progress: Callable[[PullProgress], None] | None = None,
        cancel: threading.Event | None = None,
        pull: bool | None = None,
    ) -> AppStatus:
        """Pull the plan's image if missing (with progress), create and start the container.

        ``pull=True`` pulls even when the image is present (to update a moving tag).
        """
        app_id = plan.app_id
        cancel = cancel or threading.Event()
        loop = asyncio.get_running_loop()
        self.launching.add(app_id)
        try:
            return await self._launch(plan, app_id, cancel, loop, on_progress, pull)
        finally:
            self.launching.discard(app_id)

    async def _launch(
        self,
        plan: LaunchPlan,
        app_id: str,
        cancel: threading.Event,
        loop: asyncio.AbstractEventLoop,
        on_progress: Callable[[PullProgress], None] | None,
        pull: bool | None,
    ) -> AppStatus:

        def progress(p: PullProgress) -> None:
            # The engine reports from its pull thread; fold the progress in on the loop.
            def fold() -> None:
                self._apply(st.on_pull(self.statuses.get(app_id), app_id, p, self.clock()))
                if on_progress is not None:
                    on_progress(p)

            if _in_loop(loop):
                fold()
            else:
                loop.call_soon_threadsafe(fold)

        try:
            if pull is None:
                local_build = bool(getattr(plan, "local_build", False))
                pull = not local_build and not await self.engine.image_present(plan.image)
            if pull:
                progress(PullProgress(image=plan.image, status="pulling"))
                await self.engine.pull(plan.image, progress, cancel)
            self._apply(
                st.on_create_requested(
                    self.statuses.get(app_id), app_id, self.clock(), plan.variant
                )
            )
            info = await self.engine.launch(plan, progress, cancel)
        except Exception as exc:
            prev, now = self.statuses.get(app_id), self.clock()
            if _engine_unreachable(exc) and (self.engine_away or self.connection is None):
                # Not the app's fault: unknown while the engine is away, and the listing made
                # when it is back shows what is really there (nothing, for a new app).
                base = prev or st.new_status(app_id, AppState.UNKNOWN, now)
                self._apply(st.on_engine_away(base, now, "not started: Docker engine away"))
            else:
                self._apply(st.on_launch_failed(prev, app_id, str(exc), now))
            raise
        prev = self.statuses.get(app_id)
        if prev is not None and prev.container_id == info.id:
            self._apply(st.with_container(prev, info))
        else:
            self._apply(st.from_container(info, self.clock(), prev))
        return self.statuses[app_id]

    def _container_of(self, app_id: str) -> str:
        status = self.statuses.get(app_id)
        if status is None or status.container_id is None:
            raise LookupError(f"{app_id} has no container; start it first")
        return status.container_id

    async def stop(self, app_id: str) -> None:
        """Stop an app's container."""
        container = self._container_of(app_id)
        prev = self.statuses[app_id]
        self._apply(st.on_stop_requested(prev, self.clock()))
        await self.engine.stop(container)

    async def start_stopped(self, app_id: str) -> None:
        """Start an app's stopped (exited or crashed) container again."""
        await self.engine.start(self._container_of(app_id))

    async def restart(self, app_id: str) -> None:
        """Restart an app's container."""
        await self.engine.restart(self._container_of(app_id))

    async def remove(self, app_id: str, *, delete_data: bool = False) -> None:
        """Remove an app's container (and its data dir only when asked explicitly).

        An app whose launch failed before it had a container is simply forgotten.
        """
        status = self.statuses.get(app_id)
        if status is not None and status.container_id is None:
            self._apply(
                st.on_event(status, EngineEvent("destroy", None, app_id), self.clock()) or status
            )
            return
        container = self._container_of(app_id)
        await self.engine.remove(container, delete_data=delete_data)

    # --- stats and logs, only for what is on screen ---------------------------------------------

    def watch_stats(self, container_id: str, on_sample: Callable[[StatsSample], object]) -> None:
        """Stream stats of one container into ``on_sample`` until ``unwatch_stats``."""
        if container_id in self._stats:
            self._stats[container_id].cancel()

        async def pump() -> None:
            with contextlib.suppress(Exception):
                async for sample in self.engine.stats(container_id):
                    on_sample(sample)

        self._stats[container_id] = asyncio.create_task(pump())

    def unwatch_stats(self, container_id: str | None = None) -> None:
        """Stop streaming stats of one container (or of all)."""
        ids = list(self._stats) if container_id is None else [container_id]
        for cid in ids:
            task = self._stats.pop(cid, None)
            if task is not None:
                task.cancel()

    # ``unwatch`` reads better at call sites in the UI.
    unwatch = unwatch_stats

    def stats_watched(self) -> list[str]:
        """Containers whose stats are being streamed."""
        return [cid for cid, task in self._stats.items() if not task.done()]

    def logs(self, container_id: str, follow: bool = True) -> AsyncIterator[str]:
        """The container's log lines, following new ones."""
        it: AsyncIterator[str] = self.engine.logs(container_id, follow=follow)
        return it


def _engine_unreachable(exc: BaseException) -> bool:
    from paitui.domain.engine.errors import EngineError, ErrorKind

    return isinstance(exc, EngineError) and exc.kind == ErrorKind.UNREACHABLE


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
