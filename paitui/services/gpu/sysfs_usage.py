"""Per-GPU readings from sysfs, with an injectable sys root; a suspended GPU is never read.

Reading some attributes (amdgpu's ``mem_info_*``, ``gpu_busy_percent``) resumes a GPU that
runtime PM has suspended, so ``power/runtime_status`` is read first and a ``suspended`` device
gets nothing else read (only its ``driver`` link, which is the kernel's, not the device's).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from paitui.domain.gpu.usage import DeviceReading

_MINOR = re.compile(r"^(card|renderD)(\d+)$")
ASLEEP_REASON = "asleep (runtime PM suspended): not read, so as not to wake it"


@dataclass(frozen=True)
class DrmDevice:
    """One PCI GPU and its DRM minors."""

    gpu: str  # PCI slot
    driver: str | None
    pci: Path
    minors: tuple[int, ...]  # 0 for card0, 128 for renderD128

    @property
    def nodes(self) -> tuple[str, ...]:
        """The minors' node names: ``card0``, ``renderD128``."""
        return tuple(f"card{m}" if m < 128 else f"renderD{m}" for m in self.minors)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except (OSError, ValueError):
        return None


def _int(path: Path) -> int | None:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def list_devices(sys_root: Path) -> list[DrmDevice]:
    """Every PCI GPU under ``<sys_root>/class/drm`` (minors whose ``device`` is PCI)."""
    drm = sys_root / "class" / "drm"
    try:
        names = sorted(os.listdir(drm))
    except OSError:
        return []
    found: dict[str, tuple[Path, str | None, list[int]]] = {}
    for name in names:
        m = _MINOR.match(name)
        if m is None:
            continue
        try:
            pci = (drm / name / "device").resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if not re.match(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$", pci.name):
            continue
        if pci.name not in found:
            try:
                driver: str | None = os.path.basename(os.readlink(pci / "driver"))
            except OSError:
                driver = None
            found[pci.name] = (pci, driver, [])
        found[pci.name][2].append(int(m.group(2)))
    return [
        DrmDevice(gpu=slot, driver=driver, pci=pci, minors=tuple(sorted(minors)))
        for slot, (pci, driver, minors) in sorted(found.items())
    ]


def is_asleep(device: DrmDevice) -> bool:
    """Whether runtime PM has the device suspended (a missing file: no runtime PM, awake)."""
    return _read(device.pci / "power" / "runtime_status") == "suspended"


def _amdgpu(device: DrmDevice) -> DeviceReading:
    used = _int(device.pci / "mem_info_vram_used")
    total = _int(device.pci / "mem_info_vram_total")
    busy = _int(device.pci / "gpu_busy_percent")
    unknown = {}
    for name, value in (("memory_used", used), ("memory_total", total), ("busy_percent", busy)):
        if value is None:
            unknown[name] = "amdgpu's sysfs file is missing or unreadable"
    return DeviceReading(device.gpu, "amdgpu", False, used, total, busy, "sysfs", unknown)


def _xe(device: DrmDevice) -> DeviceReading:
    # xe publishes each tile's VRAM size; used memory and busy time only per client.
    sizes = []
    try:
        tiles = sorted(p for p in os.listdir(device.pci) if re.match(r"^tile\d+$", p))
    except OSError:
        tiles = []
    for tile in tiles:
        size = _int(device.pci / tile / "physical_vram_size_bytes")
        if size is not None:
            sizes.append(size)
    unknown = {
        "memory_used": "xe publishes no used-VRAM figure in sysfs",
        "busy_percent": "xe publishes busy time only per client (drm-cycles) and to perf",
    }
    total = sum(sizes) if sizes else None
    if total is None:
        unknown["memory_total"] = (
            "no tile*/physical_vram_size_bytes (integrated GPU or older kernel)"
        )
    return DeviceReading(device.gpu, "xe", False, None, total, None, "sysfs", unknown)


def _no_figures(device: DrmDevice, why: str) -> DeviceReading:
    return DeviceReading(
        device.gpu,
        device.driver,
        False,
        source="sysfs",
        unknown={"memory_used": why, "memory_total": why, "busy_percent": why},
    )


def read_device(device: DrmDevice) -> DeviceReading:
    """What the driver publishes for one GPU; ``asleep`` and nothing more when suspended."""
    if is_asleep(device):
        why = ASLEEP_REASON
        return DeviceReading(
            device.gpu,
            device.driver,
            True,
            source="sysfs",
            unknown={"memory_used": why, "memory_total": why, "busy_percent": why},
        )
    if device.driver == "amdgpu":
        return _amdgpu(device)
    if device.driver == "xe":
        return _xe(device)
    if device.driver == "i915":
        return _no_figures(device, "i915 publishes no memory or busy figures in sysfs")
    if device.driver == "nouveau":
        return _no_figures(device, "nouveau publishes no memory or busy figures")
    if device.driver == "nvidia":
        return _no_figures(device, "NVML is not available (install nvidia-ml-py)")
    return _no_figures(device, f"driver {device.driver or 'none'} is not known to paitui")
