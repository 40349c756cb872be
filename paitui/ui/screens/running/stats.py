"""The Running screen's stats pane: CPU and memory of the selected app, as numbers and graphs."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from paitui.domain.engine.containers import StatsSample
from paitui.ui.screens.running.cells import format_bytes

#: Samples kept for the sparklines (about one a second).
HISTORY = 60


class StatsPane(Vertical):
    """The last minute of one app's samples; drawn only when asked (drawing costs a redraw)."""

    DEFAULT_CSS = """
    StatsPane { height: auto; }
    StatsPane .spark-label { height: 1; color: $text-muted; margin-top: 1; }
    StatsPane Sparkline { height: 2; }
    StatsPane #spark-mem > .sparkline--max-color { color: $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cpu_history: deque[float] = deque(maxlen=HISTORY)
        self.mem_history: deque[float] = deque(maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        yield Static("CPU %", classes="spark-label", id="cpu-label")
        yield Sparkline([], id="spark-cpu", summary_function=max)
        yield Static("Memory", classes="spark-label", id="mem-label")
        yield Sparkline([], id="spark-mem", summary_function=max)

    def clear(self) -> None:
        """Forget the samples (a new app is selected)."""
        self.cpu_history.clear()
        self.mem_history.clear()

    def add(self, sample: StatsSample) -> None:
        """Keep a sample (drawn at the next :meth:`draw`)."""
        self.cpu_history.append(sample.cpu_percent)
        self.mem_history.append(sample.memory_bytes)

    def draw(self, last: StatsSample | None) -> None:
        """Show the kept samples, and the numbers of ``last``."""
        self.query_one("#spark-cpu", Sparkline).data = list(self.cpu_history)
        self.query_one("#spark-mem", Sparkline).data = list(self.mem_history)
        cpu_label = "CPU %" if last is None else f"CPU {last.cpu_percent:.1f} %"
        if last is None:
            mem_label = "Memory"
        else:
            limit = f" of {format_bytes(last.memory_limit)}" if last.memory_limit else ""
            mem_label = f"Memory {format_bytes(last.memory_bytes)}{limit}"
        # One-line labels: no layout pass of the whole screen for a new number.
        self.query_one("#cpu-label", Static).update(cpu_label, layout=False)
        self.query_one("#mem-label", Static).update(mem_label, layout=False)
