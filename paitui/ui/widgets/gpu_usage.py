"""Live use of one GPU: a VRAM bar with busy %, and the apps holding memory on it.

Pure rendering from a ``GpuUsage`` (domain); the screen that owns it samples in a thread
worker (``services.gpu.sampler``) and calls ``show``. No I/O here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from rich.text import Text
from textual.widgets import Static

from paitui.domain.gpu.usage import GpuUsage, format_bytes
from paitui.ui.widgets.vram_bar import vram_bar

#: Apps listed under the bar; the rest are summed on one line.
MAX_APPS = 4


def render_usage(usage: GpuUsage | None, names: Mapping[str, str] | None = None) -> Text:
    """The panel's text. ``names``: container id -> app name (else the short id)."""
    text = Text()
    if usage is None:
        text.append("live use unknown: no sample yet", style="dim")
        return text
    if usage.asleep:
        text.append("asleep", style="bold")
        text.append(" ")  # a leading blank inside a styled span is lost on screen
        text.append("· runtime PM suspended, not woken to read it", style="dim")
        return text
    text.append("VRAM   ", style="dim")
    if usage.memory_total:
        text.append_text(vram_bar(usage.memory_used, usage.memory_total))
        if usage.source == "clients":
            text.append(" (apps seen)", style="dim")
    else:
        why = usage.unknown.get("memory_total") or usage.unknown.get("memory_used") or "unknown"
        text.append(f"? ({why})", style="dim")
    text.append("\nbusy   ", style="dim")
    if usage.busy_percent is not None:
        text.append(f"{usage.busy_percent} %")
    else:
        text.append(f"? ({usage.unknown.get('busy_percent', 'unknown')})", style="dim")
    apps = sorted(usage.apps, key=lambda a: -(a.vram_bytes or 0))
    for a in apps[:MAX_APPS]:
        name = (names or {}).get(a.container_id or "", "") or a.holder[:12]
        text.append(f"\n  {name[:28]:<28} ")
        text.append(f"{format_bytes(a.vram_bytes):>6}", style="bold")
    rest = apps[MAX_APPS:]
    if rest:
        more = sum(a.vram_bytes or 0 for a in rest)
        text.append(f"\n  +{len(rest)} more {format_bytes(more):>25}", style="dim")
    return text


class GpuUsagePanel(Static):
    """The live bar and apps of one GPU (for the Hardware screen's GPU cards)."""

    DEFAULT_CSS = """
    GpuUsagePanel { height: auto; padding: 0 1; }
    """

    def __init__(self, gpu: str, id: str | None = None) -> None:
        super().__init__(render_usage(None), id=id)
        self.gpu = gpu

    def show(self, usage: GpuUsage | None, names: Mapping[str, str] | None = None) -> None:
        """Show a new sample (call from the event loop)."""
        self.update(render_usage(usage, names))


class SamplePacer:
    """When the next live sample is due: at most every ``interval`` s; slower when one sample
    costs more than ``share`` of a core (a /proc scan of a busy box takes tens of ms), and only
    every ``no_gpu_retry`` s on a box where the last sample found no GPU."""

    def __init__(
        self,
        interval: float = 2.0,
        share: float = 0.005,
        no_gpu_retry: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.share = share
        self.no_gpu_retry = no_gpu_retry
        self.clock = clock
        self._last = -float("inf")
        self._next = -float("inf")

    def due(self, soon: bool = False) -> bool:
        """Whether to sample now; ``soon``: something new is on screen, so only the base
        interval applies (not the cost or no-GPU back-off)."""
        now = self.clock()
        return now >= (self._last + self.interval if soon else self._next)

    def started(self) -> float:
        """Note a sample's start; returns the time to hand to ``done``."""
        self._last = self.clock()
        self._next = self._last + self.interval  # no second one while this one runs
        return self._last

    def done(self, started: float, gpus: int, cpu_seconds: float) -> None:
        """Note a sample's end: the CPU time it took (its thread's) and the GPUs it found."""
        wait = max(self.interval, cpu_seconds / self.share)
        if gpus == 0:
            wait = max(wait, self.no_gpu_retry)
        self._next = started + wait
