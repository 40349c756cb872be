"""The bar at the top of every screen: the app's name and the sections with their keys."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.reactive import reactive
from textual.widget import Widget

from paitui.ui.sections import SECTIONS


class SectionBar(Widget):
    """`paitui  1 Desktop  2 Hardware  3 Catalog  4 Models  5 Running`, the current one lit."""

    DEFAULT_CSS = """
    SectionBar { height: 1; width: 1fr; background: $panel; }
    """

    active: reactive[str] = reactive("")

    def __init__(self, subtitle: str = "") -> None:
        super().__init__()
        self.subtitle = subtitle
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        # A screen belongs to one mode for its whole life: the mode current at its mount.
        self.active = self.app.current_mode

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" paitui ", style="bold reverse")
        self._spans = []
        for section in SECTIONS:
            text.append(" ")
            start = text.cell_len
            lit = section.mode == self.active
            text.append(f" {section.key} ", style="bold reverse" if lit else "bold")
            text.append(f"{section.title} ", style="bold underline" if lit else "dim")
            self._spans.append((start, text.cell_len, section.mode))
        if self.subtitle:
            text.append(f"  {self.subtitle}", style="dim italic")
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, mode in self._spans:
            if start <= event.x < end:
                self.app.switch_mode(mode)
                return
