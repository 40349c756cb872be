"""Vulkan on NVIDIA's proprietary driver: usable through the nvidia runtime or CDI with the
graphics capability, planned that way, and explained when it is not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from paitui.demo import GIB
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import DockerFacts, Gpu, HardwareReport, Vendor
from paitui.domain.hardware.verdict import conclude
from paitui.domain.launch.export import compose_text, plan_from_compose, run_argv
from paitui.domain.launch.plan import LaunchChoices, LaunchPlan
from paitui.domain.launch.planner import plan_launch
from paitui.domain.launch.variant_fit import best_variant, why_not
from paitui.services.catalog.loader import load_catalog
from paitui.settings import Settings

CATALOG = load_catalog(include_user=False)
RUNTIME = DockerFacts(reachable=True, version="28.0.1", nvidia_runtime=True)
CDI = DockerFacts(
    reachable=True,
    version="28.0.1",
    cdi_specs=("/etc/cdi/nvidia.yaml",),
    nvidia_cdi=("/etc/cdi/nvidia.yaml",),
)
NO_TOOLKIT = DockerFacts(reachable=True, version="28.0.1")

RTX = Gpu(
    vendor=Vendor.NVIDIA,
    pci_id="10de:2684",
    pci_slot="0000:01:00.0",
    name="NVIDIA GeForce RTX 4090",
    driver="nvidia",
    card_node="/dev/dri/card1",
    render_node="/dev/dri/renderD129",
    card_access=True,
    render_access=True,
    vram_total=24 * GIB,
)
RX = Gpu(
    vendor=Vendor.AMD,
    pci_id="1002:744c",
    pci_slot="0000:03:00.0",
    name="AMD Radeon RX 7900 XTX",
    driver="amdgpu",
    card_node="/dev/dri/card0",
    render_node="/dev/dri/renderD128",
    card_access=True,
    render_access=True,
    vram_total=24 * GIB,
)


def box(*gpus: Gpu, docker: DockerFacts | None = RUNTIME) -> HardwareReport:
    return conclude(
        HardwareReport(
            gpus=gpus,
            render_gid=105,
            video_gid=44,
            nvidia_nodes=("/dev/nvidiactl",),
            kfd_present=True,
            kfd_access=True,
            docker=docker,
        )
    )


def koboldcpp_vulkan(report: HardwareReport, tmp_path: Path) -> LaunchPlan:
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    entry = CATALOG.apps["pai-koboldcpp"]
    return plan_launch(entry, report, settings, LaunchChoices(model_file="a.gguf"))


def test_vulkan_is_usable_on_nvidia_with_the_runtime_or_cdi() -> None:
    for docker in (RUNTIME, CDI):
        report = box(RTX, docker=docker)
        assert report.ranking == (Accel.CUDA, Accel.VULKAN, Accel.CPU)
        status = report.status(Accel.VULKAN)
        assert status is not None and "graphics" in " ".join(status.reasons)
    # Pai KoboldCpp offers rocm and vulkan only: an NVIDIA box now runs its vulkan image.
    assert best_variant(CATALOG.apps["pai-koboldcpp"], box(RTX)) == "vulkan"
    # CUDA still comes first where an app has it.
    assert best_variant(CATALOG.apps["llama-cpp-server"], box(RTX)) == "cuda"


def test_vulkan_on_nvidia_without_the_toolkit_or_on_nouveau_says_why() -> None:
    report = box(RTX, docker=NO_TOOLKIT)
    assert not report.usable(Accel.VULKAN)
    status = report.status(Accel.VULKAN)
    assert status is not None
    text = " ".join(status.reasons)
    assert "nvidia runtime" in text and "CDI" in text and "graphics" in text, text
    assert "needs AMD ROCm or Vulkan" in why_not(CATALOG.apps["pai-koboldcpp"], report)
    nouveau = box(dataclasses.replace(RTX, driver="nouveau"))
    status = nouveau.status(Accel.VULKAN)
    assert status is not None and not status.usable
    assert "proprietary" in " ".join(status.reasons)


def test_vulkan_plan_on_nvidia_asks_for_the_graphics_capability(tmp_path: Path) -> None:
    plan = koboldcpp_vulkan(box(RTX), tmp_path)
    assert plan.variant == "vulkan"
    [request] = plan.device_requests
    assert request.driver == "nvidia" and request.count == -1
    assert "graphics" in request.capabilities[0] and "gpu" in request.capabilities[0]
    # The runtime brings /dev/nvidia*: no /dev/dri, which a host without nvidia-drm lacks.
    assert plan.devices == ()
    argv = run_argv(plan)
    assert "--gpus" in argv and "graphics" in argv[argv.index("--gpus") + 1]
    again = plan_from_compose(compose_text(plan))
    assert again.device_requests == plan.device_requests
    # Through CDI: the CDI device, whose spec carries the graphics libraries.
    [cdi] = koboldcpp_vulkan(box(RTX, docker=CDI), tmp_path).device_requests
    assert cdi.driver == "cdi" and cdi.device_ids == ("nvidia.com/gpu=all",)


def test_vulkan_on_a_mixed_box_gets_dri_and_the_nvidia_gpu(tmp_path: Path) -> None:
    plan = koboldcpp_vulkan(box(RX, RTX), tmp_path)
    assert plan.variant == "rocm"  # ROCm ranks above Vulkan
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    entry = CATALOG.apps["pai-koboldcpp"]
    choices = LaunchChoices(variant="vulkan", model_file="a.gguf")
    plan = plan_launch(entry, box(RX, RTX), settings, choices)
    assert any(d.host.startswith("/dev/dri") for d in plan.devices)
    assert [r.driver for r in plan.device_requests] == ["nvidia"]
    # Without the toolkit the NVIDIA GPU is left out, and the plan says why.
    plan = plan_launch(entry, box(RX, RTX, docker=NO_TOOLKIT), settings, choices)
    assert plan.device_requests == ()
    assert any("NVIDIA" in w and "Vulkan" in w for w in plan.warnings), plan.warnings
