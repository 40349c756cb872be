"""One fleet across several engines: a ``Fleet`` per host, merged, each host on its own.

Each host gets its own ``Engine`` (its own event-pump thread, which reconnects with backoff by
itself) and its own ``Fleet``; a host that is away only turns its own apps ``unknown`` and never
holds up another: every call to a host runs in its own task, bounded by ``answer_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from paitui.domain.catalog.schema import Catalog
from paitui.domain.engine.containers import EngineConnection
from paitui.domain.engine.errors import EngineError, ErrorKind, translate
from paitui.domain.fleet.hosts import (
    HostSpec,
    HostState,
    mark_not_probed,
    unreachable_port,
)
from paitui.domain.fleet.status import AppStatus
from paitui.domain.launch.plan import LaunchPlan
from paitui.services.engine.client import Engine
from paitui.services.engine.connect import Endpoint
from paitui.services.fleet.probes import ProbeTarget
from paitui.services.fleet.tracker import Fleet
from paitui.settings import Settings

#: Seconds a host may take to answer a listing or a version before it counts as unreachable.
ANSWER_S = 5.0

HostedListener = Callable[[str, AppStatus], object]


class HostEngine(Engine):
    """An ``Engine`` on one named host, with that host's TLS files and SSH client."""

    def __init__(self, spec: HostSpec, settings: Settings, **kwargs: Any) -> None:
        super().__init__(settings.with_changes(docker_host=spec.endpoint), env={}, **kwargs)
        self.spec = spec
        self.endpoint = Endpoint(
            spec.endpoint,
            spec.source,
            tls_verify=spec.tls_verify,
            ca_cert=spec.ca_cert,
            client_cert=spec.client_cert,
            client_key=spec.client_key,
            skip_tls_verify=spec.skip_tls_verify,
        )

    def _new_client(self) -> Any:
        if self.spec.scheme != "ssh" or self.spec.ssh_client == "openssh":
            return super()._new_client()
        from paitui.services.engine.sdk import load_docker

        load_docker(ssh=True)
        import docker

        from paitui.domain.engine.errors import translate

        # paramiko: reads $HOME/.ssh/config and known_hosts, and needs no ssh binary.
        try:
            return docker.DockerClient(
                base_url=self.endpoint.host, timeout=int(self.timeout), use_ssh_client=False
            )
        except Exception as exc:
            raise translate(exc, host=self.host) from None

    def _prepare_host_dirs(self, plan: LaunchPlan) -> None:
        if not self.spec.remote:  # an engine on this box: the dirs are this box's
            super()._prepare_host_dirs(plan)
            return
        if not plan.data_dir:
            return
        # The data dir is on that box: the engine makes it (a bind of a missing path creates
        # it) in a throw-away container of the app's image, and gives it to the image's user.
        uid = plan.data_uid
        gid = plan.data_gid if plan.data_gid is not None else uid
        owner = f"{uid}:{gid}"
        tries = (
            [["chown", owner, "/paitui-data"], ["busybox", "chown", owner, "/paitui-data"]]
            if uid is not None
            else [["true"], ["busybox", "true"]]
        )
        error: Exception | None = None
        for argv in tries:
            try:
                self.client().containers.run(
                    plan.image,
                    entrypoint=argv,
                    command=[],
                    user="0:0",
                    volumes={plan.data_dir: {"bind": "/paitui-data", "mode": "rw"}},
                    # Not labelled managed: it is gone in a moment and must not show as the app.
                    labels={"paitui.helper": "data-dir", "paitui.helper-for": plan.app_id},
                    remove=True,
                    network_mode="none",
                )
                return
            except Exception as exc:
                error = exc
            finally:  # one that could not start stays "Created": leave nothing behind
                with contextlib.suppress(Exception):
                    for helper in self.client().containers.list(
                        all=True,
                        filters={
                            "label": ["paitui.helper=data-dir", f"paitui.helper-for={plan.app_id}"]
                        },
                    ):
                        helper.remove(force=True)
        raise EngineError(
            ErrorKind.DATA_DIR,
            f"cannot make the data dir {plan.data_dir} on {self.spec.name}"
            + (f" for {owner}" if uid is not None else "")
            + f" ({translate(error).message if error else 'no helper ran'})",
            f"on {self.spec.name}: mkdir -p {plan.data_dir}"
            + (f" && sudo chown {owner} {plan.data_dir}" if uid is not None else ""),
        ) from None

    async def published_ports(self, timeout: float = ANSWER_S) -> set[int]:
        """The host ports the box's running containers publish (all of them, managed or not)."""

        def read() -> set[int]:
            ports: set[int] = set()
            for container in self.client().api.containers():
                for port in container.get("Ports") or ():
                    public = port.get("PublicPort") if isinstance(port, dict) else None
                    if isinstance(public, int):
                        ports.add(public)
            return ports

        return await self._call(read, timeout=timeout)

    async def info(self, timeout: float = ANSWER_S) -> dict[str, Any]:
        """The engine's ``/info`` (OS, runtimes, CDI devices), bounded by ``timeout``."""
        return await self._call(lambda: dict(self.client().info()), timeout=timeout)


class HostFleet(Fleet):
    """A ``Fleet`` on one host: a port bound to a remote box's loopback is not probed from here
    (it cannot answer; that would read ``unhealthy``), the app says so instead."""

    def __init__(self, engine: Any, catalog: Catalog, settings: Settings, spec: HostSpec) -> None:
        super().__init__(engine, catalog, settings, probe_host=spec.probe_host)
        self.spec = spec

    def _behind_loopback(self, status: AppStatus) -> bool:
        target = super().probe_target(status)
        if target is None:
            return False
        port = next((p for p in status.ports if p.host_port == target.port), None)
        return port is not None and unreachable_port(self.spec, port.host_ip)

    def probe_target(self, status: AppStatus) -> ProbeTarget | None:
        """Where to probe the app; None when its port is on the remote box's loopback."""
        return None if self._behind_loopback(status) else super().probe_target(status)

    def _apply(self, new: AppStatus) -> None:
        if self._behind_loopback(new):
            new = mark_not_probed(new)
        super()._apply(new)

    async def snapshot(self) -> list[AppStatus]:
        """One listing and probe round; apps behind the remote loopback say ``not probed``."""
        return [
            mark_not_probed(s) if self._behind_loopback(s) else s for s in await super().snapshot()
        ]


@dataclass
class Member:
    """One host of the fleet."""

    spec: HostSpec
    engine: HostEngine
    fleet: Fleet
    state: HostState


class MultiFleet:
    """Live status of every managed app on every host, each tagged with its host's name."""

    def __init__(
        self,
        hosts: Sequence[HostSpec],
        catalog: Catalog,
        settings: Settings,
        *,
        answer_timeout: float = ANSWER_S,
        **engine_kwargs: Any,
    ) -> None:
        self.answer_timeout = answer_timeout
        self.members: dict[str, Member] = {}
        for spec in hosts:
            engine = HostEngine(spec, settings, **engine_kwargs)
            fleet = HostFleet(engine, catalog, settings, spec)
            self.members[spec.name] = Member(spec, engine, fleet, HostState(spec.name))
        self._listeners: list[HostedListener] = []
        self._host_listeners: list[Callable[[HostState], object]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        for name, member in self.members.items():
            member.fleet.subscribe(self._status_listener(name))
            member.fleet.subscribe_connection(self._connection_listener(name))

    # --- reading --------------------------------------------------------------------------

    @property
    def hosts(self) -> list[HostSpec]:
        """The hosts, in order."""
        return [m.spec for m in self.members.values()]

    def fleet(self, host: str) -> Fleet:
        """The fleet of one host (KeyError for an unknown name)."""
        return self.members[host].fleet

    def state(self, host: str) -> HostState:
        """What is known of one host's engine."""
        return self.members[host].state

    def statuses(self, host: str | None = None) -> list[tuple[str, AppStatus]]:
        """Every app's status with its host name (one host's when named)."""
        return [
            (name, status)
            for name, member in self.members.items()
            if host is None or name == host
            for status in member.fleet.statuses.values()
        ]

    def get(self, host: str, app_id: str) -> AppStatus | None:
        """One app's status on one host."""
        return self.members[host].fleet.get(app_id)

    def subscribe(self, listener: HostedListener) -> Callable[[], None]:
        """Call ``listener(host, status)`` on every change; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def subscribe_hosts(self, listener: Callable[[HostState], object]) -> Callable[[], None]:
        """Call ``listener(state)`` when a host comes or goes; returns the unsubscribe."""
        self._host_listeners.append(listener)
        listeners = self._host_listeners
        return lambda: listeners.remove(listener) if listener in listeners else None

    def _status_listener(self, host: str) -> Callable[[AppStatus], None]:
        return lambda status: self._changed(host, status)

    def _connection_listener(self, host: str) -> Callable[[EngineConnection], None]:
        return lambda conn: self._connection(host, conn)

    def _changed(self, host: str, status: AppStatus) -> None:
        for listener in list(self._listeners):
            listener(host, status)

    def _connection(self, host: str, conn: EngineConnection) -> None:
        member = self.members[host]
        member.state = replace(member.state, reachable=conn.connected, message=conn.message)
        if conn.connected:
            self._spawn(self._fetch_version(host))
        for listener in list(self._host_listeners):
            listener(member.state)

    async def _fetch_version(self, host: str) -> None:
        member = self.members[host]
        with contextlib.suppress(Exception):
            data = await asyncio.wait_for(member.engine.connect(), self.answer_timeout)
            member.state = replace(
                member.state, version=str(data.get("Version") or ""), os=data.get("Os")
            )
            for listener in list(self._host_listeners):
                listener(member.state)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start following every host; returns once each has answered or run out of time."""

        async def one(member: Member) -> None:
            try:
                await asyncio.wait_for(member.fleet.start(), self.answer_timeout)
                if member.state.reachable is None and member.fleet.connection is None:
                    # It listed: it answers, whether or not its event pump said so yet.
                    member.state = replace(member.state, reachable=True)
            except Exception as exc:  # its event pump goes on retrying by itself
                msg = str(exc) or f"no answer in {self.answer_timeout:g} s"
                member.state = replace(member.state, reachable=False, message=msg)

        await asyncio.gather(*(one(m) for m in self.members.values()))

    async def close(self) -> None:
        """Stop following every host."""
        for task in list(self._tasks):
            task.cancel()
        for member in self.members.values():
            with contextlib.suppress(Exception):
                await member.fleet.close()
            with contextlib.suppress(Exception):
                await member.engine.close()

    async def snapshot(
        self, host: str | None = None
    ) -> tuple[list[tuple[str, AppStatus]], list[HostState]]:
        """One listing and probe round per host (for ``paitui ls`` and ``paitui hosts``); a host
        that does not answer in ``answer_timeout`` is unreachable and lists nothing."""

        async def one(member: Member) -> tuple[list[tuple[str, AppStatus]], HostState]:
            name = member.spec.name
            try:
                version, statuses = await asyncio.wait_for(
                    asyncio.gather(
                        member.engine.connect(), member.fleet.snapshot(), return_exceptions=False
                    ),
                    self.answer_timeout,
                )
            except Exception as exc:
                msg = str(exc) or f"no answer in {self.answer_timeout:g} s"
                return [], HostState(name, False, msg)
            state = HostState(name, True, "", str(version.get("Version") or ""), version.get("Os"))
            return [(name, s) for s in statuses], state

        picked = [m for n, m in self.members.items() if host is None or n == host]
        results = await asyncio.gather(*(one(m) for m in picked))
        rows = [row for rows, _ in results for row in rows]
        return rows, [state for _, state in results]
