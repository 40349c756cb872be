"""Per-GPU readings from recorded sysfs trees; a suspended GPU is never read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paitui.services.gpu.sysfs_usage import (
    ASLEEP_REASON,
    is_asleep,
    list_devices,
    read_device,
)
from tests.gpu.trees import build_sysfs, paths_opened


@pytest.fixture
def opened() -> Iterator[list[str]]:
    """Every path opened or listed while the test runs (a Python audit hook sees them all)."""
    with paths_opened() as seen:
        yield seen


def test_amdgpu_awake(tmp_path: Path) -> None:
    (dev,) = list_devices(build_sysfs(tmp_path, "amdgpu-rx7900xtx"))
    assert (dev.gpu, dev.driver, dev.nodes) == ("0000:03:00.0", "amdgpu", ("card1", "renderD128"))
    r = read_device(dev)
    assert (r.asleep, r.memory_used, r.memory_total, r.busy_percent) == (
        False,
        4123017216,
        25753026560,
        37,
    )
    assert r.unknown == {}


def test_asleep_device_is_never_read(tmp_path: Path, opened: list[str]) -> None:
    """Its memory files are unreadable directories: reading them would show as an error reason;
    and the audit hook proves only power/runtime_status was opened under the device."""
    (dev,) = list_devices(build_sysfs(tmp_path, "amdgpu-asleep"))
    opened.clear()
    r = read_device(dev)
    assert r.asleep and r.memory_used is None and r.busy_percent is None
    assert set(r.unknown.values()) == {ASLEEP_REASON}
    under = [p for p in opened if p.startswith(str(dev.pci))]
    assert under == [str(dev.pci / "power" / "runtime_status")]


def test_awake_amdgpu_with_unreadable_files_says_why(tmp_path: Path) -> None:
    root = build_sysfs(tmp_path, "amdgpu-asleep")
    (dev,) = list_devices(root)
    (dev.pci / "power/runtime_status").write_text("active\n")
    assert not is_asleep(dev)
    r = read_device(dev)
    assert not r.asleep and r.memory_used is None
    assert "unreadable" in r.unknown["memory_used"]


def test_xe_total_from_tiles_used_unknown(tmp_path: Path) -> None:
    (dev,) = list_devices(build_sysfs(tmp_path, "xe-b580"))
    r = read_device(dev)
    assert (r.driver, r.memory_total, r.memory_used) == ("xe", 12884901888, None)
    assert "per client" in r.unknown["busy_percent"]


@pytest.mark.parametrize(("tree", "words"), [("i915-dg2", "i915"), ("nouveau-gtx1080", "nouveau")])
def test_drivers_without_figures(tmp_path: Path, tree: str, words: str) -> None:
    (dev,) = list_devices(build_sysfs(tmp_path, tree))
    r = read_device(dev)
    assert (r.memory_used, r.memory_total, r.busy_percent) == (None, None, None)
    assert all(words in why for why in r.unknown.values())


def test_mixed_laptop_skips_non_pci_and_marks_the_sleeper(tmp_path: Path) -> None:
    devices = list_devices(build_sysfs(tmp_path, "igpu-and-asleep-dgpu"))
    assert [(d.gpu, d.driver, d.minors) for d in devices] == [
        ("0000:00:02.0", "i915", (0, 128)),
        ("0000:05:00.0", "amdgpu", (1, 129)),
    ]
    assert [read_device(d).asleep for d in devices] == [False, True]


def test_missing_and_empty_roots(tmp_path: Path) -> None:
    assert list_devices(tmp_path / "nope") == []
    (tmp_path / "class/drm").mkdir(parents=True)
    (tmp_path / "class/drm/card0").symlink_to("../../devices/gone/drm/card0")  # dangling
    assert list_devices(tmp_path) == []


def test_hardware_detection_does_not_wake_a_sleeping_gpu(tmp_path: Path, opened: list[str]) -> None:
    """``paitui hw``'s sysfs fallback reads the device's mem_info_* only when it is awake."""
    from paitui.services.hardware.detect import DetectOptions, detect_hardware
    from paitui.services.hardware.host import HostEnv

    sys_root = build_sysfs(tmp_path / "sys", "amdgpu-asleep", "amdgpu-rx7900xtx")
    options = DetectOptions(
        host=HostEnv(root=tmp_path), docker="off", use_udev=False, use_nvml=False, sys_root=sys_root
    )
    report = detect_hardware(options=options)
    sizes = {g.pci_slot: g.vram_total for g in report.gpus}
    assert sizes == {"0000:03:00.0": 25753026560, "0000:05:00.0": None}
    assert not [p for p in opened if "0000:05:00.0/mem_info" in p]
    assert [p for p in opened if "0000:03:00.0/mem_info_vram_used" in p]
