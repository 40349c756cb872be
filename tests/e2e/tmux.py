"""Drive the real ``paitui`` in a tmux pane: send keys, read the screen, wait with a deadline."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest


def need_tmux() -> str:
    """The tmux binary; fails under CI and skips elsewhere when it is missing."""
    found = shutil.which("tmux")
    if found is None:
        message = "tmux is not installed (run: scripts/test-env.sh up)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


class TmuxPane:
    """One detached tmux server and session running a command, on its own socket."""

    def __init__(
        self,
        command: list[str],
        env: Mapping[str, str],
        size: tuple[int, int],
        cwd: Path | None = None,
    ) -> None:
        self.tmux = need_tmux()
        self.socket = f"paitui-e2e-{uuid.uuid4().hex[:8]}"
        # Links as on the box itself, not over SSH, unless a test asks for SSH.
        self.env = {"SSH_CONNECTION": "", "SSH_TTY": "", "SSH_CLIENT": "", **env}
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        width, height = size
        self._run(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            str(width),
            "-y",
            str(height),
            f"env {exports} {shlex.join(command)}",
            cwd=cwd,
        )
        # OSC 52 copies land in tmux's paste buffer, where the test can read them.
        self._run("set-option", "-g", "set-clipboard", "on")
        self._run("set-option", "-g", "remain-on-exit", "on")

    def _run(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            [self.tmux, "-L", self.socket, *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=20,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def send(self, *keys: str) -> None:
        """Send keys as tmux names them (``Enter``, ``C-p``, ``Escape``) or literal text."""
        for key in keys:
            self._run("send-keys", "-t", "e2e", key)

    def type(self, text: str) -> None:
        """Type literal text."""
        self._run("send-keys", "-t", "e2e", "-l", text)

    def screen(self) -> str:
        """The pane's text now."""
        return self._run("capture-pane", "-p", "-t", "e2e")

    def wait_for(
        self, want: str | Callable[[str], bool], timeout: float = 20.0, what: str | None = None
    ) -> str:
        """Poll the pane until it shows ``want`` (text, or a check of the whole screen);
        fail with the last screen after ``timeout``."""
        check = want if callable(want) else (lambda screen: want in screen)
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if check(screen):
                return screen
            time.sleep(0.05)
        label = what or repr(want)
        raise AssertionError(f"{label} not shown within {timeout}s; the pane shows:\n{screen}")

    def buffer(self) -> str:
        """The newest tmux paste buffer (what the app copied with OSC 52), or ''."""
        try:
            return self._run("show-buffer")
        except RuntimeError:
            return ""

    def close(self) -> None:
        """End the tmux server and everything in it."""
        subprocess.run(
            [self.tmux, "-L", self.socket, "kill-server"],
            capture_output=True,
            check=False,
            timeout=20,
        )


def paitui_command(*args: str) -> list[str]:
    """``python -m paitui`` with this interpreter."""
    return [sys.executable, "-m", "paitui", *args]
