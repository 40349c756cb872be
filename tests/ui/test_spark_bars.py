"""The Running screen's graphs: bars as levels, redrawn only when a level changes."""

from __future__ import annotations

from textual.app import App, ComposeResult

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


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield SparkBars(id="bars")


async def test_the_same_bars_are_not_drawn_again() -> None:
    app = _Host()
    async with app.run_test(size=(40, 4)) as pilot:
        bars = app.query_one(SparkBars)
        drawn: list[int] = []
        original = bars.refresh

        def counting(*args: object, **kwargs: object) -> SparkBars:
            drawn.append(1)
            return original(*args, **kwargs)  # type: ignore[arg-type]

        bars.refresh = counting  # type: ignore[method-assign]
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
