"""Pure rules: reports built by hand, conclusions checked (no I/O)."""

from __future__ import annotations

import docker.errors
import requests.exceptions

from paitui.domain.hardware import verdict as V
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.facts import GpuFacts, gpu_from_facts, readable_name
from paitui.domain.hardware.report import DockerFacts, Gpu, HardwareReport, Vendor
from paitui.services.hardware.host import describe_docker_error

GiB = 1024**3


def amd(**kw: object) -> Gpu:
    base: dict[str, object] = {
        "vendor": Vendor.AMD,
        "pci_id": "1002:744c",
        "pci_slot": "0000:03:00.0",
        "name": "AMD Radeon RX 7900 XTX",
        "driver": "amdgpu",
        "card_node": "/dev/dri/card0",
        "render_node": "/dev/dri/renderD128",
        "card_access": True,
        "render_access": True,
        "vram_total": 24 * GiB,
    }
    return Gpu(**{**base, **kw})  # type: ignore[arg-type]


def nvidia(**kw: object) -> Gpu:
    base: dict[str, object] = {
        "vendor": Vendor.NVIDIA,
        "pci_id": "10de:2684",
        "name": "NVIDIA GeForce RTX 4090",
        "driver": "nvidia",
    }
    return amd(**{**base, **kw})


def conclude(**kw: object) -> HardwareReport:
    base: dict[str, object] = {"render_gid": 105, "video_gid": 44, "models_free_bytes": 500 * GiB}
    return V.conclude(HardwareReport(**{**base, **kw}))  # type: ignore[arg-type]


def codes(r: HardwareReport) -> list[str]:
    return [f.code for f in r.findings]


def test_ranking_order_and_cpu_last() -> None:
    r = conclude(
        gpus=(
            amd(),
            nvidia(pci_slot="0000:0b:00.0"),
            amd(vendor=Vendor.INTEL, driver="xe", pci_slot="0000:00:02.0"),
        ),
        kfd_present=True,
        kfd_access=True,
        nvidia_nodes=("/dev/nvidiactl",),
        docker=DockerFacts(reachable=True, version="28.0.1", nvidia_runtime=True),
    )
    assert r.ranking == (Accel.CUDA, Accel.ROCM, Accel.INTEL, Accel.VULKAN, Accel.CPU)
    assert r.findings == ()
    assert r.usable(Accel.ROCM) and r.status(Accel.CUDA) is not None


def test_docker_permission_denied_and_unreachable() -> None:
    denied = "permission denied on the Docker socket"
    r = conclude(docker=DockerFacts(reachable=False, error=denied))
    assert codes(r) == ["docker-permission", "no-gpu"]
    assert r.findings[0].fix == V.FIX_DOCKER_GROUP
    refused = "connection refused (engine not running)"
    r = conclude(docker=DockerFacts(reachable=False, error=refused))
    assert codes(r) == ["docker-unreachable", "no-gpu"]
    assert r.findings[0].fix == V.FIX_DOCKER_START


def test_rootless_docker_makes_render_access_an_error() -> None:
    gpu = amd(render_access=False)
    plain = conclude(
        gpus=(gpu,),
        kfd_present=True,
        user="bob",
        docker=DockerFacts(reachable=True, version="28.0.1"),
    )
    rootless = conclude(
        gpus=(gpu,),
        kfd_present=True,
        user="bob",
        docker=DockerFacts(reachable=True, version="28.0.1", rootless=True),
    )
    assert [(f.severity, f.code) for f in plain.findings] == [("warning", "not-in-render-group")]
    assert [(f.severity, f.code) for f in rootless.findings] == [("error", "not-in-render-group")]
    assert rootless.findings[0].fix == V.FIX_RENDER_GROUP
    assert "Rootless Docker" in rootless.findings[0].message


def test_no_render_group_falls_back_to_video_fix() -> None:
    r = conclude(gpus=(amd(render_access=False),), render_gid=None, kfd_present=True)
    assert codes(r) == ["not-in-render-group", "no-render-group"]
    assert r.findings[0].fix == V.FIX_VIDEO_GROUP


def test_old_radeon_driver_and_missing_nvidia_nodes() -> None:
    r = conclude(gpus=(amd(driver="radeon"), nvidia(pci_slot="0000:0b:00.0")))
    assert codes(r) == ["nvidia-nodes-missing", "amd-radeon-driver"]  # CUDA rules run first
    assert r.ranking == (Accel.CPU,)
    cuda = r.status(Accel.CUDA)
    assert cuda is not None and cuda.reasons[0] == "/dev/nvidiactl is missing"


def test_nvidia_without_driver_and_low_disk() -> None:
    r = conclude(gpus=(nvidia(driver=None),), models_free_bytes=3 * GiB, models_dir="/srv/models")
    assert codes(r) == ["nvidia-no-driver", "low-disk"]
    assert "3.0 GiB free for models in /srv/models" in r.findings[1].message


def test_names_and_kinds_from_facts() -> None:
    model = "Raptor Lake-S GT1 [UHD Graphics 770]"
    facts = GpuFacts("0000:00:02.0", 0x8086, 0xA780, "i915", model_db=model)
    g = gpu_from_facts(facts, True, True)
    assert (g.name, g.integrated, g.vendor) == ("Intel UHD Graphics 770", True, Vendor.INTEL)
    apu_facts = GpuFacts("0000:c5:00.0", 0x1002, 0x15BF, "amdgpu", vram_total=512 * 1024**2)
    apu = gpu_from_facts(apu_facts, True, True)
    assert apu.integrated and apu.name == "AMD GPU 1002:15bf"
    matrox = gpu_from_facts(GpuFacts("0000:02:00.0", 0x102B, 0x0536, "mgag200"), True, False)
    assert matrox.is_display_only and matrox.name == "Matrox GPU 102b:0536"
    unknown = GpuFacts("0000:01:00.0", None, None)
    assert readable_name(unknown, Vendor.OTHER) == "Display device ????:????"
    virtio = GpuFacts("x", 0x1AF4, 0x1050, vendor_db="Red Hat, Inc.")
    assert readable_name(virtio, Vendor.OTHER) == "Red Hat, Inc. display device 1af4:1050"


def test_docker_error_descriptions_from_sdk_exceptions() -> None:
    def wrapped(cause: BaseException) -> docker.errors.DockerException:
        try:
            try:
                raise cause
            except BaseException as inner:
                raise docker.errors.DockerException(
                    f"Error while fetching server API version: {inner!r}"
                ) from inner
        except docker.errors.DockerException as exc:
            return exc

    assert describe_docker_error(wrapped(PermissionError(13, "Permission denied"))) == (
        "permission denied on the Docker socket"
    )
    assert describe_docker_error(wrapped(FileNotFoundError(2, "No such file or directory"))) == (
        "the Docker socket does not exist (engine not running or not installed)"
    )
    assert describe_docker_error(wrapped(ConnectionRefusedError(111, "Connection refused"))) == (
        "connection refused (engine not running)"
    )
    assert describe_docker_error(requests.exceptions.ReadTimeout("Read timed out.")) == (
        "the Docker engine did not answer in time"
    )
