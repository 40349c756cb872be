"""A screen for a section that is not built yet: it says in one line what it will hold."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class PlaceholderScreen(Screen[None]):
    """Names the section and what it will hold."""

    def __init__(self, title: str, promise: str) -> None:
        super().__init__()
        self._title = title
        self._promise = promise

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"[b]{self._title}[/b]: {self._promise}", classes="placeholder")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self._title
