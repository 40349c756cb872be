"""App tiles for the desktop: glyph, name, kind, best variant, and a state light when running."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

#: One glyph per kind (AppKind's values); plain Unicode that every terminal font has and that
#: is one cell wide.
GLYPHS: dict[str, str] = {
    "llm": "❯_",
    "image": "▣",
    "video": "▶",
    "audio": "♪",
    "ui": "◧",
    "other": "◆",
}

#: State light colours by app state name (see paitui.domain.fleet.status.AppState).
LIGHTS: dict[str, tuple[str, str]] = {
    "pulling": ("◌", "cyan"),
    "creating": ("◌", "cyan"),
    "starting": ("◐", "yellow"),
    "loading": ("◐", "yellow"),
    "ready": ("●", "green"),
    "unhealthy": ("●", "red"),
    "paused": ("◑", "blue"),
    "stopping": ("◌", "yellow"),
    "exited": ("○", "dim"),
    "crashed": ("✖", "red"),
    "removed": ("○", "dim"),
}


def light(state: str | None) -> Text:
    """The state light for an app state name; empty when the app is not managed."""
    if state is None:
        return Text()
    glyph, style = LIGHTS.get(state, ("?", ""))
    return Text(glyph, style=style)


@dataclass(frozen=True)
class TileData:
    """What one tile shows."""

    app_id: str
    name: str
    kind: str  # an AppKind value (the catalog preview has no schema)
    variant: str | None  # best variant here; None when it cannot run
    reason: str = ""  # why it cannot run here
    state: str | None = None  # app state name when managed
    host: str | None = None  # "runs on NAME" when more than one host is configured


class AppTile(Static, can_focus=True):
    """A focusable tile; Enter (or a click) asks to launch or show the app."""

    DEFAULT_CSS = """
    AppTile {
        width: 1fr; height: 4; padding: 0 1;
        background: $surface; border: tall $panel;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    AppTile:focus { border: tall $primary; background: $boost; }
    AppTile.blocked { color: $text-muted; }
    """

    @dataclass
    class Chosen(Message):
        """The user chose this tile."""

        app_id: str

    def __init__(self, data: TileData) -> None:
        super().__init__()
        self.data = data
        self.set_class(data.variant is None, "blocked")
        self.tooltip = data.reason or None

    def update_data(self, data: TileData) -> None:
        """Show new data (a state change) without rebuilding the tile."""
        self.data = data
        self.set_class(data.variant is None, "blocked")
        self.refresh()

    def render(self) -> Text:
        d = self.data
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{GLYPHS.get(d.kind, GLYPHS['other'])} ", style="bold")
        text.append(d.name, style="bold")
        if d.state:
            text.append(" ")
            text.append_text(light(d.state))
        text.append("\n")
        if d.variant:
            text.append(f"{d.kind} · {d.variant}", style="dim")
            if d.state:
                text.append(f" · {d.state}", style=LIGHTS.get(d.state, ("", ""))[1])
            if d.host:
                text.append(f" · {d.host}", style="dim")
        else:
            text.append(d.reason, style="dim italic")
        return text

    def on_click(self) -> None:
        self.post_message(self.Chosen(self.data.app_id))
