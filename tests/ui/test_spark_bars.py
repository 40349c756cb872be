"""The Running screen's graphs: bars as levels, redrawn only when a level changes."""

from __future__ import annotations

import time

from textual.app import App, ComposeResult

from paitui.domain.engine.containers import StatsSample
from paitui.ui.screens.running.stats import StatsPane
from paitui.ui.widgets.spark_bars import SparkBars, spark_levels


def test_levels_scale_between_the_smallest_and_largest_value() -> None:
    assert spark_levels([], 10, 2) == ()
    assert spark_levels([0.0, 5.0, 10.0], 3, 1) == (0, 4, 7)  # 8 levels on one line
    assert spark_levels([0.0, 10.0], 2, 2) == (0, 15)  # 16 on two
    # More samples than columns: each column shows the largest of its share.
    assert spark_levels([1, 9, 2, 3, 1, 1], 3, 1) == (7, 2, 0)
    # Fewer: a sample spans several columns; flat data sits on the floor.
    assert spark_levels([0.0, 8.0], 4, 1) == (0, 0, 7, 7)
    assert spark_levels([3.0, 3.0, 3.0], 3, 2) == (0, 0, 0)


def test_noise_below_the_span_stays_on_the_floor() -> None:
    idle = [0.0, 0.01, 0.0, 0.02]
    assert spark_levels(idle, 4, 2) == (0, 8, 0, 15)  # scaled to its own extent: full bars
    assert spark_levels(idle, 4, 2, floor=0.0, min_span=5.0) == (0, 0, 0, 0)
    busy = [0.0, 50.0, 100.0]
    assert spark_levels(busy, 3, 1, floor=0.0, min_span=5.0) == (0, 4, 7)  # a real load shows
    # A floor above the data does not cut it off; memory keeps its own low end.
    assert spark_levels([2.0, 4.0], 2, 1, floor=3.0) == (0, 7)
    mem = [100e6, 100e6 + 4096, 100e6 - 4096]
    assert spark_levels(mem, 3, 1, min_span=16 * 2**20) == (0, 0, 0)


def _refreshes(bars: SparkBars, into: list[str] | None = None) -> list[str]:
    """The ids of ``bars`` each time it asks to be redrawn, from now on."""
    drawn = [] if into is None else into
    original = bars.refresh

    def counting(*args: object, **kwargs: object) -> SparkBars:
        drawn.append(str(bars.id))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    bars.refresh = counting  # type: ignore[method-assign]
    return drawn


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield SparkBars(id="bars")


async def test_the_same_bars_are_not_drawn_again() -> None:
    app = _Host()
    async with app.run_test(size=(40, 4)) as pilot:
        bars = app.query_one(SparkBars)
        drawn = _refreshes(bars)
        bars.show([0.0, 1.0, 2.0, 3.0])
        await pilot.pause()
        assert len(drawn) == 1
        bars.show([0.0, 1.0, 2.0, 3.0])  # an idle app's next reading: the same bars
        bars.show([0.0, 1.0, 2.0, 3.0001])
        assert len(drawn) == 1
        bars.show([3.0, 2.0, 1.0, 0.0])
        assert len(drawn) == 2
        await pilot.pause()
        text = [bars.render_line(y).text for y in range(2)]
        assert text[1].startswith("█") and text[1].rstrip().endswith("▁")
        assert text[0].startswith("█") and text[0].endswith(" ")  # the low bars stay below
        assert all(len(line) == 40 for line in text)
        assert app.query_one(SparkBars).render_line(5).text == " " * 40  # below the widget


class _PaneHost(App[None]):
    def compose(self) -> ComposeResult:
        yield StatsPane()


async def test_an_idle_apps_readings_draw_nothing_new() -> None:
    """CPU noise of hundredths of a percent and memory moving by pages: after the first
    readings the graphs stay as they are, so an idle app costs no redraws."""
    app = _PaneHost()
    async with app.run_test(size=(60, 12)) as pilot:
        pane = app.query_one(StatsPane)
        drawn: list[str] = []
        for bars in app.query(SparkBars):
            _refreshes(bars, drawn)

        def reading(i: int, cpu: float, mem: float) -> StatsSample:
            return StatsSample("c", cpu, int(mem), 0, time.time() + i)

        for i in range(3):
            pane.add(reading(i, 0.0, 50e6))
            pane.draw(reading(i, 0.0, 50e6))
        await pilot.pause()
        drawn.clear()
        for i in range(3, 40):
            sample = reading(i, (0.0, 0.01, 0.02)[i % 3], 50e6 + (i % 2) * 8192)
            pane.add(sample)
            pane.draw(sample)
        assert drawn == []
        busy = reading(40, 80.0, 50e6)
        pane.add(busy)
        pane.draw(busy)
        assert drawn == ["spark-cpu"]


async def test_the_second_reading_replaces_the_first_ones_full_bar() -> None:
    """One sample is drawn as a full bar; the second is drawn as bars even when its level is
    the first one's (an idle app's 0.2 % and 0.3 % both sit on the floor)."""
    app = _Host()
    async with app.run_test(size=(20, 4)) as pilot:
        bars = app.query_one(SparkBars)
        bars.floor, bars.min_span = 0.0, 5.0
        bars.show([0.2])
        await pilot.pause()
        drawn = _refreshes(bars)
        bars.show([0.2, 0.3])
        assert drawn == ["bars"]
        await pilot.pause()
        assert [bars.render_line(y).text for y in range(2)] == [" " * 20, "▂" * 20]
        bars.show([0.2, 0.3, 0.2])  # the same bars again: nothing to draw
        assert drawn == ["bars"]
