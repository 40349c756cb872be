"""The Running screen: every managed app with its live state, links, logs and stats.

The table follows the fleet (engine events + probes) through its change callback; stats and logs
are streamed only for the selected app and only while this screen is shown, because each open
stats stream costs the engine CPU (see the peer measurements). What the keys do to the selected
app is in ``actions``; the cells, the detail pane and the stats pane have their own modules;
live GPU use is in ``live_gpu`` and following several hosts in ``hosts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from paitui.domain.engine.containers import EngineConnection, StatsSample
from paitui.domain.fleet.status import AppState, AppStatus, format_uptime
from paitui.ui.failures import ReportsWorkerFailures
from paitui.ui.host import host_of
from paitui.ui.screens.running.cells import (
    FIXED_WIDTH,
    STOPPABLE,
    Cell,
    columns,
    host_column_cell,
    plain,
    row_cells,
    stats_cells,
)
from paitui.ui.screens.running.detail import render_detail
from paitui.ui.screens.running.hosts import FollowsHosts
from paitui.ui.screens.running.live_gpu import LiveGpu, SampleGpu
from paitui.ui.screens.running.stats import StatsPane
from paitui.ui.widgets.live_table import LiveTable
from paitui.ui.widgets.log_view import LogView
from paitui.ui.widgets.section_bar import SectionBar
from paitui.ui.widgets.taskbar import Taskbar

if TYPE_CHECKING:
    from paitui.domain.catalog.schema import Catalog
    from paitui.services.fleet.tracker import Fleet


#: Seconds at least between redraws of the selected app's stats (a reading comes every
#: ``services.engine.client.STATS_EVERY_S``, 2 s).
STATS_DRAW_INTERVAL = 1.5
#: Seconds between updates of the selected row's CPU and memory cells: a changed cell makes the
#: DataTable re-render every visible row (its row cache is dropped), which was most of the
#: Running screen's idle CPU; the stats pane beside it follows every STATS_DRAW_INTERVAL.
STATS_CELLS_INTERVAL = 10.0


class RunningScreen(ReportsWorkerFailures, LiveGpu, FollowsHosts):
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
    """

    @dataclass
    class StatsArrived(Message):
        """A stats sample of the selected app."""

        sample: StatsSample

    def __init__(self, env: dict[str, str] | None = None, sampler: SampleGpu | None = None) -> None:
        super().__init__(dict(os.environ if env is None else env), sampler)
        self._col_keys: list[str] = []
        self.last_sample: StatsSample | None = None
        self._stats_drawn_at = 0.0
        self._stats_cells_at = 0.0
        self._stats_container: str | None = None
        self._stats_fleet: Fleet | None = None
        self._logs_for: tuple[str | None, float | None] | None = None
        #: The text each cell shows, to skip updates that change nothing.
        self._shown_cells: dict[str, dict[str, str]] = {}
        self._shown = False

    # --- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield SectionBar()
        with Vertical(id="running-body"):
            yield Static(id="running-engine", markup=False)
            yield LiveTable(id="running-apps", cursor_type="row", zebra_stripes=True)
            yield Static(
                "No managed apps yet. Start one from the Desktop (1), the Catalog (3), or with "
                "`paitui start APP`.",
                id="running-empty",
                markup=False,
            )
            with Horizontal(id="running-lower"):
                with VerticalScroll(id="running-detail"):
                    yield Static(id="detail")
                    yield StatsPane(id="running-stats")
                yield LogView(id="running-logs")
        yield Taskbar()
        yield Footer(compact=True)

    @property
    def table(self) -> DataTable[Cell]:
        """The apps table."""
        return self.query_one("#running-apps", DataTable)

    @property
    def log_view(self) -> LogView:
        """The log view of the selected app."""
        return self.query_one("#running-logs", LogView)

    @property
    def stats_pane(self) -> StatsPane:
        """The CPU and memory of the selected app."""
        return self.query_one(StatsPane)

    def on_mount(self) -> None:
        self.sub_title = "Running"
        self._build_columns()
        self._update_empty()
        self.set_interval(1.0, self._tick)
        self._start_gpu()  # paused until the screen is shown
        self.table.focus()
        host = host_of(self)
        # Rows drawn before the catalog (or its preview) was read show app ids until then.
        host.catalog_preview_changed.subscribe(self, lambda _p: self._rename_rows())
        host.catalog_changed.subscribe(self, lambda _c: self._rename_rows())
        self._connect_fleet()

    def _rename_rows(self) -> None:
        name_of = host_of(self).app_name
        for key, status in self.statuses.items():
            if key in self.table.rows:
                self._set_cells(key, {"app": Text(name_of(status.app_id))})

    @work(exclusive=True, name="follow the managed apps", group="fleet-start", exit_on_error=False)
    async def _connect_fleet(self) -> None:
        """Get the fleet (built on first use: it reads the catalog, so off the loop), follow it."""
        host = host_of(self)
        if not host.live:
            # Demo and tests: show the app's statuses, follow no engine.
            for status in host.statuses.values():
                self._upsert(status)
            self._update_empty()
            return
        # While the fleet loads, the app's first statuses (one quick listing) stand in.
        provisional = set(host.statuses)
        for status in list(host.statuses.values()):
            self._upsert(status)
        self._update_empty()
        await self._drawn()
        try:
            fleet, multi = await asyncio.to_thread(self._open_fleets)
        except Exception as exc:  # context: the detail pane says what is missing
            self.query_one("#detail", Static).update("The engine service is not available.")
            self.notify(f"cannot follow the engine: {exc}", severity="error")
            return
        if multi is not None:
            self._drop_rows(provisional)  # rows get their host's key from here on
            await self._follow_hosts(multi)
            return
        self.fleet = fleet
        self._unsubscribe = fleet.subscribe(
            lambda status: self.post_message(self.StatusChanged(status))
        )
        self._unsubscribe_engine = fleet.subscribe_connection(self._show_engine)
        host.catalog_changed.subscribe(self, self._on_catalog)
        for status in list(fleet.statuses.values()):
            self._upsert(status)
        self._update_empty()
        if self.selected:
            # Its stats and logs need the fleet (and load the SDK): after the rows are drawn.
            self.call_after_refresh(self._watch_selected, True)
        await fleet.start()
        self._drop_rows(provisional - set(fleet.statuses))  # gone before the fleet saw them
        self._show_engine(fleet.connection)

    async def _drawn(self, timeout: float = 1.0) -> None:
        """Until the screen has been drawn once more (at most ``timeout`` s).

        Opening the fleet imports the SDK in a thread: started sooner, it shares the
        interpreter lock with the first draw of the rows and delays it."""
        drawn = asyncio.Event()
        self.call_after_refresh(drawn.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drawn.wait(), timeout)

    def _drop_rows(self, keys: set[str]) -> None:
        for key in keys:
            status = self.statuses.get(key)
            if status is not None:
                self._upsert(dataclasses.replace(status, state=AppState.REMOVED))

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

    def _on_catalog(self, catalog: Catalog) -> None:
        # The fleet reads the catalog from its owner (Services): only the detail is redrawn.
        if self.fleet is not None and self.selected:
            self._show_detail()

    async def on_unmount(self) -> None:
        self._shown = False  # a timer may still fire while the app closes: it reads nothing
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._unsubscribe_engine is not None:
            self._unsubscribe_engine()
        self._stop_stats()
        self._stop_gpu()
        if self.multi is not None:
            await self.multi.close()  # the screen's own: the services' fleet is not

    def on_screen_resume(self, _event: events.ScreenResume) -> None:
        self._shown = True
        self._resume_gpu()
        if self.selected:
            self._watch_selected(force=True)

    def on_screen_suspend(self, _event: events.ScreenSuspend) -> None:
        # Off screen: no stats stream, no log stream, no GPU sample.
        self._shown = False
        self._stop_stats()
        self._stop_gpu()
        self.workers.cancel_group(self, "logs")
        self._logs_for = None

    # --- the table ------------------------------------------------------------------------------

    def _now(self) -> float:
        # The app's clock: fixed in demo mode so screenshots and snapshots never change.
        return host_of(self).clock()

    def _build_columns(self) -> None:
        """(Re)make the columns for the hosts, the GPUs seen and the width, keeping the rows
        and the cursor (rare: the first GPU sample, host mode, crossing the narrow width)."""
        wanted = columns(self._show_host, self._show_vram, self.size.width or self.app.size.width)
        keys = [key for _, key in wanted]
        if keys == self._col_keys:
            return
        table = self.table
        rows = [row.key.value for row in table.ordered_rows]
        cursor = table.cursor_row
        table.clear(columns=True)
        self._col_keys = keys
        self._shown_cells.clear()
        for label, key in wanted:
            table.add_column(label, key=key, width=FIXED_WIDTH.get(key))
        for row_key in rows:
            status = self.statuses.get(row_key or "")
            if row_key is not None and status is not None:
                self._add_row(row_key, self._cells(row_key, status))
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def _add_row(self, key: str, cells: dict[str, Cell]) -> None:
        self._shown_cells[key] = {c: plain(v) for c, v in cells.items()}
        self.table.add_row(*(cells.get(c, "") for c in self._col_keys), key=key)

    def on_resize(self, _event: events.Resize) -> None:
        self._build_columns()

    def _cells(self, key: str, status: AppStatus) -> dict[str, Cell]:
        selected = (
            key == self.selected and self.last_sample is not None and status.state in STOPPABLE
        )
        sample = self.last_sample if selected else None
        cells = row_cells(status, host_of(self).app_name(status.app_id), sample, self._now())
        host = self.hosts_of.get(key)
        if self._show_host:
            cells["host"] = host_column_cell(host, self.host_states.get(host or ""))
        if self._show_vram:
            cells["vram"] = self._vram_cell(key, status)
        return cells

    def _upsert(self, status: AppStatus, host: str | None = None) -> None:
        table = self.table
        key = self.row_key(host, status.app_id)
        if status.state == AppState.REMOVED:
            self.statuses.pop(key, None)
            self.hosts_of.pop(key, None)
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
        if host is not None:
            self.hosts_of[key] = host
        cells = self._cells(key, status)
        if key in table.rows:
            self._set_cells(key, cells)
        else:
            self._add_row(key, cells)
            if status.state in STOPPABLE and status.container_id not in self._gpu_covered:
                # A new running app: its VRAM at once, not at the next tick.
                self.call_after_refresh(self._gpu_tick, True)
            fleet = self.fleet_of(key)
            if fleet is not None and status.app_id in fleet.launching:
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

    def _set_cells(self, key: str, cells: dict[str, Cell]) -> None:
        """Update only the cells whose text changed (a table of hundreds stays cheap)."""
        shown = self._shown_cells.setdefault(key, {})
        for column, value in cells.items():
            if column not in self._col_keys:
                continue  # dropped at this width
            text = plain(value)
            if shown.get(column) != text:
                shown[column] = text
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

    @on(FollowsHosts.StatusChanged)
    def _status_changed(self, message: FollowsHosts.StatusChanged) -> None:
        self._upsert(message.status, message.host)
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
        self.stats_pane.clear()
        self.last_sample = None
        self._stats_drawn_at = 0.0  # a new selection draws its first sample at once
        self._stats_cells_at = 0.0
        if previous is not None and previous in self.table.rows:
            self._set_cells(previous, stats_cells(None))
        self.stats_pane.draw(None)
        self._show_detail()
        self._watch_selected()

    # --- stats and logs of the selected app ---------------------------------------------------

    def _watch_selected(self, force: bool = False) -> None:
        status = self.statuses.get(self.selected or "")
        fleet = self.fleet_of(self.selected or "")
        if status is None or fleet is None:
            return
        running = status.state in STOPPABLE and status.container_id is not None
        wanted = status.container_id if running else None
        if force or wanted != self._stats_container:
            self._stop_stats()
            if wanted is not None and self._shown_now():
                self._stats_container = wanted
                self._stats_fleet = fleet
                fleet.watch_stats(
                    wanted, lambda sample: self.post_message(self.StatsArrived(sample))
                )
        logs_key = (status.container_id, status.started_at)
        if status.container_id and self._shown_now() and (force or logs_key != self._logs_for):
            self._logs_for = logs_key
            self._follow_logs(fleet, status.container_id, status.app_id)

    def _shown_now(self) -> bool:
        return self._shown or self.is_active

    def _stop_stats(self) -> None:
        fleet = self._stats_fleet or self.fleet
        if fleet is not None and self._stats_container is not None:
            fleet.unwatch_stats(self._stats_container)
        self._stats_container = None
        self._stats_fleet = None

    @on(StatsArrived)
    def _stats_arrived(self, message: StatsArrived) -> None:
        sample = message.sample
        status = self.statuses.get(self.selected or "")
        if status is None or status.container_id != sample.container_id:
            return  # a late sample of the previous selection
        self.last_sample = sample
        self.stats_pane.add(sample)
        # Every sample is kept, but drawing costs a redraw of the table and the graphs: at most
        # once per STATS_DRAW_INTERVAL (idle cost measured in bench/idle.py).
        if sample.time - self._stats_drawn_at < STATS_DRAW_INTERVAL:
            return
        self._stats_drawn_at = sample.time
        self.stats_pane.draw(sample)
        key = self.selected or ""
        if key in self.table.rows and sample.time - self._stats_cells_at >= STATS_CELLS_INTERVAL:
            self._stats_cells_at = sample.time
            self._set_cells(key, stats_cells(sample))

    @work(exclusive=True, name="follow the app's logs", group="logs", exit_on_error=False)
    async def _follow_logs(self, fleet: Fleet, container_id: str, app_id: str) -> None:
        view = self.log_view
        view.clear()
        view.set_title(f"logs of {app_id}")
        try:
            async for line in fleet.logs(container_id, follow=True):
                view.add_line(line)
        except Exception as exc:  # context: said where the lines were
            view.add_line(f"(the log stream ended: {exc})")

    def action_logs(self) -> None:
        """Jump between the table and the log view."""
        if self.log_view.has_focus or self.log_view.has_focus_within:
            self.table.focus()
        else:
            self.log_view.focus()

    # --- the detail pane ----------------------------------------------------------------------

    def _show_detail(self) -> None:
        detail = self.query_one("#detail", Static)
        status = self.statuses.get(self.selected or "")
        if status is None:
            detail.update("")
            return
        detail.update(self.render_detail(status))

    def render_detail(self, status: AppStatus, key: str | None = None) -> Text:
        """The detail pane's text: state, links (OSC 8), the SSH tunnel, warnings, crash logs,
        GPU use; ``key``: the row (default: the selected one)."""
        app = self._app(status.app_id)
        key = key or self.selected or status.app_id
        remote = None if self.is_local(key) else self.hosts_of.get(key)
        text = render_detail(status, app, self.links_of(status, key), self._now(), remote)
        gpu = self.gpu_text(status, key)
        if gpu is not None:
            text.append_text(gpu)
        return text
