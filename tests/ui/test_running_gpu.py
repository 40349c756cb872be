"""Live GPU use where people decide: the Running screen's VRAM column and detail, the Hardware
screen's live bars, at 80x24, from recorded sysfs and /proc trees (``tests/gpu/fixtures``).

Two containers hold memory on an awake RX 7900 XTX; a second GPU is runtime-suspended and an
audit hook proves nothing under it but ``power/runtime_status`` is ever opened. The sampler is
counted: it runs only while its screen is shown.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import DataTable, Static

from paitui.domain.fleet.status import AppState, AppStatus
from paitui.domain.gpu.usage import GpuSnapshot
from paitui.domain.hardware.report import HardwareReport
from paitui.services.gpu.sampler import GpuSampler
from paitui.ui.screens import hardware as hardware_module
from paitui.ui.screens.hardware import HardwareScreen
from paitui.ui.screens.running import RunningScreen
from paitui.ui.screens.running import live_gpu as running_module
from paitui.ui.widgets.gpu_card import GpuCard
from paitui.ui.widgets.gpu_usage import SamplePacer
from tests.gpu.trees import (
    DOCKER_ID,
    OTHER_ID,
    FakeProc,
    build_proc,
    build_sysfs,
    docker_cgroup,
    paths_opened,
)
from tests.gpu.trees import fdinfo_text as fdinfo
from tests.ui.hosts import HostApp

AWAKE = "0000:03:00.0"
ASLEEP = "0000:05:00.0"
NOW = 1_750_000_000.0


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Every path opened or listed (any thread) while the test runs."""
    with paths_opened() as seen:
        yield seen


class CountingSampler:
    """A real ``GpuSampler`` over the fixture trees, counting the calls the screens make."""

    def __init__(self, root: Path, min_interval: float = 2.0) -> None:
        sys_root = build_sysfs(root / "sys", "amdgpu-rx7900xtx", "amdgpu-asleep")
        self.asleep_pci = sys_root / "devices/pci0000:00/0000:00:01.1/0000:05:00.0"
        proc = build_proc(
            root / "proc",
            [
                FakeProc(
                    50,
                    docker_cgroup(DOCKER_ID),
                    "llama-server",
                    {3: ("/dev/dri/renderD128", fdinfo("amdgpu-6.11"))},
                ),
                FakeProc(
                    60,
                    docker_cgroup(OTHER_ID),
                    "comfyui",
                    {3: ("/dev/dri/renderD128", fdinfo("amdgpu-legacy"))},
                ),
            ],
        )
        self.inner = GpuSampler(sys_root, proc, min_interval=min_interval)
        self.calls: list[frozenset[str] | None] = []
        self._lock = threading.Lock()

    def __call__(self, containers: Collection[str] | None) -> GpuSnapshot:
        with self._lock:
            self.calls.append(frozenset(containers) if containers is not None else None)
        return self.inner.sample(containers)


def statuses() -> dict[str, AppStatus]:
    """Two running apps (the fixture's containers) and an exited one."""

    def running(app_id: str, cid: str) -> AppStatus:
        return AppStatus(
            app_id=app_id,
            state=AppState.READY,
            since=NOW - 60,
            container_id=cid,
            started_at=NOW - 60,
            variant="rocm",
        )

    exited = AppStatus(app_id="whisper", state=AppState.EXITED, since=NOW, exit_code=0)
    return {
        "llama": running("llama", DOCKER_ID),
        "comfyui": running("comfyui", OTHER_ID),
        "whisper": exited,
    }


class GpuHost(HostApp):
    """Hosts one screen built by ``make`` over fixed statuses and a fixed clock."""

    def __init__(self, make: Callable[[], Screen[None]]) -> None:
        super().__init__()
        self.make = make
        self.statuses = statuses()

    def clock(self) -> float:
        return NOW

    def on_mount(self) -> None:
        self.push_screen(self.make())


async def until(pilot: Any, check: Callable[[], object], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def cell(screen: RunningScreen, row: str, column: str) -> str:
    value = screen.query_one(DataTable).get_cell(row, column)
    return value if isinstance(value, str) else value.plain


async def test_vram_column_and_detail_at_80x24(tmp_path: Path, opened: list[str]) -> None:
    sampler = CountingSampler(tmp_path)
    opened.clear()  # what building the trees wrote
    app = GpuHost(lambda: RunningScreen(env={}, sampler=sampler))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, RunningScreen)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: "vram" in [c.value for c in table.columns], "the VRAM column")
        # A row sampled after it appeared reads "" until its first sample, not "-".
        await until(pilot, lambda: cell(screen, "comfyui", "vram") != "", "both rows sampled")
        # The fixtures: 8452 MiB (drm-total-vram) and 3145728 KiB (drm-memory-vram).
        assert cell(screen, "llama", "vram") == "8.3G"
        assert cell(screen, "comfyui", "vram") == "3.0G"
        assert cell(screen, "whisper", "vram") == "-"  # exited: holds nothing
        # Only the running containers on screen were asked for, never every process.
        assert sampler.calls[-1] == frozenset({DOCKER_ID, OTHER_ID})
        assert all(c is not None and c <= {DOCKER_ID, OTHER_ID} for c in sampler.calls)
        # 80 columns: VRAM displaced Variant; nothing wraps or scrolls sideways.
        keys = [c.value for c in table.columns]
        assert "variant" not in keys and keys[-1] == "vram"
        assert table.virtual_size.width <= table.size.width
        detail = screen.query_one("#detail", Static).render()
        text = str(detail)
        assert f"{AWAKE}  8.3G of 24.0G" in text and "pid 50" in text

        # A container the sampler cannot read: "?" and the reason in the detail pane.
        unknown = dataclasses.replace(sampler.inner.sample(), unknown_containers=(DOCKER_ID,))
        unknown = dataclasses.replace(unknown, notes=("no ptrace rights over them",))
        asked = frozenset({DOCKER_ID, OTHER_ID})
        screen.post_message(RunningScreen.GpuSampled(unknown, containers=asked))
        await until(pilot, lambda: cell(screen, "llama", "vram") == "?", "an unknown figure")
        assert "? no ptrace rights over them" in str(screen.query_one("#detail", Static).render())
    # The suspended GPU was never read: only its runtime PM state was opened under it.
    under = {p for p in opened if p.startswith(str(sampler.asleep_pci))}
    assert under == {str(sampler.asleep_pci / "power" / "runtime_status")}
    assert sampler.inner.samples >= 1


def hw_report(tmp_path: Path) -> HardwareReport:
    """The hardware tests' workstation, its two GPUs on the fixture's PCI slots."""
    from tests.hardware.test_screen import report_for

    report = report_for(tmp_path / "hw", "1000:1000,44,105:alice")
    gpus = tuple(
        dataclasses.replace(g, pci_slot=slot)
        for g, slot in zip(report.gpus, (AWAKE, ASLEEP), strict=True)
    )
    return dataclasses.replace(report, gpus=gpus)


async def test_hardware_cards_show_live_bars_and_asleep(tmp_path: Path, opened: list[str]) -> None:
    sampler = CountingSampler(tmp_path)
    report = hw_report(tmp_path)
    opened.clear()  # what building the trees wrote
    app = GpuHost(
        lambda: HardwareScreen(detect=lambda _c: report, watch_hotplug=False, sampler=sampler)
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(app.screen.query(GpuCard)) == 2, "two cards")
        cards = {c.gpu.pci_slot: c for c in app.screen.query(GpuCard)}
        await until(pilot, lambda: cards[AWAKE].has_class("live"), "a live sample")
        live = str(cards[AWAKE].usage_panel.render())
        lines = [line.strip() for line in live.splitlines()]
        assert lines[0].startswith("VRAM") and lines[0].endswith("3.8 GiB / 24.0 GiB")
        assert lines[1] == "busy   37 %"
        # Names come from the app's statuses; the bigger holder first.
        assert lines[2].split() == ["llama", "8.3G"] and lines[3].split() == ["comfyui", "3.0G"]
        assert "VRAM" not in str(cards[AWAKE].body.render())  # the live bar replaces it
        asleep = str(cards[ASLEEP].usage_panel.render())
        assert asleep.startswith("asleep")
        assert sampler.calls[0] is None  # every process: the apps holding memory on each GPU
    under = {p for p in opened if p.startswith(str(sampler.asleep_pci))}
    assert under == {str(sampler.asleep_pci / "power" / "runtime_status")}


class Elsewhere(Screen[None]):
    """Another screen, on top."""


@pytest.mark.parametrize("which", ["running", "hardware"])
async def test_sampler_idle_while_another_screen_is_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    """Fast ticks (0.05 s) so a second of another screen would show dozens of calls."""
    monkeypatch.setattr(running_module, "GPU_INTERVAL", 0.05)
    monkeypatch.setattr(hardware_module, "GPU_INTERVAL", 0.05)
    sampler = CountingSampler(tmp_path, min_interval=0.0)
    report = hw_report(tmp_path)

    def make() -> Screen[None]:
        if which == "running":
            return RunningScreen(env={}, sampler=sampler)
        return HardwareScreen(detect=lambda _c: report, watch_hotplug=False, sampler=sampler)

    app = GpuHost(make)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(sampler.calls) >= 3, "samples while shown")
        await app.push_screen(Elsewhere())
        # A sample already in its thread when the screen went may still finish: let it.
        for _ in range(4):
            await pilot.pause(0.05)
        await app.workers.wait_for_complete()
        before = len(sampler.calls)
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # twenty ticks' worth of time on another screen
            await pilot.pause(0.05)
        assert len(sampler.calls) == before
        app.pop_screen()
        await until(pilot, lambda: len(sampler.calls) > before, "samples again once back")


def test_pacer_backs_off_for_costly_samples_and_boxes_without_a_gpu() -> None:
    now = [100.0]
    pacer = SamplePacer(2.0, share=0.005, no_gpu_retry=60.0, clock=lambda: now[0])
    assert pacer.due()
    started = pacer.started()
    assert not pacer.due() and not pacer.due(soon=True)  # one at a time
    pacer.done(started, gpus=1, cpu_seconds=0.001)  # 1 ms: the base interval rules
    now[0] = started + 1.99
    assert not pacer.due()
    now[0] = started + 2.0
    assert pacer.due()
    started = pacer.started()
    # 35 ms of CPU (a /proc scan of 373 processes here): 0.5 % of a core means every 7 s.
    pacer.done(started, gpus=1, cpu_seconds=0.035)
    now[0] = started + 6.9
    assert not pacer.due() and pacer.due(soon=True)  # a new row is not kept waiting
    now[0] = started + 7.0
    assert pacer.due()
    started = pacer.started()
    pacer.done(started, gpus=0, cpu_seconds=0.001)  # no GPU here: look again in a minute
    now[0] = started + 59.9
    assert not pacer.due()
    now[0] = started + 60.0
    assert pacer.due()


@pytest.mark.parametrize("which", ["running", "hardware"])
async def test_ticks_after_the_screens_are_gone_do_nothing(tmp_path: Path, which: str) -> None:
    """A timer may fire while the app closes, after its screen stack is empty: that tick
    must read nothing and raise nothing (it once raised ScreenStackError at exit)."""
    sampler = CountingSampler(tmp_path, min_interval=0.0)
    report = hw_report(tmp_path)
    screen: RunningScreen | HardwareScreen
    if which == "running":
        screen = RunningScreen(env={}, sampler=sampler)
    else:
        screen = HardwareScreen(detect=lambda _c: report, watch_hotplug=False, sampler=sampler)
    app = GpuHost(lambda: screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: len(sampler.calls) >= 1, "a sample while shown")
        await app.workers.wait_for_complete()
    assert not app._screen_stack
    before = len(sampler.calls)
    if isinstance(screen, RunningScreen):
        screen._tick()
    screen._gpu_tick()
    assert len(sampler.calls) == before
