"""The log view draws what arrives in batches: a burst of lines is one write, not one per line.

One write per line made the compositor's refresh most of the client's CPU under 200 lines/s
(bench/profile_paitui.py, logs); these feed a real LogView in a running app.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import RichLog

from paitui.ui.widgets.log_view import FLUSH_INTERVAL, LogView


class LogHost(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(id="log", max_lines=2000, shown_lines=500)


async def _until(check: Any, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _shown(log: RichLog) -> list[str]:
    return [strip.text.rstrip() for strip in log.lines]


async def test_a_burst_is_drawn_in_few_writes_and_keeps_the_last_lines() -> None:
    app = LogHost()
    async with app.run_test(size=(80, 20)):
        view = app.query_one(LogView)
        log = view.query_one(RichLog)
        writes: list[int] = []
        original = log.write

        def counting(content: Any, *args: Any, **kwargs: Any) -> RichLog:
            writes.append(1)
            return original(content, *args, **kwargs)

        log.write = counting  # type: ignore[method-assign]
        view.add_lines(f"line {i}" for i in range(1200))
        assert len(view.lines) == 1200  # kept at once, for search and pause
        await _until(lambda: len(log.lines) == 500, "the burst drawn")
        assert _shown(log) == [f"line {i}" for i in range(700, 1200)]
        assert len(writes) == 1
        # A trickle: every line arrives, in batches of about FLUSH_INTERVAL.
        start = time.monotonic()
        for i in range(10):
            view.add_line(f"late {i}")
            await asyncio.sleep(FLUSH_INTERVAL / 4)
        await _until(lambda: _shown(log)[-1] == "late 9", "the trickle drawn")
        elapsed = time.monotonic() - start
        assert _shown(log)[-10:] == [f"late {i}" for i in range(10)]
        assert len(writes) - 1 <= elapsed / FLUSH_INTERVAL + 2, (writes, elapsed)


async def test_search_filters_a_batch_and_clear_drops_what_is_pending() -> None:
    app = LogHost()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(LogView)
        log = view.query_one(RichLog)
        view.search = "7"
        await pilot.pause()
        view.add_lines(f"line {i}" for i in range(100))
        await _until(lambda: len(log.lines) > 0, "the filtered batch drawn")
        assert _shown(log) == [f"line {i}" for i in range(100) if "7" in str(i)]
        view.add_lines(["stale 17", "stale 27"])
        view.clear()  # another app was selected before the batch was drawn
        view.add_line("fresh 7")
        await _until(lambda: len(log.lines) > 0, "the new app's line")
        await pilot.pause(FLUSH_INTERVAL * 2)
        assert _shown(log) == ["fresh 7"]


async def test_the_drawn_lines_cache_stays_small_while_the_log_scrolls() -> None:
    """A followed log draws a new absolute line number each time: RichLog's own cache would
    keep 1024 of them; the view's holds about two screenfuls."""
    app = LogHost()
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(LogView)
        log = view.query_one(RichLog)
        cache = log._line_cache  # Textual's own name: this fails loudly if it goes
        assert cache.maxsize <= 256
        for batch in range(40):
            view.add_lines(f"line {batch}-{i}" for i in range(20))
            view._flush()
            await pilot.pause()
        await _until(lambda: "line 39-19" in _shown(log), "the last line drawn")
        assert 0 < len(cache) <= cache.maxsize
