"""End to end in tmux at 80x24: from the Desktop, the launch flow starts the real llama.cpp server
on a model pulled from the test Hub; the Running screen shows it ready, with its link (which
answers a chat completion) and the server's own log lines; a key stops it."""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.tmux import TmuxPane, paitui_command
from tests.realapps.conftest import REPO, TINY, run_paitui

pytestmark = [pytest.mark.tmux, pytest.mark.docker]


def _open_launch(pane: TmuxPane, name: str, app_id: str, deadline_s: float = 30.0) -> None:
    """The palette's "Start NAME", again while paitui says it is still detecting the hardware
    (it refuses a launch until then) or when an Enter came before the palette's search ended."""
    deadline = time.monotonic() + deadline_s
    refusals = 0
    while time.monotonic() < deadline:
        screen = pane.screen()
        if f"Launch {name}" in screen:
            return
        if screen.count("Still detecting") > refusals:
            refusals = screen.count("Still detecting")
        if "🔎" not in screen:
            pane.send("C-p")
            pane.wait_for("🔎", what="the palette")
            pane.type(f"Start {name}")
        pane.wait_for(f"launch {app_id}", what="the palette hit")
        pane.send("Enter")
        seen = refusals

        def answered(t: str, seen: int = seen) -> bool:
            return f"Launch {name}" in t or t.count("Still detecting") > seen

        with contextlib.suppress(AssertionError):
            pane.wait_for(answered, timeout=3, what="the launch form")
    pane.wait_for(f"Launch {name}", timeout=1, what="the launch form")


def test_desktop_launch_flow_starts_the_real_server_ready(
    llama_env: dict[str, str], llama_app: tuple[str, Path], docker_client: Any
) -> None:
    app_id, catalog = llama_app
    assert run_paitui(llama_env, "models", "pull", REPO, TINY).returncode == 0
    name = f"llama.cpp server {app_id.rsplit('-', 1)[1]}"
    keep = ("PAITUI_STATE_DIR", "PAITUI_CONFIG_DIR", "PAITUI_PROBE_START_INTERVAL", "PATH")
    env = {k: llama_env[k] for k in keep} | {"TERM": "xterm-256color", "HOME": str(catalog.parent)}
    pane = TmuxPane(paitui_command("--catalog", str(catalog)), env, (80, 24), cwd=REPO_ROOT)
    try:
        pane.wait_for(lambda t: "Desktop" in t and name in t, timeout=30, what="the Desktop")
        _open_launch(pane, name, app_id)
        # Variant has the focus; Tab to Model, open it, take the installed file.
        pane.send("Tab", "Enter")
        pane.wait_for(f"{REPO}/{TINY}", what="the installed model in the list")
        pane.send("Down", "Enter")
        pane.wait_for(lambda t: f"Model       {REPO}/{TINY}" in t, what="the model chosen")
        pane.send("C-s")
        pane.wait_for(lambda t: "● ready" in t and "/v1" in t, timeout=30, what="ready")
        # A toast (e.g. an earlier "still detecting") may cover the log pane for its few seconds.
        shown = pane.wait_for(
            lambda t: "● ready" in t and "/v1" in t and "load_model" in t,
            timeout=20,
            what="ready, with its link and the server's log",
        )
        found = re.search(r"http://127\.0\.0\.1:(\d+)/v1", shown)
        assert found, shown
        reply = httpx.post(
            f"{found.group(0)}/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}], "temperature": 0,
                  "max_tokens": 4},
            timeout=30, trust_env=False,
        )  # fmt: skip
        assert reply.status_code == 200 and reply.json()["choices"], reply.text
        pane.send("s")
        pane.wait_for("exited (0)", timeout=20, what="exited")
        (container,) = docker_client.containers.list(
            all=True, filters={"label": f"paitui.app={app_id}"}
        )
        assert container.status == "exited" and container.attrs["State"]["ExitCode"] == 0
        pane.send("q")
    finally:
        pane.close()
