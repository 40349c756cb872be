"""A frozen engine (a second dockerd under SIGSTOP: the kernel accepts, nothing answers) never
hangs paitui: every call keeps the command's deadline, ``ls`` and ``wait`` return on time with
what to do, the event pump notices the hang, and ``q`` quits the real TUI at once while a worker
is stuck in an engine call. The fixture always thaws and removes the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paitui.cli.status import START_ANSWER_S
from paitui.domain.engine.containers import EngineConnection
from paitui.domain.engine.errors import EngineError, ErrorKind
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.planner import plan_launch
from paitui.services.engine.client import Engine
from paitui.services.engine.deadline import deadline
from paitui.settings import Settings
from tests.conftest import REPO_ROOT
from tests.e2e.tmux import TmuxPane, paitui_command
from tests.engine.conftest import Recorder, stand_in_app
from tests.engine.second_dockerd import SecondDockerd

pytestmark = pytest.mark.docker

#: What process start-up (imports on a busy 2-core box) may add to a command's own timeout.
STARTUP_MARGIN_S = 3.0


def _settings(tmp_path: Path, d2: SecondDockerd) -> Settings:
    return Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps", docker_host=d2.host)


async def test_calls_keep_the_deadline_and_the_pump_tells_a_hang(
    d2: SecondDockerd, tmp_path: Path
) -> None:
    engine = Engine(
        _settings(tmp_path, d2),
        backoff_initial=0.05,
        backoff_max=0.5,
        heartbeat=0.3,
        answer_timeout=0.5,
    )
    rec = Recorder()
    task = asyncio.create_task(rec.run(engine))
    try:
        await rec.wait_for(lambda: rec.connections() == [True] and rec.snapshots(), what="connect")
        assert await engine.list_managed() == []  # the shared client exists and has connected

        d2.freeze()
        start = time.monotonic()
        with deadline(1.0), pytest.raises(EngineError) as err:
            await engine.list_managed()
        took = time.monotonic() - start
        assert 0.9 <= took < 2.0, took
        assert err.value.kind == ErrorKind.UNREACHABLE and err.value.fix
        assert "does not answer" in err.value.message and d2.host in err.value.message

        # The event stream stays open and silent; the heartbeat tells it is a hang.
        lost = await rec.wait_for(
            lambda: [u for u in rec.updates if isinstance(u, EngineConnection) and not u.connected],
            timeout=10,
            what="the hang reported",
        )
        assert "does not answer" in lost[0].message

        # Thawed, the same Engine reconnects, lists again, and answers.
        d2.thaw()
        await rec.wait_for(
            lambda: rec.connections() == [True, False, True], timeout=20, what="reconnect"
        )
        with deadline(10.0):
            assert await engine.list_managed() == []

        # Frozen again with a call stuck for good: closing does not wait for it.
        d2.freeze()
        stuck = asyncio.create_task(engine.list_managed())
        # Let the call reach its thread; it cannot return while the engine is frozen.
        await asyncio.wait({stuck}, timeout=0.5)
        start = time.monotonic()
        stuck.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.close()
        assert time.monotonic() - start < 1.0
        # Cancelled in flight, or already failed as "does not answer" after a reconnect attempt
        # under load: either way nothing is left waiting on the frozen engine.
        with contextlib.suppress(asyncio.CancelledError, EngineError):
            await stuck
        assert stuck.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        d2.thaw()
        await engine.close()


def _paitui(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return done, time.monotonic() - start


def test_ls_and_wait_return_on_time_and_say_what_to_do(d2: SecondDockerd, tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": d2.host, "PYTHONPATH": str(REPO_ROOT)}
    d2.freeze()
    listed, took = _paitui(env, "ls")
    assert listed.returncode == 1
    assert took < 5.0 + STARTUP_MARGIN_S, took  # the default --timeout of ls is 5 s
    assert f"Docker engine at {d2.host} does not answer" in listed.stderr
    assert "restart" in listed.stderr and "Traceback" not in listed.stderr

    waited, took = _paitui(env, "wait", "some-app", "--timeout", "2")
    assert waited.returncode == 1
    assert 2.0 <= took < 2.0 + STARTUP_MARGIN_S, took
    assert "some-app not ready after 2 s" in waited.stderr
    assert "does not answer" in waited.stderr and "Traceback" not in waited.stderr

    # start has no --timeout (pulls take long), but a hung engine is found out before it plans.
    started, took = _paitui(env, "start", "open-webui", "--no-hw")
    assert started.returncode == 1, started.stderr
    assert took < START_ANSWER_S + 2 * STARTUP_MARGIN_S, took
    assert "does not answer" in started.stderr and "Traceback" not in started.stderr

    bad, _ = _paitui(env, "ls", "--timeout", "soon")
    assert bad.returncode == 2 and "not a number of seconds: 'soon'" in bad.stderr


class _Pane(TmuxPane):
    def exited(self) -> bool:
        """Whether the command in the pane has ended (the pane stays: remain-on-exit)."""
        return self._run("display-message", "-p", "-t", "e2e", "#{pane_dead}").strip() == "1"


@pytest.mark.tmux
async def test_q_quits_the_tui_at_once_with_a_worker_stuck_on_the_engine(
    d2: SecondDockerd, tmp_path: Path, busybox_image: str, test_label: str
) -> None:
    settings = _settings(tmp_path, d2)
    engine = Engine(settings)
    try:
        await engine.pull(busybox_image)
        app = stand_in_app(f"pt-{test_label}", busybox_image, port=None, data=False)
        await engine.launch(plan_launch(app, HardwareReport(), settings))
    finally:
        await engine.close()
    env = {
        "DOCKER_HOST": d2.host,
        "PAITUI_CONFIG_DIR": str(tmp_path / "config"),
        "PAITUI_STATE_DIR": str(tmp_path / "state"),
        "PAITUI_ENGINE_HEARTBEAT": "1.5",
        "PAITUI_ENGINE_ANSWER_TIMEOUT": "1",
        "TERM": "xterm-256color",
    }
    pane = _Pane(paitui_command(), env, (120, 36), cwd=REPO_ROOT)
    try:
        pane.wait_for("Desktop", what="the first screen")
        pane.send("5")
        pane.wait_for(
            lambda t: any(app.id in line and "● ready" in line for line in t.splitlines()),
            what="the stand-in ready",
        )
        d2.freeze()
        pane.send("s")  # the stop worker now waits on an engine that never answers
        pane.wait_for(f"Stopping {app.id}", what="the stop under way")
        shown = pane.wait_for("Docker engine not answering", timeout=15, what="the hang shown")
        assert "? unknown" in shown  # the row no longer claims "ready"
        start = time.monotonic()
        pane.send("q")
        deadline_at = start + 5.0
        while not pane.exited():
            assert time.monotonic() < deadline_at, "paitui did not quit within 5 s:\n" + (
                pane.screen()
            )
            await asyncio.sleep(0.05)
        took = time.monotonic() - start
        assert took < 3.0, took
    finally:
        pane.close()
        d2.thaw()
