"""The Desktop updates its tiles in place: a tile whose app stays in its grid is never remounted.

The bundled catalog on the real app (no engine): before detection every app is offered, then
a CPU-only box moves the GPU-only apps to "Needs other hardware", then a CUDA box moves them
back. After each step the grids must show exactly ``tile_data``'s order.
"""

from __future__ import annotations

import time

from textual.containers import Grid

from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import HardwareReport
from paitui.services.registry import Services
from paitui.settings import load_settings
from paitui.ui.app import PaituiApp
from paitui.ui.screens.home import HomeScreen, tile_data
from paitui.ui.widgets.tiles import AppTile


def _grids(screen: HomeScreen) -> dict[str, list[AppTile]]:
    return {
        grid_id: list(screen.query_one(f"#{grid_id}", Grid).query_children(AppTile))
        for grid_id in ("tiles-fit", "tiles-blocked")
    }


def _expected(app: PaituiApp) -> dict[str, list[str]]:
    assert app.catalog is not None
    fit, blocked = tile_data(app.catalog, app.hardware_report, app.statuses)
    return {
        "tiles-fit": [t.app_id for t in fit],
        "tiles-blocked": [t.app_id for t in blocked],
    }


async def test_tiles_move_between_grids_and_the_rest_stay_mounted() -> None:
    app = PaituiApp(Services(load_settings()), live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HomeScreen)
        before = _grids(screen)
        assert len(before["tiles-fit"]) > 10 and before["tiles-blocked"] == []
        ids = {grid: [t.data.app_id for t in tiles] for grid, tiles in _grids(screen).items()}
        assert ids == _expected(app)
        first = {id(t): t.data.app_id for t in before["tiles-fit"]}

        for ranking in ((Accel.CPU,), (Accel.CUDA, Accel.CPU)):
            app.set_hardware_report(HardwareReport(ranking=ranking))
            await app.workers.wait_for_complete()
            for _ in range(3):
                await pilot.pause()
            now = _grids(screen)
            ids = {grid: [t.data.app_id for t in tiles] for grid, tiles in now.items()}
            assert ids == _expected(app), ranking
            # Every fit tile of an app that was fit before is the very same widget.
            kept = [t for t in now["tiles-fit"] if id(t) in first]
            assert kept, ranking
            assert all(first[id(t)] == t.data.app_id for t in kept)
            assert all(t.data.variant is None for t in now["tiles-blocked"])
        cpu_only = {t.data.app_id for t in _grids(screen)["tiles-blocked"]}
        assert cpu_only == set(_expected(app)["tiles-blocked"])


async def test_tiles_past_the_screens_budget_are_mounted_by_a_later_call() -> None:
    app = PaituiApp(Services(load_settings()), live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        deadline = time.monotonic() + 10
        while app.catalog is None:  # read once the first frame is drawn
            assert time.monotonic() < deadline, "the catalog was not read"
            await pilot.pause(0.01)
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HomeScreen)
        grid = screen.query_one("#tiles-fit", Grid)
        await grid.remove_children()
        fit, _blocked = tile_data(app.catalog, app.hardware_report, app.statuses)
        assert len(fit) > 6
        assert await screen._update_grid(grid, fit, 4)  # more to mount
        assert [t.data for t in grid.query_children(AppTile)] == fit[:4]
        first = list(grid.query_children(AppTile))
        assert await screen._update_grid(grid, fit, 4)  # the kept ones use up the budget
        assert [t.data for t in grid.query_children(AppTile)] == fit[:4]
        assert not await screen._update_grid(grid, fit, len(fit))
        assert [t.data for t in grid.query_children(AppTile)] == fit
        assert list(grid.query_children(AppTile))[:4] == first
