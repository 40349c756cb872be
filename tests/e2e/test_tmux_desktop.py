"""End to end in tmux against the real engine: from the desktop, with keys only, launch a
stand-in app, see it become ready, copy its link, stop it."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.tmux import TmuxPane, paitui_command

pytestmark = pytest.mark.tmux

STANDIN = """\
apps:
  - id: {app_id}
    name: Aaa Stand-in Web
    description: busybox httpd standing in for an AI app's web UI
    kind: ui
    variants:
      cpu:
        image: {image}
        command: [sh, -c, "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
    ports:
      - container: 8080
        purpose: web UI
        links: [{{label: Web UI, path: /}}]
    health: {{type: http, path: /}}
"""


@pytest.fixture
def standin(tmp_path: Path, busybox_image: str, docker_client: Any) -> Iterator[tuple[str, Path]]:
    app_id = f"e2e-{uuid.uuid4().hex[:8]}"
    catalog = tmp_path / "standin.yml"
    catalog.write_text(STANDIN.format(app_id=app_id, image=busybox_image))
    yield app_id, catalog
    for c in docker_client.containers.list(all=True, filters={"label": f"paitui.app={app_id}"}):
        c.remove(force=True)


def test_launch_from_desktop_with_keys_only(
    tmp_path: Path, standin: tuple[str, Path], docker_client: Any
) -> None:
    app_id, catalog = standin
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "TERM": "xterm-256color",
        "PAITUI_CONFIG_DIR": str(tmp_path / "config"),
        "PAITUI_STATE_DIR": str(tmp_path / "state"),
        "PAITUI_PROBE_START_INTERVAL": "0.3",
    }
    if "DOCKER_HOST" in os.environ:
        env["DOCKER_HOST"] = os.environ["DOCKER_HOST"]
    pane = TmuxPane(
        paitui_command("--catalog", str(catalog)),
        env,
        (120, 36),
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        pane.wait_for("Aaa Stand-in Web", timeout=30)
        pane.wait_for("Docker 2")  # the hardware line: detection is done
        # The stand-in sorts first, so it has the focus: Enter opens the launch flow.
        pane.send("Enter")
        screen = pane.wait_for("Launch Aaa Stand-in Web")
        screen = pane.wait_for("docker run")
        assert "paitest/busybox" in screen and "127.0.0.1:" in screen

        pane.send("C-s")
        screen = pane.wait_for("ready", timeout=60)
        assert "Aaa Stand-in" in screen or app_id in screen
        containers = docker_client.containers.list(filters={"label": f"paitui.app={app_id}"})
        assert len(containers) == 1 and containers[0].status == "running"

        pane.send("c")
        pane.wait_for("Copied", timeout=10)
        copied = pane.buffer()
        assert re.match(r"http://127\.0\.0\.1:\d+/", copied), copied

        pane.send("s")
        pane.wait_for("exited", timeout=30)
        containers[0].reload()
        assert containers[0].status == "exited"
        assert containers[0].attrs["State"]["ExitCode"] == 0
    finally:
        pane.close()
