"""``paitui start/ls/wait/stop`` as scripts use them: real CLI processes, real engine, stand-ins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import free_port
from tests.status.standins import remove_containers, write_catalog

pytestmark = pytest.mark.docker


@pytest.fixture
def cli(tmp_path: Path, test_label: str, busybox_image: str, docker_client: Any) -> Iterator[Any]:
    # Loading long enough that the wait process (1-2 s to start on a busy box) sees it.
    catalog = write_catalog(tmp_path, test_label, busybox_image, ready_after=3.0)
    env = {**os.environ, "PAITUI_CATALOG": str(catalog), "PAITUI_PROBE_START_INTERVAL": "0.2"}
    for var in ("SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"):
        env.pop(var, None)

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "paitui", *args],
            env=env,
            text=True,
            capture_output=True,
            timeout=timeout,
        )

    yield run
    remove_containers(docker_client, test_label)


def test_start_wait_ls_stop(cli: Any, test_label: str) -> None:
    app = f"slow-{test_label}"
    port = free_port()
    started = cli("start", app, "--port", str(port))
    assert started.returncode == 0, started.stderr
    assert f"Web UI: http://127.0.0.1:{port}/" in started.stdout
    waited = cli("wait", app, "--ready", "--timeout", "30")
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.strip() == f"{app} is ready"
    assert f"{app}: loading" in waited.stderr  # the sequence it went through, on stderr
    listed = cli("ls", "--json")
    assert listed.returncode == 0, listed.stderr
    mine = [row for row in json.loads(listed.stdout) if row["app"] == app]
    assert len(mine) == 1 and mine[0]["state"] == "ready"
    assert mine[0]["links"][1] == {
        "label": "OpenAI API",
        "url": f"http://127.0.0.1:{port}/v1",
        "kind": "openai",
    }
    table = cli("ls")
    assert any(line.split()[:2] == [app, "ready"] for line in table.stdout.splitlines())
    stopped = cli("stop", app)
    assert stopped.returncode == 0 and "exit code 0" in stopped.stdout
    after = cli("wait", app, "--timeout", "5")
    assert after.returncode == 1 and "exited with code 0" in after.stderr


def test_wait_reports_a_crash_with_its_logs(cli: Any, test_label: str) -> None:
    app = f"crash-{test_label}"
    assert cli("start", app, "--port", str(free_port())).returncode == 0
    waited = cli("wait", app, "--ready", "--timeout", "30")
    assert waited.returncode == 1
    assert "crashed with code 3" in waited.stderr
    assert "fatal: model file not found" in waited.stderr


def test_wait_times_out_on_an_app_that_never_gets_ready(cli: Any, test_label: str) -> None:
    app = f"never-{test_label}"
    assert cli("start", app, "--port", str(free_port())).returncode == 0
    waited = cli("wait", app, "--ready", "--timeout", "1.5", "-q")
    assert waited.returncode == 1
    assert f"{app} not ready after 1.5 s" in waited.stderr


def test_clear_errors_for_unknown_apps(cli: Any, test_label: str) -> None:
    stopped = cli("stop", f"nothing-{test_label}")
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr
    assert stopped.stderr.startswith("paitui: error:")
    missing = cli("wait", f"nothing-{test_label}", "--timeout", "0.5")
    assert missing.returncode == 1 and "has no container" in missing.stderr


def test_an_unreachable_engine_is_named_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    for args in (["ls"], ["wait", "app", "--timeout", "1"], ["stop", "app"]):
        done = subprocess.run(
            [sys.executable, "-m", "paitui", *args],
            env=env,
            text=True,
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 1, args
        assert "Docker engine not reachable" in done.stderr and "Traceback" not in done.stderr
