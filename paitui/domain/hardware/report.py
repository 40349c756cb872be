"""What the hardware service reports: GPUs, host facts, per-accelerator verdicts and findings.

Plain frozen dataclasses; the launch planner reads GIDs and device nodes from here, the UI and
``paitui hw`` render it, and ``to_json`` gives scripts a stable shape.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from paitui.domain.hardware.accel import Accel


class Vendor(StrEnum):
    """GPU vendor from the PCI vendor id."""

    AMD = "amd"
    INTEL = "intel"
    NVIDIA = "nvidia"
    OTHER = "other"


class Severity(StrEnum):
    """How much a finding matters."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Gpu:
    """One display/compute device as seen through DRM and its PCI parent."""

    vendor: Vendor
    pci_id: str  # "1002:7340"
    pci_slot: str  # "0000:03:00.0"
    name: str
    driver: str | None
    card_node: str | None = None  # "/dev/dri/card0"
    render_node: str | None = None  # "/dev/dri/renderD128"
    card_access: bool = False
    render_access: bool = False
    integrated: bool = False
    boot_vga: bool = False
    vram_total: int | None = None  # bytes
    vram_used: int | None = None  # bytes
    is_display_only: bool = False  # BMC displays such as ASPEED: not an accelerator
    #: The raw hwdb model string (``ID_MODEL_FROM_DATABASE``) when udev has one.
    model: str | None = None
    #: The hwdb vendor string (``ID_VENDOR_FROM_DATABASE``) when udev has one.
    vendor_name: str | None = None
    #: Where the name and memory came from beyond udev/sysfs, e.g. "nvml".
    via: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Short identification for lists: name and PCI slot."""
        return f"{self.name} ({self.pci_slot})"


@dataclass(frozen=True)
class Finding:
    """Something wrong or worth knowing, with the exact fix."""

    severity: Severity
    code: str  # stable id for scripts, e.g. "not-in-render-group"
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class AccelStatus:
    """Whether one accelerator kind can be used on this box, and why (not)."""

    accel: Accel
    usable: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class DockerFacts:
    """What the Docker engine says about itself."""

    reachable: bool
    error: str | None = None
    version: str | None = None
    api_version: str | None = None
    rootless: bool = False
    nvidia_runtime: bool = False
    cdi_specs: tuple[str, ...] = ()
    host: str | None = None
    #: The CDI spec files among ``cdi_specs`` that describe NVIDIA devices.
    nvidia_cdi: tuple[str, ...] = ()
    #: Which engine serves the API ("Docker" or "Podman", ``domain.engine.kind``), its runtime.
    engine: str = "Docker"
    default_runtime: str | None = None

    def summary(self) -> str:
        """One line: version and what matters for GPUs, or why it is unreachable."""
        if not self.reachable:
            return f"unreachable: {self.error}"
        extras = [f"API {self.api_version}"]
        if self.rootless:
            extras.append("rootless")
        if self.nvidia_runtime:
            extras.append("nvidia runtime")
        if self.nvidia_cdi:
            extras.append("NVIDIA CDI spec")
        return f"{self.engine} {self.version} ({', '.join(extras)})"


@dataclass(frozen=True)
class HardwareReport:
    """Everything paitui knows about this box that decides which app variant can run."""

    gpus: tuple[Gpu, ...] = ()
    accels: tuple[AccelStatus, ...] = ()
    #: Usable accelerators, best first; launches pick the first one an app offers.
    ranking: tuple[Accel, ...] = (Accel.CPU,)
    findings: tuple[Finding, ...] = ()
    render_gid: int | None = None
    video_gid: int | None = None
    user_in_render: bool = False
    user_in_video: bool = False
    kfd_present: bool = False
    kfd_access: bool = False
    nvidia_nodes: tuple[str, ...] = ()
    wsl2: bool = False
    kernel: str | None = None
    vulkan_icds: tuple[str, ...] = ()
    docker: DockerFacts | None = None
    models_free_bytes: int | None = None
    #: Host RAM (MemTotal of /proc/meminfo), bytes: what cpu variants and integrated GPUs use.
    ram_bytes: int | None = None
    #: "udev", or "sysfs" when libudev was unavailable and /sys/class/drm was read directly.
    source: str = "udev"
    #: Why udev could not be used (when ``source`` is "sysfs").
    source_note: str | None = None
    user: str | None = None
    uid: int | None = None
    #: Groups the user is listed in by the group database but that this login does not have yet.
    groups_pending: tuple[str, ...] = ()
    #: The models store whose free space is reported (or its nearest existing parent).
    models_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self, accel: Accel) -> AccelStatus | None:
        """The verdict for one accelerator kind, if it was assessed."""
        return next((a for a in self.accels if a.accel == accel), None)

    def usable(self, accel: Accel) -> bool:
        """Whether variants of this accelerator kind can run here."""
        return accel == Accel.CPU or accel in self.ranking

    def max_vram(self) -> int | None:
        """The largest VRAM of any accelerator GPU, in bytes."""
        sizes = [g.vram_total for g in self.gpus if g.vram_total and not g.is_display_only]
        return max(sizes) if sizes else None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (enums as strings)."""
        data: dict[str, Any] = _jsonable(dataclasses.asdict(self))
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value
