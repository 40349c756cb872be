"""End to end in tmux: the real paitui launches a stand-in by keys, sees it ready, stops it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.status.servers import free_port
from tests.status.standins import remove_containers, write_catalog

pytestmark = [pytest.mark.tmux, pytest.mark.docker]


class Pane:
    """A tmux server of its own with one 120x40 session running a command."""

    def __init__(self, socket_name: str, command: str, env: dict[str, str]) -> None:
        self.tmux = ["tmux", "-L", socket_name]
        args = [*self.tmux, "-f", "/dev/null", "new-session", "-d", "-s", "main",
                "-x", "120", "-y", "40"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        subprocess.run([*args, command], check=True)

    def text(self) -> str:
        """What the pane shows now."""
        out = subprocess.run([*self.tmux, "capture-pane", "-p", "-t", "main"],
                             capture_output=True, text=True)
        return out.stdout

    def keys(self, *keys: str, literal: bool = False) -> None:
        """Send keys (tmux key names, or literal text)."""
        flags = ["-l"] if literal else []
        subprocess.run([*self.tmux, "send-keys", "-t", "main", *flags, *keys], check=True)

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 30.0) -> str:
        """Poll the pane until ``check`` holds, failing with the last screen after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if check(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{text}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


@pytest.fixture
def pane_factory(tmp_path: Path, test_label: str) -> Iterator[Any]:
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is missing (run: scripts/test-env.sh up)", pytrace=False)
        pytest.skip("tmux is missing (run: scripts/test-env.sh up)")
    panes: list[Pane] = []

    def make(command: str, env: dict[str, str]) -> Pane:
        pane = Pane(f"paitui-{test_label}", command, env)
        panes.append(pane)
        return pane

    yield make
    for pane in panes:
        pane.close()


def test_launch_from_the_palette_see_ready_with_link_and_stop(
        tmp_path: Path, test_label: str, busybox_image: str, docker_client: Any,
        pane_factory: Any) -> None:
    catalog = write_catalog(tmp_path, test_label, busybox_image, ready_after=2.0)
    app_id = f"slow-{test_label}"
    port = free_port()
    env = {
        "PAITUI_CONFIG_DIR": str(tmp_path / "config"),
        "PAITUI_STATE_DIR": str(tmp_path / "state"),
        "PAITUI_PROBE_START_INTERVAL": "0.3",
        "TERM": "xterm-256color",
        # Links as on the box itself, not over SSH (tmux may inherit the test's SSH session).
        "SSH_CONNECTION": "", "SSH_TTY": "", "SSH_CLIENT": "",
    }
    command = (f"cd {REPO_ROOT} && {sys.executable} -m paitui --catalog {catalog}; "
               "sleep 60")  # keep the pane after a crash so the failure shows what happened
    pane = pane_factory(command, env)
    try:
        pane.wait_for(lambda t: "Desktop" in t and "Slow stand-in" in t, "the first screen")
        # The command palette: start the stand-in.
        pane.keys("C-p")
        pane.wait_for(lambda t: "🔎" in t or "Search" in t, "the palette")
        pane.keys("Start Slow stand-in", literal=True)
        pane.wait_for(lambda t: f"launch {app_id}" in t, "the palette hit")
        pane.keys("Enter")
        pane.wait_for(lambda t: "Launch Slow stand-in" in t and "docker run" in t,
                      "the launch form")
        # Port: the field after the variant.
        pane.keys("Tab")
        pane.keys(str(port), literal=True)
        # Notifications about other apps on the engine may cover the preview: read the field.
        pane.wait_for(lambda t: any("Port" in line and str(port) in line
                                    for line in t.splitlines()), "the port typed in")
        pane.keys("C-s")
        # The Running screen selects the app it launched: its row, and in the detail pane its
        # state and links (other apps on the same engine may fill the table).
        shown = pane.wait_for(
            lambda t: "● ready  HTTP 200 in" in t and f"http://127.0.0.1:{port}/v1" in t,
            "ready with links")
        assert "Web UI" in shown and "OpenAI API" in shown
        assert any(f"{port}→8080" in line and "● ready" in line for line in shown.splitlines())
        assert "s Start/Stop" in shown  # the keys are in the footer
        # Stop it with a key.
        pane.keys("s")

        pane.wait_for(lambda t: "exited (0)  exited with code 0" in t, "exited", timeout=20)
        container = docker_client.containers.get(f"paitui-{app_id}")
        assert container.status == "exited"
        pane.keys("q")
    finally:
        remove_containers(docker_client, test_label)
