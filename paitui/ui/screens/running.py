"""The Running screen: every managed app with its live state, links, logs and stats.

The table follows the fleet (engine events + probes) through its change callback; stats and logs
are streamed only for the selected app and only while this screen is shown, because each open
stats stream costs the engine CPU (see the peer measurements). Actions run as async workers on
the fleet (whose engine calls run in threads), so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static

from paitui.domain.engine.containers import EngineConnection, StatsSample
from paitui.domain.fleet.links import AppLinks, app_links, can_open_browser, over_ssh
from paitui.domain.fleet.status import AppState, AppStatus, format_uptime
from paitui.domain.units import format_size
from paitui.ui.screens.confirm import ConfirmDialog
from paitui.ui.widgets.log_view import LogView
from paitui.ui.widgets.section_bar import SectionBar
from paitui.ui.widgets.state_badge import badge_text
from paitui.ui.widgets.taskbar import Taskbar

if TYPE_CHECKING:
    from paitui.domain.catalog.schema import App
    from paitui.services.fleet.tracker import Fleet

COLUMNS = (
    ("App", "app"),
    ("Variant", "variant"),
    ("State", "state"),
    ("Uptime", "uptime"),
    ("Ports", "ports"),
    ("CPU", "cpu"),
    ("Memory", "mem"),
)
#: Columns that change while idle get a fixed width, so an update never re-measures the table.
FIXED_WIDTH = {"uptime": 7, "cpu": 8, "mem": 10}
#: Samples kept for the sparklines (about one a second).
HISTORY = 60
#: Seconds between redraws of the selected app's stats (samples arrive about once a second).
STATS_DRAW_INTERVAL = 2.0
_STOPPABLE = frozenset(
    {
        AppState.CREATING,
        AppState.STARTING,
        AppState.LOADING,
        AppState.READY,
        AppState.UNHEALTHY,
        AppState.PAUSED,
    }
)


def format_bytes(n: float) -> str:
    """Bytes in binary units, one decimal."""
    return format_size(n, binary=True)


def ports_cell(status: AppStatus) -> Text:
    """``18080→8080`` per published port; a warning sign when published on all interfaces."""
    text = Text()
    seen: set[tuple[int, int]] = set()
    for port in status.ports:
        if (port.host_port, port.container_port) in seen:
            continue
        seen.add((port.host_port, port.container_port))
        if len(text):
            text.append(" ")
        text.append(f"{port.host_port}→{port.container_port}")
        if port.host_ip in ("", "0.0.0.0", "::"):
            text.append(" ⚠", style="bold yellow")
    return text


def _plain(value: Any) -> str:
    return value.plain if isinstance(value, Text) else str(value)


class RunningScreen(Screen[None]):
    """Managed apps: state, uptime, ports, links, logs, CPU and memory of the selected one."""

    DEFAULT_CSS = """
    RunningScreen #running-body { height: 1fr; }
    RunningScreen #running-apps { height: 2fr; min-height: 5; }
    RunningScreen #running-empty { padding: 1 2; color: $text-muted; display: none; }
    RunningScreen #running-empty.shown { display: block; }
    RunningScreen #running-engine { height: auto; padding: 0 1; background: $error 30%;
                                    display: none; }
    RunningScreen #running-engine.shown { display: block; }
    RunningScreen #running-lower { height: 3fr; border-top: hkey $panel; }
    RunningScreen #running-detail { width: 1fr; min-width: 40; padding: 0 1; }
    RunningScreen #running-logs { width: 1fr; border-left: vkey $panel; }
    RunningScreen .spark-label { height: 1; color: $text-muted; margin-top: 1; }
    RunningScreen Sparkline { height: 2; }
    RunningScreen #spark-mem > .sparkline--max-color { color: $accent; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start_stop", "Start/Stop"),
        Binding("R", "restart", "Restart", key_display="R"),
        Binding("l", "logs", "Logs"),
        Binding("o", "open_link", "Open"),
        Binding("c", "copy_link", "Copy"),
        Binding("t", "copy_tunnel", "Tunnel"),
        Binding("d", "remove", "Remove"),
    ]

    class StatusChanged(Message):
        """The fleet has a new status for an app."""

        def __init__(self, status: AppStatus) -> None:
            super().__init__()
            self.status = status

    class StatsArrived(Message):
        """A stats sample of the selected app."""

        def __init__(self, sample: StatsSample) -> None:
            super().__init__()
            self.sample = sample

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__()
        #: The environment links are made for (SSH or not, display or not).
        self.env: dict[str, str] = dict(os.environ if env is None else env)
        self.fleet: Fleet | None = None
        self.statuses: dict[str, AppStatus] = {}
        self.selected: str | None = None
        self.cpu_history: deque[float] = deque(maxlen=HISTORY)
        self.mem_history: deque[float] = deque(maxlen=HISTORY)
        self.last_sample: StatsSample | None = None
        self._stats_drawn_at = 0.0
        self._stats_container: str | None = None
        self._logs_for: tuple[str | None, float | None] | None = None
        self._unsubscribe: Any = None
        self._unsubscribe_engine: Any = None
        #: The text each cell shows, to skip updates that change nothing.
        self._shown_cells: dict[str, dict[str, str]] = {}
        self._shown = False

    # --- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield SectionBar()
        with Vertical(id="running-body"):
            yield Static(id="running-engine", markup=False)
            yield DataTable(id="running-apps", cursor_type="row", zebra_stripes=True)
            yield Static(
                "No managed apps yet. Start one from the Desktop (1), the Catalog (3), or with "
                "`paitui start APP`.",
                id="running-empty",
                markup=False,
            )
            with Horizontal(id="running-lower"):
                with VerticalScroll(id="running-detail"):
                    yield Static(id="detail")
                    yield Static("CPU %", classes="spark-label", id="cpu-label")
                    yield Sparkline([], id="spark-cpu", summary_function=max)
                    yield Static("Memory", classes="spark-label", id="mem-label")
                    yield Sparkline([], id="spark-mem", summary_function=max)
                yield LogView(id="running-logs")
        yield Taskbar()
        yield Footer(compact=True)

    @property
    def table(self) -> DataTable[Any]:
        """The apps table."""
        return self.query_one("#running-apps", DataTable)

    @property
    def log_view(self) -> LogView:
        """The log view of the selected app."""
        return self.query_one("#running-logs", LogView)

    def on_mount(self) -> None:
        self.sub_title = "Running"
        for label, key in COLUMNS:
            self.table.add_column(label, key=key, width=FIXED_WIDTH.get(key))
        self._update_empty()
        self.set_interval(1.0, self._tick)
        self.table.focus()
        self._connect_fleet()

    @work(exclusive=True, group="fleet-start", exit_on_error=False)
    async def _connect_fleet(self) -> None:
        """Get the fleet (built on first use: it reads the catalog, so off the loop), follow it."""
        if not getattr(self.app, "live", True):
            # Demo and tests: show the app's statuses, follow no engine.
            for status in getattr(self.app, "statuses", {}).values():
                self._upsert(status)
            self._update_empty()
            return
        services = getattr(self.app, "services", None)
        try:
            fleet: Fleet | None = await asyncio.to_thread(getattr, services, "fleet", None)
        except Exception as exc:  # never crash the screen over it
            fleet = None
            self.notify(f"cannot follow the engine: {exc}", severity="error")
        if fleet is None:
            self.query_one("#detail", Static).update("The engine service is not available.")
            return
        self.fleet = fleet
        self._unsubscribe = fleet.subscribe(
            lambda status: self.post_message(self.StatusChanged(status))
        )
        self._unsubscribe_engine = fleet.subscribe_connection(self._show_engine)
        catalog_changed = getattr(self.app, "catalog_changed", None)
        if catalog_changed is not None:
            catalog_changed.subscribe(self, self._on_catalog)
        for status in list(fleet.statuses.values()):
            self._upsert(status)
        self._update_empty()
        await fleet.start()
        self._show_engine(fleet.connection)

    def _show_engine(self, connection: EngineConnection | None) -> None:
        """A banner for as long as the engine is away: the states below are unknown then."""
        banner = self.query_one("#running-engine", Static)
        away = connection is not None and not connection.connected
        if away and connection is not None:
            banner.update(
                f'⚠ {connection.message}. Every app shows "unknown" until the '
                "engine is back; nothing is lost."
            )
        banner.set_class(away, "shown")

    def _on_catalog(self, catalog: Any) -> None:
        # The fleet reads the catalog from its owner (Services): only the detail is redrawn.
        if self.fleet is not None and self.selected:
            self._show_detail()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._unsubscribe_engine is not None:
            self._unsubscribe_engine()
        self._stop_stats()

    def on_screen_resume(self, _event: events.ScreenResume) -> None:
        self._shown = True
        if self.selected:
            self._watch_selected(force=True)

    def on_screen_suspend(self, _event: events.ScreenSuspend) -> None:
        # Off screen: no stats stream, no log stream.
        self._shown = False
        self._stop_stats()
        self.workers.cancel_group(self, "logs")
        self._logs_for = None

    # --- the table ------------------------------------------------------------------------------

    def _app(self, app_id: str) -> App | None:
        if self.fleet is not None:
            return self.fleet.app(app_id)
        catalog = getattr(self.app, "catalog", None)
        return catalog.apps.get(app_id) if catalog is not None else None

    def _now(self) -> float:
        # The app's clock: fixed in demo mode so screenshots and snapshots never change.
        clock = getattr(self.app, "clock", None)
        return float(clock()) if callable(clock) else time.time()

    def _cells(self, status: AppStatus) -> dict[str, Any]:
        app = self._app(status.app_id)
        name = Text(app.name if app is not None else status.app_id)
        selected = (
            status.app_id == self.selected
            and self.last_sample is not None
            and status.state in _STOPPABLE
        )
        sample = self.last_sample if selected else None
        return {
            "app": name,
            "variant": status.variant or "",
            "state": badge_text(status.state, status.exit_code),
            "uptime": format_uptime(status.uptime(self._now())),
            "ports": ports_cell(status),
            "cpu": f"{sample.cpu_percent:.1f} %" if sample is not None else "",
            "mem": format_bytes(sample.memory_bytes) if sample is not None else "",
        }

    def _upsert(self, status: AppStatus) -> None:
        table = self.table
        key = status.app_id
        if status.state == AppState.REMOVED:
            self.statuses.pop(key, None)
            self._shown_cells.pop(key, None)
            if key in table.rows:
                table.remove_row(key)
            if key == self.selected:
                self.selected = None
                self._stop_stats()
                self._select_current()
            self._update_empty()
            return
        previous = self.statuses.get(key)
        self.statuses[key] = status
        cells = self._cells(status)
        if key in table.rows:
            self._set_cells(key, cells)
        else:
            self._shown_cells[key] = {c: _plain(v) for c, v in cells.items()}
            table.add_row(*cells.values(), key=key)
            if key in getattr(self.fleet, "launching", ()):
                # Just launched from here: that is the app the user wants to watch.
                table.move_cursor(row=table.get_row_index(key))
                # Scroll it into view once the table knows its new height.
                self.call_after_refresh(table.move_cursor, row=table.get_row_index(key))
            if self.selected is None:
                self._select_current()
        if key == self.selected:
            self._show_detail()
            restarted = previous is not None and (
                previous.container_id != status.container_id
                or previous.started_at != status.started_at
            )
            self._watch_selected(force=restarted or previous is None)

    def _update_empty(self) -> None:
        self.query_one("#running-empty", Static).set_class(not self.statuses, "shown")

    def _set_cells(self, key: str, cells: dict[str, Any]) -> None:
        """Update only the cells whose text changed (a table of hundreds stays cheap)."""
        shown = self._shown_cells.setdefault(key, {})
        for column, value in cells.items():
            plain = _plain(value)
            if shown.get(column) != plain:
                shown[column] = plain
                self.table.update_cell(key, column, value, update_width=column not in FIXED_WIDTH)

    def _tick(self) -> None:
        """Advance the uptime of the rows on screen (none while the screen is hidden)."""
        if not self._shown_now():
            return
        table = self.table
        first = int(table.scroll_y)
        visible = table.ordered_rows[first : first + table.size.height + 1]
        now = self._now()
        for row in visible:
            key = row.key.value
            status = self.statuses.get(key or "")
            if key is not None and status is not None and status.started_at is not None:
                self._set_cells(key, {"uptime": format_uptime(status.uptime(now))})

    @on(StatusChanged)
    def _status_changed(self, message: StatusChanged) -> None:
        self._upsert(message.status)
        self._update_empty()

    @on(DataTable.RowHighlighted, "#running-apps")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and key != self.selected:
            self._select(str(key))

    def _select_current(self) -> None:
        table = self.table
        if table.row_count == 0:
            self._show_detail()
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key is not None:
            self._select(str(key))

    def _select(self, app_id: str) -> None:
        previous = self.selected
        self.selected = app_id
        self.cpu_history.clear()
        self.mem_history.clear()
        self.last_sample = None
        self._stats_drawn_at = 0.0  # a new selection draws its first sample at once
        if previous is not None and previous in self.table.rows:
            self._set_cells(previous, {"cpu": "", "mem": ""})
        self._update_sparklines()
        self._show_detail()
        self._watch_selected()

    # --- stats and logs of the selected app ---------------------------------------------------

    def _watch_selected(self, force: bool = False) -> None:
        status = self.statuses.get(self.selected or "")
        if status is None or self.fleet is None:
            return
        running = status.state in _STOPPABLE and status.container_id is not None
        wanted = status.container_id if running else None
        if force or wanted != self._stats_container:
            self._stop_stats()
            if wanted is not None and self._shown_now():
                self._stats_container = wanted
                self.fleet.watch_stats(
                    wanted, lambda sample: self.post_message(self.StatsArrived(sample))
                )
        logs_key = (status.container_id, status.started_at)
        if status.container_id and self._shown_now() and (force or logs_key != self._logs_for):
            self._logs_for = logs_key
            self._follow_logs(status.container_id, status.app_id)

    def _shown_now(self) -> bool:
        return self._shown or self.app.screen is self

    def _stop_stats(self) -> None:
        if self.fleet is not None and self._stats_container is not None:
            self.fleet.unwatch_stats(self._stats_container)
        self._stats_container = None

    @on(StatsArrived)
    def _stats_arrived(self, message: StatsArrived) -> None:
        sample = message.sample
        status = self.statuses.get(self.selected or "")
        if status is None or status.container_id != sample.container_id:
            return  # a late sample of the previous selection
        self.last_sample = sample
        self.cpu_history.append(sample.cpu_percent)
        self.mem_history.append(sample.memory_bytes)
        # Every sample is kept, but drawing costs a redraw of the table and the graphs: at most
        # once per STATS_DRAW_INTERVAL (idle cost measured in bench/idle.py).
        if sample.time - self._stats_drawn_at < STATS_DRAW_INTERVAL:
            return
        self._stats_drawn_at = sample.time
        key = status.app_id
        if key in self.table.rows:
            self._set_cells(
                key,
                {"cpu": f"{sample.cpu_percent:.1f} %", "mem": format_bytes(sample.memory_bytes)},
            )
        self._update_sparklines()

    def _update_sparklines(self) -> None:
        cpu = self.query_one("#spark-cpu", Sparkline)
        mem = self.query_one("#spark-mem", Sparkline)
        cpu.data = list(self.cpu_history)
        mem.data = list(self.mem_history)
        sample = self.last_sample
        cpu_label = "CPU %" if sample is None else f"CPU {sample.cpu_percent:.1f} %"
        if sample is None:
            mem_label = "Memory"
        else:
            limit = f" of {format_bytes(sample.memory_limit)}" if sample.memory_limit else ""
            mem_label = f"Memory {format_bytes(sample.memory_bytes)}{limit}"
        # One-line labels: no layout pass of the whole screen for a new number.
        self.query_one("#cpu-label", Static).update(cpu_label, layout=False)
        self.query_one("#mem-label", Static).update(mem_label, layout=False)

    @work(exclusive=True, group="logs", exit_on_error=False)
    async def _follow_logs(self, container_id: str, app_id: str) -> None:
        assert self.fleet is not None
        view = self.log_view
        view.clear()
        view.set_title(f"logs of {app_id}")
        try:
            async for line in self.fleet.logs(container_id, follow=True):
                view.add_line(line)
        except Exception as exc:
            view.add_line(f"(the log stream ended: {exc})")

    # --- the detail pane ----------------------------------------------------------------------

    def links_of(self, status: AppStatus) -> AppLinks:
        """The links of an app as this session can use them."""
        return app_links(
            self._app(status.app_id), status.ports, self.env, hostname=socket.gethostname()
        )

    def _show_detail(self) -> None:
        detail = self.query_one("#detail", Static)
        status = self.statuses.get(self.selected or "")
        if status is None:
            detail.update("")
            return
        detail.update(self.render_detail(status))

    def render_detail(self, status: AppStatus) -> Text:
        """The detail pane's text: state, links (OSC 8), the SSH tunnel, warnings, crash logs."""
        app = self._app(status.app_id)
        text = Text()
        text.append(app.name if app is not None else status.app_id, style="bold")
        text.append(f"  {status.app_id}")
        if status.variant:
            text.append(f" · {status.variant}")
        text.append("\n")
        if status.image:
            text.append(status.image + "\n", style="dim")
        text.append_text(badge_text(status.state, status.exit_code))
        if status.detail:
            text.append(f"  {status.detail}", style="dim")
        if status.probe is not None and status.probed:
            text.append(f" in {status.probe.latency * 1000:.0f} ms", style="dim")
        uptime = format_uptime(status.uptime(self._now()))
        if uptime:
            text.append(f"  · up {uptime}")
        text.append("\n")
        if status.pull is not None and status.state == AppState.PULLING:
            pull = status.pull
            if pull.total:
                text.append(
                    f"pulling {format_bytes(pull.downloaded)} of {format_bytes(pull.total)}\n"
                )
        links = self.links_of(status)
        if links.links:
            text.append("\nLinks\n", style="bold")
            width = max(len(link.label) for link in links.links)
            for link in links.links:
                text.append(f"  {link.label:<{width}}  ")
                if link.kind == "tcp":
                    text.append(link.url)
                else:
                    text.append(link.url, style=Style(link=link.url, underline=True))
                text.append("\n")
        if links.ssh_tunnel:
            text.append(
                "\nOver SSH: run this on your laptop, then open the links there\n", style="bold"
            )
            text.append(f"  {links.ssh_tunnel}\n", style="bold cyan")
            text.append("  (t copies it)\n", style="dim")
        for warning in links.warnings:
            text.append(f"\n⚠ {warning}\n", style="yellow")
        if status.crash_restarts and status.state != AppState.READY:
            text.append(
                f"restarted {status.crash_restarts}× by the engine after crashes\n", style="red"
            )
        if status.last_logs and status.state != AppState.READY:
            text.append("\nLast log lines before the crash\n", style="bold red")
            for line in status.last_logs[-10:]:
                text.append(f"  {line}\n", style="red")
        return text

    # --- actions --------------------------------------------------------------------------------

    def _current(self) -> AppStatus | None:
        status = self.statuses.get(self.selected or "")
        if status is None:
            self.notify("No app selected.", severity="warning")
        return status

    def action_start_stop(self) -> None:
        """Stop a running app; start a stopped one again."""
        status = self._current()
        if status is None or self.fleet is None:
            return
        if status.state in _STOPPABLE:
            self._run(self.fleet.stop(status.app_id), f"stopping {status.app_id}")
        elif status.state in (AppState.EXITED, AppState.CRASHED):
            self._run(self.fleet.start_stopped(status.app_id), f"starting {status.app_id}")
        elif self.fleet.engine_away or status.state == AppState.UNKNOWN:
            self.notify("The Docker engine is away; try again when it is back.", severity="warning")
        else:
            self.notify(f"{status.app_id} is {status.state}; wait a moment.")

    def action_restart(self) -> None:
        """Restart the selected app's container."""
        status = self._current()
        if status is not None and self.fleet is not None:
            self._run(self.fleet.restart(status.app_id), f"restarting {status.app_id}")

    def action_logs(self) -> None:
        """Jump between the table and the log view."""
        if self.log_view.has_focus or self.log_view.has_focus_within:
            self.table.focus()
        else:
            self.log_view.focus()

    def _primary_url(self, status: AppStatus) -> str | None:
        link = self.links_of(status).primary
        if link is None:
            self.notify(f"{status.app_id} publishes no port.", severity="warning")
            return None
        return link.url

    def action_open_link(self) -> None:
        """Open the app's main link in the local browser, when there is a display."""
        status = self._current()
        if status is None:
            return
        url = self._primary_url(status)
        if url is None:
            return
        if can_open_browser(self.env):
            self.app.open_url(url)
            self.notify(f"Opening {url}")
        elif over_ssh(self.env):
            tunnel = self.links_of(status).ssh_tunnel
            self.notify(
                f"No browser over SSH. On your laptop run:\n{tunnel}\nthen open {url}",
                title="Open",
                timeout=12,
            )
        else:
            self.notify(
                f"No display to open a browser on; the link is {url} (c copies it).",
                title="Open",
                timeout=8,
            )

    def action_copy_link(self) -> None:
        """Copy the app's main link (OSC 52)."""
        status = self._current()
        if status is None:
            return
        url = self._primary_url(status)
        if url is not None:
            self.app.copy_to_clipboard(url)
            self.notify(f"Copied {url}")

    def action_copy_tunnel(self) -> None:
        """Copy the ``ssh -L`` command to run on the laptop."""
        status = self._current()
        if status is None:
            return
        tunnel = self.links_of(status).ssh_tunnel
        if tunnel is None:
            self.notify("Not over SSH: the links work here as they are.")
            return
        self.app.copy_to_clipboard(tunnel)
        self.notify(f"Copied: {tunnel}")

    def action_remove(self) -> None:
        """Remove the selected app's container, asking first (and again for its data)."""
        status = self._current()
        if status is not None:
            self._remove_flow(status.app_id)

    @work(exit_on_error=False)
    async def _remove_flow(self, app_id: str) -> None:
        if self.fleet is None:
            return
        status = self.statuses.get(app_id)
        if status is not None and status.container_id is None:
            await self.fleet.remove(app_id)  # a failed launch: no container, nothing to lose
            return
        yes = await self.app.push_screen_wait(
            ConfirmDialog(
                f"Remove {app_id}?",
                "The container is stopped and removed. The app's data dir is kept.",
                "Remove",
            )
        )
        if not yes:
            return
        delete_data = False
        data_dir = self.fleet.settings.apps_dir / app_id
        if data_dir.is_dir():
            delete_data = await self.app.push_screen_wait(
                ConfirmDialog(
                    f"Also delete the data of {app_id}?",
                    f"{data_dir} and everything in it will be deleted. This cannot be undone.",
                    "Delete data",
                    danger=True,
                )
            )
        try:
            await self.fleet.remove(app_id, delete_data=delete_data)
        except Exception as exc:
            self.notify(str(exc), title=f"Remove {app_id}", severity="error", timeout=10)
            return
        self.notify(f"Removed {app_id}" + (" and its data" if delete_data else ""))

    def _run(self, coro: Any, what: str) -> None:
        """Run a fleet action as a worker; failures become notifications."""

        async def run() -> None:
            try:
                await coro
            except Exception as exc:
                self.notify(str(exc), title=what, severity="error", timeout=10)

        self.notify(what[:1].upper() + what[1:] + "…", timeout=3)
        self.run_worker(run(), group="actions", exit_on_error=False)
