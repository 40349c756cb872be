"""The taskbar: one line on every screen with each running app and its state light.

How to feed it: the widget only renders its reactive ``apps``, a list of ``(app_id, state)``
pairs. Whoever owns the fleet sets it on every change, e.g. in the app::

    fleet = self.services.fleet
    await fleet.start()
    def changed(_status: AppStatus) -> None:
        items = taskbar_items(fleet.statuses.values())
        for bar in self.screen.query(Taskbar):   # or keep the list and set it on screen switch
            bar.apps = items
    fleet.subscribe(changed)

Simplest across screens: keep ``items`` on the app (a reactive ``fleet_items``) and let each
screen's taskbar follow it with ``self.watch(self.app, "fleet_items", ...)``; ``Taskbar`` does
exactly that by itself when the app has such an attribute. Clicking an app posts
``Taskbar.Selected(app_id)`` (the app can switch to the Running screen and select it).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from paitui.domain.engine.containers import EngineConnection
from paitui.domain.fleet.status import AppState, AppStatus
from paitui.ui.widgets.state_badge import state_look

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

    class Selected(Message):
        """An app on the taskbar was clicked."""

        def __init__(self, app_id: str) -> None:
            super().__init__()
            self.app_id = app_id

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._spans: list[tuple[int, int, str]] = []

    def on_mount(self) -> None:
        # Follow the app's list when it keeps one (see the module docstring).
        if hasattr(self.app, "fleet_items"):
            self.watch(self.app, "fleet_items", self._follow, init=True)
        if hasattr(self.app, "engine_connection"):
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
