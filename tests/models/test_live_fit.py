""" "Will it fit?" on live GPU figures: fixture sysfs and /proc trees through the real sampler."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from paitui.domain.gpu.usage import GpuSnapshot
from paitui.domain.hardware.report import Gpu, HardwareReport, Vendor
from paitui.domain.models.fit_verdict import FitLevel
from paitui.services.gpu.sampler import sampler_from_env
from paitui.services.models.will_fit import LiveGpus, fit_local
from tests.gpu.trees import (
    DOCKER_ID,
    OTHER_ID,
    amd_two_apps,
    build_proc,
)
from tests.models.gguf_headers import LLAMA3_8B_Q4, write_header

GIB = 1024**3
AWAKE = "0000:03:00.0"
ASLEEP = "0000:05:00.0"
PCI = "devices/pci0000:00/0000:00:01.1/0000:01:00.0/0000:02:00.0/0000:03:00.0"
TOTAL = 25753026560  # the fixture's mem_info_vram_total


def _gpu(slot: str, name: str, total: int, used: int) -> Gpu:
    return Gpu(Vendor.AMD, "1002:744c", slot, name, "amdgpu", vram_total=total, vram_used=used)


REPORT = HardwareReport(
    gpus=(
        _gpu(AWAKE, "RX 7900 XTX", TOTAL, 1 * GIB),  # the report's figure is stale: 1 GiB used
        _gpu(ASLEEP, "RX 6600", 8 * GIB, 0),
    ),
    ram_bytes=64 * GIB,
)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An RX 7900 XTX with llama.cpp and comfyui containers on it, and an RX 6600 asleep."""
    sys_root, proc = amd_two_apps(tmp_path, second_comm="python3")
    monkeypatch.setenv("PAITUI_GPU_SYS_ROOT", str(sys_root))
    monkeypatch.setenv("PAITUI_GPU_PROC_ROOT", str(proc))
    monkeypatch.setenv("PAITUI_GPU_HELPER", "off")
    monkeypatch.setenv("PAITUI_HW_NVML", "off")
    monkeypatch.delenv("PAITUI_GPU_LIVE", raising=False)
    return sys_root


def live_gpus(
    report: HardwareReport, app_of: Callable[[], dict[str, str]] | dict[str, str] | None = None
) -> LiveGpus:
    """The source as ``paitui start`` makes it: this machine's sampler (the env's roots)."""
    sample: Callable[[], GpuSnapshot]
    try:
        sampler = sampler_from_env(default_helper="off")
        sample = sampler.sample
    except ValueError as err:
        raised = err

        def sample() -> GpuSnapshot:
            raise raised

    return LiveGpus(sample, report, app_of)


def _set_used(sys_root: Path, used: int) -> None:
    (sys_root / PCI / "mem_info_vram_used").write_text(f"{used}\n")


def test_free_is_total_minus_used_now_with_the_holders_named(host: Path) -> None:
    _set_used(host, 20 * GIB)
    source = live_gpus(REPORT, {OTHER_ID: "comfyui", DOCKER_ID: "llama-cpp"})
    awake, asleep = sorted(source.gpu_free(), key=lambda g: g.gpu_id)
    assert (awake.gpu_id, awake.name, awake.total) == (AWAKE, "RX 7900 XTX", TOTAL)
    assert awake.free == TOTAL - 20 * GIB  # live, not the report's 1 GiB used
    held = dict(awake.held)
    assert set(held) == {"comfyui", "llama-cpp"} and all(b > 0 for b in held.values())
    # The asleep GPU is not read (that would wake it): its report figures stand in, and say so.
    assert (asleep.gpu_id, asleep.free, asleep.held) == (ASLEEP, 8 * GIB, ())
    assert source.reason is not None and "RX 6600" in source.reason


def test_a_model_that_does_not_fit_names_who_holds_the_memory(host: Path, tmp_path: Path) -> None:
    _set_used(host, TOTAL - 3 * GIB)  # 3 GiB free: an 8B Q4 (~5 GiB) does not fit
    model = write_header(LLAMA3_8B_Q4, tmp_path / "Llama-8B-Q4_K_M.gguf")
    names = {OTHER_ID: "comfyui"}  # llama.cpp's container is not a paitui app: its short id
    verdict = fit_local(model, live_gpus(REPORT, names), gpu_id=AWAKE)
    assert not isinstance(verdict, str)
    assert verdict.level == FitLevel.TOO_BIG
    assert "3.0 GiB free on RX 7900 XTX" in verdict.text
    assert "held by comfyui" in verdict.text and f"held by {DOCKER_ID[:12]}" in verdict.text
    kinds = [c.kind for c in verdict.choices]
    assert "layers" in kinds and [c.text for c in verdict.choices] == list(verdict.offers)


def test_the_app_names_are_asked_only_when_someone_holds_memory(
    host: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[int] = []

    def app_of() -> dict[str, str]:
        asked.append(1)
        return {}

    build_proc(tmp_path / "empty-proc", [])
    monkeypatch.setenv("PAITUI_GPU_PROC_ROOT", str(tmp_path / "empty-proc"))
    gpus = live_gpus(REPORT, app_of).gpu_free()
    assert asked == [] and all(g.held == () for g in gpus)


def test_unreadable_live_figures_fall_back_to_the_report_with_the_reason(
    host: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAITUI_GPU_HELPER", "sometimes")
    source = live_gpus(REPORT)
    gpus = source.gpu_free()
    assert {g.gpu_id: g.free for g in gpus} == {AWAKE: TOTAL - GIB, ASLEEP: 8 * GIB}
    assert source.reason is not None and "PAITUI_GPU_HELPER" in source.reason
    monkeypatch.setenv("PAITUI_GPU_HELPER", "off")
    monkeypatch.setenv("PAITUI_GPU_LIVE", "off")
    off = live_gpus(REPORT)
    assert {g.gpu_id for g in off.gpu_free()} == {AWAKE, ASLEEP}
    assert off.reason is not None and "PAITUI_GPU_LIVE=off" in off.reason


def test_paitui_start_warns_on_live_figures(
    host: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``paitui start``'s warning: live free memory; with no engine answering for the app
    names, the holders are named by their short container ids."""
    from paitui.cli import status
    from paitui.domain.hardware.accel import Accel
    from paitui.domain.launch.plan import LaunchPlan, MountSpec
    from paitui.services.registry import Services
    from paitui.settings import Settings

    _set_used(host, TOTAL - 3 * GIB)
    models = tmp_path / "models"
    models.mkdir()
    write_header(LLAMA3_8B_Q4, models / "Llama-8B-Q4_K_M.gguf")
    plan = LaunchPlan(
        app_id="llama-cpp-server",
        variant="rocm",
        accel=Accel.ROCM,
        name="paitui-llama-cpp-server",
        image="x",
        command=("-m", "/models/Llama-8B-Q4_K_M.gguf"),
        mounts=(MountSpec(str(models), "/models", True),),
    )
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    services = Services(Settings(models_dir=models, apps_dir=tmp_path / "apps"))
    one_gpu = HardwareReport(gpus=REPORT.gpus[:1], ram_bytes=REPORT.ram_bytes)  # not the RX 6600
    status._fit_warning(plan, one_gpu, status._fleet(services))
    err = capsys.readouterr().err
    assert err.startswith("warning: needs ~") and "3.0 GiB free on RX 7900 XTX" in err
    assert f"held by {OTHER_ID[:12]}" in err and "; try " in err
    # A malformed variable: the report's figures (2 GiB free there), and why.
    monkeypatch.setenv("PAITUI_GPU_HELPER", "sometimes")
    one_gpu = HardwareReport(gpus=(_gpu(AWAKE, "RX 7900 XTX", TOTAL, TOTAL - 2 * GIB),))
    status._fit_warning(plan, one_gpu, status._fleet(services))
    err = capsys.readouterr().err
    assert "2.0 GiB free on RX 7900 XTX" in err and "PAITUI_GPU_HELPER='sometimes'" in err
