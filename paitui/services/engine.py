"""The engine service: launch, pull, stop, restart, remove, logs, stats and events of paitui's
containers over the docker SDK, with an asyncio-facing API.

Blocking SDK calls run in worker threads (``asyncio.to_thread``); streams (pull, logs, stats,
events) run in their own thread and are closed when the caller stops iterating or cancels.
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
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from paitui.domain.containers import (
    APP_LABEL,
    MANAGED_LABEL,
    ContainerInfo,
    PullProgress,
    StatsSample,
)
from paitui.domain.launch import LaunchPlan
from paitui.services.engine_connect import Endpoint, make_client, resolve_endpoint
from paitui.services.engine_errors import EngineError, ErrorKind, translate
from paitui.services.engine_events import EngineUpdate, EventPump, info_from_attrs, list_managed
from paitui.services.engine_pull import PullTracker, split_image
from paitui.services.planner import container_name
from paitui.settings import Settings

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

T = TypeVar("T")
_END = object()


class Subscription:
    """A running event subscription; ``close()`` ends it."""

    def __init__(self, pump: EventPump) -> None:
        self._pump = pump

    @property
    def connected(self) -> bool | None:
        """Whether the engine was reachable at the last attempt (None before the first)."""
        return self._pump.connected

    def close(self) -> None:
        """Stop following events."""
        self._pump.close()


def stats_sample(container_id: str, raw: dict[str, Any]) -> StatsSample | None:
    """CPU % and memory from one ``/stats`` reading, the way ``docker stats`` computes them."""
    cpu = raw.get("cpu_stats") or {}
    pre = raw.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        pre.get("cpu_usage") or {}
    ).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = (
        cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or ()) or 1
    )
    percent = (
        cpu_delta / system_delta * online * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0
    )
    mem = raw.get("memory_stats") or {}
    if not mem and not cpu:
        return None
    detail = mem.get("stats") or {}
    # Page cache (v1: total_inactive_file, v2: inactive_file) is not counted, as in docker stats.
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    usage = max(int(mem.get("usage", 0)) - int(cache), 0)
    return StatsSample(container_id, percent, usage, int(mem.get("limit", 0)), time.time())


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
    ) -> None:
        self.settings = settings
        self.endpoint: Endpoint = resolve_endpoint(settings.docker_host, env)
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
        with self._lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    async def _call(self, func: Callable[[], T], *, image: str | None = None) -> T:
        def run() -> T:
            for attempt in (1, 2):
                try:
                    return func()
                except Exception as exc:
                    error = translate(exc, host=self.host, image=image)
                    if error.kind != ErrorKind.UNREACHABLE:
                        raise error from None
                    # A pooled connection from before an engine restart fails once; a fresh
                    # client either works or fails fast when the engine is really gone.
                    self._drop_client()
                    if attempt == 2:
                        raise error from None
            raise AssertionError("not reached")

        return await asyncio.to_thread(run)

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
        from docker.types.daemon import CancellableStream

        client = self.client()
        api: Any = client.api  # the stream helpers used below are not in the type stubs
        repo, tag = split_image(image)
        tracker = PullTracker(image)
        params: dict[str, Any] = (
            {"fromImage": repo, "tag": tag} if "@" not in image else {"fromImage": image}
        )
        headers: dict[str, Any] = {}
        registry, _ = docker.auth.resolve_repository_name(repo)
        header = docker.auth.get_config_header(api, registry)
        if header:
            headers["X-Registry-Auth"] = header
        cancel = cancel or threading.Event()
        try:
            response = api._post(
                api._url("/images/create"),
                params=params,
                headers=headers,
                stream=True,
                timeout=None,
            )
            api._raise_for_status(response)
            stream: CancellableStream[dict[str, Any]] = CancellableStream(
                api._stream_helper(response, decode=True), response
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
                if on_progress is not None:
                    on_progress(progress)
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
            return await asyncio.to_thread(self.pull_blocking, image, on_progress, cancel)
        except asyncio.CancelledError:
            cancel.set()
            raise

    # -- launch and lifecycle ------------------------------------------------------------------

    def _prepare_data_dir(self, plan: LaunchPlan) -> None:
        if not plan.data_dir:
            return
        path = Path(plan.data_dir)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EngineError(
                ErrorKind.DATA_DIR,
                f"cannot create the data dir {path}: {exc.strerror}",
                "check apps_dir in config.toml and its permissions",
            ) from None
        if plan.data_uid is None:
            return
        gid = plan.data_gid if plan.data_gid is not None else plan.data_uid
        st = path.stat()
        if (st.st_uid, st.st_gid) == (plan.data_uid, gid):
            return
        try:
            os.chown(path, plan.data_uid, gid)
        except PermissionError:
            # Not root: let the engine do it in a throw-away container of the same image, which
            # also maps the owner right under rootless Docker.
            self._chown_in_container(plan, gid)

    def _chown_in_container(self, plan: LaunchPlan, gid: int) -> None:
        assert plan.data_dir is not None
        try:
            self.client().containers.run(
                plan.image,
                entrypoint=["chown", f"{plan.data_uid}:{gid}", "/paitui-data"],
                command=[],
                user="0:0",
                volumes={plan.data_dir: {"bind": "/paitui-data", "mode": "rw"}},
                labels={MANAGED_LABEL: "true", APP_LABEL: plan.app_id, "paitui.helper": "chown"},
                remove=True,
                network_mode="none",
            )
        except Exception as exc:
            raise EngineError(
                ErrorKind.DATA_DIR,
                f"cannot give the data dir {plan.data_dir} to {plan.data_uid}:{gid} "
                f"({translate(exc).message})",
                f"run: sudo chown {plan.data_uid}:{gid} {plan.data_dir}",
            ) from None

    def _create_kwargs(self, plan: LaunchPlan) -> dict[str, Any]:
        from docker.types import DeviceRequest, Mount

        kwargs: dict[str, Any] = {
            "name": plan.name,
            "labels": dict(plan.labels),
            "environment": dict(plan.env),
            "detach": True,
            "restart_policy": {"Name": plan.restart_policy}
            if plan.restart_policy != "no"
            else None,
            "ports": {
                f"{p.container_port}/{p.protocol}": (p.host_ip, p.host_port) for p in plan.ports
            },
            "mounts": [
                Mount(m.target, m.source, type="bind", read_only=m.read_only) for m in plan.mounts
            ],
            "devices": [f"{d.host}:{d.container}:{d.permissions}" for d in plan.devices],
            "group_add": list(plan.group_add),
            "security_opt": list(plan.security_opt),
            "cap_add": list(plan.cap_add),
            "privileged": plan.privileged,
            "device_requests": [
                DeviceRequest(
                    driver=r.driver,
                    count=r.count if r.count is not None else 0,
                    device_ids=list(r.device_ids),
                    capabilities=[list(c) for c in r.capabilities],
                )
                for r in plan.device_requests
            ],
        }
        optional = {
            "user": plan.user,
            "shm_size": plan.shm_size,
            "ipc_mode": plan.ipc_mode,
            "entrypoint": list(plan.entrypoint) if plan.entrypoint is not None else None,
            "command": list(plan.command) if plan.command is not None else None,
        }
        kwargs.update({k: v for k, v in optional.items() if v is not None})
        return {k: v for k, v in kwargs.items() if v not in (None, [], {})} | {"detach": True}

    def launch_blocking(
        self,
        plan: LaunchPlan,
        on_progress: Callable[[PullProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ContainerInfo:
        """Create and start the plan's container in this thread (pulling the image if missing)."""
        import docker.errors

        client = self.client()
        try:
            client.images.get(plan.image)
        except docker.errors.ImageNotFound:
            if plan.local_build:
                raise EngineError(
                    ErrorKind.IMAGE_NOT_FOUND,
                    f"image {plan.image} is not on this engine and exists in no registry",
                    "build it locally first (see the app's notes in the catalog)",
                ) from None
            self.pull_blocking(plan.image, on_progress, cancel)
        except Exception as exc:
            raise translate(exc, host=self.host, image=plan.image) from None
        self._replace_stopped(plan.name)
        self._prepare_data_dir(plan)
        try:
            container = client.containers.create(plan.image, **self._create_kwargs(plan))
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
        except asyncio.CancelledError:
            cancel.set()
            raise

    async def start(self, target: str) -> ContainerInfo:
        """Start a stopped managed container."""

        def run() -> ContainerInfo:
            c = self._managed_container(target)
            c.start()
            c.reload()
            return info_from_attrs(c.attrs)

        return await self._call(run)

    async def stop(self, target: str, timeout: int = 10) -> ContainerInfo:
        """Stop a managed container (TERM, then KILL after ``timeout`` seconds)."""

        def run() -> ContainerInfo:
            c = self._managed_container(target)
            c.stop(timeout=timeout)
            c.reload()
            return info_from_attrs(c.attrs)

        return await self._call(run)

    async def restart(self, target: str, timeout: int = 10) -> ContainerInfo:
        """Restart a managed container."""

        def run() -> ContainerInfo:
            c = self._managed_container(target)
            c.restart(timeout=timeout)
            c.reload()
            return info_from_attrs(c.attrs)

        return await self._call(run)

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

    async def _iterate(
        self, open_stream: Callable[[], Any], convert: Callable[[Any], Iterator[T]]
    ) -> AsyncIterator[T]:
        """Run a blocking stream in a thread and yield its converted items; closes it on exit."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        holder: dict[str, Any] = {}
        stop = threading.Event()

        def put(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def pump() -> None:
            try:
                stream = open_stream()
                holder["stream"] = stream
                if stop.is_set():
                    stream.close()
                    return
                for raw in stream:
                    if stop.is_set():
                        break
                    for item in convert(raw):
                        put(item)
            except Exception as exc:
                if not stop.is_set():
                    put(translate(exc, host=self.host))
            finally:
                with contextlib.suppress(RuntimeError):  # the loop may be closed already
                    put(_END)

        thread = threading.Thread(target=pump, name="paitui-engine-stream", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, EngineError):
                    raise item
                yield item
        finally:
            stop.set()
            stream = holder.get("stream")
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()

    async def logs(
        self,
        target: str,
        follow: bool = True,
        tail: int | str = 500,
        buffer: deque[str] | None = None,
    ) -> AsyncIterator[str]:
        """The container's output line by line (stdout and stderr), appended to ``buffer`` too."""
        container = await self._call(lambda: self._managed_container(target))
        partial = [b""]

        def open_stream() -> Any:
            return container.logs(stream=True, follow=follow, tail=tail)  # type: ignore[call-overload]

        def convert(chunk: bytes) -> Iterator[str]:
            data = partial[0] + chunk
            *lines, partial[0] = data.split(b"\n")
            for line in lines:
                yield line.decode("utf-8", "replace").rstrip("\r")

        async for line in self._iterate(open_stream, convert):
            if buffer is not None:
                buffer.append(line)
            yield line
        if partial[0]:
            line = partial[0].decode("utf-8", "replace")
            if buffer is not None:
                buffer.append(line)
            yield line

    async def stats(self, target: str) -> AsyncIterator[StatsSample]:
        """One stats stream for one container (about one sample a second) until the caller stops."""
        container = await self._call(lambda: self._managed_container(target))
        cid = str(container.id)

        def open_stream() -> Any:
            from docker.types.daemon import CancellableStream

            api: Any = self.client().api
            response = api._get(
                api._url("/containers/{0}/stats", cid), params={"stream": True}, stream=True
            )
            api._raise_for_status(response)
            return CancellableStream(api._stream_helper(response, decode=True), response)

        def convert(raw: dict[str, Any]) -> Iterator[StatsSample]:
            sample = stats_sample(cid, raw)
            if sample is not None:
                yield sample

        async for sample in self._iterate(open_stream, convert):
            yield sample

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
        )
        sub = Subscription(pump)
        self._subscriptions.append(sub)
        pump.start()
        return sub

    async def events(self) -> AsyncIterator[EngineUpdate]:
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
            await asyncio.to_thread(sub.close)
            with contextlib.suppress(ValueError):
                self._subscriptions.remove(sub)
