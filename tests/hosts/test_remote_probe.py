"""An app on a real remote box binds the box's loopback (the default): this box cannot probe it.
The same container, seen through the local engine, is probed and ready; seen through an ssh://
host (a real sshd that ~/.ssh/config names ``gpubox``) it reads "not probed", never unhealthy."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.catalog.schema import Catalog
from paitui.domain.fleet.hosts import NOT_PROBED, HostSpec, host_from_table, state_label
from paitui.domain.fleet.status import AppState
from paitui.services.fleet.hosts import MultiFleet
from paitui.settings import Settings
from tests.helpers import free_port
from tests.hosts.conftest import REPO
from tests.hosts.sshd import SshBox

pytestmark = pytest.mark.docker


def test_loopback_port_of_a_remote_is_not_probed(
    tmp_path: Path, sshbox: SshBox, docker_client: Any, busybox_image: str, app_tag: str
) -> None:
    port = free_port()
    app_id = f"{app_tag}-lo"
    container = docker_client.containers.run(
        busybox_image,
        ["httpd", "-f", "-p", "8080"],
        detach=True,
        name=f"paitest-{app_id}",
        labels={"paitui.managed": "true", "paitui.app": app_id, "paitest": "hosts"},
        ports={"8080/tcp": ("127.0.0.1", port)},
    )
    settings = Settings(models_dir=tmp_path / "m", apps_dir=tmp_path / "a", probe_timeout=1.0)
    gpubox = host_from_table("gpubox", {"endpoint": sshbox.alias("gpubox")})
    assert gpubox.remote and gpubox.ssh_destination == "root@gpubox"
    hosts = [HostSpec("local", "unix:///var/run/docker.sock", "default", current=True), gpubox]

    async def look() -> dict[str, Any]:
        fleet = MultiFleet(hosts, Catalog(), settings, answer_timeout=15.0)
        try:
            deadline = time.monotonic() + 20
            while True:  # the httpd in the container takes a moment to listen
                rows, states = await fleet.snapshot()
                mine = {h: s for h, s in rows if s.app_id == app_id}
                if mine.get("local") and mine["local"].state == AppState.READY and "gpubox" in mine:
                    break
                assert time.monotonic() < deadline, (mine, states)
                await asyncio.sleep(0.1)
            # The live fleet (the Running screen's) says the same, and never probes it.
            await fleet.start()
            live = fleet.get("gpubox", app_id)
            return {"snap": mine, "live": live, "probe": fleet.fleet("gpubox").probe_target}
        finally:
            await fleet.close()

    config = tmp_path / "config.toml"
    config.write_text(f'[hosts.gpubox]\nendpoint = "{gpubox.endpoint}"\n')
    try:
        seen = asyncio.run(look())
        # What the user reads: the table, and the JSON for scripts.
        env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(sshbox.home)}
        run = [sys.executable, "-m", "paitui", "--config", str(config), "ls", "--timeout", "15"]
        table = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
        data = subprocess.run([*run, "--json"], capture_output=True, text=True, env=env, timeout=60)
    finally:
        container.remove(force=True)
    assert table.returncode == 0, table.stderr
    cells = [line.split() for line in table.stdout.splitlines()]
    assert ["gpubox", app_id, "not", "probed"] in [c[:4] for c in cells], table.stdout
    assert ["local", app_id, "ready"] in [c[:3] for c in cells], table.stdout
    assert f"-L {port}:127.0.0.1:{port} root@gpubox" in table.stdout, table.stdout
    rows = {(r["host"], r["app"]): r for r in json.loads(data.stdout)}
    assert rows[("gpubox", app_id)]["probed"] is False
    assert rows[("gpubox", app_id)]["detail"] == NOT_PROBED
    assert rows[("local", app_id)]["probed"] is True
    remote = seen["snap"]["gpubox"]
    assert remote.state == AppState.STARTING and remote.detail == NOT_PROBED, remote
    assert state_label(remote) == "not probed"
    assert state_label(seen["snap"]["local"]) == "ready"
    live = seen["live"]
    assert live is not None and live.state != AppState.UNHEALTHY and live.detail == NOT_PROBED
    assert seen["probe"](live) is None
