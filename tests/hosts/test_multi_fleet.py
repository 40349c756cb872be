"""One fleet across three real engines: the shared one (``local``), a second dockerd on its own
socket (``d2``) and the shared engine again through a real sshd (``box``, paramiko). Each remote
is killed and brought back: the others keep working throughout, the dead one reads unreachable
with its apps unknown, and it comes back by itself."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.catalog.schema import Catalog
from paitui.domain.fleet.hosts import HostSpec, host_from_table
from paitui.domain.fleet.status import AppState
from paitui.services.fleet.hosts import MultiFleet
from paitui.settings import Settings
from tests.engine.second_dockerd import SecondDockerd
from tests.hosts.conftest import run_managed
from tests.hosts.sshd import SshBox

pytestmark = pytest.mark.docker
S = AppState
#: Timings measured by the test, printed at the end (pytest -s shows them).
TIMINGS: dict[str, float] = {}


async def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` on the loop until truthy, or fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


def _state(fleet: MultiFleet, host: str, app_id: str) -> AppState | None:
    status = fleet.get(host, app_id)
    return status.state if status is not None else None


@pytest.fixture
async def three(tmp_path: Path, d2: SecondDockerd, sshbox: SshBox) -> AsyncIterator[MultiFleet]:
    settings = Settings(models_dir=tmp_path / "m", apps_dir=tmp_path / "a", probe_timeout=1.0)
    hosts = [
        HostSpec("local", "unix:///var/run/docker.sock", "default", current=True),
        host_from_table("d2", {"endpoint": d2.host}),
        host_from_table("box", {"endpoint": sshbox.endpoint}),
    ]
    fleet = MultiFleet(
        hosts, Catalog(), settings, answer_timeout=5.0, backoff_initial=0.1, backoff_max=0.5
    )
    try:
        yield fleet
    finally:
        await fleet.close()


async def test_each_host_drops_off_and_comes_back_alone(
    three: MultiFleet,
    d2: SecondDockerd,
    sshbox: SshBox,
    docker_client: Any,
    busybox_image: str,
    registry: str,
    app_tag: str,
) -> None:
    import docker

    fleet = three
    d2_client = docker.DockerClient(base_url=d2.host, timeout=30)
    made: list[Any] = []
    try:
        d2_client.images.pull(f"{registry}/paitest/busybox", tag="latest")
        on_d2 = f"{app_tag}-d2"
        on_shared = f"{app_tag}-shared"
        made.append(
            run_managed(d2_client, f"{registry}/paitest/busybox:latest", on_d2, always=True)
        )
        made.append(run_managed(docker_client, busybox_image, on_shared))

        t0 = time.monotonic()
        await fleet.start()
        TIMINGS["start, 3 hosts"] = time.monotonic() - t0
        await until(lambda: _state(fleet, "d2", on_d2) == S.READY, 15, "d2's app ready")
        # The shared engine seen twice: straight and through sshd.
        await until(lambda: _state(fleet, "local", on_shared) == S.READY, 15, "local app")
        await until(lambda: _state(fleet, "box", on_shared) == S.READY, 15, "box's app")
        assert _state(fleet, "local", on_d2) is None, "d2's containers leaked onto local"
        hosts = ("local", "d2", "box")
        await until(lambda: all(fleet.state(h).reachable for h in hosts), 10, "all reachable")
        await until(lambda: fleet.state("box").version, 10, "box's engine version")

        # --- d2 drops off ---------------------------------------------------------------------
        t0 = time.monotonic()
        d2.stop()
        await until(lambda: fleet.state("d2").reachable is False, 15, "d2 unreachable")
        TIMINGS["d2 away noticed after stop"] = time.monotonic() - t0
        await until(lambda: _state(fleet, "d2", on_d2) == S.UNKNOWN, 5, "d2's app unknown")
        # The others go on: a new app on the shared engine shows on local and on box.
        during = f"{app_tag}-during-d2"
        t0 = time.monotonic()
        made.append(run_managed(docker_client, busybox_image, during))
        await until(lambda: _state(fleet, "local", during) == S.READY, 10, "local while d2 away")
        await until(lambda: _state(fleet, "box", during) == S.READY, 10, "box while d2 away")
        TIMINGS["new app seen on the other hosts while d2 away"] = time.monotonic() - t0
        assert fleet.state("box").reachable and fleet.state("local").reachable

        t0 = time.monotonic()
        d2.start()
        await until(lambda: fleet.state("d2").reachable, 15, "d2 back")
        await until(lambda: _state(fleet, "d2", on_d2) == S.READY, 20, "d2's app ready again")
        TIMINGS["d2 back and its app ready after restart"] = time.monotonic() - t0

        # --- box (sshd) drops off ---------------------------------------------------------------
        t0 = time.monotonic()
        sshbox.kill()
        await until(lambda: fleet.state("box").reachable is False, 15, "box unreachable")
        TIMINGS["box away noticed after sshd killed"] = time.monotonic() - t0
        await until(lambda: _state(fleet, "box", on_shared) == S.UNKNOWN, 5, "box's app unknown")
        # Nothing changed on the shared engine itself: local still reads it as it is.
        assert _state(fleet, "local", on_shared) == S.READY
        made[1].stop(timeout=5)
        await until(lambda: _state(fleet, "local", on_shared) == S.EXITED, 10, "local follows")
        assert fleet.state("d2").reachable
        assert _state(fleet, "box", on_shared) == S.UNKNOWN

        t0 = time.monotonic()
        sshbox.start()
        await until(lambda: fleet.state("box").reachable, 15, "box back")
        # Back, it lists afresh: the stop that happened while it was away is seen.
        await until(lambda: _state(fleet, "box", on_shared) == S.EXITED, 10, "box relisted")
        TIMINGS["box back and relisted after sshd start"] = time.monotonic() - t0
        merged = {(h, s.app_id) for h, s in fleet.statuses()}
        assert {("d2", on_d2), ("local", on_shared), ("box", on_shared)} <= merged
    finally:
        for container in made:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        d2_client.close()
        print("\ntimings:", {k: round(v, 2) for k, v in TIMINGS.items()})
