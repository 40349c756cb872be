"""The Running screen over several hosts (a real second dockerd): a HOST column, each action on
the row's own host, an unreachable host's apps unknown, and a remote app's ``ssh -L`` line."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from paitui.domain.engine.containers import PublishedPort
from paitui.domain.fleet.hosts import HostList, HostSpec, host_from_table
from paitui.domain.fleet.status import AppState
from paitui.services.registry import Services
from paitui.settings import Settings
from paitui.ui.screens.running import RunningScreen
from tests.engine.second_dockerd import SecondDockerd
from tests.hosts.conftest import run_managed
from tests.ui.hosts import HostApp
from tests.ui.test_running_gpu import CountingSampler

pytestmark = pytest.mark.docker


async def until(pilot: Any, check: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.05)


class Host(HostApp):
    def __init__(self, services: Services, screen: RunningScreen) -> None:
        super().__init__(services, live=True)
        self.running = screen

    def on_mount(self) -> None:
        self.push_screen(self.running)


def text(screen: RunningScreen, key: str, column: str) -> str:
    value = screen.query_one(DataTable).get_cell(key, column)
    return value if isinstance(value, str) else value.plain


async def test_host_column_actions_and_an_unreachable_host(
    tmp_path: Path,
    d2: SecondDockerd,
    docker_client: Any,
    busybox_image: str,
    registry: str,
    app_tag: str,
) -> None:
    import docker

    settings = Settings(models_dir=tmp_path / "m", apps_dir=tmp_path / "a", probe_timeout=1.0)
    services = Services(settings)
    # Three hosts: the shared engine, the second dockerd, and a box whose name never resolves.
    services.hosts = HostList(
        (
            HostSpec("local", "unix:///var/run/docker.sock", "default", current=True),
            host_from_table("d2", {"endpoint": d2.host}),
            host_from_table("gpubox", {"endpoint": "ssh://ana@gpubox.invalid"}),
        )
    )
    d2_client = docker.DockerClient(base_url=d2.host, timeout=30)
    made: list[Any] = []
    sampler = CountingSampler(tmp_path)
    screen = RunningScreen(env={}, sampler=sampler)
    app = Host(services, screen)
    try:
        d2_client.images.pull(f"{registry}/paitest/busybox", tag="latest")
        on_d2, here = f"{app_tag}-d2", f"{app_tag}-here"
        made.append(run_managed(d2_client, f"{registry}/paitest/busybox:latest", on_d2))
        made.append(run_managed(docker_client, busybox_image, here))
        async with app.run_test(size=(80, 24)) as pilot:
            table = screen.query_one(DataTable)
            remote_key = f"{on_d2}@d2"
            await until(pilot, lambda: {here, remote_key} <= set(table.rows), "both rows")
            keys = [c.value for c in table.columns]
            assert keys[:2] == ["app", "host"]
            # 80 columns: HOST and VRAM displaced Variant and CPU; nothing scrolls sideways.
            assert "variant" not in keys and "cpu" not in keys and keys[-1] == "vram"
            assert table.virtual_size.width <= table.size.width
            assert text(screen, here, "host") == "local"
            assert text(screen, remote_key, "host") == "d2"
            await until(
                pilot,
                lambda: (
                    screen.statuses[remote_key].state == AppState.READY
                    and screen.statuses[here].state == AppState.READY
                ),
                "both ready",
            )
            # GPU use is read on this box only: the local app is asked for, the remote reads ?.
            await until(pilot, lambda: text(screen, here, "vram") == "-", "local VRAM")
            assert text(screen, remote_key, "vram") == "?"
            assert all(c is not None and made[0].id not in c for c in sampler.calls)
            await until(
                pilot,
                lambda: (
                    screen.host_states.get("gpubox") is not None
                    and screen.host_states["gpubox"].reachable is False
                ),
                "gpubox unreachable",
            )
            banner = str(screen.query_one("#running-engine", Static).render())
            assert banner.startswith("⚠ unreachable: gpubox (")  # it has no row to mark

            # Stop goes to the row's host: the d2 container stops, the local one runs on.
            table.move_cursor(row=table.get_row_index(remote_key))
            await until(pilot, lambda: screen.selected == remote_key, "d2 row selected")
            await pilot.press("s")
            await until(
                pilot, lambda: screen.statuses[remote_key].state == AppState.EXITED, "d2 stop"
            )
            made[0].reload()
            assert made[0].status == "exited"
            made[1].reload()
            assert made[1].status == "running"
            assert screen.statuses[here].state == AppState.READY

            # The remote box's links: the ssh -L line for that box.
            port = PublishedPort(8080, "tcp", "127.0.0.1", 18080)  # container 8080 on 18080
            status = dataclasses.replace(screen.statuses[here], ports=(port,))
            screen.hosts_of["probe@gpubox"] = "gpubox"
            links = screen.links_of(status, "probe@gpubox")
            assert links.ssh_tunnel is not None and "ana@gpubox.invalid" in links.ssh_tunnel
            assert "-L 18080:127.0.0.1:18080" in links.ssh_tunnel
            assert screen.links_of(status, here).ssh_tunnel is None  # no SSH session here
            detail = screen.render_detail(status, "probe@gpubox").plain
            assert "On gpubox: run this here" in detail and links.ssh_tunnel in detail
            assert "GPU use is read on this box only" in detail
            del screen.hosts_of["probe@gpubox"]

            # d2 drops off: its host cell says so and its app reads unknown; local goes on.
            d2.stop()
            await until(pilot, lambda: "unreachable" in text(screen, remote_key, "host"), "away")
            await until(
                pilot,
                lambda: screen.statuses[remote_key].state == AppState.UNKNOWN,
                "d2's app unknown",
            )
            assert screen.statuses[here].state == AppState.READY
    finally:
        for c in made[1:]:
            c.remove(force=True)
        d2_client.close()
