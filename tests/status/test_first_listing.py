"""The first listing: one per start (the event stream's), its inspects in parallel, in order.

Against the real engine with created (never started) containers carrying paitui's labels.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.catalog.schema import Catalog
from paitui.domain.engine.containers import APP_LABEL, MANAGED_LABEL, ContainerInfo
from paitui.services.engine import events
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
