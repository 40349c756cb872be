"""A log view that follows new lines, with search (``/``), pause (``p``) and wrap (``w``).

It keeps the last ``max_lines`` lines itself, so search, wrap and pause can re-render them; the
screen feeds it with ``add_line``/``add_lines`` and empties it with ``clear``. No I/O here.

New lines are drawn in batches, at most every ``FLUSH_INTERVAL`` seconds: each write to the
RichLog scrolls and refreshes it, and one write per line made the compositor's refresh 81 % of the
client's CPU under 200 lines/s (bench/profile_paitui.py, logs).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Input, RichLog, Static

#: Seconds between two draws of newly arrived lines: each draw scrolls and re-composes every
#: visible line (with the terminal filter, 7 caches per line), so once a second, which still
#: reads as live (twice a second was 1.5 % of a core under a busy log, bench/peer.py).
FLUSH_INTERVAL = 1.0


class _BoundedLog(RichLog):
    """A RichLog whose cache of drawn lines holds about a screenful twice, not 1024 lines.

    RichLog caches each drawn line under its absolute number, so a followed log fills the whole
    cache (megabytes: each entry is a cropped, styled line) before anything is evicted; that
    was most of the growth of a busy log's first minutes. ``_line_cache`` is Textual's own
    (``widgets/_rich_log.py``, checked against Textual 8.2): ``tests/ui/test_log_batches.py``
    fails if it goes away.
    """

    LINE_CACHE = 256

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._line_cache = LRUCache(self.LINE_CACHE)


class LogView(Vertical, can_focus=True):
    """Follows a container's output; search highlights and filters, pause holds the view."""

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView > #log-status { height: 1; color: $text-muted; background: $surface; padding: 0 1; }
    LogView > #log-search { height: 1; border: none; padding: 0 1; display: none; }
    LogView > #log-search.shown { display: block; }
    LogView > RichLog { height: 1fr; background: $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", key_display="/"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("w", "toggle_wrap", "Wrap"),
        Binding("escape", "clear_search", "Clear search", show=False),
    ]

    paused: reactive[bool] = reactive(False)
    wrap: reactive[bool] = reactive(False)
    search: reactive[str] = reactive("")

    def __init__(
        self, max_lines: int = 2000, shown_lines: int = 200, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        # The raw text of max_lines is kept for search and wrap; only shown_lines are rendered,
        # because every rendered line keeps its own caches (about 12 KB each once drawn): 200
        # of them is a screenful of scrollback several times over and 2.4 MB at most.
        self.lines: deque[str] = deque(maxlen=max_lines)
        self.shown_lines = shown_lines
        self.log_title = ""
        self._held = 0  # lines that arrived while paused
        self._pending: list[str] = []  # arrived, not drawn yet
        self._flush_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="log-status")
        yield Input(placeholder="search the log (Enter keeps it, Esc clears)", id="log-search")
        yield _BoundedLog(
            max_lines=self.shown_lines,
            wrap=False,
            markup=False,
            highlight=False,
            auto_scroll=True,
            id="log-text",
        )

    def on_mount(self) -> None:
        self._update_status()
        if self._pending:
            self._flush_timer = self.set_timer(FLUSH_INTERVAL, self._flush)

    @property
    def _log(self) -> RichLog:
        return self.query_one("#log-text", RichLog)

    # --- feeding -----------------------------------------------------------------------------

    def set_title(self, title: str) -> None:
        """What the log belongs to (shown in the status line)."""
        self.log_title = title
        self._update_status()

    def clear(self) -> None:
        """Forget every line (another app was selected)."""
        self.lines.clear()
        self._pending.clear()
        self._held = 0
        self._log.clear()
        self._update_status()

    def add_line(self, line: str) -> None:
        """Append one line; drawn with the next batch unless paused or filtered out."""
        self.lines.append(line)
        if self.paused:
            self._held += 1
            self._update_status()
            return
        self._pending.append(line)
        if self._flush_timer is None and self.is_mounted:
            self._flush_timer = self.set_timer(FLUSH_INTERVAL, self._flush)

    def add_lines(self, lines: Iterable[str]) -> None:
        """Append several lines."""
        for line in lines:
            self.add_line(line)

    def _flush(self) -> None:
        """Draw the lines that arrived since the last draw, in one write."""
        self._flush_timer = None
        pending, self._pending = self._pending, []
        if self.paused or not self.is_mounted:
            return  # resuming re-renders from self.lines
        shown = [line for line in pending[-self.shown_lines :] if self._matches(line)]
        if shown:
            self._log.write(self._render_line("\n".join(shown)))

    def visible_lines(self) -> list[str]:
        """The lines the view shows now (after the search filter)."""
        return [line for line in self.lines if self._matches(line)]

    # --- rendering -------------------------------------------------------------------------

    def _matches(self, line: str) -> bool:
        return not self.search or self.search.lower() in line.lower()

    def _render_line(self, line: str) -> Text:
        text = Text(line)
        if self.search:
            text.highlight_words([self.search], style="reverse", case_sensitive=False)
        return text

    def _rerender(self) -> None:
        log = self._log
        log.clear()
        self._pending.clear()  # drawn below with the rest
        shown = self.visible_lines()[-self.shown_lines :]
        if shown:
            log.write(self._render_line("\n".join(shown)))
        self._held = 0
        self._update_status()

    def _update_status(self) -> None:
        if not self.is_mounted:
            return
        parts = [self.log_title or "logs"]
        if self.paused:
            parts.append(f"PAUSED ({self._held} new)" if self._held else "PAUSED")
        else:
            parts.append("following")
        if self.search:
            parts.append(f"search: {self.search!r} ({len(self.visible_lines())} lines)")
        if self.wrap:
            parts.append("wrap")
        self.query_one("#log-status", Static).update(Text(" · ".join(parts)))

    def watch_paused(self, paused: bool) -> None:
        if self.is_mounted:
            if not paused:
                self._rerender()
            self._update_status()

    def watch_wrap(self, wrap: bool) -> None:
        if self.is_mounted:
            self._log.wrap = wrap
            self._rerender()

    def watch_search(self, _search: str) -> None:
        if self.is_mounted:
            self._rerender()

    # --- keys ---------------------------------------------------------------------------------

    def action_search(self) -> None:
        """Open the search box."""
        box = self.query_one("#log-search", Input)
        box.add_class("shown")
        box.value = self.search
        box.focus()

    def action_clear_search(self) -> None:
        """Close the search box and show every line again."""
        box = self.query_one("#log-search", Input)
        box.remove_class("shown")
        self.search = ""
        self.focus()

    def action_toggle_pause(self) -> None:
        """Hold the view (lines still arrive and are kept)."""
        self.paused = not self.paused

    def action_toggle_wrap(self) -> None:
        """Wrap long lines or scroll sideways."""
        self.wrap = not self.wrap

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        self.search = event.value

    @on(Input.Submitted, "#log-search")
    def _search_done(self, _event: Input.Submitted) -> None:
        if not self.search:
            self.query_one("#log-search", Input).remove_class("shown")
        self.focus()
