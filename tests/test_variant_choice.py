"""Which variant paitui picks by default: VRAM at the edges, unverified variants, aliases."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from paitui.demo import GIB, demo_report
from paitui.domain.catalog import App
from paitui.domain.fit import best_variant
from paitui.domain.hardware import HardwareReport
from paitui.domain.launch import LaunchChoices
from paitui.services.catalog import load_catalog
from paitui.services.planner import PlanError, choose_variant, plan_launch
from paitui.settings import Settings

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
