"""A DataTable for rows that keep changing: its render caches hold the current table only.

Textual's DataTable keys every render cache (cells, rows, lines, row renderables) on a
table-wide update count, so each cell update makes every cached entry unreachable, but the
caches (10,000 cells, 1,000 rows, 1,000 lines) keep them until they are full: a Running screen
whose uptimes and stats change a few times a minute grew by ~0.6 MB a minute for twenty
minutes (``bench/memory.py``). Here the caches are emptied when the count has moved.
"""

from __future__ import annotations

from typing import Any

from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable


class LiveTable(DataTable[Any]):
    """``DataTable`` whose caches never outlive the update that made them unreachable."""

    _cached_update = -1

    def render_lines(self, crop: Region) -> list[Strip]:
        """Render, after dropping what an update since the last render made unreachable."""
        if self._update_count != self._cached_update:
            self._cached_update = self._update_count
            # Each key of these holds the update count (Textual 8.2, widgets/_data_table.py):
            # entries of an older count are never read again.
            self._cell_render_cache.clear()
            self._row_render_cache.clear()
            self._row_renderable_cache.clear()
            self._line_cache.clear()
        return super().render_lines(crop)
