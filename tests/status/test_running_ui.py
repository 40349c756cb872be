"""Pilot tests of the Running screen (real engine, busybox stand-in), taskbar and log view."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from paitui.domain.catalog.schema import Catalog
from paitui.domain.fleet.status import AppState, AppStatus, format_uptime
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import LaunchChoices
from paitui.domain.launch.planner import plan_launch
from paitui.services.catalog.loader import load_catalog
from paitui.services.engine.client import Engine
from paitui.services.fleet.tracker import Fleet
from paitui.settings import Settings
from paitui.ui.screens.confirm import ConfirmDialog
from paitui.ui.screens.running import RunningScreen
from paitui.ui.widgets.log_view import LogView
from paitui.ui.widgets.taskbar import Taskbar, taskbar_items
from tests.helpers import free_port
from tests.status.standins import remove_containers, write_catalog
from tests.ui.hosts import HostApp

SSH_ENV = {"SSH_CONNECTION": "10.0.0.7 53122 192.168.1.20 22", "USER": "ana"}


async def until(
    pilot: Any, check: Callable[[], object], timeout: float = 20.0, what: str = "condition"
) -> None:
    """Let the app run until ``check()`` holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


class Host(HostApp):
    """A minimal app holding the services the screen looks for."""

    def __init__(self, fleet: Fleet, env: dict[str, str]) -> None:
        super().__init__(fleet=fleet, live=True)
        self.env = env

    def on_mount(self) -> None:
        self.push_screen(RunningScreen(env=self.env))


@pytest.mark.docker
async def test_running_screen_follows_a_stand_in(
    tmp_path: Path,
    test_label: str,
    busybox_image: str,
    docker_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(
        models_dir=tmp_path / "models",
        apps_dir=tmp_path / "apps",
        probe_start_interval=0.2,
        probe_ready_interval=2.0,
        probe_timeout=1.0,
    )
    catalog: Catalog = load_catalog(
        [write_catalog(tmp_path, test_label, busybox_image, 1.0)],
        include_bundled=False,
        include_user=False,
    )
    app_id = f"slow-{test_label}"
    port = free_port()
    plan = plan_launch(
        catalog.apps[app_id], HardwareReport(), settings, LaunchChoices(host_port=port)
    )
    engine = Engine(settings)
    fleet = Fleet(engine, catalog, settings)
    (settings.apps_dir / app_id).mkdir(parents=True)  # a data dir, to be asked about on remove
    opened: list[str] = []
    host = Host(fleet, SSH_ENV)
    monkeypatch.setattr(host, "open_url", lambda url, **_: opened.append(url))
    try:
        async with host.run_test(size=(140, 40)) as pilot:
            screen = host.screen
            assert isinstance(screen, RunningScreen)
            await fleet.launch(plan)
            table = screen.query_one("#running-apps", DataTable)
            await until(pilot, lambda: app_id in table.rows, what="the row")
            assert screen.selected == app_id  # launched from here: selected as it appears
            await until(
                pilot, lambda: screen.statuses[app_id].state == AppState.READY, what="ready"
            )
            state_cell = table.get_cell(app_id, "state")
            assert isinstance(state_cell, Text) and state_cell.plain == "● ready"
            assert table.get_cell(app_id, "ports").plain == f"{port}→8080"
            detail = screen.query_one("#detail", Static)
            shown = screen.render_detail(screen.statuses[app_id])
            assert f"http://127.0.0.1:{port}/v1" in shown.plain
            assert f"ssh -L {port}:127.0.0.1:{port} ana@192.168.1.20" in shown.plain
            # OSC 8: the URL carries a link style.
            assert any(
                span.style and getattr(span.style, "link", None) == f"http://127.0.0.1:{port}/"
                for span in shown.spans
            )
            assert detail.visual is not None
            # Stats stream only for the selected row, and CPU/memory appear for it.
            await until(pilot, lambda: screen.last_sample is not None, what="a stats sample")
            assert fleet.stats_watched() == [screen.statuses[app_id].container_id]
            assert table.get_cell(app_id, "mem") != ""
            # Logs of the selected app follow.
            logs = screen.query_one(LogView)
            assert logs.log_title == f"logs of {app_id}"
            await until(pilot, lambda: "stand-in listening on 8080" in logs.lines, what="logs")
            # Keys: copy link, copy tunnel, open (over SSH: no browser, a notification).
            await pilot.press("c")
            assert host.clipboard == f"http://127.0.0.1:{port}/"
            await pilot.press("t")
            assert host.clipboard == f"ssh -L {port}:127.0.0.1:{port} ana@192.168.1.20"
            await pilot.press("o")
            assert opened == []  # over SSH there is no browser to open
            screen.env = {"DISPLAY": ":0"}  # a local desktop session
            await pilot.press("o")
            assert opened == [f"http://127.0.0.1:{port}/"]
            # l jumps to the log view and back.
            await pilot.press("l")
            assert logs.has_focus
            await pilot.press("l")
            assert table.has_focus
            # R restarts: a new start, through loading, to ready again.
            first_start = screen.statuses[app_id].started_at
            assert first_start is not None
            await pilot.press("R")
            await until(
                pilot,
                lambda: (
                    (screen.statuses[app_id].started_at or 0) > first_start
                    and screen.statuses[app_id].state == AppState.READY
                ),
                what="restarted",
            )
            # Stop with s: stopping, then exited; stats are no longer streamed.
            await pilot.press("s")
            await until(
                pilot, lambda: screen.statuses[app_id].state == AppState.EXITED, what="exited"
            )
            assert table.get_cell(app_id, "state").plain == "○ exited (0)"
            await until(pilot, lambda: fleet.stats_watched() == [], what="stats unwatched")
            # Remove: confirm, then a second explicit question about the data dir (answer no).
            await pilot.press("d")
            await until(pilot, lambda: isinstance(host.screen, ConfirmDialog), what="dialog")
            await pilot.press("y")
            await until(
                pilot,
                lambda: (
                    isinstance(host.screen, ConfirmDialog) and "data" in str(host.screen._title)
                ),
                what="data dialog",
            )
            await pilot.press("n")
            await until(pilot, lambda: app_id not in table.rows, timeout=15, what="row removed")
            assert (settings.apps_dir / app_id).is_dir()  # kept: the second answer was no
    finally:
        await fleet.close()
        await engine.close()
        remove_containers(docker_client, test_label)


class Bar(HostApp):
    def __init__(self) -> None:
        super().__init__()
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield Taskbar(id="bar")

    def on_taskbar_selected(self, message: Taskbar.Selected) -> None:
        self.selected.append(message.app_id)


async def test_taskbar_follows_the_app_and_posts_clicks() -> None:
    app = Bar()
    async with app.run_test(size=(80, 5)) as pilot:
        bar = app.query_one(Taskbar)
        assert bar.render().plain == "no apps running"
        statuses = [
            AppStatus("llama", AppState.READY, 0.0),
            AppStatus("comfy", AppState.LOADING, 0.0),
            AppStatus("old", AppState.EXITED, 0.0),
            AppStatus("bad", AppState.CRASHED, 0.0),
        ]
        app.fleet_items = taskbar_items(statuses)
        await pilot.pause()
        assert bar.render().plain == "✖ bad  ◐ comfy  ● llama"
        # Click on "llama" (its light is at column 15, after one cell of padding).
        await pilot.click(Taskbar, offset=(1 + 17, 0))
        await pilot.pause()
        assert app.selected == ["llama"]


class LogHost(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(id="log")


async def test_log_view_search_pause_and_wrap() -> None:
    app = LogHost()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        view.add_lines(["alpha one", "beta two", "alpha three"])
        await pilot.press("slash")
        await pilot.press(*"alpha")
        await pilot.press("enter")
        assert view.search == "alpha" and view.visible_lines() == ["alpha one", "alpha three"]
        await pilot.press("p")
        assert view.paused
        view.add_line("alpha four")
        status = app.query_one("#log-status", Static)
        assert "PAUSED (1 new)" in str(status.render())
        await pilot.press("p")
        assert not view.paused and view.visible_lines()[-1] == "alpha four"
        await pilot.press("w")
        assert view.wrap
        await pilot.press("escape")
        assert view.search == "" and len(view.visible_lines()) == 4


def test_uptime_format() -> None:
    assert [format_uptime(x) for x in (None, 5, 65, 3725, 90000)] == [
        "",
        "5s",
        "1m",
        "1h 02m",
        "1d 1h",
    ]
