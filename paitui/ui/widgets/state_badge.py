"""The state of an app as a coloured light and word: ``● ready``, ``◐ loading``, ``✖ crashed``."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from paitui.domain.fleet.states import AppState

#: state -> (light glyph, colour). Colour names work in every terminal with 16 colours.
_LOOK: dict[str, tuple[str, str]] = {
    AppState.PULLING: ("↓", "bright_blue"),
    AppState.CREATING: ("○", "bright_blue"),
    AppState.STARTING: ("◔", "yellow"),
    AppState.LOADING: ("◐", "yellow"),
    AppState.READY: ("●", "green"),
    AppState.UNHEALTHY: ("▲", "dark_orange"),
    AppState.PAUSED: ("‖", "cyan"),
    AppState.STOPPING: ("◌", "bright_black"),
    AppState.EXITED: ("○", "bright_black"),
    AppState.CRASHED: ("✖", "red"),
    AppState.REMOVED: ("·", "bright_black"),
    AppState.UNKNOWN: ("?", "bright_black"),
}


def state_look(state: str) -> tuple[str, str]:
    """The light glyph and colour of a state (unknown states get a grey dot)."""
    return _LOOK.get(state, ("·", "bright_black"))


def state_light(state: str) -> Text:
    """Just the coloured light."""
    glyph, colour = state_look(state)
    return Text(glyph, style=f"bold {colour}")


def badge_text(state: str, exit_code: int | None = None) -> Text:
    """Light and word, with the exit code for exited and crashed apps."""
    glyph, colour = state_look(state)
    word = str(state)
    if exit_code is not None and state in (AppState.EXITED, AppState.CRASHED):
        word += f" ({exit_code})"
    text = Text(glyph + " ", style=f"bold {colour}")
    text.append(word, style=colour)
    return text


class StateBadge(Widget):
    """A one-line badge for one app state."""

    DEFAULT_CSS = """
    StateBadge { width: auto; height: 1; }
    """

    state: reactive[str] = reactive("")
    exit_code: reactive[int | None] = reactive(None)

    def render(self) -> Text:
        return badge_text(self.state, self.exit_code) if self.state else Text("")
