"""DRM client usage stats from ``/proc/PID/fdinfo/FD``.

The format is the kernel's Documentation/gpu/drm-usage-stats.rst.

A DRM fd's fdinfo carries ``drm-driver``, ``drm-pdev``, ``drm-client-id`` and per-region memory
(``drm-total-<region>``, ``drm-shared-``, ``drm-resident-``, ``drm-purgeable-``, ``drm-active-``,
or the older ``drm-memory-<region>``, which is resident memory), engine busy time
(``drm-engine-<engine>: N ns``) and cycle counters (``drm-cycles-<engine>``,
``drm-total-cycles-<engine>``). One client can be reached through several fds and processes (dup,
fork, fd passing), so clients are keyed by (pdev, client-id) and counted once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_UNITS = {"": 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
_LINE = re.compile(r"^([A-Za-z0-9_.-]+):\s*(.*?)\s*$")
_AMOUNT = re.compile(r"^(\d+)(?:\s+(\w+))?$")
_MEMORY_KINDS = ("total", "shared", "resident", "purgeable", "active")


def parse_amount(text: str) -> int | None:
    """Bytes from ``"1024 KiB"``/``"3 MiB"``/``"512"``; None for anything else."""
    m = _AMOUNT.match(text)
    if m is None or (m.group(2) or "") not in _UNITS:
        return None
    return int(m.group(1)) * _UNITS[m.group(2) or ""]


def is_device_region(region: str) -> bool:
    """Whether a memory region is the GPU's own memory (``vram``, ``vram0``, i915's
    ``local0``), as opposed to system memory (``system``, ``gtt``, ``cpu``, ``stolen``)."""
    return region.startswith(("vram", "local"))


@dataclass(frozen=True)
class DrmClient:
    """One DRM client as one fdinfo file describes it."""

    driver: str
    pdev: str | None  # "0000:03:00.0"; None for a platform device without one
    client_id: str
    pid: int = 0
    #: Bytes held per region: resident where the driver says, else total, else legacy memory.
    regions: dict[str, int] = field(default_factory=dict)
    #: Busy time per engine, ns (cumulative).
    engine_ns: dict[str, int] = field(default_factory=dict)
    #: xe's cycle counters per engine: (cycles, total cycles), cumulative.
    cycles: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the client across fds and processes."""
        return (self.pdev or f"driver:{self.driver}", self.client_id)

    @property
    def device_bytes(self) -> int:
        """Bytes of GPU memory (VRAM) the client holds."""
        return sum(v for r, v in self.regions.items() if is_device_region(r))

    @property
    def system_bytes(self) -> int:
        """Bytes of system memory (GTT, system, cpu) mapped for the GPU."""
        return sum(v for r, v in self.regions.items() if not is_device_region(r))


def parse_fdinfo(text: str, pid: int = 0) -> DrmClient | None:
    """The DRM client an fdinfo text describes; None when it is not a DRM fd (no
    ``drm-driver``/``drm-client-id``) or is garbage. Lines that do not parse are skipped."""
    keys: dict[str, str] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is not None:
            keys.setdefault(m.group(1), m.group(2))
    driver = keys.get("drm-driver")
    client_id = keys.get("drm-client-id")
    if not driver or not client_id or not client_id.isdigit():
        return None
    memory: dict[str, dict[str, int]] = {}
    engine_ns: dict[str, int] = {}
    cycles: dict[str, int] = {}
    total_cycles: dict[str, int] = {}
    for key, value in keys.items():
        if not key.startswith("drm-"):
            continue
        name = key[4:]
        if name.startswith("engine-capacity-") or name.startswith("maxfreq-"):
            continue
        if name.startswith("total-cycles-"):
            if value.isdigit():
                total_cycles[name[13:]] = int(value)
            continue
        if name.startswith("cycles-"):
            if value.isdigit():
                cycles[name[7:]] = int(value)
            continue
        if name.startswith("engine-"):
            ns = value.removesuffix("ns").strip()
            if ns.isdigit():
                engine_ns[name[7:]] = int(ns)
            continue
        kind, sep, region = name.partition("-")
        if sep and region and (kind in _MEMORY_KINDS or kind == "memory"):
            amount = parse_amount(value)
            if amount is not None:
                memory.setdefault(region, {})[kind] = amount
    regions = {
        region: kinds.get("resident", kinds.get("memory", kinds.get("total", 0)))
        for region, kinds in memory.items()
    }
    return DrmClient(
        driver=driver,
        pdev=(keys.get("drm-pdev") or "").lower() or None,
        client_id=client_id,
        pid=pid,
        regions=regions,
        engine_ns=engine_ns,
        cycles={e: (c, total_cycles[e]) for e, c in cycles.items() if e in total_cycles},
    )


def dedupe(clients: Iterable[DrmClient]) -> list[DrmClient]:
    """Each (pdev, client-id) once: the first seen wins (callers pass PIDs in order, so the
    lowest PID, normally the process that opened the device, owns a forked or passed fd)."""
    seen: dict[tuple[str, str], DrmClient] = {}
    for client in clients:
        seen.setdefault(client.key, client)
    return list(seen.values())
