"""NVIDIA figures through NVML behind a small Protocol; ``pynvml`` is imported only when present.

Only the GPUs asked for are opened (by PCI bus id), so a suspended one is never touched; NVML is
not initialised at all when no awake NVIDIA GPU is asked for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class NvmlReading:
    """One NVIDIA GPU: memory, busy % and the processes holding memory (host PIDs)."""

    memory_total: int | None
    memory_used: int | None
    busy_percent: int | None
    #: (pid, bytes) per process; bytes None where NVML does not say (e.g. under WDDM/MIG).
    processes: tuple[tuple[int, int | None], ...] = ()


class NvmlSource(Protocol):
    """What the sampler needs of NVML."""

    def read(self, slots: Sequence[str]) -> dict[str, NvmlReading | str]:
        """Per PCI slot: a reading, or why there is none."""
        ...


class Pynvml:
    """The real NVML through ``pynvml`` (package nvidia-ml-py)."""

    def __init__(self, module: Any) -> None:
        self._nv = module

    def read(self, slots: Sequence[str]) -> dict[str, NvmlReading | str]:
        """Init, read the asked GPUs by bus id, shut down (a few ms)."""
        nv = self._nv
        if not slots:
            return {}
        try:
            nv.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            return dict.fromkeys(slots, f"NVML cannot start ({exc})")
        out: dict[str, NvmlReading | str] = {}
        try:
            for slot in slots:
                out[slot] = self._one(slot)
        finally:
            with contextlib.suppress(Exception):
                nv.nvmlShutdown()
        return out

    def _one(self, slot: str) -> NvmlReading | str:
        nv = self._nv
        try:
            handle = nv.nvmlDeviceGetHandleByPciBusId(slot.encode())
            mem = nv.nvmlDeviceGetMemoryInfo(handle)
        except Exception as exc:
            return f"NVML has no GPU at {slot} ({exc})"
        busy: int | None
        try:
            busy = int(nv.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:
            busy = None
        procs: dict[int, int | None] = {}  # a process can be in both lists
        for query in (
            "nvmlDeviceGetComputeRunningProcesses",
            "nvmlDeviceGetGraphicsRunningProcesses",
        ):
            with contextlib.suppress(Exception):
                for p in getattr(nv, query)(handle):
                    used = getattr(p, "usedGpuMemory", None)
                    procs[int(p.pid)] = int(used) if isinstance(used, int) else None
        return NvmlReading(int(mem.total), int(mem.used), busy, tuple(sorted(procs.items())))


def nvml_source() -> NvmlSource | None:
    """The real NVML, or None when ``pynvml`` is not installed."""
    try:
        import pynvml
    except ImportError:
        return None
    return Pynvml(pynvml)
