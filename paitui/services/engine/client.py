"""The engine service: launch, pull, stop, restart, remove, logs, stats and events of paitui's
containers over the docker SDK, with an asyncio-facing API.

Blocking SDK calls run in daemon threads that nothing joins (``engine_deadline``), each bounded
by the command's deadline when there is one; streams (pull, logs, stats, events) run in their
own thread and are closed when the caller stops iterating or cancels.
Every method that acts on a container first checks the ``paitui.managed`` label: a container
paitui did not create is never stopped, restarted or removed. Errors are ``EngineError``s with a
readable message and fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from paitui.domain.engine.containers import (
    APP_LABEL,
    MANAGED_LABEL,
    ContainerInfo,
    PullProgress,
    StatsSample,
)
from paitui.domain.engine.errors import (
    EngineError,
    ErrorKind,
    is_timeout,
    not_answering,
    translate,
)
from paitui.domain.engine.pull import ProgressThrottle, PullTracker, split_image
from paitui.domain.launch.plan import LaunchPlan
from paitui.domain.launch.planner import container_name
from paitui.services.engine.build import BuildProgress, build_image
from paitui.services.engine.connect import Endpoint, make_client
from paitui.services.engine.create import create_kwargs, prepare_data_dir, prepare_models_views
from paitui.services.engine.deadline import DeadlinePassed, in_daemon_thread
from paitui.services.engine.events import (
    ANSWER_TIMEOUT_S,
    HEARTBEAT_S,
    EngineUpdate,
    EventPump,
    info_from_attrs,
    list_managed,
)
from paitui.services.engine.podman import resolve_engine
from paitui.services.engine.raw_api import json_stream
from paitui.services.engine.streams import (
    LineSplitter,
    iterate_in_thread,
    one_stats_reading,
    one_stats_reading_on_socket,
    stats_sample,
)
from paitui.settings import Settings

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

T = TypeVar("T")
#: ``/containers/{id}/stats`` as a stream: about one reading a second until closed.
#: Seconds between two stats readings of the container shown (the stats pane draws each).
STATS_EVERY_S = 2.0


def _env_seconds(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if 0 < value < float("inf") else default


class Subscription:
    """A running event subscription; ``close()`` ends it."""

    def __init__(self, pump: EventPump) -> None:
        self._pump = pump

    @property
    def connected(self) -> bool | None:
        """Whether the engine was reachable at the last attempt (None before the first)."""
        return self._pump.connected

    def close(self, wait: float | None = 2.0) -> None:
        """Stop following events (waiting up to ``wait`` s for the thread; None: not at all)."""
        self._pump.close(wait)


class Engine:
    """paitui's view of one Docker engine."""

    def __init__(
        self,
        settings: Settings,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        heartbeat: float | None = None,
        answer_timeout: float | None = None,
    ) -> None:
        self.settings = settings
        # PAITUI_ENGINE_HEARTBEAT / PAITUI_ENGINE_ANSWER_TIMEOUT (seconds) are for tests.
        self.heartbeat = heartbeat or _env_seconds("PAITUI_ENGINE_HEARTBEAT", HEARTBEAT_S)
        self.answer_timeout = answer_timeout or _env_seconds(
            "PAITUI_ENGINE_ANSWER_TIMEOUT", ANSWER_TIMEOUT_S
        )
        self.endpoint: Endpoint = resolve_engine(settings.docker_host, env)
        self.timeout = timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []

    @property
    def host(self) -> str:
        """The engine address in use."""
        return self.endpoint.host

    # -- connection --------------------------------------------------------------------------

    def _new_client(self) -> docker.DockerClient:
        try:
            return make_client(self.endpoint, self.timeout)
        except Exception as exc:
            raise translate(exc, host=self.host) from None

    def client(self) -> docker.DockerClient:
        """The shared SDK client, created on first use (blocking; contacts the engine)."""
        client = self._client
        if client is not None:
            return client
        # Made outside the lock: it asks the engine for its API version, and a hung engine
        # must not hold up close() (which takes the lock) while it does not answer.
        new = self._new_client()
        with self._lock:
            if self._client is None:
                self._client = new
                return new
            client = self._client
        with contextlib.suppress(Exception):
            new.close()
        return client

    async def _call(
        self, func: Callable[[], T], *, image: str | None = None, timeout: float | None = None
    ) -> T:
        """``func`` in a daemon thread, bounded by ``timeout`` and the command's deadline."""
        abandoned = threading.Event()

        def run() -> T:
            had_client = self._client is not None
            try:
                return func()
            except Exception as exc:
                error = translate(exc, host=self.host, image=image)
                # A hung engine is not retried: that would only double the wait.
                if error.kind != ErrorKind.UNREACHABLE or is_timeout(exc):
                    raise error from None
                self._drop_client()
                if not had_client or abandoned.is_set():
                    raise error from None
            # A pooled connection from before an engine restart fails once; a fresh client
            # either works or fails the way the engine really is.
            try:
                return func()
            except Exception as exc:
                error = translate(exc, host=self.host, image=image)
                if error.kind == ErrorKind.UNREACHABLE:
                    self._drop_client()
                raise error from None

        try:
            return await in_daemon_thread(run, timeout)
        except DeadlinePassed as exc:
            abandoned.set()
            raise not_answering(self.host, exc.waited) from None

    def _drop_client(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    async def connect(self) -> dict[str, Any]:
        """Contact the engine; returns its ``version`` data. EngineError if it does not answer."""
        return await self._call(lambda: dict(self.client().version()))

    async def close(self) -> None:
        """Close every subscription and the client."""
        for sub in list(self._subscriptions):
            sub.close()
        self._subscriptions.clear()
        self._drop_client()

    # -- containers ----------------------------------------------------------------------------

    def _managed_container(self, target: str) -> Container:
        """The container for an app id, name or id, refusing one without paitui's label."""
        import docker.errors

        client = self.client()
        foreign = None
        for ref in (target, container_name(target)):
            try:
                found = client.containers.get(ref)
            except docker.errors.NotFound:
                continue
            if (found.labels or {}).get(MANAGED_LABEL) == "true":
                return found
            foreign = foreign or found
        by_label = client.containers.list(all=True, filters={"label": f"{APP_LABEL}={target}"})
        for found in by_label:
            if (found.labels or {}).get(MANAGED_LABEL) == "true":
                return found
        if foreign is not None:
            raise EngineError(
                ErrorKind.NOT_MANAGED,
                f"container {foreign.name} was not started by paitui (no {MANAGED_LABEL} label); "
                "paitui leaves it alone",
                f"manage it with docker directly (docker stop {foreign.name})",
            )
        raise EngineError(
            ErrorKind.NOT_FOUND,
            f"no paitui container for {target!r}",
            "it may have been removed; see paitui ls",
        )

    async def list_managed(self) -> list[ContainerInfo]:
        """Every container carrying paitui's label, running or not."""
        return await self._call(lambda: list_managed(self.client()))

    async def list_managed_quick(self) -> list[ContainerInfo] | None:
        """The managed containers without start times, from one request on a local socket and
        without the SDK (None for other endpoints or no answer); see ``quick_list``."""
        from paitui.services.engine.deadline import remaining
        from paitui.services.engine.quick_list import QUICK_LIST_TIMEOUT_S, list_managed_quick

        return await list_managed_quick(self.host, remaining(QUICK_LIST_TIMEOUT_S) or 0.0)

    async def inspect(self, target: str) -> ContainerInfo:
        """The current state of one managed container (app id, name or id)."""
        return await self._call(lambda: info_from_attrs(self._managed_container(target).attrs))

    async def image_present(self, image: str) -> bool:
        """Whether the image is in the engine's local store."""

        def run() -> bool:
            import docker.errors

            try:
                self.client().images.get(image)
                return True
            except docker.errors.ImageNotFound:
                return False

        return await self._call(run, image=image)

    # -- pull ----------------------------------------------------------------------------------

    def pull_blocking(
        self,
        image: str,
        on_progress: Callable[[PullProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> PullProgress:
        """Pull ``image`` in this thread, reporting progress per message; cancel via the event."""
        import docker.auth

        client = self.client()
        repo, tag = split_image(image)
        tracker = PullTracker(image)
        throttle = ProgressThrottle()
        params: dict[str, Any] = (
            {"fromImage": repo, "tag": tag} if "@" not in image else {"fromImage": image}
        )
        headers: dict[str, str | bytes] = {}
        registry, _ = docker.auth.resolve_repository_name(repo)
        header = docker.auth.get_config_header(client.api, registry)
        if header:
            headers["X-Registry-Auth"] = header
        cancel = cancel or threading.Event()
        try:
            stream = json_stream(
                client, "POST", "/images/create", params=params, headers=headers, wait_forever=True
            )
        except Exception as exc:
            raise translate(exc, host=self.host, image=image) from None
        # Closing the response is the only way to interrupt a read that waits on the engine.
        done = threading.Event()

        def watch_cancel() -> None:
            while not done.is_set():
                if cancel.wait(0.1):
                    with contextlib.suppress(Exception):
                        stream.close()
                    return

        watcher = threading.Thread(target=watch_cancel, name="paitui-pull-cancel", daemon=True)
        watcher.start()
        try:
            for msg in stream:
                if "error" in msg or "errorDetail" in msg:
                    detail = msg.get("errorDetail") or {}
                    text = str(detail.get("message") or msg.get("error"))
                    raise translate(RuntimeError(text), host=self.host, image=image)
                progress = tracker.feed(msg)
                if on_progress is not None and throttle.due(progress):
                    on_progress(progress)
                if cancel.is_set():
                    break  # closing the stream below makes the engine abandon the pull
        except EngineError:
            raise
        except Exception as exc:
            if cancel.is_set():
                raise EngineError(ErrorKind.CANCELLED, f"pull of {image} cancelled") from None
            raise translate(exc, host=self.host, image=image) from None
        finally:
            done.set()
            with contextlib.suppress(Exception):
                stream.close()
        if cancel.is_set():
            raise EngineError(ErrorKind.CANCELLED, f"pull of {image} cancelled")
        final = tracker.finish()
        if on_progress is not None:
            on_progress(final)
        return final

    async def pull(
        self,
        image: str,
        on_progress: Callable[[PullProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> PullProgress:
        """Pull an image with per-layer progress (callback runs in the pull thread)."""
        cancel = cancel or threading.Event()
        try:
            return await in_daemon_thread(lambda: self.pull_blocking(image, on_progress, cancel))
        except DeadlinePassed as exc:
            cancel.set()
            raise EngineError(
                ErrorKind.CANCELLED, f"pull of {image} did not finish in time ({exc.waited:g} s)"
            ) from None
        except asyncio.CancelledError:
            cancel.set()
            raise

    # -- build ---------------------------------------------------------------------------------

    def build_blocking(
        self,
        plan: LaunchPlan,
        on_progress: Callable[[BuildProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> BuildProgress:
        """Build the plan's build-only image from its source tree in this thread."""
        if plan.build is None:
            raise EngineError(ErrorKind.OTHER, f"{plan.app_id} has no image to build")
        return build_image(self.client(), plan.build, plan.image, on_progress, cancel, self.host)

    async def build(
        self,
        plan: LaunchPlan,
        on_progress: Callable[[BuildProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> BuildProgress:
        """Build the plan's image with per-line progress (callback runs in the build thread)."""
        cancel = cancel or threading.Event()
        try:
            return await in_daemon_thread(lambda: self.build_blocking(plan, on_progress, cancel))
        except asyncio.CancelledError:
            cancel.set()
            raise

    # -- launch and lifecycle ------------------------------------------------------------------

    def _chown_in_container(self, plan: LaunchPlan, gid: int) -> None:
        assert plan.data_dir is not None
        try:
            self.client().containers.run(
                plan.image,
                entrypoint=["chown", f"{plan.data_uid}:{gid}", "/paitui-data"],
                command=[],
                user="0:0",
                volumes={plan.data_dir: {"bind": "/paitui-data", "mode": "rw"}},
                # Not labelled managed: it is gone in a moment and must not show up as the app.
                labels={"paitui.helper": "chown", "paitui.helper-for": plan.app_id},
                remove=True,
                network_mode="none",
            )
        except Exception as exc:
            # A helper that could not start (e.g. no chown in the image) stays "Created":
            # remove it, so nothing of paitui's is left behind.
            with contextlib.suppress(Exception):
                for helper in self.client().containers.list(
                    all=True,
                    filters={"label": ["paitui.helper=chown", f"paitui.helper-for={plan.app_id}"]},
                ):
                    helper.remove(force=True)
            raise EngineError(
                ErrorKind.DATA_DIR,
                f"cannot give the data dir {plan.data_dir} to {plan.data_uid}:{gid} "
                f"({translate(exc).message})",
                f"run: sudo chown {plan.data_uid}:{gid} {plan.data_dir}",
            ) from None

    def launch_blocking(
        self,
        plan: LaunchPlan,
        on_progress: Callable[[PullProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ContainerInfo:
        """Create and start the plan's container in this thread (pulling the image if missing,
        or building it when the plan is built from a source tree)."""
        import docker.errors

        client = self.client()
        try:
            client.images.get(plan.image)
        except docker.errors.ImageNotFound:
            if plan.build is not None:
                self.build_blocking(plan, cancel=cancel)
            elif plan.local_build:
                raise EngineError(
                    ErrorKind.IMAGE_NOT_FOUND,
                    f"image {plan.image} is not on this engine and exists in no registry",
                    "build it locally first (see the app's notes in the catalog)",
                ) from None
            else:
                self.pull_blocking(plan.image, on_progress, cancel)
        except Exception as exc:
            raise translate(exc, host=self.host, image=plan.image) from None
        self._replace_stopped(plan.name)
        self._prepare_host_dirs(plan)
        try:
            container = client.containers.create(plan.image, **create_kwargs(plan))
        except Exception as exc:
            raise translate(exc, host=self.host, image=plan.image) from None
        try:
            container.start()
        except Exception as exc:
            error = translate(exc, host=self.host, image=plan.image)
            # A container that cannot start would block the name for the next try.
            with contextlib.suppress(Exception):
                container.remove(force=True)
            raise error from None
        container.reload()
        return info_from_attrs(container.attrs)

    def _prepare_host_dirs(self, plan: LaunchPlan) -> None:
        """The data dir and the store's views, on the box the engine runs on (this one; a
        remote host's engine does it there: ``services.fleet.hosts.HostEngine``)."""
        prepare_data_dir(plan, self._chown_in_container)
        prepare_models_views(plan)

    def _replace_stopped(self, name: str) -> None:
        import docker.errors

        try:
            old = self.client().containers.get(name)
        except docker.errors.NotFound:
            return
        if (old.labels or {}).get(MANAGED_LABEL) != "true":
            raise EngineError(
                ErrorKind.CONFLICT,
                f"a container named {name} exists and was not started by paitui",
                f"rename or remove it yourself (docker rm {name})",
            )
        if old.status in ("running", "restarting", "paused"):
            raise EngineError(
                ErrorKind.CONFLICT, f"{name} is already running", "stop it first, or restart it"
            )
        old.remove()

    async def launch(
        self,
        plan: LaunchPlan,
        on_progress: Callable[[PullProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ContainerInfo:
        """Create the data dir, pull the image if missing, create and start the container."""
        cancel = cancel or threading.Event()
        try:
            return await self._call(
                lambda: self.launch_blocking(plan, on_progress, cancel), image=plan.image
            )
        except (asyncio.CancelledError, EngineError):
            cancel.set()  # an abandoned launch must not go on pulling in the background
            raise

    async def _lifecycle(self, target: str, act: Callable[[Container], object]) -> ContainerInfo:
        """Apply ``act`` to the managed container, then read back its state."""

        def run() -> ContainerInfo:
            container = self._managed_container(target)
            act(container)
            container.reload()
            return info_from_attrs(container.attrs)

        return await self._call(run)

    async def start(self, target: str) -> ContainerInfo:
        """Start a stopped managed container."""
        return await self._lifecycle(target, lambda c: c.start())

    async def stop(self, target: str, timeout: int = 10) -> ContainerInfo:
        """Stop a managed container (TERM, then KILL after ``timeout`` seconds)."""
        return await self._lifecycle(target, lambda c: c.stop(timeout=timeout))

    async def restart(self, target: str, timeout: int = 10) -> ContainerInfo:
        """Restart a managed container."""
        return await self._lifecycle(target, lambda c: c.restart(timeout=timeout))

    async def remove(self, target: str, delete_data: bool = False) -> None:
        """Remove a managed container (stopping it); its data dir only when ``delete_data``.

        The UI asks before removing, and asks a second time before ``delete_data=True``.
        """

        def run() -> None:
            c = self._managed_container(target)
            app_id = (c.labels or {}).get(APP_LABEL)
            c.remove(force=True)
            if delete_data and app_id:
                data = self.settings.apps_dir / app_id
                # Only ever a direct child of apps_dir named after the app.
                if (
                    data.parent == self.settings.apps_dir
                    and data.is_dir()
                    and not data.is_symlink()
                ):
                    shutil.rmtree(data)

        await self._call(run)

    # -- streams -------------------------------------------------------------------------------

    def _stream_error(self, exc: BaseException) -> EngineError:
        return translate(exc, host=self.host)

    async def logs(
        self,
        target: str,
        follow: bool = True,
        tail: int | str = 500,
        buffer: deque[str] | None = None,
    ) -> AsyncGenerator[str, None]:
        """The container's output line by line (stdout and stderr), appended to ``buffer`` too."""
        container = await self._call(lambda: self._managed_container(target))
        splitter = LineSplitter()

        def open_stream() -> Any:
            return container.logs(stream=True, follow=follow, tail=tail)  # type: ignore[call-overload]

        async for line in iterate_in_thread(open_stream, splitter.feed, self._stream_error):
            if buffer is not None:
                buffer.append(line)
            yield line
        last = splitter.rest()
        if last is not None:
            if buffer is not None:
                buffer.append(last)
            yield last

    async def stats(
        self, target: str, every: float = STATS_EVERY_S
    ) -> AsyncGenerator[StatsSample, None]:
        """One reading of the container every ``every`` s until the caller stops.

        Read one at a time, not from the engine's stats stream: an open stream makes the engine
        collect every second for as long as it lasts (half a percent of a core here). The first
        reading waits the engine's two cycles, so its CPU % is right at once; the others are
        "one-shot" and their CPU % is taken against the reading before.
        """
        from paitui.services.engine.local_socket import socket_path

        container = await self._call(lambda: self._managed_container(target))
        cid = str(container.id)
        socket = socket_path(self.endpoint.host)
        before: dict[str, Any] | None = None
        while True:
            one_shot = before is not None

            def read(one_shot: bool = one_shot) -> dict[str, Any]:
                return one_stats_reading(self.client(), cid, one_shot)

            raw: dict[str, Any] | None = None
            if socket is not None:
                # A local engine is read on its socket in the loop; at any trouble (an engine
                # that answers otherwise, the container gone) the SDK reads from then on, and
                # says why it cannot.
                try:
                    raw = await asyncio.wait_for(
                        one_stats_reading_on_socket(socket, cid, one_shot), self.timeout
                    )
                except (OSError, ValueError, TimeoutError):
                    socket = None
            if raw is None:
                raw = await self._call(read)
            if before is not None:
                raw = {**raw, "precpu_stats": before}
            before = raw.get("cpu_stats") or {}
            sample = stats_sample(cid, raw)
            if sample is not None:
                yield sample
            await asyncio.sleep(every)

    # -- events --------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[EngineUpdate], None]) -> Subscription:
        """Follow managed containers: ``callback`` gets EngineConnection, ManagedSnapshot and
        EngineEvent updates from a background thread until ``close()``; reconnects by itself."""
        pump = EventPump(
            self._new_client,
            callback,
            self.host,
            backoff_initial=self.backoff_initial,
            backoff_max=self.backoff_max,
            heartbeat=self.heartbeat,
            answer_timeout=self.answer_timeout,
        )
        sub = Subscription(pump)
        self._subscriptions.append(sub)
        pump.start()
        return sub

    async def events(self) -> AsyncGenerator[EngineUpdate, None]:
        """The same updates as ``subscribe`` as an async iterator; stops when the caller stops."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[EngineUpdate] = asyncio.Queue()

        def deliver(update: EngineUpdate) -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, update)

        sub = self.subscribe(deliver)
        try:
            while True:
                yield await queue.get()
        finally:
            # Never wait for the pump thread here: on a frozen engine it may be stuck in a
            # request for a long while, and quitting must not wait on it.
            sub.close(wait=None)
            with contextlib.suppress(ValueError):
                self._subscriptions.remove(sub)
