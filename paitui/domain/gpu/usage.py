"""What is known of live GPU use: per GPU, per app on each GPU, and why a figure is unknown.

``combine`` turns the raw pieces the services read (per-device readings, DRM clients per
process, NVML's per-process memory) into a ``GpuSnapshot``. Every figure that could not be had
is ``None`` with a reason in ``unknown`` (per GPU) or ``GpuSnapshot.notes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from paitui.domain.gpu.cgroup import ContainerRef
from paitui.domain.gpu.fdinfo import DrmClient, dedupe


@dataclass(frozen=True)
class DeviceReading:
    """What a driver's sysfs (or NVML) says about one GPU."""

    gpu: str  # PCI slot, "0000:03:00.0" (as fdinfo's drm-pdev writes it)
    driver: str | None
    asleep: bool = False
    memory_used: int | None = None
    memory_total: int | None = None
    busy_percent: int | None = None
    source: str = "sysfs"
    #: field name -> why it is None.
    unknown: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProcessGpu:
    """One process's DRM clients and the container it runs in (None: a host process)."""

    pid: int
    comm: str
    container: ContainerRef | None
    clients: tuple[DrmClient, ...] = ()


@dataclass(frozen=True)
class NvmlProcess:
    """NVML's view of one process on one GPU; ``used`` None when NVML does not say."""

    gpu: str
    pid: int
    used: int | None


@dataclass(frozen=True)
class AppGpuUsage:
    """What one container (or host process) holds on one GPU."""

    gpu: str
    holder: str  # the container id, or "host:<comm>"
    container_id: str | None
    vram_bytes: int | None
    system_bytes: int | None
    pids: tuple[int, ...]
    clients: int
    source: str  # "fdinfo" or "nvml"

    def to_json(self) -> dict[str, Any]:
        """The JSON shape scripts see."""
        return {
            "gpu": self.gpu,
            "holder": self.holder,
            "container_id": self.container_id,
            "vram_bytes": self.vram_bytes,
            "system_bytes": self.system_bytes,
            "pids": list(self.pids),
            "clients": self.clients,
            "source": self.source,
        }


@dataclass(frozen=True)
class GpuUsage:
    """One GPU's live use with the apps holding memory on it."""

    gpu: str
    driver: str | None
    asleep: bool
    memory_used: int | None
    memory_total: int | None
    busy_percent: int | None
    source: str
    unknown: dict[str, str]
    apps: tuple[AppGpuUsage, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON shape scripts see."""
        return {
            "gpu": self.gpu,
            "driver": self.driver,
            "asleep": self.asleep,
            "memory_used": self.memory_used,
            "memory_total": self.memory_total,
            "busy_percent": self.busy_percent,
            "source": self.source,
            "unknown": dict(self.unknown),
            "apps": [a.to_json() for a in self.apps],
        }


@dataclass(frozen=True)
class GpuSnapshot:
    """Everything one sample found."""

    gpus: tuple[GpuUsage, ...] = ()
    #: PIDs in containers whose fdinfo could not be read, and why (for the notes).
    unreadable: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()
    taken_at: float = 0.0
    #: How the per-process figures were read: "direct" or "helper".
    via: str = "direct"
    #: Containers with a process paitui could not read: their figures are unknown.
    unknown_containers: tuple[str, ...] = ()

    def gpu(self, slot: str) -> GpuUsage | None:
        """One GPU by PCI slot."""
        return next((g for g in self.gpus if g.gpu == slot.lower()), None)

    def apps_of(self, container_id: str) -> tuple[AppGpuUsage, ...]:
        """What one container holds, on every GPU."""
        return tuple(a for g in self.gpus for a in g.apps if a.container_id == container_id)

    def app_usage(self, container_id: str) -> tuple[AppGpuUsage, ...] | None:
        """What a container holds, or None when some of its processes could not be read."""
        if container_id in self.unknown_containers:
            return None
        return self.apps_of(container_id)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape scripts see."""
        return {
            "gpus": [g.to_json() for g in self.gpus],
            "unreadable_pids": list(self.unreadable),
            "notes": list(self.notes),
            "via": self.via,
            "unknown_containers": list(self.unknown_containers),
        }


def _holder(proc: ProcessGpu) -> tuple[str, str | None]:
    if proc.container is not None:
        return proc.container.container_id, proc.container.container_id
    return f"host:{proc.comm or proc.pid}", None


def app_usages(
    processes: Sequence[ProcessGpu],
    nvml: Sequence[NvmlProcess] = (),
    containers: Mapping[int, ContainerRef | None] | None = None,
) -> list[AppGpuUsage]:
    """Per (GPU, holder) sums: DRM clients counted once each; NVML processes added as is,
    mapped to containers through ``containers`` (PID -> container, from the cgroup scan)."""
    by_pid = {p.pid: p for p in processes}
    ordered = sorted(processes, key=lambda p: p.pid)
    owner: dict[tuple[str, str], ProcessGpu] = {}
    for proc in ordered:
        for c in proc.clients:
            owner.setdefault(c.key, proc)
    clients = dedupe(c for p in ordered for c in p.clients)
    sums: dict[tuple[str, str], dict[str, Any]] = {}
    for c in clients:
        proc = owner[c.key]
        holder, cid = _holder(proc)
        s = sums.setdefault(
            (c.key[0], holder),
            {"cid": cid, "vram": 0, "sys": 0, "pids": set(), "n": 0, "source": "fdinfo"},
        )
        s["vram"] += c.device_bytes
        s["sys"] += c.system_bytes
        s["pids"].add(proc.pid)
        s["n"] += 1
    for n in nvml:
        ref = (containers or {}).get(n.pid)
        proc = by_pid.get(n.pid) or ProcessGpu(n.pid, "", ref)
        holder, cid = _holder(proc)
        s = sums.setdefault(
            (n.gpu, holder),
            {"cid": cid, "vram": 0, "sys": None, "pids": set(), "n": 0, "source": "nvml"},
        )
        s["vram"] = None if n.used is None or s["vram"] is None else s["vram"] + n.used
        s["pids"].add(n.pid)
        s["n"] += 1
    return [
        AppGpuUsage(
            gpu=gpu,
            holder=holder,
            container_id=s["cid"],
            vram_bytes=s["vram"],
            system_bytes=s["sys"],
            pids=tuple(sorted(s["pids"])),
            clients=s["n"],
            source=s["source"],
        )
        for (gpu, holder), s in sorted(sums.items())
    ]


def combine(
    readings: Sequence[DeviceReading],
    processes: Sequence[ProcessGpu] = (),
    nvml: Sequence[NvmlProcess] = (),
    unreadable: Sequence[int] = (),
    notes: Sequence[str] = (),
    taken_at: float = 0.0,
    via: str = "direct",
    unknown_containers: Sequence[str] = (),
    containers: Mapping[int, ContainerRef | None] | None = None,
) -> GpuSnapshot:
    """One snapshot: each reading with its apps; where the driver has no used-memory figure
    but a total, the sum of the clients paitui could read stands in (``source`` "clients")."""
    apps = app_usages(processes, nvml, containers)
    gpus = []
    for r in readings:
        mine = tuple(a for a in apps if a.gpu == r.gpu)
        used, source, unknown = r.memory_used, r.source, dict(r.unknown)
        if used is None and not r.asleep and r.memory_total is not None and mine:
            used = sum(a.vram_bytes or 0 for a in mine)
            source = "clients"
            why = "sum of the DRM clients paitui can read"
            unknown["memory_used"] = why + (
                f"; {len(unreadable)} processes unreadable" if unreadable else ""
            )
        gpus.append(
            GpuUsage(
                gpu=r.gpu,
                driver=r.driver,
                asleep=r.asleep,
                memory_used=used,
                memory_total=r.memory_total,
                busy_percent=r.busy_percent,
                source=source,
                unknown=unknown,
                apps=mine,
            )
        )
    return GpuSnapshot(
        gpus=tuple(gpus),
        unreadable=tuple(sorted(set(unreadable))),
        notes=tuple(notes),
        taken_at=taken_at,
        via=via,
        unknown_containers=tuple(unknown_containers),
    )


def format_bytes(n: int | None) -> str:
    """``3.2G``, ``512M``, ``0``, or ``?`` for unknown: short enough for a table cell."""
    if n is None:
        return "?"
    if n >= 1024**3:
        return f"{n / 1024**3:.1f}G"
    if n >= 1024**2:
        return f"{n // 1024**2}M"
    return "0" if n == 0 else "<1M"


def vram_cell(usage: Sequence[AppGpuUsage] | None, reason: str | None = None) -> str:
    """The Running screen's VRAM cell for one app: ``3.2G``, ``6.4G/2`` (on 2 GPUs), ``-``
    (holds none), ``?`` (unknown: ``reason`` says why, for a tooltip)."""
    if usage is None:
        return "?"
    if not usage:
        return "-"
    if any(a.vram_bytes is None for a in usage):
        return "?"
    total = sum(a.vram_bytes or 0 for a in usage)
    gpus = {a.gpu for a in usage}
    return format_bytes(total) + (f"/{len(gpus)}" if len(gpus) > 1 else "")
