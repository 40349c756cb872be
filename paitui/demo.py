"""A fixed sample box for screenshots, snapshot tests and ``paitui --demo``.

An AMD RX 5500 XT beside an Intel iGPU, a user missing from the ``render`` group, and a few apps in
different states: everything a screen can show, the same on every machine.
"""

from __future__ import annotations

from paitui.domain.engine.containers import PublishedPort
from paitui.domain.fleet.status import AppState, AppStatus
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import (
    AccelStatus,
    DockerFacts,
    Finding,
    Gpu,
    HardwareReport,
    Severity,
    Vendor,
)

#: A fixed clock for everything shown (2026-01-01 12:00 UTC).
DEMO_NOW = 1767268800.0
GIB = 1024**3


def demo_report() -> HardwareReport:
    """The sample box's hardware report."""
    amd = Gpu(
        vendor=Vendor.AMD,
        pci_id="1002:7340",
        pci_slot="0000:03:00.0",
        name="Radeon RX 5500 XT",
        driver="amdgpu",
        card_node="/dev/dri/card1",
        render_node="/dev/dri/renderD129",
        card_access=True,
        render_access=False,
        integrated=False,
        boot_vga=False,
        vram_total=8 * GIB,
        vram_used=GIB // 2,
    )
    intel = Gpu(
        vendor=Vendor.INTEL,
        pci_id="8086:4680",
        pci_slot="0000:00:02.0",
        name="AlderLake-S GT1",
        driver="i915",
        card_node="/dev/dri/card0",
        render_node="/dev/dri/renderD128",
        card_access=True,
        render_access=False,
        integrated=True,
        boot_vga=True,
    )
    return HardwareReport(
        gpus=(amd, intel),
        accels=(
            AccelStatus(Accel.ROCM, True, ("amdgpu with /dev/kfd",)),
            AccelStatus(Accel.VULKAN, True, ("2 GPUs with render nodes",)),
            AccelStatus(Accel.INTEL, True, ("i915 iGPU",)),
            AccelStatus(Accel.CUDA, False, ("no NVIDIA GPU",)),
            AccelStatus(Accel.CPU, True, ()),
        ),
        ranking=(Accel.ROCM, Accel.INTEL, Accel.VULKAN, Accel.CPU),
        findings=(
            Finding(
                Severity.WARNING,
                "not-in-render-group",
                "You are not in the 'render' group: containers get the GPU, but local tools "
                "cannot open /dev/dri/renderD*.",
                "sudo usermod -aG render $USER   # then log out and in again",
            ),
            Finding(
                Severity.INFO,
                "boot-vga",
                "The Intel iGPU drives the display; the RX 5500 XT is free for compute.",
            ),
        ),
        render_gid=992,
        video_gid=44,
        user_in_render=False,
        user_in_video=True,
        kfd_present=True,
        kfd_access=True,
        kernel="6.12.9-amd64",
        vulkan_icds=(
            "/usr/share/vulkan/icd.d/radeon_icd.x86_64.json",
            "/usr/share/vulkan/icd.d/intel_icd.x86_64.json",
        ),
        docker=DockerFacts(reachable=True, version="20.10.24", api_version="1.41"),
        models_free_bytes=412 * GIB,
        models_dir="/srv/paitui/models",
        ram_bytes=32 * GIB,
        user="demo",
        uid=1000,
    )


def demo_statuses() -> dict[str, AppStatus]:
    """A few managed apps in telling states."""
    port = PublishedPort(5001, "tcp", "127.0.0.1", 5001)
    return {
        "pai-koboldcpp": AppStatus(
            app_id="pai-koboldcpp",
            state=AppState.READY,
            since=DEMO_NOW - 600,
            container_id="4f1c2a9e0b7d",
            name="paitui-pai-koboldcpp",
            variant="rocm",
            image="ghcr.io/futursolo/pai-apps/koboldcpp:rocm",
            started_at=DEMO_NOW - 660,
            ports=(port,),
            ever_ready=True,
        ),
        "pai-comfyui": AppStatus(
            app_id="pai-comfyui",
            state=AppState.LOADING,
            since=DEMO_NOW - 20,
            container_id="9a8b7c6d5e4f",
            name="paitui-pai-comfyui",
            variant="rocm",
            image="ghcr.io/futursolo/pai-apps/comfyui:rocm",
            started_at=DEMO_NOW - 45,
            ports=(PublishedPort(8188, "tcp", "127.0.0.1", 8188),),
            detail="loading models",
        ),
    }
