"""The Running screen: every managed app with its live state, links, logs and stats.

The table follows the fleet (engine events + probes) through its change callback; stats and logs
are streamed only for the selected app and only while this screen is shown, because each open
stats stream costs the engine CPU (see the peer measurements). What the keys do to the selected
app is in ``actions``; the cells, the detail pane and the stats pane have their own modules.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from paitui.domain.catalog.schema import Catalog
from paitui.domain.engine.containers import EngineConnection, StatsSample
from paitui.domain.fleet.hosts import HostState, show_host_column
from paitui.domain.fleet.status import AppState, AppStatus, format_uptime
from paitui.domain.gpu.usage import GpuSnapshot
from paitui.ui.failures import ReportsWorkerFailures
from paitui.ui.host import host_of
from paitui.ui.screens.running.actions import AppActions
from paitui.ui.screens.running.cells import (
    FIXED_WIDTH,
    STOPPABLE,
    Cell,
    columns,
    gpu_cell,
    host_column_cell,
    plain,
    row_cells,
    stats_cells,
)
from paitui.ui.screens.running.detail import gpu_detail, render_detail
from paitui.ui.screens.running.stats import StatsPane
from paitui.ui.widgets.gpu_usage import SamplePacer
from paitui.ui.widgets.log_view import LogView
from paitui.ui.widgets.section_bar import SectionBar
from paitui.ui.widgets.taskbar import Taskbar

if TYPE_CHECKING:
    from paitui.services.fleet.hosts import MultiFleet
    from paitui.services.fleet.tracker import Fleet

#: Samples the GPU use of the given containers (``GpuSampler.sample``; blocking).
SampleGpu = Callable[[Collection[str]], GpuSnapshot]


#: Seconds between redraws of the selected app's stats (samples arrive about once a second).
STATS_DRAW_INTERVAL = 2.0
#: Seconds between GPU samples while the screen is shown (the sampler allows no faster).
GPU_INTERVAL = 2.0


class RunningScreen(ReportsWorkerFailures, AppActions):
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
    class StatusChanged(Message):
        """The fleet has a new status for an app."""

        status: AppStatus
        host: str | None = None

    @dataclass
    class HostChanged(Message):
        """A host of a multi-host fleet came or went."""

        state: HostState

    @dataclass
    class GpuSampled(Message):
        """A GPU sample of the containers on screen (or why there is none)."""

        snapshot: GpuSnapshot | None
        error: str = ""
        #: The containers the sample was asked for (others were not read).
        containers: frozenset[str] = frozenset()

    @dataclass
    class StatsArrived(Message):
        """A stats sample of the selected app."""

        sample: StatsSample

    def __init__(self, env: dict[str, str] | None = None, sampler: SampleGpu | None = None) -> None:
        super().__init__(dict(os.environ if env is None else env))
        #: The GPU sampler given (tests, demo); else the services' one on a live host.
        self._sampler = sampler
        self._sampler_failed = False
        self.gpu_snapshot: GpuSnapshot | None = None
        self.gpu_error = ""
        #: The containers the last sample covered: another one's cell waits for the next.
        self._gpu_covered: frozenset[str] = frozenset()
        self._gpu_timer: Timer | None = None
        self._pacer = SamplePacer(GPU_INTERVAL)
        self._gpu_soon = False
        self._col_keys: list[str] = []
        self._show_vram = False
        self._show_host = False
        self.last_sample: StatsSample | None = None
        self._stats_drawn_at = 0.0
        self._stats_container: str | None = None
        self._stats_fleet: Fleet | None = None
        self._logs_for: tuple[str | None, float | None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_engine: Callable[[], None] | None = None
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
        # Paused until the screen is shown: no GPU reads while another screen is up.
        self._pacer = SamplePacer(GPU_INTERVAL)
        self._gpu_timer = self.set_interval(GPU_INTERVAL, self._gpu_tick, pause=True)
        self.table.focus()
        self._connect_fleet()

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
        try:
            fleet, multi = await asyncio.to_thread(self._open_fleets)
        except Exception as exc:  # context: the detail pane says what is missing
            self.query_one("#detail", Static).update("The engine service is not available.")
            self.notify(f"cannot follow the engine: {exc}", severity="error")
            return
        if multi is not None:
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

    def _on_catalog(self, catalog: Catalog) -> None:
        # The fleet reads the catalog from its owner (Services): only the detail is redrawn.
        if self.fleet is not None and self.selected:
            self._show_detail()

    def _open_fleets(self) -> tuple[Fleet, MultiFleet | None]:
        """The local fleet, and a MultiFleet when several hosts are configured (in a thread:
        reading the hosts reads the docker contexts and settings)."""
        services = host_of(self).services
        hosts = services.hosts.hosts
        if not show_host_column(hosts):
            return services.fleet, None
        from paitui.services.fleet.hosts import MultiFleet

        multi = MultiFleet(hosts, services.catalog, services.settings)
        current = next((h.name for h in hosts if h.current), hosts[0].name)
        return multi.fleet(current), multi

    async def _follow_hosts(self, multi: MultiFleet) -> None:
        """Follow every host: a HOST column, each row tagged with its host."""
        self.multi = multi
        self.current_host = next((h.name for h in multi.hosts if h.current), multi.hosts[0].name)
        self.fleet = multi.fleet(self.current_host)
        self._show_host = True
        self._build_columns()
        self._unsubscribe = multi.subscribe(
            lambda name, status: self.post_message(self.StatusChanged(status, name))
        )
        self._unsubscribe_engine = multi.subscribe_hosts(
            lambda state: self.post_message(self.HostChanged(state))
        )
        for name, status in multi.statuses():
            self._upsert(status, name)
        self._update_empty()
        await multi.start()
        for spec in multi.hosts:
            self._host_changed(self.HostChanged(multi.state(spec.name)))

    @on(HostChanged)
    def _host_changed(self, message: HostChanged) -> None:
        state = message.state
        self.host_states[state.name] = state
        for key, name in self.hosts_of.items():
            if name == state.name and key in self.table.rows:
                self._set_cells(key, {"host": host_column_cell(name, state)})
        # A host that is away may have no rows to mark: the banner names it.
        away = [s for s in self.host_states.values() if s.reachable is False]
        banner = self.query_one("#running-engine", Static)
        if away:
            names = ", ".join(f"{s.name} ({s.message or 'no answer'})" for s in away)
            banner.update(f"⚠ unreachable: {names}; its apps read unknown until it is back")
        banner.set_class(bool(away), "shown")

    async def on_unmount(self) -> None:
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
        if self._gpu_timer is not None:
            self._gpu_timer.resume()
            self._gpu_tick()
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
        cells = row_cells(status, self._app(status.app_id), sample, self._now())
        host = self.hosts_of.get(key)
        if self._show_host:
            cells["host"] = host_column_cell(host, self.host_states.get(host or ""))
        if self._show_vram:
            cells["vram"] = self._vram_cell(key, status)
        return cells

    def _vram_cell(self, key: str, status: AppStatus) -> str:
        if not self.is_local(key):
            return "?"  # GPU use is read from this box's /proc and sysfs only
        if status.state in STOPPABLE and status.container_id not in self._gpu_covered:
            return ""  # not sampled yet
        return gpu_cell(status, self.gpu_snapshot)

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

    @on(StatusChanged)
    def _status_changed(self, message: StatusChanged) -> None:
        self._upsert(message.status, message.host)
        self._update_empty()

    # --- live GPU use ---------------------------------------------------------------------------

    def _visible_keys(self) -> list[str]:
        table = self.table
        first = int(table.scroll_y)
        rows = table.ordered_rows[first : first + table.size.height + 1]
        return [r.key.value for r in rows if r.key.value is not None]

    def _gpu_sampler(self) -> SampleGpu | None:
        if self._sampler is None and host_of(self).live and not self._sampler_failed:
            try:
                sampler = host_of(self).services.gpu_sampler
            except ValueError as exc:  # a bad PAITUI_GPU_HELPER: said once, in the detail
                self._sampler_failed = True
                self.post_message(self.GpuSampled(None, str(exc)))
                return None
            self._sampler = sampler.sample if sampler is not None else None
        return self._sampler

    def _gpu_tick(self, soon: bool = False) -> None:
        """Sample the GPU use of the running local apps on screen (in a thread worker);
        ``soon``: a new app appeared, sample without the cost back-off."""
        if self.app.screen is not self or self._sampler_failed:
            return  # hidden (the suspend may not be handled yet): nothing is read
        if self._sampler is None and not host_of(self).live:
            return  # demo and tests without a sampler: nothing to read
        soon = soon or self._gpu_soon
        if not self._pacer.due(soon):
            self._gpu_soon = soon  # a new row waits for the next tick, not the back-off
            return
        self._gpu_soon = False
        wanted = []
        for key in self._visible_keys():
            status = self.statuses.get(key)
            if status and status.container_id and status.state in STOPPABLE and self.is_local(key):
                wanted.append(status.container_id)
        self._sample_gpu(wanted, self._pacer.started())

    @work(thread=True, exclusive=True, name="sample GPU use", group="gpu", exit_on_error=False)
    def _sample_gpu(self, containers: list[str], started: float) -> None:
        sampler = self._gpu_sampler()  # built here: it may import NVML
        if sampler is None or get_current_worker().is_cancelled:
            return  # cancelled: the screen was hidden before this thread ran
        cpu = time.thread_time()
        try:
            snapshot = sampler(containers)
        except Exception as exc:  # context: the VRAM cells read "?" and the detail says why
            self._pacer.done(started, 0, time.thread_time() - cpu)
            self.post_message(self.GpuSampled(None, f"GPU use could not be read: {exc}"))
            return
        self._pacer.done(started, len(snapshot.gpus), time.thread_time() - cpu)
        self.post_message(self.GpuSampled(snapshot, containers=frozenset(containers)))

    @on(GpuSampled)
    def _gpu_sampled(self, message: GpuSampled) -> None:
        self.gpu_snapshot, self.gpu_error = message.snapshot, message.error
        self._gpu_covered = message.containers
        if message.snapshot is not None and message.snapshot.gpus and not self._show_vram:
            self._show_vram = True  # this box has a GPU: the column earns its width
            self._build_columns()
        if self._show_vram:
            for key, status in self.statuses.items():
                if key in self.table.rows:
                    self._set_cells(key, {"vram": self._vram_cell(key, status)})
        if self.selected:
            self._show_detail()

    def _stop_gpu(self) -> None:
        if self._gpu_timer is not None:
            self._gpu_timer.pause()
        self.workers.cancel_group(self, "gpu")

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
        return self._shown or self.app.screen is self

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
        key = self.selected or ""
        if key in self.table.rows:
            self._set_cells(key, stats_cells(sample))
        self.stats_pane.draw(sample)

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
        if self._show_vram or self.gpu_error:
            if not self.is_local(key):
                why = f"not sampled: GPU use is read on this box only, {status.app_id} runs on "
                text.append(f"\nGPU\n  {why}{self.hosts_of.get(key)}\n", style="dim")
            else:
                covered = status.container_id in self._gpu_covered
                snapshot = self.gpu_snapshot if covered else None
                text.append_text(gpu_detail(status, snapshot, self.gpu_error))
        return text
