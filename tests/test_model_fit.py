"""Will a model fit this box: the estimate and the verdict on real hardware report shapes.

The GPUs are the ones the umockdev scenarios report (tests/hardware/scenario.py), turned into the
report's dataclasses; one test runs ``paitui hw --json`` under umockdev and judges its output.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import Gpu, HardwareReport, Vendor
from paitui.domain.models.fit import (
    DEFAULT_CONTEXT,
    GIB,
    IMAGE_OVERHEAD,
    LLM_OVERHEAD,
    Budget,
    Fit,
    FitResult,
    NameHints,
    context_from_command,
    device_budget,
    estimate_gguf,
    file_fit,
    judge,
    model_need,
    name_hints,
    pick_gpu,
    suggestion_fit,
)
from paitui.domain.models.suggested import SuggestedModel
from paitui.services.catalog.loader import load_catalog
from tests.hardware.scenario import Host, gpu, rtx4090, run_hw, rx5500, rx7900, uhd770

GB = 10**9


def as_gpu(data: dict[str, Any]) -> Gpu:
    """One GPU of ``paitui hw --json`` as the report's dataclass."""
    fields = {f.name for f in dataclasses.fields(Gpu)}
    values = {k: v for k, v in data.items() if k in fields}
    values["vendor"] = Vendor(values["vendor"])
    values["via"] = tuple(values.get("via") or ())
    return Gpu(**values)


def vram(data: dict[str, Any], total: int, used: int | None) -> dict[str, Any]:
    """A scenario GPU with other VRAM figures."""
    return {**data, "vram_total": total, "vram_used": used}


def report(*gpus: dict[str, Any]) -> HardwareReport:
    return HardwareReport(gpus=tuple(as_gpu(g) for g in gpus))


def llm(file: str, size_gb: float, **kw: Any) -> SuggestedModel:
    return SuggestedModel.model_validate(
        {"repo": "org/m-GGUF", "file": file, "size_gb": size_gb, "kind": "llm",
         "note": "n", "source": "s", **kw}
    )  # fmt: skip


# ------------------------------------------------------------------ names and the estimate


@pytest.mark.parametrize(
    ("name", "params", "quant"),
    [
        ("Qwen2.5-7B-Instruct-Q4_K_M.gguf", 7.0, "Q4_K_M"),
        ("qwen2.5-0.5b-instruct-q8_0.gguf", 0.5, "Q8_0"),
        ("Llama-3.2-1B-Instruct-IQ4_XS.gguf", 1.0, "IQ4_XS"),
        ("mixtral-8x7b-instruct-v0.1.Q5_K_M.gguf", 56.0, "Q5_K_M"),
        ("KobbleTiny-Q4_K.gguf", None, "Q4_K"),
        ("gemma-3-1b-it-BF16.gguf", 1.0, "BF16"),
        ("sub/dir/phi-2.Q8_0.gguf", None, "Q8_0"),
        ("model.gguf", None, None),
        # Version numbers and context sizes are not parameter counts.
        ("Meta-Llama-3.1-8B-Instruct-128k-Q4_K_M.gguf", 8.0, "Q4_K_M"),
    ],
)
def test_name_hints(name: str, params: float | None, quant: str | None) -> None:
    assert name_hints(name) == NameHints(params, quant)


def test_gguf_estimate_is_file_plus_context_plus_overhead() -> None:
    size = int(4.92 * GB)  # Llama 3 8B Q4_K_M
    need = estimate_gguf(size, NameHints(8.0, "Q4_K_M"))
    kv = DEFAULT_CONTEXT * 24 * 1024 * 8
    assert need == size + kv + LLM_OVERHEAD
    # ~5.9 GiB; llama.cpp itself allocates ~5.4 GiB here (4.6 weights, 0.5 KV cache, ~0.3
    # compute) plus the GPU runtime's context: the estimate errs a little on the safe side.
    assert 5.4 * GIB < need < 6.4 * GIB
    # A longer context costs more; no name hint falls back to the size and the quant's bits.
    assert estimate_gguf(size, NameHints(8.0, None), context=32768) > need + 2 * GIB
    guessed = estimate_gguf(size, NameHints(None, "Q4_K_M"))
    assert abs(guessed - need) < 0.1 * GIB
    assert estimate_gguf(size, NameHints(None, "Q8_0")) < guessed  # fewer params for the size


def test_need_prefers_the_catalog_figure_and_knows_when_it_cannot_guess() -> None:
    given = model_need(kind="checkpoint", size=7 * GB, min_memory_gb=4)
    assert given is not None and given.bytes == 4 * GIB and not given.estimated
    ckpt = model_need(kind="checkpoint", size=2 * GB, name="x.safetensors")
    assert ckpt is not None and ckpt.bytes == 2 * GB + IMAGE_OVERHEAD and ckpt.estimated
    lora = model_need(kind="lora", size=200_000_000, name="style.safetensors")
    assert lora is not None and lora.bytes == 200_000_000
    assert model_need(kind="diffusers", size=5 * GB, whole_repo=True) is None
    assert model_need(kind="llm", size=None, name="x.gguf") is None
    assert model_need(kind="llm", size=0, name="x.gguf") is None


def test_context_from_command() -> None:
    kobold = ["--contextsize", "8192", "--model", "{model}", "--usevulkan"]
    assert context_from_command(kobold) == 8192
    assert context_from_command(["-m", "{model}", "-c", "16384"]) == 16384
    assert context_from_command(["--ctx-size=32768"]) == 32768
    assert context_from_command(["-m", "{model}", "--port", "{port}"]) is None
    assert context_from_command(["-c"]) is None
    assert context_from_command(["-c", "lots"]) is None
    assert context_from_command(None) is None


# ------------------------------------------------------------------ verdicts on scenario GPUs


def test_rx5500_with_a_1b_and_a_13b_model() -> None:
    box = report(rx5500())  # 8 GiB (7.98), 1 GiB in use by the desktop
    small = suggestion_fit(llm("Llama-3.2-1B-Instruct-Q4_K_M.gguf", 0.81), Accel.ROCM, box)
    assert small.fit is Fit.FITS
    assert small.message.startswith("needs ~1.") and "the RX 5500/5500M / Pro 5500M has 8 GB" in (
        small.message
    )
    big = suggestion_fit(llm("LLaMA2-13B-Tiefighter.Q4_K_S.gguf", 7.42), Accel.ROCM, box)
    assert big.fit is Fit.TOO_BIG
    assert big.need is not None and big.budget is not None and big.need.bytes > big.budget.total


def test_what_is_in_use_now_makes_it_tight() -> None:
    # ~7.0 GiB needed: fits 7.98 GiB by total (under 90%) but not the 6.98 GiB free.
    box = report(rx5500())
    result = suggestion_fit(llm("m-8B-Q5_K_M.gguf", 6.1), Accel.ROCM, box)
    assert result.fit is Fit.TIGHT
    assert "(1 GB in use now)" in result.message
    idle = report(vram(rx5500(), 8573157376, 0))
    assert suggestion_fit(llm("m-8B-Q5_K_M.gguf", 6.1), Accel.ROCM, idle).fit is Fit.FITS


def test_the_catalog_memory_figure_is_shown_without_a_tilde() -> None:
    sdxl = SuggestedModel.model_validate(
        {"repo": "a/b", "file": "sd_xl_base_1.0.safetensors", "size_gb": 6.94,
         "min_memory_gb": 8, "kind": "checkpoint", "note": "n", "source": "s"}
    )  # fmt: skip
    box = report(rx7900("0000:03:00.0", 0, 128, True))  # 24 GiB
    result = suggestion_fit(sdxl, Accel.ROCM, box)
    assert result.fit is Fit.FITS
    assert result.message == "needs 8 GB, the RX 7900 XT/7900 XTX/7900 GRE/7900M has 24 GB"
    # Exactly the card's size is tight; one byte more does not fit.
    exact = sdxl.model_copy(update={"min_memory_gb": 24.0})
    assert suggestion_fit(exact, Accel.ROCM, report(vram(rx5500(), 24 * GIB, 0))).fit is Fit.TIGHT
    assert suggestion_fit(exact, Accel.ROCM, report(vram(rx5500(), 24 * GIB - 1, 0))).fit is (
        Fit.TOO_BIG
    )


def test_nvidia_without_nvml_has_no_vram_figure() -> None:
    box = report(rtx4090("0000:01:00.0", 0, 128))  # udev gives no VRAM for NVIDIA
    result = suggestion_fit(llm("m-7B-Q4_K_M.gguf", 4.4), Accel.CUDA, box)
    assert result.fit is Fit.UNKNOWN
    assert result.message == "the VRAM of the RTX 4090 is not known"


def test_cpu_variants_compare_with_ram() -> None:
    model = llm("Meta-Llama-3-8B-Instruct-Q8_0.gguf", 8.54)  # ~9.8 GiB
    box = report(rx5500())
    assert suggestion_fit(model, Accel.CPU, box).fit is Fit.UNKNOWN
    assert suggestion_fit(model, Accel.CPU, box).message == "host RAM is not known"
    assert suggestion_fit(model, Accel.CPU, box, ram=32 * GIB).fit is Fit.FITS
    assert suggestion_fit(model, Accel.CPU, box, ram=12 * GIB).fit is Fit.TIGHT  # over 75%
    small = suggestion_fit(model, Accel.CPU, box, ram=8 * GIB)
    assert small.fit is Fit.TOO_BIG and small.message.endswith("host RAM has 8 GB")


def test_the_variant_decides_which_gpu() -> None:
    box = report(uhd770(0, 128), rx7900("0000:03:00.0", 1, 129, True))
    amd = pick_gpu(box, Accel.ROCM)
    intel = pick_gpu(box, Accel.INTEL)
    assert amd is not None and amd.vendor is Vendor.AMD
    assert intel is not None and intel.integrated
    vulkan = pick_gpu(box, Accel.VULKAN)
    assert vulkan is not None and vulkan.vendor is Vendor.AMD  # the discrete card first
    assert pick_gpu(box, Accel.CUDA) is None
    assert suggestion_fit(llm("x-1B-Q4_K_M.gguf", 0.8), Accel.CUDA, box).message == (
        "no GPU for the cuda variant was found"
    )
    # A chosen GPU wins over the default.
    chosen = device_budget(Accel.VULKAN, box, gpu=intel, ram=32 * GIB)
    assert isinstance(chosen, Budget) and chosen.label == "the UHD Graphics 770 (shares host RAM)"


def test_integrated_gpu_shares_ram() -> None:
    box = report(uhd770(0, 128))  # no VRAM figure of its own
    model = llm("m-7B-Q4_K_M.gguf", 4.4)
    assert suggestion_fit(model, Accel.INTEL, box).fit is Fit.UNKNOWN
    shared = suggestion_fit(model, Accel.INTEL, box, ram=16 * GIB)  # 8 GiB shared
    assert shared.fit is Fit.FITS and "has 8 GB" in shared.message
    assert suggestion_fit(model, Accel.INTEL, box, ram=8 * GIB).fit is Fit.TOO_BIG


def test_display_only_gpus_are_no_budget() -> None:
    aspeed = gpu(
        "other", "1a03:2000", "0000:05:00.0", "ASPEED Graphics Family", "ast", 0, None,
        model=None, vendor_name=None, boot_vga=True, display_only=True,
    )  # fmt: skip
    box = report(aspeed)
    assert suggestion_fit(llm("a-1B-Q4_K_M.gguf", 0.8), Accel.VULKAN, box).fit is Fit.UNKNOWN


def test_whole_repo_without_a_figure_is_unknown() -> None:
    repo = SuggestedModel.model_validate(
        {"repo": "a/b", "size_gb": 5, "kind": "diffusers", "note": "n", "source": "s"}
    )
    result = suggestion_fit(repo, Accel.ROCM, report(rx5500()))
    assert result.fit is Fit.UNKNOWN and result.budget is not None
    assert result.message == "how much memory it needs is not known"


def test_hub_files_from_a_search() -> None:
    box = report(vram(rx5500(), 8573157376, 0))
    q4 = file_fit("Qwen2.5-7B-Instruct-Q4_K_M.gguf", int(4.68 * GB), Accel.ROCM, box)
    assert q4.fit is Fit.FITS
    f16 = file_fit("Qwen2.5-7B-Instruct-F16.gguf", int(15.2 * GB), Accel.ROCM, box)
    assert f16.fit is Fit.TOO_BIG
    assert file_fit("x.gguf", None, Accel.ROCM, box).fit is Fit.UNKNOWN
    # A longer context (KoboldCpp's --contextsize 8192 and more) needs more.
    long = file_fit("Qwen2.5-7B-Instruct-Q4_K_M.gguf", int(4.68 * GB), Accel.ROCM, box,
                    context=65536)  # fmt: skip
    assert long.need is not None and q4.need is not None and long.need.bytes > q4.need.bytes


def test_verdicts_are_monotonic_in_size_seeded() -> None:
    """Bigger files never fit better, on any budget (seeded, bounded)."""
    rng = random.Random(12)
    order = {Fit.FITS: 0, Fit.TIGHT: 1, Fit.TOO_BIG: 2}
    for _ in range(300):
        total = rng.randint(1, 48) * GIB
        used = rng.choice([None, 0, rng.randint(0, total // 2)])
        budget = Budget(total, None if used is None else total - used, "the GPU", ram=False)
        sizes = sorted(rng.randint(1, 60 * GB) for _ in range(5))
        ranks = []
        for size in sizes:
            need = model_need(kind="llm", size=size, name="m-Q4_K_M.gguf")
            result = judge(need, budget)
            assert isinstance(result, FitResult) and result.fit in order
            ranks.append(order[result.fit])
        assert ranks == sorted(ranks), (total, used, sizes, ranks)


# ------------------------------------------------------------------ the bundled suggestions


def test_every_bundled_suggestion_gets_a_verdict_with_numbers() -> None:
    catalog = load_catalog(include_user=False)
    boxes = [report(rx5500()), report(rx7900("0000:03:00.0", 0, 128, True)), report()]
    seen = 0
    for app in catalog.apps.values():
        for name in app.variants:
            accel = app.variant_accel(name)
            for model in app.suggested_models:
                for box in boxes:
                    result = suggestion_fit(model, accel, box, ram=16 * GIB)
                    seen += 1
                    if result.fit is not Fit.UNKNOWN:
                        assert result.message.startswith("needs ") and " has " in result.message
    assert seen > 100


# ------------------------------------------------------------------ a real report (umockdev)


@pytest.mark.umockdev
def test_a_real_hw_report_of_the_rx5500_box(tmp_path: Path) -> None:
    host = Host(tmp_path / "root")
    data = run_hw("amd-rx5500xt-kfd", host.build())
    box = HardwareReport(gpus=tuple(as_gpu(g) for g in data["gpus"]))
    catalog = load_catalog(include_user=False)
    tiny, *_ = catalog.apps["llama-cpp-server"].suggested_models
    result = suggestion_fit(tiny, Accel.ROCM, box)
    assert result.fit is Fit.FITS
    assert result.budget is not None and result.budget.total == data["gpus"][0]["vram_total"]
    assert result.message.endswith("has 8 GB")
