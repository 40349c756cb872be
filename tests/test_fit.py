"""Which variant fits a box: VRAM, legacy and the accelerator ranking; the planner agrees."""

from __future__ import annotations

import dataclasses

import pytest

from paitui.demo import GIB, demo_report
from paitui.domain.catalog.schema import App
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.planner import choose_variant
from paitui.domain.launch.variant_fit import best_variant, ranked_variants, why_not
from paitui.services.catalog.loader import load_catalog

CATALOG = load_catalog(include_user=False)


def with_vram(report: HardwareReport, gib: int) -> HardwareReport:
    gpus = tuple(
        dataclasses.replace(g, vram_total=gib * GIB) if g.vram_total else g for g in report.gpus
    )
    return dataclasses.replace(report, gpus=gpus)


def app(app_id: str) -> App:
    return CATALOG.apps[app_id]


def test_sd_webui_takes_the_low_vram_variant_on_a_4_gib_board() -> None:
    assert best_variant(app("sd-webui-rx5500"), with_vram(demo_report(), 8)) == "rocm"
    assert best_variant(app("sd-webui-rx5500"), with_vram(demo_report(), 4)) == "rocm-lowvram"
    # Unknown VRAM: catalog order.
    no_vram = dataclasses.replace(demo_report(), gpus=())
    assert ranked_variants(app("sd-webui-rx5500"), no_vram)[0] == "rocm"


def test_ranking_follows_the_box_and_skips_what_cannot_run() -> None:
    cpu_only = HardwareReport(ranking=(Accel.CPU,))
    assert ranked_variants(app("llama-cpp-server"), cpu_only) == ["cpu"]
    assert best_variant(app("pai-koboldcpp"), cpu_only) is None
    assert "needs AMD ROCm or Vulkan" in why_not(app("pai-koboldcpp"), cpu_only)
    llama = app("llama-cpp-server")
    ranked = ranked_variants(llama, demo_report())
    verified = [n for n in ranked if not llama.variants[n].unverified]
    assert ranked[0] == "rocm" and verified[-1] == "cpu" and "cuda" not in ranked
    # Unverified variants (intel-openvino) come after every verified one.
    assert ranked[len(verified) :] == [n for n in ranked if llama.variants[n].unverified]
    # Without a report every variant is offered, in catalog order.
    assert ranked_variants(app("ollama"), None) == list(app("ollama").variants)


def test_legacy_variants_come_after_current_ones() -> None:
    comfy = app("pai-comfyui")
    legacy = [n for n, v in comfy.variants.items() if v.legacy]
    ranked = ranked_variants(comfy, demo_report())
    assert all(ranked.index(n) > ranked.index("rocm") for n in legacy if n in ranked)


@pytest.mark.parametrize(
    "report",
    [demo_report(), with_vram(demo_report(), 4), HardwareReport(ranking=(Accel.CUDA, Accel.CPU))],
    ids=["demo", "4gib", "cuda"],
)
def test_the_planner_launches_the_variant_the_desktop_shows(report: HardwareReport) -> None:
    for entry in CATALOG.apps.values():
        best = best_variant(entry, report)
        if best is not None:
            assert choose_variant(entry, report) == best, entry.id
