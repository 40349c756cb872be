"""Which variant paitui picks by default: VRAM at the edges, unverified variants, aliases."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from paitui.demo import GIB, demo_report
from paitui.domain.catalog.schema import App
from paitui.domain.hardware.report import DockerFacts, Gpu, HardwareReport, Vendor
from paitui.domain.hardware.verdict import conclude
from paitui.domain.launch.export import compose_text
from paitui.domain.launch.plan import LaunchChoices
from paitui.domain.launch.planner import PlanError, choose_variant, plan_launch
from paitui.domain.launch.variant_fit import best_variant, ranked_variants, why_not
from paitui.services.catalog.loader import load_catalog
from paitui.settings import Settings
from paitui.ui.screens.home import tile_data
from paitui.ui.widgets.app_detail import render_app_detail, variants_cell

CATALOG = load_catalog(include_user=False)
MIB = 1024**2


def with_vram_bytes(report: HardwareReport, size: int) -> HardwareReport:
    """The report with every GPU that reports VRAM reporting ``size`` bytes."""
    gpus = tuple(
        dataclasses.replace(g, vram_total=size) if g.vram_total else g for g in report.gpus
    )
    return dataclasses.replace(report, gpus=gpus)


def settings(tmp_path: Path) -> Settings:
    return Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")


def app(app_id: str) -> App:
    return CATALOG.apps[app_id]


@pytest.mark.parametrize(
    ("vram", "flag"),
    [
        (8573157376, "--medvram"),  # a real RX 5500 XT 8 GB: 7.98 GiB after the kernel's share
        (8 * GIB, "--medvram"),
        (6 * GIB - 20 * MIB, "--medvram"),  # a 6 GB board (RX 5600 XT)
        (16 * GIB, "--medvram"),
        (4 * GIB - 20 * MIB, "--lowvram"),  # a 4 GB RX 5500 reporting 3.98 GiB
        (4 * GIB, "--lowvram"),
        (2 * GIB, "--lowvram"),  # needs more than the card has: the one that needs least
    ],
)
def test_sd_webui_memory_flag_follows_the_board(vram: int, flag: str) -> None:
    entry = app("sd-webui-rx5500")
    report = with_vram_bytes(demo_report(), vram)
    name = choose_variant(entry, report)
    command = entry.variants[name].command or ()
    assert flag in command, (vram / GIB, name)
    assert best_variant(entry, report) == name


def test_the_seeds_ipex_name_picks_pai_comfyuis_xpu_variant(tmp_path: Path) -> None:
    """The Pai README calls the Intel variant ``ipex``; upstream renamed it ``xpu``."""
    comfy = app("pai-comfyui")
    assert "ipex" not in comfy.variants
    assert choose_variant(comfy, demo_report(), "ipex") == "xpu"
    assert choose_variant(comfy, demo_report(), "IPEX") == "xpu"
    plan = plan_launch(comfy, demo_report(), settings(tmp_path), LaunchChoices(variant="ipex"))
    assert plan.variant == "xpu" and plan.image == comfy.variants["xpu"].image
    assert any("ipex" in w and "xpu" in w for w in plan.warnings), plan.warnings
    # A name that is neither a variant nor an alias still fails, naming both.
    with pytest.raises(PlanError) as err:
        choose_variant(comfy, demo_report(), "cuda")
    assert "xpu" in str(err.value) and "ipex" in str(err.value)


def cpu_box() -> HardwareReport:
    """A box with no GPU, as the verdict concludes it."""
    return conclude(HardwareReport(render_gid=105, video_gid=44))


def cuda_box() -> HardwareReport:
    """An RTX 4090 on the proprietary driver with the nvidia runtime."""
    gpu = Gpu(
        vendor=Vendor.NVIDIA,
        pci_id="10de:2684",
        pci_slot="0000:01:00.0",
        name="NVIDIA GeForce RTX 4090",
        driver="nvidia",
        card_node="/dev/dri/card0",
        render_node="/dev/dri/renderD128",
        card_access=True,
        render_access=True,
        vram_total=24 * GIB,
    )
    return conclude(
        HardwareReport(
            gpus=(gpu,),
            render_gid=105,
            video_gid=44,
            nvidia_nodes=("/dev/nvidiactl",),
            docker=DockerFacts(reachable=True, version="28.0.1", nvidia_runtime=True),
        )
    )


def test_ai_runner_without_nvidia_needs_cuda_not_the_noop_image() -> None:
    runner = app("livepeer-ai-runner")
    assert runner.variants["cpu-test"].unverified
    for report in (cpu_box(), demo_report()):
        assert "cpu-test" in ranked_variants(runner, report)  # it could run: never by default
        assert best_variant(runner, report) is None
        reason = why_not(runner, report)
        assert reason.startswith("needs NVIDIA CUDA") and "a CPU" not in reason, reason
        assert "cpu-test" in reason and "unverified" in reason
        with pytest.raises(PlanError) as err:
            choose_variant(runner, report)
        assert "needs NVIDIA CUDA" in err.value.message
        fit, blocked = tile_data(CATALOG, report, {})
        tile = next(t for t in blocked if t.app_id == "livepeer-ai-runner")
        assert tile.reason.startswith("needs NVIDIA CUDA")
        assert all(t.app_id != "livepeer-ai-runner" for t in fit)
    assert best_variant(runner, cuda_box()) == "cuda"
    assert ranked_variants(runner, cuda_box())[-1] == "cpu-test"


@pytest.mark.parametrize("box", ["cpu", "demo", "cuda", "none"])
def test_no_unverified_variant_is_the_default_while_a_verified_one_exists(box: str) -> None:
    report = {"cpu": cpu_box, "demo": demo_report, "cuda": cuda_box}.get(box, lambda: None)()
    checked = 0
    for entry in CATALOG.apps.values():
        best = best_variant(entry, report)
        if best is None:
            continue
        checked += 1
        if entry.variants[best].unverified:
            assert all(v.unverified for v in entry.variants.values()), (entry.id, best)
        if report is not None:
            assert choose_variant(entry, report) == best
    assert checked > 3


def test_an_unverified_variant_chosen_by_name_says_so_everywhere(tmp_path: Path) -> None:
    runner = app("livepeer-ai-runner")
    # cpu-test's image serves the live pipeline only (its PIPELINE is baked in).
    choices = LaunchChoices(
        variant="cpu-test", model_id="a/b", env={"PIPELINE": "live-video-to-video"}
    )
    plan = plan_launch(runner, cpu_box(), settings(tmp_path), choices)
    notes = [w for w in plan.warnings if "unverified" in w]
    assert notes and "No-op" in notes[0], plan.warnings
    assert f"# note: {notes[0]}" in compose_text(plan)
    # A verified variant carries no such note.
    verified = plan_launch(
        runner,
        cuda_box(),
        settings(tmp_path),
        LaunchChoices(model_id="a/b", env={"PIPELINE": "text-to-image"}),
    )
    assert not [w for w in verified.warnings if "unverified" in w]
    # The catalog detail pane and the variants cell mark it.
    console = Console(width=120, record=True, color_system=None)
    console.print(render_app_detail(runner, cpu_box(), None))
    assert "unverified: not checked against upstream" in console.export_text()
    assert "cpu-test?" in variants_cell(runner, cpu_box()).plain


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PAITUI_HW_DOCKER": "none"},
    )


def test_run_cmd_and_compose_without_nvidia() -> None:
    """``--no-hw`` plans for a box with only a CPU: ai-runner is refused, not a no-op."""
    base = ("livepeer-ai-runner", "--no-hw", "--model-id", "a/b", "--env", "PIPELINE=llm")
    for command in ("run-cmd", "compose"):
        out = _cli(command, *base)
        assert out.returncode == 2, out.stdout
        assert "needs NVIDIA CUDA" in out.stderr and "Traceback" not in out.stderr
    live = (*base[:-1], "PIPELINE=live-video-to-video")
    out = _cli("run-cmd", *live, "--variant", "cpu-test")
    assert out.returncode == 0, out.stderr
    assert "# note: Livepeer AI Runner cpu-test is unverified" in out.stdout
    out = _cli("compose", *live, "--variant", "cpu-test")
    assert out.returncode == 0, out.stderr
    assert "# note: Livepeer AI Runner cpu-test is unverified" in out.stdout
