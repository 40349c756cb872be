"""Pilot tests of the Hardware screen, fed reports from a detection over a sysfs tree."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Static

from paitui.domain.hardware.report import Gpu, HardwareReport
from paitui.domain.hardware.verdict import conclude
from paitui.services.hardware.detect import DetectOptions, detect_hardware
from paitui.services.hardware.host import HostEnv, Identity
from paitui.settings import Settings
from paitui.ui.screens.hardware import HardwareScreen
from paitui.ui.widgets.gpu_card import GpuCard
from paitui.ui.widgets.hardware_panels import FindingList, accels_plain
from tests.hardware.sysfs_tree import workstation
from tests.ui.hosts import HostApp


def report_for(root: Path, identity: str) -> HardwareReport:
    workstation(root)
    host = HostEnv(root=root, identity=Identity.parse(identity), identity_injected=True)
    options = DetectOptions(host=host, docker="off", use_udev=False, use_nvml=False)
    return detect_hardware(Settings(models_dir=root / "models"), options)


class FakeMonitor:
    """Stands in for HardwareMonitor: the test fires its callback from another thread."""

    instances: list[FakeMonitor] = []

    def __init__(self, callback: Callable[[str, str], None]) -> None:
        self.callback = callback
        self.started = self.stopped = False
        FakeMonitor.instances.append(self)

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True


class HwApp(HostApp):
    def __init__(self, reports: list[HardwareReport], **screen_kw: object) -> None:
        super().__init__()
        self.reports = reports
        self.calls = 0
        self.screen_kw = screen_kw

    def detect(self, cancel: threading.Event) -> HardwareReport:
        report = self.reports[min(self.calls, len(self.reports) - 1)]
        self.calls += 1
        return report

    def on_mount(self) -> None:
        self.push_screen(HardwareScreen(detect=self.detect, **self.screen_kw))  # type: ignore[arg-type]


async def settle(app: HwApp, pilot: object) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]
    await pilot.pause()  # type: ignore[attr-defined]


def text_of(widget: Static | GpuCard) -> str:
    return str((widget.body if isinstance(widget, GpuCard) else widget).render())


async def test_cards_findings_ranking_copy_and_refresh(tmp_path: Path) -> None:
    first = report_for(tmp_path / "a", "1001:1001:bob")  # bob: no access, not in render
    extra = dataclasses.replace(
        first.gpus[0], pci_slot="0000:09:00.0", render_node="/dev/dri/renderD129"
    )
    second = conclude(dataclasses.replace(first, gpus=(*first.gpus, extra), findings=()))
    app = HwApp([first, second], watch_hotplug=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, HardwareScreen)
        cards = list(screen.query(GpuCard))
        assert [c.gpu.pci_slot for c in cards] == ["0000:03:00.0", "0000:05:00.0"]
        amd = text_of(cards[0])
        parts = ("AMD GPU 1002:7340", "amdgpu", "8.0 GiB", "renderD128", "no access", "/dev/kfd")
        for part in parts:
            assert part in amd, part
        accels = accels_plain(screen.report)  # type: ignore[arg-type]
        assert "Best first: rocm > vulkan > cpu" in accels
        assert "✔ rocm   1 AMD GPU(s) on amdgpu; /dev/kfd present" in accels
        assert "✘ cuda   no NVIDIA GPU" in accels
        findings = screen.query_one(FindingList)
        assert [f.code for f in findings.findings] == [
            "not-in-render-group",
            "sysfs-fallback",
            "unknown-gpu",
        ] + (["low-disk"] if (first.models_free_bytes or 0) < 20 * 1024**3 else [])
        assert findings.option_count == len(first.findings)
        assert app.focused is findings

        await pilot.press("c")
        assert app.clipboard == "sudo usermod -aG render $USER   # then log out and in again"
        await pilot.press("down", "c")  # an info finding has no command: clipboard unchanged
        assert app.clipboard == "sudo usermod -aG render $USER   # then log out and in again"

        await pilot.press("r")
        await settle(app, pilot)
        assert app.calls == 2
        assert len(screen.query(GpuCard)) == 3
        assert screen.report is second
        assert "3 GPUs via sysfs" in text_of(screen.query_one("#hw-status", Static))


async def test_hotplug_event_refreshes_and_monitor_stops(tmp_path: Path) -> None:
    first = report_for(tmp_path / "a", "1000:1000,44,105:alice")
    second = dataclasses.replace(first, gpus=first.gpus[:1])
    FakeMonitor.instances.clear()
    app = HwApp([first, second], monitor_factory=FakeMonitor)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        (monitor,) = FakeMonitor.instances
        assert monitor.started
        assert "hot-plug watched" in text_of(app.screen.query_one("#hw-status", Static))
        thread = threading.Thread(target=monitor.callback, args=("remove", "/sys/x/drm/card2"))
        thread.start()
        thread.join()
        await settle(app, pilot)
        assert app.calls == 2
        assert len(app.screen.query(GpuCard)) == 1
        app.pop_screen()
        await pilot.pause()
        assert monitor.stopped


async def test_layout_scrolls_at_80x24_and_spreads_at_200x50(tmp_path: Path) -> None:
    report = report_for(tmp_path / "a", "1000:1000,44,105:alice")
    gpus: tuple[Gpu, ...] = tuple(
        dataclasses.replace(report.gpus[0], pci_slot=f"0000:0{i}:00.0") for i in range(4)
    )
    four = dataclasses.replace(report, gpus=gpus)
    app = HwApp([four], watch_hotplug=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert not screen.has_class("wide")
        body = screen.query_one("#hw-body")
        assert body.max_scroll_y > 0  # everything stacked: the body scrolls
        cards = list(screen.query(GpuCard))
        assert len({c.region.x for c in cards}) == 1  # one column

        await pilot.resize_terminal(200, 50)
        await settle(app, pilot)
        assert screen.has_class("wide")
        cards = list(screen.query(GpuCard))
        assert len({c.region.x for c in cards}) == 2  # two columns of cards
        summary = screen.query_one("#hw-summary")
        assert summary.region.x < cards[0].region.x  # summary left, GPUs right
        assert all(c.region.bottom <= 49 for c in cards)  # all four fit without scrolling
