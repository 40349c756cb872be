"""The Running screen's table keeps one generation of rendered cells, rows and lines: a table
whose cells change a few times a minute stays the same size in memory."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from paitui.ui.widgets.live_table import LiveTable

ROWS, COLUMNS, UPDATES = 30, 7, 40


class Table(App[None]):
    def __init__(self, table: DataTable[Any]) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        yield self.table

    def on_mount(self) -> None:
        for column in range(COLUMNS):
            self.table.add_column(f"c{column}", key=f"c{column}")
        for row in range(ROWS):
            self.table.add_row(*(f"{row}:{c}" for c in range(COLUMNS)), key=f"r{row}")


async def _cached_after_updates(table: DataTable[Any]) -> tuple[int, int, int]:
    app = Table(table)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        for n in range(UPDATES):
            table.update_cell("r0", "c6", f"uptime {n}", update_width=True)
            await pilot.pause()
        assert table.get_cell("r0", "c6") == f"uptime {UPDATES - 1}"
        lines = app.query_one(DataTable).render_lines(table.region.reset_offset)
        assert any("uptime 39" in strip.text for strip in lines)
        return len(table._cell_render_cache), len(table._row_render_cache), len(table._line_cache)


async def test_the_caches_hold_the_current_table_only() -> None:
    cells, rows, lines = await _cached_after_updates(LiveTable())
    # One generation: each visible cell, row and line once (and the header's).
    assert cells <= (ROWS + 1) * COLUMNS * 2
    assert rows <= (ROWS + 1) * 2 and lines <= (ROWS + 1) * 2
    # Textual's table keeps every generation until its caches are full.
    plain_cells, _, _ = await _cached_after_updates(DataTable())
    assert plain_cells > cells * 10
