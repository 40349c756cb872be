"""Whole-report scenarios: each runs ``paitui hw --json`` in its own process under umockdev
(real libudev over a described sysfs) with the host facts in a fake root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from paitui.domain.hardware import verdict as V
from tests.hardware.scenario import (
    CDI_SPEC,
    DOCKER_INFO,
    NVIDIA_RUNTIME,
    Host,
    accels,
    base_report,
    docker_json,
    finding,
    gpu,
    rtx4090,
    run_hw,
    rx5500,
    rx7900,
    settle_disk,
    uhd770,
)

pytestmark = pytest.mark.umockdev

ROCM_1 = ["1 AMD GPU(s) on amdgpu", "/dev/kfd present"]
VULKAN_1 = ["1 GPU(s) with Mesa Vulkan support (RADV/ANV)"]
NVIDIA_NODES = ("nvidia0", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools")


def unusable_vulkan(verdicts: list[dict[str, Any]], why: str) -> list[dict[str, Any]]:
    """The verdicts with Vulkan's default reason followed by why NVIDIA's Vulkan is not usable."""
    for verdict in verdicts:
        if verdict["accel"] == "vulkan":
            verdict["reasons"] = [*verdict["reasons"], why]
    return verdicts


def scenario(tmp_path: Path, testbed: str | None, **host_kw: object) -> tuple[Host, dict]:  # type: ignore[type-arg]
    host = Host(tmp_path / "root", **host_kw)  # type: ignore[arg-type]
    return host, settle_disk(run_hw(testbed, host.build()), host)


def test_amd_discrete_with_kfd(tmp_path: Path) -> None:
    host, report = scenario(tmp_path, "amd-rx5500xt-kfd")
    assert report == base_report(
        host,
        gpus=[rx5500()],
        accels=accels(rocm=ROCM_1, vulkan=VULKAN_1),
        ranking=["rocm", "vulkan", "cpu"],
        kfd_present=True,
        kfd_access=True,
    )


def test_amd_without_kfd_and_user_not_in_render(tmp_path: Path) -> None:
    host, report = scenario(
        tmp_path,
        "amd-rx5500xt-no-kfd",
        groups="video:x:44:alice\nrender:x:105:\n",
        identity="1000:1000,44:alice",
    )
    assert report == base_report(
        host,
        gpus=[rx5500(render_access=False)],
        accels=accels(rocm="/dev/kfd is missing", vulkan=VULKAN_1),
        ranking=["vulkan", "cpu"],
        user_in_render=False,
        findings=[
            finding(
                "error",
                "amd-no-kfd",
                "AMD GPU on amdgpu but /dev/kfd is missing: ROCm images cannot work here; "
                "Vulkan images can.",
                V.FIX_KFD,
            ),
            finding(
                "warning",
                "not-in-render-group",
                "alice cannot open /dev/dri/renderD128: not in the render group.",
                "sudo usermod -aG render $USER   # then log out and in again",
            ),
        ],
    )


def test_added_to_render_but_not_logged_in_again(tmp_path: Path) -> None:
    host, report = scenario(tmp_path, "amd-rx5500xt-kfd", identity="1000:1000,44:alice")
    assert report == base_report(
        host,
        gpus=[rx5500(render_access=False)],
        accels=accels(
            rocm=[*ROCM_1, "this user cannot open /dev/kfd (containers running as root still can)"],
            vulkan=VULKAN_1,
        ),
        ranking=["rocm", "vulkan", "cpu"],
        kfd_present=True,
        kfd_access=False,
        user_in_render=False,
        groups_pending=["render"],
        findings=[
            finding(
                "warning",
                "groups-pending",
                "alice was added to render but this login does not have it yet.",
                "log out and in again (or start a new shell with: newgrp render)",
            )
        ],
    )


ARC_A770 = gpu(
    "intel",
    "8086:56a0",
    "0000:03:00.0",
    "Intel Arc A770",
    "i915",
    0,
    128,
    model="DG2 [Arc A770]",
    vendor_name="Intel Corporation",
    boot_vga=True,
)
ARC_B580 = gpu(
    "intel",
    "8086:e20b",
    "0000:03:00.0",
    "Intel Arc B580",
    "xe",
    0,
    128,
    model="Battlemage G21 [Arc B580]",
    vendor_name="Intel Corporation",
    boot_vga=True,
)


@pytest.mark.parametrize(
    ("testbed", "expected", "driver"),
    [("intel-arc-a770-i915", ARC_A770, "i915"), ("intel-arc-b580-xe", ARC_B580, "xe")],
)
def test_intel_arc(tmp_path: Path, testbed: str, expected: dict, driver: str) -> None:  # type: ignore[type-arg]
    host, report = scenario(tmp_path, testbed)
    assert report == base_report(
        host,
        gpus=[expected],
        accels=accels(intel=[f"1 Intel GPU(s) on {driver}"], vulkan=VULKAN_1),
        ranking=["intel", "vulkan", "cpu"],
    )


def test_intel_igpu_plus_amd_dgpu(tmp_path: Path) -> None:
    host, report = scenario(tmp_path, "intel-igpu-amd-dgpu")
    assert report == base_report(
        host,
        gpus=[uhd770(1, 129), rx7900("0000:03:00.0", 0, 128, True)],
        accels=accels(
            rocm=ROCM_1,
            intel=["1 Intel GPU(s) on i915"],
            vulkan=["2 GPU(s) with Mesa Vulkan support (RADV/ANV)"],
        ),
        ranking=["rocm", "intel", "vulkan", "cpu"],
        kfd_present=True,
        kfd_access=True,
    )


def test_nvidia_proprietary_with_runtime(tmp_path: Path) -> None:
    host, report = scenario(
        tmp_path,
        "nvidia-rtx4090-proprietary",
        dev_nodes=NVIDIA_NODES,
        icds=("nvidia_icd.json",),
        docker={"info": {**DOCKER_INFO, "Runtimes": NVIDIA_RUNTIME}},
    )
    assert report == base_report(
        host,
        gpus=[rtx4090("0000:01:00.0", 0, 128)],
        accels=accels(
            cuda=["1 NVIDIA GPU(s) on the nvidia driver", "Docker has the nvidia runtime"],
            vulkan=["1 NVIDIA GPU(s) through the nvidia runtime or CDI (graphics capability)"],
        ),
        ranking=["cuda", "vulkan", "cpu"],
        nvidia_nodes=[host.path(f"dev/{n}") for n in sorted(NVIDIA_NODES)],
        docker=docker_json(nvidia_runtime=True),
    )


def test_nvidia_proprietary_without_container_toolkit(tmp_path: Path) -> None:
    host, report = scenario(tmp_path, "nvidia-rtx4090-proprietary", dev_nodes=NVIDIA_NODES, icds=())
    assert report == base_report(
        host,
        gpus=[rtx4090("0000:01:00.0", 0, 128)],
        accels=unusable_vulkan(
            accels(cuda="Docker has neither the nvidia runtime nor an NVIDIA CDI spec"),
            "NVIDIA's Vulkan reaches a container only through the nvidia runtime or a CDI spec "
            "(graphics capability): Docker has neither the nvidia runtime nor an NVIDIA CDI spec",
        ),
        ranking=["cpu"],
        vulkan_icds=[],
        nvidia_nodes=[host.path(f"dev/{n}") for n in sorted(NVIDIA_NODES)],
        findings=[
            finding(
                "error",
                "nvidia-no-container-toolkit",
                "Docker cannot give containers the NVIDIA GPU: no nvidia runtime and no CDI spec. "
                f"Install nvidia-container-toolkit (or generate a CDI spec: {V.FIX_NVIDIA_CDI}).",
                V.FIX_NVIDIA_TOOLKIT,
            )
        ],
    )


@pytest.mark.parametrize(("version", "usable"), [("27.3.1", True), ("20.10.24+dfsg1", False)])
def test_nvidia_with_cdi_spec(tmp_path: Path, version: str, usable: bool) -> None:
    host, report = scenario(
        tmp_path,
        "nvidia-rtx4090-proprietary",
        dev_nodes=NVIDIA_NODES,
        icds=(),
        cdi={"nvidia.yaml": CDI_SPEC, "other.json": '{"kind": "example.com/fpga"}'},
        docker={"info": {**DOCKER_INFO, "ServerVersion": version}},
    )
    spec = host.path("etc/cdi/nvidia.yaml")
    docker = docker_json(version=version, cdi=(spec,)) | {
        "cdi_specs": [spec, host.path("etc/cdi/other.json")]
    }
    assert report["docker"] == docker
    assert report["ranking"] == (["cuda", "vulkan", "cpu"] if usable else ["cpu"])
    cuda = report["accels"][0]
    if usable:
        assert cuda["reasons"] == ["1 NVIDIA GPU(s) on the nvidia driver", f"CDI spec {spec}"]
        assert report["findings"] == []
    else:
        assert [f["code"] for f in report["findings"]] == ["nvidia-cdi-old-docker"]
        assert report["findings"][0]["fix"] == V.FIX_NVIDIA_RUNTIME


def test_nvidia_on_nouveau(tmp_path: Path) -> None:
    host, report = scenario(tmp_path, "nvidia-gtx1080-nouveau")
    gtx = gpu(
        "nvidia",
        "10de:1b80",
        "0000:01:00.0",
        "NVIDIA GeForce GTX 1080",
        "nouveau",
        0,
        128,
        model="GP104 [GeForce GTX 1080]",
        vendor_name="NVIDIA Corporation",
        boot_vga=True,
    )
    assert report == base_report(
        host,
        gpus=[gtx],
        accels=unusable_vulkan(
            accels(cuda="no NVIDIA GPU runs the proprietary nvidia driver"),
            "NVIDIA's Vulkan needs its proprietary driver (nvidia, not nouveau)",
        ),
        findings=[
            finding(
                "warning",
                "nvidia-nouveau",
                "NVIDIA GeForce GTX 1080 (0000:01:00.0) runs the open nouveau driver: "
                "CUDA needs NVIDIA's proprietary driver.",
                V.FIX_NVIDIA_DRIVER,
            )
        ],
    )


def test_server_with_aspeed_bmc_and_no_docker_socket(tmp_path: Path) -> None:
    host = Host(tmp_path / "root", identity="0:0:root", icds=(), docker=None)
    env = host.build()
    env.pop("PAITUI_HW_DOCKER")  # the real query path, against a socket that does not exist
    env["PAITUI_DOCKER_HOST"] = f"unix://{tmp_path}/no-such-docker.sock"
    report = settle_disk(run_hw("server-aspeed-bmc", env), host)
    ast = gpu(
        "other",
        "1a03:2000",
        "0000:03:00.0",
        "ASPEED Graphics Family",
        "ast",
        0,
        None,
        model="ASPEED Graphics Family",
        vendor_name="ASPEED Technology, Inc.",
        boot_vga=True,
        display_only=True,
    )
    error = "the Docker socket does not exist (engine not running or not installed)"
    assert report == base_report(
        host,
        gpus=[ast],
        user="root",
        uid=0,
        user_in_render=False,
        user_in_video=False,
        vulkan_icds=[],
        docker={
            "reachable": False,
            "error": error,
            "version": None,
            "api_version": None,
            "rootless": False,
            "nvidia_runtime": False,
            "cdi_specs": [],
            "host": env["PAITUI_DOCKER_HOST"],
            "nvidia_cdi": [],
            "engine": "Docker",
            "default_runtime": None,
        },
        findings=[
            finding(
                "error",
                "docker-unreachable",
                f"Docker engine unreachable: {error}.",
                V.FIX_DOCKER_START,
            ),
            finding(
                "info",
                "display-only",
                "ASPEED Graphics Family at 0000:03:00.0 (driver ast) is a server/BMC display, "
                "not an accelerator.",
            ),
            finding("info", "no-gpu", "No GPU accelerator found: only CPU variants can run."),
        ],
    )


def test_two_identical_amd_gpus(tmp_path: Path) -> None:
    host, report = scenario(tmp_path, "two-amd-rx6800")

    def rx6800(slot: str, card: int, boot_vga: bool) -> dict:  # type: ignore[type-arg]
        return gpu(
            "amd",
            "1002:73bf",
            slot,
            "AMD Radeon RX 6800/6800 XT / 6900 XT",
            "amdgpu",
            card,
            128 + card,
            model="Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]",
            vendor_name="Advanced Micro Devices, Inc. [AMD/ATI]",
            boot_vga=boot_vga,
            vram=(17163091968, 268435456),
        )

    assert report == base_report(
        host,
        gpus=[rx6800("0000:03:00.0", 0, True), rx6800("0000:07:00.0", 1, False)],
        accels=accels(
            rocm=["2 AMD GPU(s) on amdgpu", "/dev/kfd present"],
            vulkan=["2 GPU(s) with Mesa Vulkan support (RADV/ANV)"],
        ),
        ranking=["rocm", "vulkan", "cpu"],
        kfd_present=True,
        kfd_access=True,
    )


def test_four_gpu_workstation(tmp_path: Path) -> None:
    host, report = scenario(
        tmp_path,
        "workstation-4gpu",
        dev_nodes=NVIDIA_NODES,
        docker={"info": {**DOCKER_INFO, "Runtimes": NVIDIA_RUNTIME}},
    )
    assert report == base_report(
        host,
        gpus=[
            uhd770(0, 128),
            rx7900("0000:03:00.0", 1, 129, False),
            rx7900("0000:07:00.0", 2, 130, False),
            rtx4090("0000:0b:00.0", 3, 131),
        ],
        accels=accels(
            cuda=["1 NVIDIA GPU(s) on the nvidia driver", "Docker has the nvidia runtime"],
            rocm=["2 AMD GPU(s) on amdgpu", "/dev/kfd present"],
            intel=["1 Intel GPU(s) on i915"],
            vulkan=[
                "3 GPU(s) with Mesa Vulkan support (RADV/ANV)",
                "1 NVIDIA GPU(s) through the nvidia runtime or CDI (graphics capability)",
            ],
        ),
        ranking=["cuda", "rocm", "intel", "vulkan", "cpu"],
        kfd_present=True,
        kfd_access=True,
        nvidia_nodes=[host.path(f"dev/{n}") for n in sorted(NVIDIA_NODES)],
        docker=docker_json(nvidia_runtime=True),
    )


def test_wsl2_with_nvidia_runtime(tmp_path: Path) -> None:
    host, report = scenario(
        tmp_path,
        None,
        dev_nodes=("dxg",),
        wsl=True,
        icds=(),
        docker={"info": {**DOCKER_INFO, "Runtimes": NVIDIA_RUNTIME}},
    )
    assert report == base_report(
        host,
        accels=accels(cuda=["WSL2 with the nvidia runtime", "Docker has the nvidia runtime"]),
        ranking=["cuda", "cpu"],
        wsl2=True,
        vulkan_icds=[],
        docker=docker_json(nvidia_runtime=True),
        findings=[
            finding(
                "info",
                "wsl2",
                "WSL2: GPUs are reached through /dev/dxg and /usr/lib/wsl, not DRM; CUDA works "
                "with the nvidia runtime, ROCm on WSL2 is experimental.",
            )
        ],
    )


def test_sysfs_fallback_sees_the_same_gpus_as_udev(tmp_path: Path) -> None:
    """Forced fallback over the testbed's /sys: same devices, names from PCI ids only."""
    host = Host(tmp_path / "root", docker=None, dev_nodes=("kfd", "nvidiactl"))
    env = host.build()
    udev = run_hw("workstation-4gpu", env)
    sysfs = run_hw(
        "workstation-4gpu", {**env, "PAITUI_HW_UDEV": "off", "PAITUI_HW_SYS_ROOT": "/sys"}
    )
    assert sysfs["source"] == "sysfs"
    assert sysfs["source_note"] == "disabled by PAITUI_HW_UDEV=off"
    assert "sysfs-fallback" in [f["code"] for f in sysfs["findings"]]
    # Node paths differ only by the dev root; everything but hwdb strings must match.
    keep = (
        "vendor",
        "pci_id",
        "pci_slot",
        "driver",
        "vram_total",
        "vram_used",
        "boot_vga",
        "integrated",
        "is_display_only",
    )
    assert [{k: g[k] for k in keep} for g in sysfs["gpus"]] == [
        {k: g[k] for k in keep} for g in udev["gpus"]
    ]
    assert [g["name"] for g in sysfs["gpus"]] == [
        "Intel GPU 8086:4680",
        "AMD GPU 1002:744c",
        "AMD GPU 1002:744c",
        "NVIDIA GPU 10de:2684",
    ]
    assert [Path(g["render_node"]).name for g in sysfs["gpus"]] == [
        "renderD128",
        "renderD129",
        "renderD130",
        "renderD131",
    ]
    assert sysfs["ranking"] == udev["ranking"]


def test_odd_devices_never_crash(tmp_path: Path) -> None:
    """simpledrm (no PCI parent), an unknown vendor with no vendor attribute and a garbage
    device id, and an amdgpu card with no render node and garbage attributes."""
    host, report = scenario(tmp_path, "odd-devices", docker=None)
    unknown = gpu(
        "other",
        "1ed5:0100",
        "0000:05:00.0",
        "Display device 1ed5:0100",
        None,
        1,
        128,
        model=None,
        vendor_name=None,
        boot_vga=False,
    )
    amd = gpu(
        "amd",
        "1002:73ff",
        "0000:06:00.0",
        "AMD GPU 1002:73ff",
        "amdgpu",
        2,
        None,
        model=None,
        vendor_name=None,
        boot_vga=False,
    )
    assert report == base_report(
        host,
        gpus=[unknown, amd],
        accels=accels(rocm="no AMD GPU on amdgpu has a render node"),
        docker=None,
        findings=[
            finding(
                "warning",
                "no-render-node",
                "AMD GPU 1002:73ff (0000:06:00.0) on amdgpu has no render node "
                "(/dev/dri/renderD*): containers cannot compute on it.",
                "sudo dmesg | grep -i amdgpu   # look for firmware or init errors",
            ),
            finding(
                "info",
                "unknown-gpu",
                "Display device 1ed5:0100 at 0000:05:00.0 (driver none) is from a vendor "
                "no app variant supports; it is not used.",
            ),
        ],
    )
