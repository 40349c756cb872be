"""The first listing: one per start (the event stream's), its inspects in parallel, in order;
the quick listing on the socket before it.

Against the real engine with created (never started) containers carrying paitui's labels.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.catalog.schema import Catalog
from paitui.domain.engine.containers import (
    APP_LABEL,
    MANAGED_LABEL,
    VARIANT_LABEL,
    ContainerInfo,
    ContainerStatus,
    PublishedPort,
)
from paitui.domain.fleet.status import AppState, AppStatus
from paitui.services.engine import events, quick_list
from paitui.services.engine.client import Engine
from paitui.services.fleet.tracker import Fleet
from paitui.settings import Settings
from tests.status.standins import remove_containers

COUNT = 12


@pytest.fixture
def created(docker_client: Any, test_label: str, busybox_image: str) -> Iterator[list[str]]:
    apps = [f"first{i}-{test_label}" for i in range(COUNT)]
    try:
        for app in apps:
            docker_client.containers.create(
                busybox_image,
                ["true"],
                name=f"paitui-{app}",
                labels={MANAGED_LABEL: "true", APP_LABEL: app},
            )
        yield apps
    finally:
        remove_containers(docker_client, test_label)


@pytest.mark.docker
def test_listing_inspects_in_parallel_and_keeps_the_engine_order(
    docker_client: Any, created: list[str]
) -> None:
    original = docker_client.api.inspect_container
    lock = threading.Lock()
    in_flight, most = 0, 0

    def counting(container: str) -> Any:
        nonlocal in_flight, most
        with lock:
            in_flight += 1
            most = max(most, in_flight)
        try:
            return original(container)
        finally:
            with lock:
                in_flight -= 1

    docker_client.api.inspect_container = counting
    try:
        infos = events.list_managed(docker_client)
    finally:
        docker_client.api.inspect_container = original
    order = [s["Id"] for s in docker_client.api.containers(all=True, filters=events.MANAGED_FILTER)]
    mine = [info for info in infos if info.app_id in created]
    assert sorted(info.app_id for info in mine) == sorted(created)
    assert [info.id for info in infos] == [cid for cid in order if cid in {i.id for i in infos}]
    assert 1 < most <= events.INSPECT_WORKERS


def test_the_first_error_of_an_inspect_is_raised() -> None:
    def inspect(n: int) -> ContainerInfo | None:
        if n == 7:
            raise RuntimeError("engine said no")
        return None

    with pytest.raises(RuntimeError, match="engine said no"):
        events._map_in_daemon_threads(inspect, list(range(20)), 4)
    assert events._map_in_daemon_threads(lambda n: None, [1, 2, 3], 8) == [None, None, None]


@pytest.mark.docker
async def test_start_uses_the_event_streams_listing_only(
    tmp_path: Path, created: list[str]
) -> None:
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    engine = Engine(settings)
    calls: list[int] = []
    listing = engine.list_managed

    async def counted() -> list[ContainerInfo]:
        calls.append(1)
        return await listing()

    engine.list_managed = counted  # type: ignore[method-assign]
    fleet = Fleet(engine, Catalog(), settings)
    try:
        await fleet.start()
        assert set(created) <= set(fleet.statuses)
        assert calls == []  # no second listing beside the stream's
    finally:
        await fleet.close()
        await engine.close()


@pytest.mark.docker
async def test_the_quick_listing_matches_the_full_one_but_for_times(
    tmp_path: Path, created: list[str]
) -> None:
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    engine = Engine(settings)
    try:
        quick = await engine.list_managed_quick()
        full = await engine.list_managed()
    finally:
        await engine.close()
    assert quick is not None
    untimed = [dataclasses.replace(i, started_at=None, finished_at=None) for i in full]
    assert [i for i in quick if i.app_id in created] == [i for i in untimed if i.app_id in created]
    assert {i.app_id for i in quick} == {i.app_id for i in full}


@pytest.mark.docker
async def test_start_shows_the_quick_listing_then_the_full_one(
    tmp_path: Path, created: list[str]
) -> None:
    """Statuses before the SDK's listing carry no start time; the full listing sets it."""
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    engine = Engine(settings)
    fleet = Fleet(engine, Catalog(), settings)
    first: dict[str, AppStatus] = {}
    fleet.subscribe(lambda s: first.setdefault(s.app_id, s))
    try:
        await fleet.start()
        assert set(created) <= set(first) and set(created) <= set(fleet.statuses)
        assert all(first[a].state == AppState.CREATING for a in created)
        assert fleet._provisional == set()  # the full listing replaced the quick one
        assert all(fleet.statuses[a].container_id == first[a].container_id for a in created)
    finally:
        await fleet.close()
        await engine.close()


async def test_no_quick_listing_off_a_local_socket_or_from_a_silent_one(tmp_path: Path) -> None:
    assert await quick_list.list_managed_quick("tcp://127.0.0.1:2375") is None
    assert await quick_list.list_managed_quick(f"unix://{tmp_path}/absent.sock") is None
    accepted = asyncio.Event()

    async def silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.set()  # reads nothing, answers nothing: a frozen engine

    async def refusing(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"HTTP/1.0 500 Internal Server Error\r\n\r\n[]")
        w.close()

    for handler, name in ((silent, "silent"), (refusing, "refusing")):
        path = tmp_path / f"{name}.sock"
        server = await asyncio.start_unix_server(handler, path=str(path))
        try:
            started = time.monotonic()
            assert await quick_list.list_managed_quick(f"unix://{path}", timeout=0.3) is None
            assert time.monotonic() - started < 2.0
        finally:
            server.close()
    assert accepted.is_set()


def test_a_summary_reads_as_the_inspect_does() -> None:
    raw = {
        "Id": "abc",
        "Names": ["/paitui-x"],
        "Image": "example.org/x:1",
        "State": "exited",
        "Status": "Exited (137) 3 minutes ago",
        "Labels": {APP_LABEL: "x", MANAGED_LABEL: "true", VARIANT_LABEL: "cpu"},
        "Ports": [
            {"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": 18080, "Type": "tcp"},
            {"PrivatePort": 9090, "Type": "tcp"},  # exposed, not published
        ],
    }
    info = quick_list.info_from_summary(raw)
    assert (info.id, info.name, info.app_id, info.variant) == ("abc", "paitui-x", "x", "cpu")
    assert info.status == ContainerStatus.EXITED and info.exit_code == 137
    assert info.ports == (PublishedPort(8080, "tcp", "127.0.0.1", 18080),)
    running = quick_list.info_from_summary({**raw, "State": "running", "Status": "Up 2 hours"})
    assert running.exit_code is None and running.started_at is None
    looping = quick_list.info_from_summary(
        {**raw, "State": "restarting", "Status": "Restarting (1) 2 seconds ago"}
    )
    assert looping.status == ContainerStatus.RESTARTING and looping.exit_code == 1
    odd = quick_list.info_from_summary({"Id": "z", "State": "zombie"})
    assert odd.status == ContainerStatus.DEAD and odd.name == "" and odd.ports == ()
    assert odd.exit_code == 0
