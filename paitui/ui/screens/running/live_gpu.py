"""The Running screen's live GPU use: the VRAM cells and the detail pane's GPU part.

Samples run in a thread worker, only for the running local containers on screen, paced by
``SamplePacer`` (at most every 2 s, slower when a sample costs more than 0.5 % of a core) and
only while the screen is shown: the timer is paused on suspend and a cancelled worker reads
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable
from textual.worker import get_current_worker

from paitui.domain.fleet.status import AppStatus
from paitui.domain.gpu.usage import GpuSnapshot
from paitui.ui.host import host_of
from paitui.ui.screens.running.actions import AppActions
from paitui.ui.screens.running.cells import STOPPABLE, Cell, gpu_cell
from paitui.ui.screens.running.detail import gpu_detail
from paitui.ui.widgets.gpu_usage import SamplePacer

#: Samples the GPU use of the given containers (``GpuSampler.sample``; blocking).
SampleGpu = Callable[[Collection[str]], GpuSnapshot]
#: Seconds between GPU ticks while the screen is shown (the sampler allows no faster).
GPU_INTERVAL = 2.0


class LiveGpu(AppActions):
    """The VRAM column's sampling; the Running screen supplies the table and its cells."""

    @dataclass
    class GpuSampled(Message):
        """A GPU sample of the containers on screen (or why there is none)."""

        snapshot: GpuSnapshot | None
        error: str = ""
        #: The containers the sample was asked for (others were not read).
        containers: frozenset[str] = frozenset()

    def __init__(self, env: dict[str, str], sampler: SampleGpu | None = None) -> None:
        super().__init__(env)
        #: The GPU sampler given (tests, demo); else the services' one on a live host.
        self._sampler = sampler
        self._sampler_failed = False
        self.gpu_snapshot: GpuSnapshot | None = None
        self.gpu_error = ""
        #: The containers the last sample covered: another one's cell waits for the next.
        self._gpu_covered: frozenset[str] = frozenset()
        self._gpu_timer: Timer | None = None
        self._pacer = SamplePacer(GPU_INTERVAL)
        self._gpu_soon = False
        #: The GPU part of the detail pane as last drawn (to skip redraws that change nothing).
        self._gpu_shown: str | None = None
        #: Whether the VRAM column is shown (once a sample found a GPU).
        self._show_vram = False

    # What the screen supplies.
    @property
    def table(self) -> DataTable[Cell]:
        raise NotImplementedError

    def _set_cells(self, key: str, cells: dict[str, Cell]) -> None:
        raise NotImplementedError

    def _build_columns(self) -> None:
        raise NotImplementedError

    def _show_detail(self) -> None:
        raise NotImplementedError

    def _start_gpu(self) -> None:
        """The GPU timer, paused until the screen is shown (call from on_mount)."""
        self._pacer = SamplePacer(GPU_INTERVAL)
        self._gpu_timer = self.set_interval(GPU_INTERVAL, self._gpu_tick, pause=True)

    def _resume_gpu(self) -> None:
        if self._gpu_timer is not None:
            self._gpu_timer.resume()
            # After the rows are drawn: a sample scans /proc, in a thread that would share the
            # interpreter lock with that draw.
            self.call_after_refresh(self._gpu_tick)

    def gpu_text(self, status: AppStatus, key: str) -> Text | None:
        """The detail pane's GPU part for a row (None while no GPU was seen)."""
        if not (self._show_vram or self.gpu_error):
            return None
        if not self.is_local(key):
            why = f"not sampled: GPU use is read on this box only, {status.app_id} runs on "
            return Text(f"\nGPU\n  {why}{self.hosts_of.get(key)}\n", style="dim")
        covered = status.container_id in self._gpu_covered
        return gpu_detail(status, self.gpu_snapshot if covered else None, self.gpu_error)

    def _vram_cell(self, key: str, status: AppStatus) -> str:
        if not self.is_local(key):
            return "?"  # GPU use is read from this box's /proc and sysfs only
        if status.state in STOPPABLE and status.container_id not in self._gpu_covered:
            return ""  # not sampled yet
        return gpu_cell(status, self.gpu_snapshot)

    def _visible_keys(self) -> list[str]:
        table = self.table
        first = int(table.scroll_y)
        rows = table.ordered_rows[first : first + table.size.height + 1]
        return [r.key.value for r in rows if r.key.value is not None]

    def _gpu_sampler(self) -> SampleGpu | None:
        if self._sampler is None and host_of(self).live and not self._sampler_failed:
            try:
                sampler = host_of(self).services.gpu_sampler
            except ValueError as exc:  # a bad PAITUI_GPU_HELPER: said once, in the detail
                self._sampler_failed = True
                self.post_message(self.GpuSampled(None, str(exc)))
                return None
            self._sampler = sampler.sample if sampler is not None else None
        return self._sampler

    def _gpu_tick(self, soon: bool = False) -> None:
        """Sample the GPU use of the running local apps on screen (in a thread worker);
        ``soon``: a new app appeared, sample without the cost back-off."""
        if not self.is_active or self._sampler_failed:
            return  # hidden (the suspend may not be handled yet): nothing is read
        if self._sampler is None and not host_of(self).live:
            return  # demo and tests without a sampler: nothing to read
        soon = soon or self._gpu_soon
        if not self._pacer.due(soon):
            self._gpu_soon = soon  # a new row waits for the next tick, not the back-off
            return
        self._gpu_soon = False
        wanted = []
        for key in self._visible_keys():
            status = self.statuses.get(key)
            if status and status.container_id and status.state in STOPPABLE and self.is_local(key):
                wanted.append(status.container_id)
        self._sample_gpu(wanted, self._pacer.started())

    @work(thread=True, exclusive=True, name="sample GPU use", group="gpu", exit_on_error=False)
    def _sample_gpu(self, containers: list[str], started: float) -> None:
        sampler = self._gpu_sampler()  # built here: it may import NVML
        if sampler is None or get_current_worker().is_cancelled:
            return  # cancelled: the screen was hidden before this thread ran
        cpu = time.thread_time()
        try:
            snapshot = sampler(containers)
        except Exception as exc:  # context: the VRAM cells read "?" and the detail says why
            self._pacer.done(started, 0, time.thread_time() - cpu)
            self.post_message(self.GpuSampled(None, f"GPU use could not be read: {exc}"))
            return
        self._pacer.done(started, len(snapshot.gpus), time.thread_time() - cpu)
        self.post_message(self.GpuSampled(snapshot, containers=frozenset(containers)))

    @on(GpuSampled)
    def _gpu_sampled(self, message: GpuSampled) -> None:
        self.gpu_snapshot, self.gpu_error = message.snapshot, message.error
        self._gpu_covered = message.containers
        if message.snapshot is not None and message.snapshot.gpus and not self._show_vram:
            self._show_vram = True  # this box has a GPU: the column earns its width
            self._build_columns()
        if self._show_vram:
            for key, status in self.statuses.items():
                if key in self.table.rows:
                    self._set_cells(key, {"vram": self._vram_cell(key, status)})
        selected = self.statuses.get(self.selected or "")
        if selected is not None and self.selected is not None:
            # Redraw the detail only when its GPU part changed (most samples change nothing).
            gpu = self.gpu_text(selected, self.selected)
            shown = gpu.plain if gpu is not None else None
            if shown != self._gpu_shown:
                self._gpu_shown = shown
                self._show_detail()

    def _stop_gpu(self) -> None:
        if self._gpu_timer is not None:
            self._gpu_timer.pause()
        self.workers.cancel_group(self, "gpu")
