"""The Running screen's stats pane: CPU and memory of the selected app, as numbers and graphs."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from paitui.domain.engine.containers import StatsSample
from paitui.ui.screens.running.cells import format_bytes
from paitui.ui.widgets.spark_bars import SparkBars

#: Readings kept for the graphs (one every 2 s: the last two minutes).
HISTORY = 60
#: The least a graph spans, so that noise stays flat: CPU in % of a core, memory in bytes
#: (pages come and go by the kilobyte; a full graph means at least this much).
CPU_SPAN = 5.0
MEMORY_SPAN = 16 * 2**20


class StatsPane(Vertical):
    """The last minute of one app's samples; drawn only when asked (drawing costs a redraw)."""

    DEFAULT_CSS = """
    StatsPane { height: auto; }
    StatsPane .spark-label { height: 1; color: $text-muted; margin-top: 1; }
    StatsPane SparkBars { height: 2; }
    StatsPane #spark-mem > .sparkline--max-color { color: $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.cpu_history: deque[float] = deque(maxlen=HISTORY)
        self.mem_history: deque[float] = deque(maxlen=HISTORY)
        self._labels: dict[str, str] = {}  # the text each label shows

    def compose(self) -> ComposeResult:
        yield Static("CPU %", classes="spark-label", id="cpu-label")
        # From 0, over at least CPU_SPAN: an idle app's 0.01 % is no full bar.
        yield SparkBars(id="spark-cpu", floor=0.0, min_span=CPU_SPAN)
        yield Static("Memory", classes="spark-label", id="mem-label")
        yield SparkBars(id="spark-mem", min_span=MEMORY_SPAN)

    def clear(self) -> None:
        """Forget the samples (a new app is selected)."""
        self.cpu_history.clear()
        self.mem_history.clear()

    def add(self, sample: StatsSample) -> None:
        """Keep a sample (drawn at the next :meth:`draw`)."""
        self.cpu_history.append(sample.cpu_percent)
        self.mem_history.append(sample.memory_bytes)

    def draw(self, last: StatsSample | None) -> None:
        """Show the kept samples, and the numbers of ``last``; what did not change is not
        touched (an idle app's minute of samples stays the same, and each assignment redraws)."""
        for spark_id, history in (
            ("#spark-cpu", self.cpu_history),
            ("#spark-mem", self.mem_history),
        ):
            self.query_one(spark_id, SparkBars).show(history)
        cpu_label = "CPU %" if last is None else f"CPU {last.cpu_percent:.1f} %"
        if last is None:
            mem_label = "Memory"
        else:
            limit = f" of {format_bytes(last.memory_limit)}" if last.memory_limit else ""
            mem_label = f"Memory {format_bytes(last.memory_bytes)}{limit}"
        # One-line labels: no layout pass of the whole screen for a new number.
        for label_id, label in (("#cpu-label", cpu_label), ("#mem-label", mem_label)):
            if self._labels.get(label_id) != label:
                self._labels[label_id] = label
                self.query_one(label_id, Static).update(label, layout=False)
