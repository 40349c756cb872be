"""The desktop: tiles of the apps this box can run, those it cannot (and why), a hardware line."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from paitui.ui.failures import ReportsWorkerFailures
from paitui.ui.host import host_of
from paitui.ui.widgets.section_bar import SectionBar
from paitui.ui.widgets.taskbar import Taskbar, engine_trouble
from paitui.ui.widgets.tiles import AppTile, TileData

if TYPE_CHECKING:
    # The domain (the catalog's pydantic models above all) is imported once there is something
    # to show, after the first frame.
    from paitui.domain.catalog.schema import Catalog
    from paitui.domain.engine.containers import EngineConnection
    from paitui.domain.fleet.status import AppStatus
    from paitui.domain.hardware.report import HardwareReport
    from paitui.domain.launch.catalog_preview import CatalogPreview

TILE_WIDTH = 30
#: A tile's height in lines (``grid-rows`` below).
TILE_HEIGHT = 4


def hardware_line(report: HardwareReport | None, engine: EngineConnection | None = None) -> Text:
    """One line: the GPUs, the usable accelerators, Docker, and the worst finding.

    ``engine`` is the live connection: it says more than the detection made at start (the
    engine may have gone away since, or come back)."""
    trouble = engine_trouble(engine)
    if report is None:
        text = Text("Detecting hardware…", style="dim")
        if trouble:
            text.append(f"  ·  ⚠ {trouble}, retrying", style="bold red")
        return text
    from paitui.domain.hardware.report import Severity

    text = Text()
    gpus = [g for g in report.gpus if not g.is_display_only]
    if gpus:
        names = ", ".join(f"{g.name} ({g.driver or 'no driver'})" for g in gpus[:2])
        text.append(names, style="bold")
        if len(gpus) > 2:
            text.append(f" +{len(gpus) - 2}")
    else:
        text.append("No GPU", style="bold")
    text.append("  ·  ")
    text.append(" ".join(a.value for a in report.ranking), style="green")
    if trouble:
        text.append("  ·  ")
        text.append(f"⚠ {trouble}, retrying", style="bold red")
    elif report.docker is not None:
        text.append("  ·  ")
        if report.docker.reachable:
            d = report.docker
            text.append(f"{d.engine} {d.version or ''}".strip(), style="green")
        elif engine is not None:  # connected since the detection said it was not
            text.append("Docker", style="green")
        else:
            text.append("Docker unreachable", style="bold red")
    worst = [f for f in report.findings if f.severity != Severity.INFO]
    if worst:
        text.append(
            f"  ·  ⚠ {len(worst)} finding{'s' if len(worst) > 1 else ''} (2)", style="yellow"
        )
    return text


def tile_data(
    catalog: Catalog,
    report: HardwareReport | None,
    statuses: dict[str, AppStatus],
    host: str | None = None,
) -> tuple[list[TileData], list[TileData]]:
    """Tiles for the apps that fit and for those that do not, in display order."""
    from paitui.domain.launch.variant_fit import best_variant, why_not

    fit: list[TileData] = []
    blocked: list[TileData] = []
    for app in catalog.sorted_apps():
        status = statuses.get(app.id)
        state = status.state.value if status else None
        variant = best_variant(app, report)
        if variant is not None:
            fit.append(TileData(app.id, app.name, app.kind, variant, state=state, host=host))
        else:
            reason = why_not(app, report) if report else ""
            blocked.append(TileData(app.id, app.name, app.kind, None, reason, state))
    return fit, blocked


def preview_tile_data(
    preview: CatalogPreview, statuses: dict[str, AppStatus], host: str | None = None
) -> tuple[list[TileData], list[TileData]]:
    """The tiles of the catalog preview: what ``tile_data`` makes of the catalog before the
    hardware is known."""
    fit: list[TileData] = []
    blocked: list[TileData] = []
    for app in preview.apps:
        status = statuses.get(app.app_id)
        state = status.state.value if status else None
        if app.variant is not None:
            fit.append(
                TileData(app.app_id, app.name, app.kind, app.variant, state=state, host=host)
            )
        else:
            blocked.append(TileData(app.app_id, app.name, app.kind, None, "", state))
    return fit, blocked


class HomeScreen(ReportsWorkerFailures, Screen[None]):
    """What this box can run, and what runs."""

    DEFAULT_CSS = """
    HomeScreen #hw-line { height: auto; max-height: 2; padding: 0 1; background: $surface; }
    HomeScreen #desk { height: 1fr; padding: 0 1; }
    HomeScreen Grid { grid-size: 2; grid-gutter: 0 1; grid-rows: 4; height: auto; }
    HomeScreen .section-title { margin: 1 0 0 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "launch", "Launch", show=True),
        Binding("left", "move(-1, 0)", "", show=False),
        Binding("right", "move(1, 0)", "", show=False),
        Binding("up", "move(0, -1)", "", show=False),
        Binding("down", "move(0, 1)", "", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._columns = 2
        #: The tiles are behind what the host holds: redrawn when the Desktop is shown again.
        self._stale = False

    def compose(self) -> ComposeResult:
        yield SectionBar()
        yield Static(hardware_line(None), id="hw-line")
        with VerticalScroll(id="desk"):
            yield Static("Runs on this box", classes="section-title")
            yield Grid(id="tiles-fit")
            yield Static("Needs other hardware", classes="section-title", id="blocked-title")
            yield Grid(id="tiles-blocked")
        yield Taskbar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Desktop"
        paitui = host_of(self)
        paitui.catalog_changed.subscribe(self, lambda _c: self.call_next(self._rebuild))
        paitui.catalog_preview_changed.subscribe(self, lambda _p: self.call_next(self._rebuild))
        paitui.hardware_changed.subscribe(self, self._on_hardware)
        paitui.statuses_changed.subscribe(self, lambda _s: self._update_states())
        self._on_hardware(paitui.hardware_report)
        self.watch(self.app, "engine_connection", lambda _c: self._update_hw_line(), init=False)

    def _on_hardware(self, report: HardwareReport | None) -> None:
        self._update_hw_line()
        self.call_next(self._rebuild)

    def _update_hw_line(self) -> None:
        paitui = host_of(self)
        line = hardware_line(paitui.hardware_report, paitui.engine_connection)
        self.query_one("#hw-line", Static).update(line)

    def on_resize(self, event: events.Resize) -> None:
        columns = max(1, (event.size.width - 2) // TILE_WIDTH)
        if columns != self._columns:
            self._columns = columns
            for grid in self.query(Grid):
                grid.styles.grid_size_columns = columns

    def on_screen_resume(self, _event: events.ScreenResume) -> None:
        if self._stale:
            self.call_next(self._rebuild)

    async def _rebuild(self, everything: bool = False) -> None:
        """Make the grids show the tiles; ``everything``: all of them now (else those that fit
        on the screen first, the rest after that draw)."""
        paitui = host_of(self)
        catalog, preview = paitui.catalog, paitui.catalog_preview
        if catalog is None and preview is None:
            return
        if not self.is_active:
            # Another section is shown (key 5 at start): mounting 66 tiles nobody sees would
            # hold up that screen's first draw.
            self._stale = True
            return
        self._stale = False
        if catalog is not None:
            # Which box a launch goes to, once there is more than one (files: a thread).
            services = paitui.services
            hosts = await asyncio.to_thread(lambda: services.hosts.hosts)
            from paitui.domain.fleet.hosts import tile_host_note

            note = tile_host_note(hosts)
            fit, blocked = tile_data(catalog, paitui.hardware_report, paitui.statuses, note)
        else:
            # The preview is drawn at once: reading the hosts now would share the interpreter
            # lock with the catalog's reading; the catalog's draw adds the hosts.
            assert preview is not None  # one of the two, see above
            fit, blocked = preview_tile_data(preview, paitui.statuses)
        if [t.data for t in self.query(AppTile)] == [*fit, *blocked]:
            return  # same tiles: keep them, and the focus
        focused = self.focused.data.app_id if isinstance(self.focused, AppTile) else None
        # The tiles that fit on the screen first; the rest once they are drawn (mounting 66
        # tiles at once held the first list back by a tenth of a second).
        rows = max(self.size.height, 1) // TILE_HEIGHT + 1
        budget = len(fit) + len(blocked) if everything else rows * self._columns
        deferred = False
        for grid_id, tiles in (("#tiles-fit", fit), ("#tiles-blocked", blocked)):
            deferred |= await self._update_grid(self.query_one(grid_id, Grid), tiles, budget)
            budget = max(0, budget - len(tiles))
        self.query_one("#blocked-title").display = bool(blocked)
        self._restore_focus(focused)
        if deferred:
            self.call_after_refresh(self._rebuild, True)

    async def _update_grid(self, grid: Grid, tiles: list[TileData], budget: int) -> bool:
        """Make ``grid`` show ``tiles``: keep the tiles of apps still in it (updated in place),
        drop the others, mount only the new ones. Mounting 66 tiles twice at start (catalog,
        then hardware) kept the loop from drawing the first states.

        New tiles past ``budget`` (the number that fits on screen) are left for a later call;
        True when some were."""
        have = {tile.data.app_id: tile for tile in grid.query_children(AppTile)}
        wanted = {t.app_id for t in tiles}
        gone = [tile for app_id, tile in have.items() if app_id not in wanted]
        if gone:
            await grid.remove_children(gone)
        kept = [t for t in tiles if t.app_id in have]
        if [t.app_id for t in tiles[: len(kept)]] == [t.app_id for t in kept]:
            # The kept tiles first, then only new ones (or none kept): update in place, mount
            # the new ones together, as many as the budget leaves.
            for data in kept:
                if have[data.app_id].data != data:
                    have[data.app_id].update_data(data)
            new = tiles[len(kept) :]
            room = max(0, budget - len(kept))
            if new[:room]:
                await grid.mount_all(AppTile(t) for t in new[:room])
            return len(new) > room
        for index, data in enumerate(tiles):
            tile = have.get(data.app_id)
            if tile is None:
                # Apps keep the catalog's order, so what is kept is already in order.
                children = list(grid.query_children(AppTile))
                before = children[index] if index < len(children) else None
                await grid.mount(AppTile(data), before=before)
            elif tile.data != data:
                tile.update_data(data)
        return False

    def _restore_focus(self, app_id: str | None) -> None:
        # Keep the focus on the same app while it can run here; else the first app that can.
        tiles = list(self.query(AppTile))
        runnable = [t for t in tiles if t.data.variant is not None]
        same = next((t for t in runnable if t.data.app_id == app_id), None)
        target = same or (runnable[0] if runnable else tiles[0] if tiles else None)
        if target is not None:
            target.focus()

    def _update_states(self) -> None:
        if not self.is_active:
            self._stale = True
            return
        statuses = host_of(self).statuses
        for tile in self.query(AppTile):
            status = statuses.get(tile.data.app_id)
            state = status.state.value if status else None
            if state != tile.data.state:
                d = tile.data
                tile.update_data(
                    TileData(d.app_id, d.name, d.kind, d.variant, d.reason, state, d.host)
                )

    def action_move(self, dx: int, dy: int) -> None:
        """Move the focus between tiles like in a grid of icons."""
        tiles = list(self.query(AppTile))
        if not tiles:
            return
        current = tiles.index(self.focused) if self.focused in tiles else 0
        target = min(max(current + dx + dy * self._columns, 0), len(tiles) - 1)
        tiles[target].focus()
        tiles[target].scroll_visible()

    def action_launch(self) -> None:
        """Open the launch flow for the focused tile."""
        if isinstance(self.focused, AppTile):
            self.post_message(AppTile.Chosen(self.focused.data.app_id))

    @on(AppTile.Chosen)
    def _chosen(self, event: AppTile.Chosen) -> None:
        event.stop()
        host_of(self).open_launch(event.app_id)
