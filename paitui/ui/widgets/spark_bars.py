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
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.strip import Strip
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"


def spark_levels(
    data: Sequence[float],
    width: int,
    height: int,
    *,
    floor: float | None = None,
    min_span: float = 0.0,
) -> tuple[int, ...]:
    """Each column's bar as a level from 0 to ``8 * height - 1``: the largest value of the
    column's share of ``data``, scaled between the data's smallest (or ``floor``, if lower) and
    largest, over at least ``min_span``: noise far below it stays on the floor instead of
    filling the graph (and redrawing it every reading)."""
    count = len(data)
    if count == 0 or width <= 0:
        return ()
    top = 8 * height - 1
    low = min(data) if floor is None else min(floor, min(data))
    high = max(max(data), low + min_span)
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

    def __init__(
        self, *, id: str | None = None, floor: float | None = None, min_span: float = 0.0
    ) -> None:
        super().__init__(id=id)
        self.floor = floor
        self.min_span = min_span
        self._data: tuple[float, ...] = ()
        self._levels: tuple[int, ...] | None = None
        self._lines: list[Strip] | None = None
        self._lines_key: object = None

    def show(self, data: Sequence[float]) -> None:
        """Show ``data``; nothing is redrawn when no bar would change."""
        was = self._shape()
        self._data = tuple(data)
        levels = self._levels_for(self.size.width, self.size.height or 1)
        if levels != self._levels or self._shape() != was:
            self._levels = levels
            self.refresh()

    def _shape(self) -> int:
        """None, one or several samples: drawn differently (a flat line, a full bar, bars)."""
        return min(len(self._data), 2)

    def _levels_for(self, width: int, height: int) -> tuple[int, ...]:
        return spark_levels(self._data, width, height, floor=self.floor, min_span=self.min_span)

    def on_resize(self, _event: events.Resize) -> None:
        self._levels = None  # another width: other columns
        self.show(self._data)

    def render_line(self, y: int) -> Strip:
        # Straight to segments, a few runs a line: through render() and Textual's content
        # pipeline each span cost a style conversion (5 ms a draw of the stats pane, now 2).
        width, height = self.size.width, self.size.height or 1
        if y >= height:
            return Strip.blank(width)
        base_style = self.visual_style.rich_style
        _, base = self.background_colors  # the colours as Textual's Sparkline mixes them
        low = self.get_component_styles("sparkline--min-color").color
        high = self.get_component_styles("sparkline--max-color").color
        key = (width, height, self._levels, self._shape(), base_style, base, low, high)
        if self._lines is None or self._lines_key != key:
            self._lines_key = key
            palette = [
                base_style + style
                for style in _palette(
                    Style(color=(base + low).rich_color),
                    Style(color=(base + high).rich_color),
                    8 * height,
                )
            ]
            self._lines = self._draw(width, height, base_style, palette)
        return self._lines[y]

    def _draw(
        self, width: int, height: int, base_style: Style, palette: list[Style]
    ) -> list[Strip]:
        if len(self._data) <= 1:
            # As Textual's: no data is a flat line of the low colour, one sample a full bar.
            if not self._data:
                lines = [Strip.blank(width, base_style) for _ in range(height - 1)]
                return [*lines, Strip([Segment(BARS[0] * width, palette[0])], width)]
            return [Strip([Segment("█" * width, palette[-1])], width) for _ in range(height)]
        levels = self._levels or self._levels_for(width, height)
        lines = []
        for row in reversed(range(height)):
            segments = []
            run, run_level = "", -1
            for level in levels:  # runs of one level are one segment
                part = level - row * 8
                char = " " if part < 0 else BARS[min(part, 7)]
                if level != run_level and run:
                    segments.append(Segment(run, palette[run_level]))
                    run = ""
                run, run_level = run + char, level
            if run:
                segments.append(Segment(run, palette[run_level]))
            if len(levels) < width:
                segments.append(Segment(" " * (width - len(levels)), base_style))
            lines.append(Strip(segments, width))
        return lines


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
