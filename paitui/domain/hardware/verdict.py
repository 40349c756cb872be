"""Pure conclusions from hardware facts: which accelerator kinds can run, their ranking, and the
findings with exact fixes. No I/O, so every rule is unit-testable.
"""

from __future__ import annotations

import dataclasses

from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import (
    AccelStatus,
    Finding,
    Gpu,
    HardwareReport,
    Severity,
    Vendor,
)
from paitui.domain.units import format_size

#: Best first; CPU is always usable and always last.
RANK_ORDER = (Accel.CUDA, Accel.ROCM, Accel.INTEL, Accel.VULKAN, Accel.CPU)
INTEL_COMPUTE_DRIVERS = frozenset({"i915", "xe"})
#: Below this much free space in the models store a warning is raised.
LOW_DISK_BYTES = 20 * 1024**3
#: CDI devices in `docker run` need Docker 27 or newer (older engines only in experimental mode).
CDI_MIN_DOCKER = 27

FIX_RENDER_GROUP = "sudo usermod -aG render $USER   # then log out and in again"
FIX_VIDEO_GROUP = "sudo usermod -aG video $USER   # then log out and in again"
FIX_NVIDIA_TOOLKIT = (
    "sudo apt install nvidia-container-toolkit && "
    "sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
)
FIX_NVIDIA_RUNTIME = (
    "sudo nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker"
)
FIX_NVIDIA_CDI = "sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"
FIX_NVIDIA_DRIVER = "sudo apt install nvidia-driver firmware-misc-nonfree   # then reboot"
FIX_KFD = (
    "sudo modprobe amdgpu; if /dev/kfd is still missing the kernel lacks CONFIG_HSA_AMD: "
    "boot a distribution kernel (e.g. linux-image-amd64)"
)
FIX_DOCKER_GROUP = "sudo usermod -aG docker $USER   # then log out and in again"
FIX_DOCKER_START = "sudo systemctl start docker   # or: sudo apt install docker.io"


def _nodes(g: Gpu) -> bool:
    return g.render_node is not None


def _compute(gpus: tuple[Gpu, ...]) -> list[Gpu]:
    return [g for g in gpus if not g.is_display_only]


def _docker_major(version: str | None) -> int | None:
    try:
        return int((version or "").split(".")[0])
    except ValueError:
        return None


def _assess_cuda(r: HardwareReport, findings: list[Finding]) -> AccelStatus:
    nvidia = [g for g in r.gpus if g.vendor == Vendor.NVIDIA]
    proprietary = [g for g in nvidia if g.driver == "nvidia"]
    for g in nvidia:
        if g.driver == "nouveau":
            findings.append(
                Finding(
                    Severity.WARNING,
                    "nvidia-nouveau",
                    f"{g.label} runs the open nouveau driver: "
                    "CUDA needs NVIDIA's proprietary driver.",
                    FIX_NVIDIA_DRIVER,
                )
            )
        elif g.driver is None:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "nvidia-no-driver",
                    f"{g.label} has no kernel driver bound: CUDA cannot use it.",
                    FIX_NVIDIA_DRIVER,
                )
            )
    reasons: list[str] = []
    if not proprietary and not (r.wsl2 and r.docker and r.docker.nvidia_runtime):
        if nvidia:
            reasons.append("no NVIDIA GPU runs the proprietary nvidia driver")
        else:
            reasons.append("no NVIDIA GPU")
        return AccelStatus(Accel.CUDA, False, tuple(reasons))
    if proprietary and not r.wsl2 and not any(n.endswith("nvidiactl") for n in r.nvidia_nodes):
        findings.append(
            Finding(
                Severity.WARNING,
                "nvidia-nodes-missing",
                "The nvidia driver is bound but /dev/nvidiactl is missing; containers get no GPU.",
                "sudo nvidia-modprobe -u -c=0   # or run nvidia-smi once as root",
            )
        )
        reasons.append("/dev/nvidiactl is missing")
    usable = not reasons
    docker = r.docker
    if docker is None:
        reasons.append("Docker not checked: the nvidia runtime or a CDI spec is still needed")
    elif not docker.reachable:
        reasons.append("Docker unreachable: the nvidia runtime could not be checked")
    elif docker.reachable:
        nvidia_cdi = list(docker.nvidia_cdi)
        major = _docker_major(docker.version)
        cdi_ok = bool(nvidia_cdi) and (major is None or major >= CDI_MIN_DOCKER)
        if docker.nvidia_runtime:
            reasons.append("Docker has the nvidia runtime")
        elif cdi_ok:
            reasons.append(f"CDI spec {nvidia_cdi[0]}")
        elif nvidia_cdi:
            usable = False
            reasons.append(f"a CDI spec exists but Docker {docker.version} cannot use CDI devices")
            findings.append(
                Finding(
                    Severity.ERROR,
                    "nvidia-cdi-old-docker",
                    f"Docker {docker.version} cannot use the NVIDIA CDI spec ({nvidia_cdi[0]}); "
                    f"CDI needs Docker {CDI_MIN_DOCKER} or newer. "
                    "Configure the nvidia runtime instead.",
                    FIX_NVIDIA_RUNTIME,
                )
            )
        else:
            usable = False
            reasons.append("Docker has neither the nvidia runtime nor an NVIDIA CDI spec")
            findings.append(
                Finding(
                    Severity.ERROR,
                    "nvidia-no-container-toolkit",
                    "Docker cannot give containers the NVIDIA GPU: "
                    "no nvidia runtime and no CDI spec. "
                    f"Install nvidia-container-toolkit (or generate a CDI spec: {FIX_NVIDIA_CDI}).",
                    FIX_NVIDIA_TOOLKIT,
                )
            )
    if usable and proprietary:
        reasons.insert(0, f"{len(proprietary)} NVIDIA GPU(s) on the nvidia driver")
    elif usable:
        reasons.insert(0, "WSL2 with the nvidia runtime")
    return AccelStatus(Accel.CUDA, usable, tuple(reasons))


def _assess_rocm(r: HardwareReport, findings: list[Finding]) -> AccelStatus:
    amd = [g for g in _compute(r.gpus) if g.vendor == Vendor.AMD]
    amdgpu = [g for g in amd if g.driver == "amdgpu" and _nodes(g)]
    for g in amd:
        if g.driver == "radeon":
            findings.append(
                Finding(
                    Severity.WARNING,
                    "amd-radeon-driver",
                    f"{g.label} runs the old radeon driver: "
                    "neither ROCm nor Vulkan (RADV) images can use it.",
                    "boot with radeon.si_support=0 amdgpu.si_support=1 (GCN 1) or "
                    "radeon.cik_support=0 amdgpu.cik_support=1 (GCN 2) on the kernel command line",
                )
            )
    if not amdgpu:
        if any(g.driver == "amdgpu" for g in amd):
            return AccelStatus(Accel.ROCM, False, ("no AMD GPU on amdgpu has a render node",))
        return AccelStatus(Accel.ROCM, False, ("no AMD GPU on the amdgpu driver",))
    if not r.kfd_present:
        findings.append(
            Finding(
                Severity.ERROR,
                "amd-no-kfd",
                "AMD GPU on amdgpu but /dev/kfd is missing: ROCm images cannot work here; "
                "Vulkan images can.",
                FIX_KFD,
            )
        )
        return AccelStatus(Accel.ROCM, False, ("/dev/kfd is missing",))
    reasons = [f"{len(amdgpu)} AMD GPU(s) on amdgpu", "/dev/kfd present"]
    if not r.kfd_access:
        reasons.append("this user cannot open /dev/kfd (containers running as root still can)")
    return AccelStatus(Accel.ROCM, True, tuple(reasons))


def _assess_intel(r: HardwareReport) -> AccelStatus:
    intel = [g for g in _compute(r.gpus) if g.vendor == Vendor.INTEL]
    ok = [g for g in intel if g.driver in INTEL_COMPUTE_DRIVERS and _nodes(g)]
    if ok:
        drivers = ", ".join(sorted({str(g.driver) for g in ok}))
        return AccelStatus(Accel.INTEL, True, (f"{len(ok)} Intel GPU(s) on {drivers}",))
    if intel:
        return AccelStatus(Accel.INTEL, False, ("no Intel GPU on i915 or xe with a render node",))
    return AccelStatus(Accel.INTEL, False, ("no Intel GPU",))


def _assess_vulkan(r: HardwareReport, cuda: AccelStatus) -> AccelStatus:
    # Vulkan images bring Mesa (RADV/ANV) and use /dev/dri. NVIDIA's Vulkan driver is part of
    # its proprietary driver: the nvidia runtime (graphics capability) or a CDI spec puts it
    # in the container, so it works where CUDA containers do.
    mesa = [
        g
        for g in _compute(r.gpus)
        if _nodes(g)
        and (
            (g.vendor == Vendor.AMD and g.driver == "amdgpu")
            or (g.vendor == Vendor.INTEL and g.driver in INTEL_COMPUTE_DRIVERS)
        )
    ]
    nvidia = [g for g in _compute(r.gpus) if g.vendor == Vendor.NVIDIA]
    proprietary = [g for g in nvidia if g.driver == "nvidia"]
    reasons: list[str] = []
    if mesa:
        reasons.append(f"{len(mesa)} GPU(s) with Mesa Vulkan support (RADV/ANV)")
    if proprietary and cuda.usable:
        reasons.append(
            f"{len(proprietary)} NVIDIA GPU(s) through the nvidia runtime or CDI "
            "(graphics capability)"
        )
    if reasons:
        return AccelStatus(Accel.VULKAN, True, tuple(reasons))
    reasons.append("no AMD (amdgpu) or Intel (i915/xe) GPU")
    if proprietary:
        missing = "; ".join(cuda.reasons) or "containers get no NVIDIA GPU"
        reasons.append(
            "NVIDIA's Vulkan reaches a container only through the nvidia runtime or a CDI spec "
            f"(graphics capability): {missing}"
        )
    elif nvidia:
        reasons.append("NVIDIA's Vulkan needs its proprietary driver (nvidia, not nouveau)")
    return AccelStatus(Accel.VULKAN, False, tuple(reasons))


def _access_findings(r: HardwareReport, findings: list[Finding]) -> None:
    gpus = [g for g in _compute(r.gpus) if g.vendor in (Vendor.AMD, Vendor.INTEL)]
    if not gpus:
        return
    if "render" in r.groups_pending or "video" in r.groups_pending:
        pending = " and ".join(r.groups_pending)
        findings.append(
            Finding(
                Severity.WARNING,
                "groups-pending",
                f"{r.user or 'This user'} was added to {pending} "
                "but this login does not have it yet.",
                "log out and in again (or start a new shell with: newgrp render)",
            )
        )
    blocked = [g for g in gpus if g.render_node and not g.render_access]
    if blocked and "render" not in r.groups_pending:
        fix = FIX_RENDER_GROUP if r.render_gid is not None else FIX_VIDEO_GROUP
        nodes = ", ".join(str(g.render_node) for g in blocked)
        findings.append(
            Finding(
                Severity.WARNING if not (r.docker and r.docker.rootless) else Severity.ERROR,
                "not-in-render-group",
                f"{r.user or 'This user'} cannot open {nodes}: not in the render group."
                + (
                    " Rootless Docker runs containers as this user, so they cannot either."
                    if r.docker and r.docker.rootless
                    else ""
                ),
                fix,
            )
        )
    if r.render_gid is None:
        findings.append(
            Finding(
                Severity.INFO,
                "no-render-group",
                "This host has no render group; render nodes belong to video, and containers get "
                "only the video group.",
            )
        )


def _docker_findings(r: HardwareReport, findings: list[Finding]) -> None:
    d = r.docker
    if d is None or d.reachable:
        return
    err = d.error or "unknown error"
    if "permission denied" in err.lower():
        findings.append(
            Finding(
                Severity.ERROR,
                "docker-permission",
                f"Docker engine unreachable: {err}.",
                FIX_DOCKER_GROUP,
            )
        )
    else:
        findings.append(
            Finding(
                Severity.ERROR,
                "docker-unreachable",
                f"Docker engine unreachable: {err}.",
                FIX_DOCKER_START,
            )
        )


def conclude(r: HardwareReport) -> HardwareReport:
    """The report with accels, ranking and findings filled in from its facts."""
    findings: list[Finding] = []
    if r.source == "sysfs":
        findings.append(
            Finding(
                Severity.INFO,
                "sysfs-fallback",
                f"udev is unavailable ({r.source_note or 'unknown reason'}); read /sys/class/drm "
                "directly, so GPU names come from PCI ids only and hot-plug is not watched.",
            )
        )
    if r.wsl2:
        findings.append(
            Finding(
                Severity.INFO,
                "wsl2",
                "WSL2: GPUs are reached through /dev/dxg and /usr/lib/wsl, not DRM; CUDA works "
                "with the nvidia runtime, ROCm on WSL2 is experimental.",
            )
        )
    for g in r.gpus:
        if g.is_display_only:
            findings.append(
                Finding(
                    Severity.INFO,
                    "display-only",
                    f"{g.name} at {g.pci_slot} (driver {g.driver or 'none'}) is a "
                    "server/BMC display, not an accelerator.",
                )
            )
    cuda = _assess_cuda(r, findings)
    rocm = _assess_rocm(r, findings)
    intel = _assess_intel(r)
    vulkan = _assess_vulkan(r, cuda)
    cpu = AccelStatus(Accel.CPU, True, ("always available",))
    _access_findings(r, findings)
    _docker_findings(r, findings)
    for g in _compute(r.gpus):
        if g.vendor == Vendor.OTHER:
            findings.append(
                Finding(
                    Severity.INFO,
                    "unknown-gpu",
                    f"{g.name} at {g.pci_slot} (driver {g.driver or 'none'}) is from a vendor "
                    "no app variant supports; it is not used.",
                )
            )
    for g in _compute(r.gpus):
        wanted = (g.vendor == Vendor.AMD and g.driver == "amdgpu") or (
            g.vendor == Vendor.INTEL and g.driver in INTEL_COMPUTE_DRIVERS
        )
        if wanted and g.render_node is None:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "no-render-node",
                    f"{g.label} on {g.driver} has no render node (/dev/dri/renderD*): "
                    "containers cannot compute on it.",
                    f"sudo dmesg | grep -i {g.driver}   # look for firmware or init errors",
                )
            )
    known = [g for g in _compute(r.gpus) if g.vendor != Vendor.OTHER]
    if not known and not r.wsl2:
        findings.append(
            Finding(Severity.INFO, "no-gpu", "No GPU accelerator found: only CPU variants can run.")
        )
    if r.models_free_bytes is not None and r.models_free_bytes < LOW_DISK_BYTES:
        free = format_size(r.models_free_bytes, unit="GiB")
        findings.append(
            Finding(
                Severity.WARNING,
                "low-disk",
                f"Only {free} free for models in {r.models_dir}; models need several GiB each.",
                "free space there, or set models_dir in config.toml to a bigger disk",
            )
        )
    statuses = {s.accel: s for s in (cuda, rocm, intel, vulkan, cpu)}
    ranking = tuple(a for a in RANK_ORDER if statuses[a].usable)
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    findings.sort(key=lambda f: order[f.severity])  # stable: rule order within a severity
    return dataclasses.replace(
        r,
        accels=tuple(statuses[a] for a in RANK_ORDER),
        ranking=ranking,
        findings=tuple(findings),
    )
