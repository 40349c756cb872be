"""The Hardware screen: one card per GPU, the accelerator ranking, findings with copyable fixes,
and host facts. Detection runs in a thread worker; a udev monitor refreshes on hot-plug. While
the screen is shown, each card's live use is sampled every 2 s in a thread worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import ClassVar, Protocol

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ItemGrid, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from paitui.domain.gpu.usage import GpuSnapshot
from paitui.domain.hardware.report import HardwareReport
from paitui.ui.failures import ReportsWorkerFailures
from paitui.ui.host import host_of
from paitui.ui.widgets.gpu_card import GpuCard
from paitui.ui.widgets.gpu_usage import SamplePacer
from paitui.ui.widgets.hardware_panels import (
    FindingList,
    SectionText,
    render_accels,
    render_host,
)
from paitui.ui.widgets.section_bar import SectionBar
from paitui.ui.widgets.taskbar import Taskbar

Detect = Callable[[threading.Event], HardwareReport]
#: Builds a hot-plug monitor around a callback(action, sys_path); it has start() and stop().


class Monitor(Protocol):
    """A hot-plug watcher (``HardwareMonitor``): calls back from its own thread."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


MonitorFactory = Callable[[Callable[[str, str], None]], Monitor]
#: Samples live GPU use (``GpuSampler.sample``; None: every process; blocking).
SampleGpu = Callable[[Collection[str] | None], GpuSnapshot]
#: Seconds between live samples while the screen is shown (the sampler allows no faster).
GPU_INTERVAL = 2.0

#: Below this width the panels stack and the whole screen scrolls.
WIDE = 120


class HardwareScreen(ReportsWorkerFailures, Screen[None]):
    """What this box has and what it can run."""

    DEFAULT_CSS = """
    HardwareScreen #hw-status { height: 1; padding: 0 1; color: $text-muted; }
    HardwareScreen #hw-body { height: 1fr; }
    HardwareScreen #hw-summary, HardwareScreen #hw-gpus { height: auto; }
    HardwareScreen.wide #hw-body { layout: horizontal; overflow-y: hidden; }
    HardwareScreen.wide #hw-summary { width: 2fr; height: 1fr; overflow-y: auto; }
    HardwareScreen.wide #hw-gpus { width: 3fr; height: 1fr; overflow-y: auto;
        border-left: vkey $panel; }
    HardwareScreen #gpu-cards { padding: 0 1; grid-gutter: 0 1; }
    HardwareScreen #findings { margin: 0 1; }
    HardwareScreen .no-gpus { padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh"),
        Binding("c", "copy_fix", "Copy fix"),
    ]

    @dataclass
    class Detected(Message):
        """A detection finished."""

        report: HardwareReport
        seconds: float

    @dataclass
    class DetectFailed(Message):
        """A detection raised; the previous report stays on screen."""

        error: str

    @dataclass
    class HotPlug(Message):
        """A DRM device came or went (posted from the monitor's thread)."""

        action: str
        sys_path: str

    @dataclass
    class GpuSampled(Message):
        """A live GPU sample (or why there is none)."""

        snapshot: GpuSnapshot | None
        error: str = ""

    def __init__(
        self,
        detect: Detect | None = None,
        monitor_factory: MonitorFactory | None = None,
        watch_hotplug: bool = True,
        sampler: SampleGpu | None = None,
    ) -> None:
        super().__init__()
        self._detect = detect
        #: The live sampler given (tests); else the services' one on a live host.
        self._sampler = sampler
        self._gpu_timer: Timer | None = None
        self._pacer = SamplePacer(GPU_INTERVAL)
        self.gpu_snapshot: GpuSnapshot | None = None
        self._monitor_factory = monitor_factory
        self._watch_hotplug = watch_hotplug
        self._monitor: Monitor | None = None
        self._hotplug_note = ""
        self._gpu_note = ""
        self.report: HardwareReport | None = None

    def compose(self) -> ComposeResult:
        yield SectionBar()
        yield Static("Detecting hardware…", id="hw-status")
        with VerticalScroll(id="hw-body"):
            with Vertical(id="hw-summary"):
                yield Static("Accelerators", classes="section-title")
                yield SectionText(id="accels")
                yield Static("Findings  (c copies the highlighted fix)", classes="section-title")
                yield FindingList(id="findings")
            with Vertical(id="hw-gpus"):
                yield Static("GPUs", classes="section-title", id="gpus-title")
                yield ItemGrid(id="gpu-cards", min_column_width=46)
                yield Static("Host", classes="section-title")
                yield SectionText(id="host")
        yield Taskbar()
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "Hardware"
        self.set_class(self.size.width >= WIDE, "wide")
        host = host_of(self)
        host.hardware_changed.subscribe(self, self._show)
        if host.hardware_report is not None:
            self._show(host.hardware_report)
        else:
            self.refresh_report()
        if self._watch_hotplug:
            self._start_monitor()
        self.query_one(FindingList).focus()
        # Paused until the screen is shown: nothing is read while another screen is up.
        self._pacer = SamplePacer(GPU_INTERVAL)
        self._gpu_timer = self.set_interval(GPU_INTERVAL, self._gpu_tick, pause=True)

    def on_unmount(self) -> None:
        self._stop_monitor()
        self._stop_gpu()

    def on_screen_resume(self, _event: events.ScreenResume) -> None:
        if self._gpu_timer is not None:
            self._gpu_timer.resume()
        self._gpu_tick()

    def on_screen_suspend(self, _event: events.ScreenSuspend) -> None:
        self._stop_gpu()

    # Live GPU use ----------------------------------------------------------------------

    def _stop_gpu(self) -> None:
        if self._gpu_timer is not None:
            self._gpu_timer.pause()
        self.workers.cancel_group(self, "gpu")

    def _gpu_tick(self) -> None:
        if not self.is_active:
            return
        if self._sampler is None and not host_of(self).live:
            return  # demo and tests without a sampler: the detected figures stay
        if self._pacer.due():
            self._sample_gpu(self._pacer.started())

    @work(thread=True, exclusive=True, name="sample GPU use", group="gpu", exit_on_error=False)
    def _sample_gpu(self, started: float) -> None:
        try:
            if self._sampler is None:
                sampler = host_of(self).services.gpu_sampler  # built here: it may import NVML
                if sampler is None:
                    return
                self._sampler = sampler.sample
            if get_current_worker().is_cancelled:
                return  # the screen was hidden before this thread ran
            cpu = time.thread_time()
            snapshot = self._sampler(None)
        except Exception as exc:  # context: the status line says why there are no live bars
            self._pacer.done(started, 0, 0.0)
            self.post_message(self.GpuSampled(None, f"live GPU use unknown: {exc}"))
            return
        self._pacer.done(started, len(snapshot.gpus), time.thread_time() - cpu)
        self.post_message(self.GpuSampled(snapshot))

    @on(GpuSampled)
    def _gpu_sampled(self, message: GpuSampled) -> None:
        self.gpu_snapshot = message.snapshot
        if message.error != self._gpu_note:
            self._gpu_note = message.error
            self._status("ready")
        self._show_usage()

    def _show_usage(self) -> None:
        snapshot = self.gpu_snapshot
        if snapshot is None:
            return
        host = host_of(self)
        names = {
            s.container_id: host.app_name(app_id)
            for app_id, s in host.statuses.items()
            if s.container_id
        }
        # Status ids may be short (12 hex): match the sample's full ids by prefix.
        full = {a.container_id: a.container_id for g in snapshot.gpus for a in g.apps}
        by_full = {
            cid: name
            for short, name in names.items()
            for cid in full
            if cid and cid.startswith(short)
        }
        for card in self.query(GpuCard):
            card.show_usage(snapshot.gpu(card.gpu.pci_slot), by_full)

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width >= WIDE, "wide")

    # Detection -------------------------------------------------------------------------

    def _detector(self) -> Detect:
        if self._detect is not None:
            return self._detect
        services = host_of(self).services
        return lambda cancel: services.detect_hardware(cancel=cancel)

    @work(
        thread=True,
        exclusive=True,
        name="detect the hardware",
        group="hardware-detect",
        exit_on_error=False,
    )
    def refresh_report(self) -> None:
        """Detect in a thread; the result comes back as a Detected message."""
        worker = get_current_worker()
        started = time.monotonic()
        try:
            report = self._detector()(worker.cancelled_event)
        except Exception as exc:  # DetectionCancelled included: nothing to show then
            if not worker.is_cancelled:
                self.post_message(self.DetectFailed(f"{type(exc).__name__}: {exc}"))
            return
        if not worker.is_cancelled:
            self.post_message(self.Detected(report, time.monotonic() - started))

    @on(Detected)
    def _detected(self, message: Detected) -> None:
        self._show(message.report)
        host_of(self).set_hardware_report(message.report)  # other screens follow it
        self._status(f"detected in {message.seconds * 1000:.0f} ms")

    @on(DetectFailed)
    def _failed(self, message: DetectFailed) -> None:
        self._status(f"detection failed: {message.error}")
        self.notify(message.error, title="Hardware detection failed", severity="error")

    def action_refresh(self) -> None:
        """Detect again."""
        self._status("detecting…")
        self.refresh_report()

    # Hot-plug --------------------------------------------------------------------------

    def _start_monitor(self) -> None:
        factory = self._monitor_factory or host_of(self).services.hardware_monitor

        def on_event(action: str, path: str) -> None:
            self.post_message(self.HotPlug(action, path))  # thread-safe

        try:
            monitor = factory(on_event)
            monitor.start()
        except Exception as exc:  # no udev (container), no netlink: refresh by hand still works
            self._hotplug_note = f"hot-plug not watched ({exc})"
            return
        self._monitor = monitor
        self._hotplug_note = "hot-plug watched"

    def _stop_monitor(self) -> None:
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            monitor.stop()

    @on(HotPlug)
    def _hotplug(self, message: HotPlug) -> None:
        name = message.sys_path.rsplit("/", 1)[-1]
        self._status(f"{name} {message.action}: detecting…")
        self.refresh_report()

    # Rendering -------------------------------------------------------------------------

    def _status(self, note: str) -> None:
        parts = []
        if self.report is not None:
            count = len(self.report.gpus)
            parts.append(f"{count} GPU{'s' if count != 1 else ''} via {self.report.source}")
        parts.append(note)
        if self._hotplug_note:
            parts.append(self._hotplug_note)
        if self._gpu_note:
            parts.append(self._gpu_note)
        parts.append("r refreshes")
        self.query_one("#hw-status", Static).update(" · ".join(parts))

    def _show(self, report: HardwareReport) -> None:
        if report is self.report:
            return
        self.report = report
        self.query_one("#accels", SectionText).update(render_accels(report))
        self.query_one("#host", SectionText).update(render_host(report))
        self.query_one(FindingList).show(report.findings)
        grid = self.query_one("#gpu-cards", ItemGrid)
        grid.remove_children()
        cards = [GpuCard(g, report.kfd_present, report.kfd_access) for g in report.gpus]
        if cards:
            grid.mount_all(cards)
            self.call_after_refresh(self._show_usage)  # the last sample, on the new cards
        else:
            grid.mount(Static("No GPU found.", classes="no-gpus"))
        self.query_one("#gpus-title", Static).update(f"GPUs ({len(report.gpus)})")
        self._status("ready")

    def action_copy_fix(self) -> None:
        """Copy the highlighted finding's fix to the clipboard."""
        finding = self.query_one(FindingList).selected_finding
        if finding is None or not finding.fix:
            self.notify("This finding has no command to copy.", severity="warning")
            return
        self.app.copy_to_clipboard(finding.fix)
        self.notify(finding.fix, title="Fix copied")
