"""What paitui can say about another box's hardware: its own ``paitui hw --json`` when paitui is
installed there, else what the engine's ``info`` alone tells (runtimes, CDI devices, OS, CPUs,
memory) and which GPU facts that leaves out.

Pure and defensive: the remote text is untrusted, so every field is checked for its type and a
bad answer becomes a message, never an exception.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: What only paitui on the box can tell (the engine API does not know it).
MISSING_WITHOUT_PAITUI = (
    "GPU models and VRAM",
    "GPU driver versions",
    "/dev/dri and /dev/kfd access and the render/video groups",
    "free space of the models store",
)
#: Longest remote answer read (a real report is a few KiB).
MAX_REPORT_BYTES = 1 << 20


@dataclass(frozen=True)
class RemoteGpu:
    """One GPU as the remote paitui reported it."""

    name: str
    vendor: str | None = None
    vram_total: int | None = None
    driver: str | None = None


@dataclass(frozen=True)
class RemoteHardware:
    """A remote box's hardware as far as it is known, and where that came from."""

    host: str
    source: str  # "paitui on the box" or "engine only"
    gpus: tuple[RemoteGpu, ...] = ()
    ranking: tuple[str, ...] = ()
    os: str | None = None
    kernel: str | None = None
    cpus: int | None = None
    ram_bytes: int | None = None
    runtimes: tuple[str, ...] = ()
    cdi_devices: tuple[str, ...] = ()
    engine_version: str | None = None
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    report: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "host": self.host,
            "source": self.source,
            "gpus": [g.__dict__ for g in self.gpus],
            "ranking": list(self.ranking),
            "os": self.os,
            "kernel": self.kernel,
            "cpus": self.cpus,
            "ram_bytes": self.ram_bytes,
            "runtimes": list(self.runtimes),
            "cdi_devices": list(self.cdi_devices),
            "engine_version": self.engine_version,
            "missing": list(self.missing),
            "notes": list(self.notes),
        }


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def from_engine_info(host: str, info: Mapping[str, Any], note: str = "") -> RemoteHardware:
    """What the engine's ``/info`` says about its box, and which GPU facts it cannot give."""
    runtimes = info.get("Runtimes")
    cdi = info.get("DiscoveredDevices")
    devices: list[str] = []
    if isinstance(cdi, list):
        for dev in cdi:
            if isinstance(dev, Mapping) and dev.get("Source") == "cdi" and _str(dev.get("ID")):
                devices.append(str(dev["ID"]))
    return RemoteHardware(
        host=host,
        source="engine only",
        os=_str(info.get("OperatingSystem")),
        kernel=_str(info.get("KernelVersion")),
        cpus=_int(info.get("NCPU")),
        ram_bytes=_int(info.get("MemTotal")),
        runtimes=tuple(sorted(str(k) for k in runtimes)) if isinstance(runtimes, Mapping) else (),
        cdi_devices=tuple(devices),
        engine_version=_str(info.get("ServerVersion")),
        missing=MISSING_WITHOUT_PAITUI,
        notes=(note,) if note else (),
    )


def parse_report(host: str, text: str | bytes) -> RemoteHardware:
    """A remote ``paitui hw --json`` answer; ValueError saying why it is not one."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if len(text) > MAX_REPORT_BYTES:
        raise ValueError(f"the answer is over {MAX_REPORT_BYTES} bytes; not a paitui report")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"the answer is not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("gpus", []), list):
        raise ValueError("the answer is JSON but not a paitui hardware report")
    gpus = []
    for raw in data.get("gpus", []):
        if not isinstance(raw, dict):
            continue
        gpus.append(
            RemoteGpu(
                name=_str(raw.get("name")) or "unknown GPU",
                vendor=_str(raw.get("vendor")),
                vram_total=_int(raw.get("vram_total")),
                driver=_str(raw.get("driver")),
            )
        )
    ranking = data.get("ranking")
    docker = data.get("docker") if isinstance(data.get("docker"), dict) else {}
    assert isinstance(docker, dict)
    return RemoteHardware(
        host=host,
        source="paitui on the box",
        gpus=tuple(gpus),
        ranking=tuple(str(r) for r in ranking if isinstance(r, str))
        if isinstance(ranking, list)
        else (),
        kernel=_str(data.get("kernel")),
        ram_bytes=_int(data.get("ram_bytes")),
        engine_version=_str(docker.get("version")),
        report=data,
    )
