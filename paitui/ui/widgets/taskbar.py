"""The taskbar: one line on every screen with each running app and its state light.

The widget renders its reactive ``apps``, a list of ``(app_id, state)`` pairs, and the engine's
trouble. It follows the host's reactive ``fleet_items`` and ``engine_connection`` (see
``paitui.ui.host.Host``), which the app sets on every change of the fleet. Clicking an app posts
``Taskbar.Selected(app_id)`` (the app switches to the Running screen).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from paitui.domain.fleet.states import AppState
from paitui.ui.widgets.state_badge import state_look

if TYPE_CHECKING:  # types only: the first frame needs none of the domain's dataclasses
    from paitui.domain.engine.containers import EngineConnection
    from paitui.domain.fleet.status import AppStatus

#: Apps worth a place on the taskbar: everything but the ones that are gone for good.
_SHOWN = frozenset(AppState) - {AppState.REMOVED, AppState.EXITED}


def engine_trouble(connection: EngineConnection | None) -> str:
    """A few words for a lost engine ("Docker engine away"); empty while all is well."""
    if connection is None or connection.connected:
        return ""
    if "does not answer" in connection.message:
        return "Docker engine not answering"
    return "Docker engine away"


def taskbar_items(statuses: Iterable[AppStatus]) -> list[tuple[str, str]]:
    """``(app_id, state)`` for each app that runs (or is on its way, or crashed), by app id."""
    return sorted((s.app_id, str(s.state)) for s in statuses if s.state in _SHOWN)


class Taskbar(Widget):
    """Each running app with its state light, on one line."""

    DEFAULT_CSS = """
    Taskbar { height: 1; width: 1fr; background: $panel; color: $text; padding: 0 1; }
    """

    apps: reactive[list[tuple[str, str]]] = reactive(list, always_update=True)
    #: What is wrong with the engine, shown first for as long as it lasts ("" when nothing).
    engine: reactive[str] = reactive("")

    @dataclass
    class Selected(Message):
        """An app on the taskbar was clicked."""

        app_id: str

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        # The host's reactives: set by the app on every change of the fleet.
        self.watch(self.app, "fleet_items", self._follow, init=True)
        self.watch(self.app, "engine_connection", self._follow_engine, init=True)

    def _follow(self, items: list[tuple[str, str]]) -> None:
        self.apps = list(items)

    def _follow_engine(self, connection: EngineConnection | None) -> None:
        self.engine = engine_trouble(connection)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        self._spans = []
        if self.engine:
            text.append(f"⚠ {self.engine}, retrying", style="bold red")
            if not self.apps:
                return text
        elif not self.apps:
            text.append("no apps running", style="dim")
            return text
        for app_id, state in self.apps:
            if len(text):
                text.append("  ")
            glyph, colour = state_look(state)
            start = len(text)
            text.append(glyph + " ", style=f"bold {colour}")
            text.append(app_id)
            self._spans.append((start, len(text), app_id))
        return text

    def on_click(self, event: events.Click) -> None:
        x = event.x - 1  # padding
        for start, end, app_id in self._spans:
            if start <= x < end:
                self.post_message(self.Selected(app_id))
                return
