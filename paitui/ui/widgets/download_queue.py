"""The download queue: one row per file with a progress bar, speed, ETA and state.

Renders ``Download`` snapshots only; asking to pause, resume or cancel is a message the screen
turns into a service call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Label, ProgressBar

from paitui.domain.models.records import Download, DownloadState, human_size


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def describe(d: Download) -> str:
    """The status text of a row: sizes, speed and ETA while running, else the state/error."""
    sizes = f"{human_size(d.bytes_done)}/{human_size(d.bytes_total)}"
    if d.fraction is not None:
        sizes = f"{100 * d.fraction:.0f}%  {sizes}"
    if d.state == DownloadState.RUNNING:
        text = f"{sizes}  {human_size(d.speed)}/s  {_eta(d.eta_seconds)}".rstrip()
        return f"{text}  ({d.error})" if d.error else text
    if d.state == DownloadState.FAILED:
        return f"failed: {d.error}"
    if d.state == DownloadState.DONE:
        return f"done  {human_size(d.bytes_total)}, verified"
    return f"{d.state.value}  {sizes}"


class DownloadRow(Vertical, can_focus=True):
    """One download on two lines: name and numbers, then the progress bar."""

    DEFAULT_CSS = """
    DownloadRow { height: 2; padding: 0 1; }
    DownloadRow:focus { background: $boost; }
    DownloadRow > Horizontal { height: 1; }
    DownloadRow .dl-name { width: 1fr; text-style: bold; }
    DownloadRow .dl-info { width: auto; color: $text-muted; }
    DownloadRow ProgressBar { width: 1fr; }
    DownloadRow ProgressBar Bar { width: 1fr; }
    DownloadRow.-failed .dl-info { color: $error; }
    DownloadRow.-done .dl-info { color: $success; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("x", "cancel", "Cancel"),
    ]

    @dataclass
    class Requested(Message):
        """The user asked to pause, resume or cancel a download."""

        download_id: str
        action: str  # "pause" | "resume" | "cancel"

    def __init__(self, download: Download, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.download = download

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.download.file.path, classes="dl-name")
            yield Label("", classes="dl-info")
        yield ProgressBar(total=None, show_eta=False, show_percentage=False)

    def on_mount(self) -> None:
        self.show(self.download)

    def show(self, d: Download) -> None:
        """Render a new snapshot of the download."""
        self.download = d
        bar = self.query_one(ProgressBar)
        bar.update(total=d.bytes_total or None, progress=d.bytes_done)
        self.query_one(".dl-info", Label).update(describe(d))
        self.set_class(d.state == DownloadState.FAILED, "-failed")
        self.set_class(d.state == DownloadState.DONE, "-done")

    def action_toggle_pause(self) -> None:
        state = self.download.state
        if state in (DownloadState.QUEUED, DownloadState.RUNNING):
            self.post_message(self.Requested(self.download.id, "pause"))
        elif state in (DownloadState.PAUSED, DownloadState.CANCELLED, DownloadState.FAILED):
            self.post_message(self.Requested(self.download.id, "resume"))

    def action_cancel(self) -> None:
        self.post_message(self.Requested(self.download.id, "cancel"))


class DownloadQueue(VerticalScroll):
    """All downloads, newest last; rows are kept and updated in place."""

    DEFAULT_CSS = """
    DownloadQueue { height: auto; max-height: 12; }
    DownloadQueue .dl-empty { color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Label("No downloads: pick a file, Enter.", classes="dl-empty")

    def _row_id(self, download_id: str) -> str:
        # Widget ids allow letters, digits, '-' and '_' only.
        return (
            "dl-"
            + "".join(c if c.isalnum() else "_" for c in download_id)
            + (f"-{abs(hash(download_id)) % 100000}")
        )

    def update_downloads(self, downloads: Sequence[Download]) -> None:
        """Show these snapshots: update known rows, add new ones."""
        empty = self.query(".dl-empty")
        if downloads and empty:
            empty.remove()
        for d in downloads:
            rows = self.query(f"#{self._row_id(d.id)}")
            if rows:
                row = rows.first(DownloadRow)
                if row.is_mounted and row.children:
                    row.show(d)
                else:
                    row.download = d
            else:
                self.mount(DownloadRow(d, id=self._row_id(d.id)))

    def rows(self) -> list[DownloadRow]:
        """The rows shown, in order."""
        return list(self.query(DownloadRow))
