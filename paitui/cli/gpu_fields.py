"""Live GPU use for ``paitui hw`` and ``paitui ls``: the JSON fields and the short text lines.

One sample each run (``services.gpu.sampler``); ``PAITUI_GPU_*`` configure it (a bad value is
a ValueError with the fix, which the commands print).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from paitui.domain.gpu.usage import format_bytes, vram_cell

if TYPE_CHECKING:
    from paitui.domain.gpu.usage import GpuSnapshot, GpuUsage
    from paitui.domain.hardware.report import HardwareReport


def live_enabled() -> bool:
    """False when ``PAITUI_GPU_LIVE=off``: no sample, and the commands add no fields."""
    import os

    return os.environ.get("PAITUI_GPU_LIVE", "").lower() != "off"


def sample(containers: Sequence[str] | None = None) -> GpuSnapshot:
    """One sample of this machine; ``containers``: only those containers' processes."""
    from paitui.services.gpu.sampler import sampler_from_env

    sampler = sampler_from_env(default_helper="run")
    try:
        return sampler.sample(containers)
    finally:
        if sampler.helper is not None:
            sampler.helper.close()


def add_hw_fields(data: dict[str, Any], snap: GpuSnapshot) -> None:
    """Per-GPU ``memory_used``, ``memory_total``, ``busy_percent``, ``asleep``, ``apps`` and
    ``usage_unknown`` (field -> why) into ``paitui hw --json``'s gpus; notes as ``gpu_usage``."""
    for gpu in data.get("gpus", []):
        usage = snap.gpu(str(gpu.get("pci_slot", "")))
        if usage is None:
            gpu.update(memory_used=None, memory_total=None, busy_percent=None, asleep=None)
            gpu.update(apps=[], usage_unknown={"all": "no DRM device for this GPU in sysfs"})
            continue
        gpu.update(
            memory_used=usage.memory_used,
            memory_total=usage.memory_total,
            busy_percent=usage.busy_percent,
            asleep=usage.asleep,
            apps=[a.to_json() for a in usage.apps],
            usage_unknown=dict(usage.unknown),
            usage_source=usage.source,
        )
    data["gpu_usage"] = {"notes": list(snap.notes), "via": snap.via}


def _line(usage: GpuUsage) -> str:
    if usage.asleep:
        return "asleep (not woken to read it)"
    used, total = usage.memory_used, usage.memory_total
    mem = f"VRAM {format_bytes(used)} of {format_bytes(total)}" if total else "VRAM ?"
    if used is not None and usage.source == "clients":
        mem += " (apps seen)"
    busy = f"busy {usage.busy_percent} %" if usage.busy_percent is not None else "busy ?"
    apps = ", ".join(f"{a.holder[:12]} {format_bytes(a.vram_bytes)}" for a in usage.apps)
    return f"{mem}, {busy}" + (f"; {apps}" if apps else "")


def usage_lines(report: HardwareReport, snap: GpuSnapshot) -> list[str]:
    """``Live GPU use:`` and one line per GPU: VRAM, busy % and the apps holding memory."""
    out = ["", "Live GPU use:"]
    names = {g.pci_slot.lower(): g.name for g in report.gpus}
    for usage in snap.gpus:
        out.append(f"  {names.get(usage.gpu, usage.gpu)}: {_line(usage)}")
    if not snap.gpus:
        out.append("  no DRM GPU in sysfs")
    out.extend(f"  note: {n}" for n in snap.notes)
    return out


#: States whose container has processes that may hold GPU memory.
RUNNING_STATES = frozenset({"starting", "loading", "ready", "unhealthy", "paused", "stopping"})


def _running(row: dict[str, Any]) -> bool:
    return bool(row.get("container_id")) and row.get("state") in RUNNING_STATES


def add_ls_fields(rows: list[dict[str, Any]], snap: GpuSnapshot | None, why: str | None) -> None:
    """Per app ``gpu`` (GPU id, bytes; [] when it holds none) and ``gpu_unknown`` (why ``gpu``
    is null) into ``ls --json``."""
    for row in rows:
        apps = snap.app_usage(str(row["container_id"])) if snap and _running(row) else ()
        if snap is None and _running(row):
            apps = None
        row["gpu"] = (
            None
            if apps is None
            else [
                {
                    "gpu": a.gpu,
                    "vram_bytes": a.vram_bytes,
                    "system_bytes": a.system_bytes,
                    "source": a.source,
                }
                for a in apps
            ]
        )
        row["gpu_unknown"] = None
        if apps is None:
            row["gpu_unknown"] = why or next(iter(snap.notes if snap else ()), "not readable")


def ls_cell(row: dict[str, Any]) -> str:
    """The VRAM column of ``paitui ls``."""
    from paitui.domain.gpu.usage import AppGpuUsage

    gpu = row.get("gpu")
    if gpu is None:
        return "?"
    usages = [
        AppGpuUsage(g["gpu"], "", None, g["vram_bytes"], g["system_bytes"], (), 1, g["source"])
        for g in gpu
    ]
    return vram_cell(usages)


def ls_sample(rows: list[dict[str, Any]]) -> tuple[GpuSnapshot | None, str | None]:
    """A sample of the running apps' containers only, or None and why (nothing runs: no
    sample at all)."""
    running = [str(r["container_id"]) for r in rows if _running(r)]
    if not running:
        return None, None
    if not live_enabled():
        return None, "not sampled (PAITUI_GPU_LIVE=off)"
    try:
        return sample(running), None
    except OSError as exc:
        return None, f"GPU use could not be read ({exc})"
