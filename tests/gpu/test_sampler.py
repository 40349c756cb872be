"""The sampler: caching (at most every 2 s, only when asked), NVML through a fake, asleep GPUs,
per-GPU sums from clients, and what it says when a figure cannot be had."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from paitui.domain.gpu.usage import vram_cell
from paitui.services.gpu.nvml import NvmlReading
from paitui.services.gpu.sampler import GpuSampler, sampler_from_env
from tests.gpu.trees import (
    DOCKER_ID,
    OTHER_ID,
    FakeProc,
    amd_two_apps,
    build_proc,
    build_sysfs,
    docker_cgroup,
    fdinfo_text,
)

GiB = 1024**3


class FakeNvml:
    """NVML as the sampler sees it: readings per slot, and a record of what was asked."""

    def __init__(self, readings: dict[str, NvmlReading | str]) -> None:
        self.readings = readings
        self.asked: list[list[str]] = []

    def read(self, slots: Sequence[str]) -> dict[str, NvmlReading | str]:
        self.asked.append(list(slots))
        return {s: self.readings.get(s, f"NVML has no GPU at {s}") for s in slots}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_amd_snapshot(tmp_path: Path) -> None:
    sys_root, proc = amd_two_apps(tmp_path)
    snap = GpuSampler(sys_root, proc).sample()
    awake, asleep = snap.gpus
    assert (awake.memory_used, awake.busy_percent, awake.source) == (4123017216, 37, "sysfs")
    assert [a.container_id for a in awake.apps] == sorted([DOCKER_ID, OTHER_ID])
    assert asleep.asleep and asleep.apps == () and asleep.memory_used is None
    assert vram_cell(snap.app_usage(DOCKER_ID)) == "8.3G"
    assert snap.notes == () and snap.via == "direct"
    data = snap.to_json()
    assert data["gpus"][1]["asleep"] is True and data["gpus"][0]["apps"][0]["gpu"] == "0000:03:00.0"


def test_samples_at_most_every_two_seconds_and_only_when_asked(tmp_path: Path) -> None:
    sys_root, proc = amd_two_apps(tmp_path)
    clock = Clock()
    s = GpuSampler(sys_root, proc, clock=clock)
    assert s.samples == 0  # constructing reads nothing
    first = s.sample()
    clock.now += 1.9
    assert s.sample() is first and s.samples == 1
    assert s.sample([DOCKER_ID]) is first  # a narrower ask is covered by the last full one
    (
        sys_root
        / "devices/pci0000:00/0000:00:01.1/0000:01:00.0/0000:02:00.0/0000:03:00.0"
        / "mem_info_vram_used"
    ).write_text("5000000000\n")
    clock.now += 0.2
    second = s.sample()
    assert s.samples == 2 and second.gpus[0].memory_used == 5000000000


def test_containers_filter(tmp_path: Path) -> None:
    sys_root, proc = amd_two_apps(tmp_path)
    snap = GpuSampler(sys_root, proc).sample([OTHER_ID])
    assert [a.container_id for a in snap.gpus[0].apps] == [OTHER_ID]
    assert snap.app_usage(DOCKER_ID) == ()


def test_nvml_fake_and_asleep_nvidia_never_asked(tmp_path: Path) -> None:
    sys_root = build_sysfs(tmp_path / "sys", "nvidia-two")
    proc = build_proc(tmp_path / "proc", [FakeProc(70, docker_cgroup(DOCKER_ID), "vllm")])
    nv = FakeNvml(
        {"0000:01:00.0": NvmlReading(24 * GiB, 10 * GiB, 88, ((70, 9 * GiB), (71, None)))}
    )
    snap = GpuSampler(sys_root, proc, nvml=nv).sample()
    assert nv.asked == [["0000:01:00.0"]]  # the suspended 0000:02:00.0 is not opened
    a, b = snap.gpus
    assert (a.memory_used, a.memory_total, a.busy_percent, a.source) == (
        10 * GiB,
        24 * GiB,
        88,
        "nvml",
    )
    assert b.asleep and b.memory_used is None
    apps = {x.holder: x for x in a.apps}
    assert apps[DOCKER_ID].vram_bytes == 9 * GiB and apps[DOCKER_ID].source == "nvml"
    assert apps["host:71"].vram_bytes is None  # NVML gave no figure: unknown, not 0
    assert vram_cell(snap.app_usage(DOCKER_ID)) == "9.0G"


def test_nvml_missing_or_failing(tmp_path: Path) -> None:
    sys_root = build_sysfs(tmp_path / "sys", "nvidia-two")
    proc = build_proc(tmp_path / "proc", [FakeProc(1)])
    none = GpuSampler(sys_root, proc, nvml=None).sample()
    assert "nvidia-ml-py" in none.gpus[0].unknown["memory_used"]
    failing = GpuSampler(sys_root, proc, nvml=FakeNvml({})).sample()
    assert "no GPU at 0000:01:00.0" in failing.gpus[0].unknown["memory_used"]
    asleep_only = FakeNvml({})
    (sys_root / "devices/pci0000:00/0000:00:01.0/0000:01:00.0/power/runtime_status").write_text(
        "suspended\n"
    )
    GpuSampler(sys_root, proc, nvml=asleep_only).sample()
    assert asleep_only.asked == []  # NVML not even initialised when every NVIDIA GPU sleeps


def test_xe_used_is_the_sum_of_clients(tmp_path: Path) -> None:
    sys_root = build_sysfs(tmp_path / "sys", "xe-b580")
    proc = build_proc(
        tmp_path / "proc",
        [
            FakeProc(
                80,
                docker_cgroup(DOCKER_ID),
                "ollama",
                {3: ("/dev/dri/renderD128", fdinfo_text("xe"))},
            )
        ],
    )
    (gpu,) = GpuSampler(sys_root, proc).sample().gpus
    assert (gpu.memory_used, gpu.source, gpu.memory_total) == (2048 * 1024**2, "clients", 12 * GiB)
    assert "sum of the DRM clients" in gpu.unknown["memory_used"]


def test_nouveau_and_igpu_say_why(tmp_path: Path) -> None:
    sys_root = build_sysfs(tmp_path / "sys", "nouveau-gtx1080")
    proc = build_proc(
        tmp_path / "proc",
        [
            FakeProc(
                90,
                docker_cgroup(DOCKER_ID),
                "app",
                {3: ("/dev/dri/renderD128", fdinfo_text("nouveau"))},
            )
        ],
    )
    snap = GpuSampler(sys_root, proc).sample()
    assert snap.gpus[0].memory_used is None and "nouveau" in snap.gpus[0].unknown["memory_used"]
    assert vram_cell(snap.app_usage(DOCKER_ID)) == "-"


def test_env_config() -> None:
    s = sampler_from_env({"PAITUI_GPU_HELPER": "off", "PAITUI_GPU_PROC_ROOT": "/x"})
    assert s.helper is None and s.proc_root == Path("/x")
    assert sampler_from_env({"PAITUI_GPU_HELPER": "exec"}).helper is not None
    with pytest.raises(ValueError, match="expected off, run or exec"):
        sampler_from_env({"PAITUI_GPU_HELPER": "sudo"})


def test_sys_root_follows_the_hw_what_if_roots() -> None:
    assert sampler_from_env({"PAITUI_HW_ROOT": "/t"}).sys_root == Path("/t/sys")
    assert sampler_from_env({"PAITUI_HW_SYS_ROOT": "/s", "PAITUI_HW_ROOT": "/t"}).sys_root == Path(
        "/s"
    )
    assert sampler_from_env({"PAITUI_GPU_SYS_ROOT": "/g", "PAITUI_HW_ROOT": "/t"}).sys_root == Path(
        "/g"
    )
    assert sampler_from_env({}).sys_root == Path("/sys")
