"""At start the apps are drawn from the catalog preview, before the catalog is read.

The catalog's reading is held by a gate (a real ``Services`` whose read waits on an event), so
the screens can be looked at in between: the Desktop shows every app's tile, the Running screen
names its rows, a launch asks to wait, and once the catalog is read the same tile widgets stay.
"""

from __future__ import annotations

import threading
import time

from textual.containers import Grid
from textual.pilot import Pilot
from textual.widgets import DataTable

from paitui.domain.catalog.schema import Catalog
from paitui.domain.fleet.status import AppState, AppStatus
from paitui.domain.launch.catalog_preview import CatalogPreview, PreviewApp
from paitui.services.registry import Services
from paitui.settings import load_settings
from paitui.ui.app import PaituiApp
from paitui.ui.screens.home import HomeScreen
from paitui.ui.screens.running import RunningScreen
from paitui.ui.widgets.tiles import AppTile
from tests.ui.hosts import HostApp


class GatedServices(Services):
    """Real services whose catalog reading waits until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__(load_settings())
        self.gate = threading.Event()

    def load_catalog(self) -> Catalog:
        assert self.gate.wait(30), "the test never opened the gate"
        return super().load_catalog()


def _save_preview() -> int:
    services = Services(load_settings())
    fingerprint = services.catalog_fingerprint()
    services.save_catalog_preview(services.load_catalog(), fingerprint)
    assert fingerprint is not None
    saved = services.catalog_preview(fingerprint)
    assert saved is not None
    return len(saved.apps)


async def _until(pilot: Pilot[None], check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not callable(check) or not check():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.01)


def _tiles(screen: HomeScreen) -> list[AppTile]:
    return [t for grid in screen.query(Grid) for t in grid.query_children(AppTile)]


async def test_the_desktop_draws_the_preview_then_keeps_its_tiles_for_the_catalog() -> None:
    count = _save_preview()
    services = GatedServices()
    app = PaituiApp(services, live=False)
    notes: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, HomeScreen)
        await _until(pilot, lambda: len(_tiles(screen)) == count)
        assert app.catalog is None and app.catalog_preview is not None
        first = _tiles(screen)
        assert "Ollama" in [t.data.name for t in first]

        app.notify = lambda message, **_kw: notes.append(str(message))  # type: ignore[method-assign]
        app.open_launch(first[0].data.app_id)
        assert notes == ["Still reading the catalog; try again in a moment."]

        services.gate.set()
        await _until(pilot, lambda: app.catalog is not None)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [id(t) for t in _tiles(screen)] == [id(t) for t in first]


async def test_without_a_saved_preview_the_desktop_waits_for_the_catalog() -> None:
    services = GatedServices()
    app = PaituiApp(services, live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, HomeScreen)
        await pilot.pause()
        assert app.catalog_preview is None and _tiles(screen) == []
        services.gate.set()
        await _until(pilot, lambda: len(_tiles(screen)) > 10)


async def test_running_rows_drawn_before_the_preview_take_its_names() -> None:
    host = HostApp()
    host.statuses = {"a": AppStatus(app_id="a", state=AppState.STARTING, since=time.time())}
    async with host.run_test(size=(120, 30)) as pilot:
        await host.push_screen(RunningScreen())
        await pilot.pause()
        table = host.screen.query_one("#running-apps", DataTable)

        def name() -> str:
            return str(table.get_cell("a", "app"))

        assert name() == "a"  # neither the catalog nor a preview yet
        preview = CatalogPreview("f" * 40, (PreviewApp("a", "Alpha", "llm", "cpu"),))
        host.catalog_preview = preview
        host.catalog_preview_changed.publish(preview)
        await _until(pilot, lambda: name() == "Alpha")
