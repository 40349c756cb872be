"""End to end in tmux: the real paitui launches a stand-in from the palette by keys, sees it
ready with its links, stops it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.tmux import TmuxPane, paitui_command
from tests.status.standins import remove_containers, write_catalog

pytestmark = [pytest.mark.tmux, pytest.mark.docker]


def test_launch_from_the_palette_see_ready_with_link_and_stop(
    tmp_path: Path, test_label: str, busybox_image: str, docker_client: Any
) -> None:
    catalog = write_catalog(tmp_path, test_label, busybox_image, ready_after=2.0)
    app_id = f"slow-{test_label}"
    env = {
        "PAITUI_CONFIG_DIR": str(tmp_path / "config"),
        "PAITUI_STATE_DIR": str(tmp_path / "state"),
        "PAITUI_PROBE_START_INTERVAL": "0.3",
        "TERM": "xterm-256color",
    }
    pane = TmuxPane(paitui_command("--catalog", str(catalog)), env, (120, 40), cwd=REPO_ROOT)
    try:
        pane.wait_for(lambda t: "Desktop" in t and "Slow stand-in" in t, what="the first screen")
        # The command palette: start the stand-in.
        pane.send("C-p")
        pane.wait_for(lambda t: "🔎" in t or "Search" in t, what="the palette")
        pane.type("Start Slow stand-in")
        pane.wait_for(f"launch {app_id}", what="the palette hit")
        pane.send("Enter")
        form = pane.wait_for(
            lambda t: "Launch Slow stand-in" in t and "docker run" in t, what="the launch form"
        )
        # The port paitui picked (the app's own, or a free one when that is taken).
        found = re.search(r"-p 127\.0\.0\.1:(\d+):8080", form)
        assert found, form
        port = int(found.group(1))
        pane.send("C-s")
        # The Running screen selects the app it launched: its row, and in the detail pane its
        # state and links (other apps on the same engine may fill the table).
        shown = pane.wait_for(
            lambda t: "● ready  HTTP 200 in" in t and f"http://127.0.0.1:{port}/v1" in t,
            timeout=30,
            what="ready with links",
        )
        assert "Web UI" in shown and "OpenAI API" in shown
        assert any(f"{port}→8080" in line and "● ready" in line for line in shown.splitlines())
        assert "s Start/Stop" in shown  # the keys are in the footer
        # Stop it with a key.
        pane.send("s")
        pane.wait_for("exited (0)  exited with code 0", timeout=20, what="exited")
        container = docker_client.containers.get(f"paitui-{app_id}")
        assert container.status == "exited"
        pane.send("q")
    finally:
        pane.close()
        remove_containers(docker_client, test_label)
