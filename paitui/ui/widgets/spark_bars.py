"""A sparkline drawn as plain text: the Running screen's CPU and memory history.

Textual's Sparkline works each bar out with fractions and blends a colour per cell; drawn every two
seconds it was most of the Running screen's idle CPU. Here a bar is one of ``8 * height`` levels,
its colour one of as many steps worked out once, and the widget redraws only when a level changes.
It looks like Textual's (the same bars, the same component classes for the two colours).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual import events
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"


def spark_levels(data: Sequence[float], width: int, height: int) -> tuple[int, ...]:
    """Each column's bar as a level from 0 to ``8 * height - 1``: the largest value of the
    column's share of ``data``, scaled between the data's smallest and largest."""
    count = len(data)
    if count == 0 or width <= 0:
        return ()
    top = 8 * height - 1
    low, high = min(data), max(data)
    extent = (high - low) or 1.0
    levels = []
    for column in range(width):
        start = column * count // width
        end = max(start + 1, (column + 1) * count // width)
        value = max(data[start:end])
        levels.append(round((value - low) / extent * top))
    return tuple(levels)


class SparkBars(Widget):
    """The last samples of one figure as bars, ``height`` lines high."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"sparkline--max-color", "sparkline--min-color"}
    DEFAULT_CSS = """
    SparkBars { height: 2; }
    SparkBars > .sparkline--max-color { color: $primary; }
    SparkBars > .sparkline--min-color { color: $primary 30%; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._data: tuple[float, ...] = ()
        self._levels: tuple[int, ...] | None = None

    def show(self, data: Sequence[float]) -> None:
        """Show ``data``; nothing is redrawn when no bar would change."""
        self._data = tuple(data)
        levels = spark_levels(self._data, self.size.width, self.size.height or 1)
        if levels != self._levels or len(self._data) <= 1:
            self._levels = levels
            self.refresh()

    def on_resize(self, _event: events.Resize) -> None:
        self._levels = None  # another width: other columns
        self.show(self._data)

    def render(self) -> Text:
        width, height = self.size.width, self.size.height or 1
        _, base = self.background_colors  # the colours as Textual's Sparkline mixes them
        low = Style(
            color=(base + self.get_component_styles("sparkline--min-color").color).rich_color
        )
        high = Style(
            color=(base + self.get_component_styles("sparkline--max-color").color).rich_color
        )
        if len(self._data) <= 1:
            # As Textual's: no data is a flat line of the low colour, one sample a full bar.
            if not self._data:
                return Text("\n" * (height - 1) + BARS[0] * width, style=low)
            return Text("\n".join(["█" * width] * height), style=high)
        levels = self._levels or spark_levels(self._data, width, height)
        top = 8 * height - 1
        palette = _palette(low, high, top + 1)
        text = Text()
        for row in reversed(range(height)):
            run, run_level = "", -1
            for level in levels:  # runs of one level are one span
                part = level - row * 8
                char = " " if part < 0 else BARS[min(part, 7)]
                if level != run_level and run:
                    text.append(run, palette[run_level])
                    run = ""
                run, run_level = run + char, level
            if run:
                text.append(run, palette[run_level])
            if row:
                text.append("\n")
        return text


def _palette(low: Style, high: Style, steps: int) -> list[Style]:
    """``steps`` styles blending the low colour into the high one."""
    start = low.color.get_truecolor() if low.color else None
    end = high.color.get_truecolor() if high.color else None
    if start is None or end is None:
        return [high] * steps
    styles = []
    for step in range(steps):
        t = step / max(1, steps - 1)
        rgb = (round(a + (b - a) * t) for a, b in zip(start, end, strict=True))
        styles.append(Style(color=Color.from_rgb(*rgb)))
    return styles
