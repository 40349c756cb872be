"""Engine loss in the real PaituiApp (headless): with the second dockerd stopped, every row says
"unknown" (never "ready"), the header, the taskbar and the Running screen say the engine is away
for as long as it is; a start tried meanwhile leaves no crashed row; and everything is cleared,
header included, once the engine is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Static

from paitui.domain.fleet.status import AppState
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.planner import plan_launch
from paitui.services.engine.client import Engine
from paitui.services.registry import Services
from paitui.settings import Settings
from paitui.ui.app import PaituiApp
from paitui.ui.screens.running import RunningScreen
from paitui.ui.widgets.taskbar import Taskbar
from tests.engine.conftest import stand_in_app
from tests.engine.second_dockerd import SecondDockerd
from tests.helpers import plain

pytestmark = pytest.mark.docker


async def until(
    pilot: Any, check: Callable[[], object], timeout: float = 20.0, what: str = "condition"
) -> None:
    """Let the app run until ``check()`` holds, failing after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(
                f"timed out waiting for {what}; {getattr(pilot.app, 'statuses', '')}"
            )
        await pilot.pause(0.05)


def _taskbar(app: PaituiApp) -> str:
    return app.screen.query_one(Taskbar).render().plain


def _header(app: PaituiApp) -> str:
    """The Desktop's header line (the Desktop must be the screen shown)."""
    return plain(app.screen.query_one("#hw-line", Static))


async def test_rows_go_unknown_the_state_lasts_and_all_clears_on_return(
    d2: SecondDockerd, tmp_path: Path, busybox_image: str, test_label: str, docker_client: Any
) -> None:
    settings = Settings(
        models_dir=tmp_path / "models", apps_dir=tmp_path / "apps", docker_host=d2.host
    )
    setup = Engine(settings)
    try:
        await setup.pull(busybox_image)
        here = stand_in_app(f"pt-{test_label}", busybox_image, port=None, data=False)
        info = await setup.launch(plan_launch(here, HardwareReport(), settings))
    finally:
        await setup.close()
    later = stand_in_app(f"pt-{test_label}-b", busybox_image, port=None, data=False)
    app = PaituiApp(Services(settings))
    async with app.run_test(size=(120, 36)) as pilot:
        await until(
            pilot,
            lambda: (s := app.statuses.get(here.id)) is not None and s.state == AppState.READY,
            what="the stand-in ready",
        )
        await until(pilot, lambda: app.hardware_report is not None, what="the hardware report")
        assert "Docker engine away" not in _taskbar(app)

        # The engine goes away.
        await asyncio.to_thread(d2.stop)
        await until(
            pilot,
            lambda: app.engine_connection is not None and not app.engine_connection.connected,
            what="the loss reported",
        )
        await until(
            pilot, lambda: app.statuses[here.id].state == AppState.UNKNOWN, what="row unknown"
        )
        # dockerd stops its containers on the way down (their events may arrive first): the
        # row says what it was last seen as, and that the engine is away.
        assert app.statuses[here.id].detail.startswith("Docker engine away (was ")
        assert "⚠ Docker engine away, retrying" in _header(app)
        assert "⚠ Docker engine away, retrying" in _taskbar(app)

        # A start while it is away fails with the reason and leaves no "crashed" row.
        app.launch_plan(plan_launch(later, HardwareReport(), settings))
        await until(
            pilot,
            lambda: (
                (s := app.statuses.get(later.id)) is not None
                and s.state == AppState.UNKNOWN
                and "not started" in s.detail
            ),
            what="the failed start",
        )
        assert all(s.state != AppState.CRASHED for s in app.statuses.values())
        # A detection made meanwhile finds the engine unreachable.
        app.detect_hardware()
        await until(
            pilot,
            lambda: (
                app.hardware_report is not None
                and app.hardware_report.docker is not None
                and not app.hardware_report.docker.reachable
            ),
            what="a detection without the engine",
        )
        assert "Docker engine away" in _header(app)  # the live state, not "unreachable"

        await pilot.press("5")
        await until(pilot, lambda: isinstance(app.screen, RunningScreen), what="Running")
        screen = app.screen
        banner = screen.query_one("#running-engine", Static)
        await until(pilot, lambda: banner.has_class("shown"), what="the banner")
        assert "not reachable" in plain(banner) and "unknown" in plain(banner)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: here.id in table.rows, what="the row")
        assert "? unknown" in table.get_cell(here.id, "state").plain

        # It comes back: the listing replaces "unknown" with what is really there.
        await asyncio.to_thread(d2.start)
        await until(
            pilot,
            lambda: app.engine_connection is not None and app.engine_connection.connected,
            what="the return reported",
        )
        await until(
            pilot,
            lambda: app.statuses[here.id].state not in (AppState.UNKNOWN, AppState.STARTING),
            what="the row updated",
        )
        # What the row says is what the engine says (its restart policy may have started the
        # container again on the way up).
        real = d2_client_state(d2, info.id)
        mine = app.statuses[here.id]
        assert "away" not in mine.detail and mine.last_known is None
        if real["Running"]:
            assert mine.state == AppState.READY
            assert mine.started_at is not None and info.started_at is not None
            assert mine.started_at > info.started_at  # a new run, not the one before
        else:
            assert mine.state in (AppState.EXITED, AppState.CRASHED)
            assert mine.exit_code == real["ExitCode"]
        await until(
            pilot,
            lambda: app.statuses[later.id].state == AppState.REMOVED,
            what="the failed start cleared",
        )
        await until(pilot, lambda: not banner.has_class("shown"), what="the banner gone")
        assert "Docker engine away" not in _taskbar(app)
        assert "? unknown" not in table.get_cell(here.id, "state").plain
        await pilot.press("1")
        await until(pilot, lambda: app.screen.query("#hw-line"), what="the Desktop")
        header = _header(app)
        assert "away" not in header and "unreachable" not in header and "Docker" in header
        # Re-detected once the engine is back: the facts are current again.
        await until(
            pilot,
            lambda: (
                app.hardware_report is not None
                and app.hardware_report.docker is not None
                and app.hardware_report.docker.reachable
            ),
            what="the re-detection",
        )


def d2_client_state(d2: SecondDockerd, container_id: str) -> dict[str, Any]:
    """The container's State on the second dockerd, straight from the engine."""
    import docker

    client = docker.DockerClient(base_url=d2.host, timeout=10)
    try:
        state: dict[str, Any] = client.api.inspect_container(container_id)["State"]
        return state
    finally:
        client.close()
