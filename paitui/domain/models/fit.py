"""Will this model run on this box? Memory a model needs against what the chosen device has.

Pure: reads a ``SuggestedModel`` (or a Hub file's size and name) and the hardware report. The
verdicts are estimates, shown to help a newcomer pick; they never block a launch.

What is compared:

* GPU variants (cuda, rocm, intel, vulkan): the chosen GPU's VRAM. An integrated GPU shares host
  RAM: its budget is half of the RAM (the default GTT/shared limit of amdgpu and i915/xe) when the
  RAM is known, else the VRAM it reports.
* cpu variants: host RAM, which the caller passes (the hardware report does not carry it yet).

The estimate when a suggestion has no ``min_memory_gb``:

* GGUF LLMs: llama.cpp loads the whole file onto the GPU with full offload, so the need is the
  file size, plus the KV cache for the context, plus a fixed ~0.6 GiB for compute buffers and the
  runtime's own context. The KV cache is ``context x 24 KiB x billions of parameters``: f16
  K and V of grouped-query-attention models measure 7-35 KiB per token per billion parameters
  (Qwen2.5 7B ~7, Llama 3 8B and Mistral 7B 16-18, Llama 3.2 3B ~35); 24 KiB sits in that range.
  The parameter count comes from the name (``7B``, ``0.5b``) or else from the size and the
  quantization's bits per weight. Old models without grouped-query attention (Llama 2) need up to
  four times the KV cache: the "tight" band is meant to absorb such errors, and a verdict reads
  "fits" only with 10% of the device left over.
* Other single files (checkpoints, diffusion models): the file plus 1.5 GiB of activations at
  SD/SDXL resolutions. Small add-ons (LoRA, VAE, embeddings, ...) need about their size.
* Whole repos without ``min_memory_gb`` are "unknown": their download holds files that are not
  all loaded at once.

Margins: "fits" when the need is at most 90% of VRAM (75% of RAM, which the OS and the desktop
share), "tight" up to 100%, "does not fit" above. A GPU that fits by total but not by what is free
now (``vram_used``: the display, other apps) reads "tight".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import Gpu, HardwareReport, Vendor
from paitui.domain.models.suggested import SuggestedModel
from paitui.domain.units import spoken_gib

GIB = 1024**3
KIB = 1024

#: Share of the device a model may take and still "fit"; above it is "tight", above 1.0 too big.
VRAM_FITS = 0.90
RAM_FITS = 0.75
#: Share of host RAM an integrated GPU may use (amdgpu / i915 default shared-memory limit).
IGPU_RAM_SHARE = 0.5
#: KV cache per token per billion parameters (f16 K+V, grouped-query attention), bytes.
KV_PER_TOKEN_PER_B = 24 * KIB
#: Compute buffers plus the runtime's own context (CUDA/HIP/SYCL), bytes.
LLM_OVERHEAD = int(0.6 * GIB)
#: Activations of an image model at its native resolution, bytes.
IMAGE_OVERHEAD = int(1.5 * GIB)
#: The context assumed when the app's command does not say (llama-server's default).
DEFAULT_CONTEXT = 4096

#: Bits per weight of common GGUF quantizations (llama.cpp's quantize table, averaged).
QUANT_BITS: dict[str, float] = {
    "F32": 32.0, "F16": 16.0, "BF16": 16.0, "Q8_0": 8.5, "Q6_K": 6.56, "Q5_K_M": 5.69,
    "Q5_K_S": 5.54, "Q5_0": 5.5, "Q5_1": 6.0, "Q4_K_M": 4.85, "Q4_K_S": 4.58, "Q4_K": 4.85,
    "Q4_0": 4.5, "Q4_1": 5.0, "IQ4_XS": 4.25, "IQ4_NL": 4.5, "Q3_K_L": 4.27, "Q3_K_M": 3.91,
    "Q3_K_S": 3.5, "IQ3_M": 3.66, "IQ3_XXS": 3.06, "Q2_K": 3.35, "IQ2_XS": 2.31, "IQ1_S": 1.56,
}  # fmt: skip
_QUANT = re.compile(
    r"(?<![A-Za-z0-9])(I?Q[1-8]_(?:K_[SML]|K|[01]|XXS|XS|S|M|NL)|BF16|F16|F32)(?![A-Za-z0-9])",
    re.IGNORECASE,
)
# "7B", "0.5b", "1.1B", "8x7B" (mixture of experts: all experts are loaded).
_PARAMS = re.compile(r"(?<![A-Za-z0-9.])(?:(\d+)x)?(\d+(?:\.\d+)?)[Bb](?![A-Za-z0-9])")
_ADDON_KINDS = frozenset({"lora", "vae", "embedding", "projector", "adapter", "text_encoder"})
_VENDOR_OF = {Accel.CUDA: Vendor.NVIDIA, Accel.ROCM: Vendor.AMD, Accel.INTEL: Vendor.INTEL}


class Fit(StrEnum):
    """The verdict."""

    FITS = "fits"
    TIGHT = "tight"
    TOO_BIG = "does not fit"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class NameHints:
    """What a file name says about the model: parameters (billions) and quantization."""

    params_b: float | None = None
    quant: str | None = None


@dataclass(frozen=True)
class Need:
    """Memory a model needs, and whether it was estimated or given by the catalog."""

    bytes: int
    estimated: bool
    how: str


@dataclass(frozen=True)
class Budget:
    """Memory the chosen device has for a model."""

    total: int
    free: int | None
    label: str  # "the RX 7600", "host RAM"
    ram: bool


@dataclass(frozen=True)
class FitResult:
    """The verdict with its numbers and one line for the user."""

    fit: Fit
    message: str
    need: Need | None = None
    budget: Budget | None = None


def name_hints(name: str) -> NameHints:
    """Parameter count and quantization from a file name (``Qwen2.5-7B-Instruct-Q4_K_M.gguf``)."""
    stem = PurePosixPath(name).name
    quant_m = _QUANT.search(stem)
    quant = quant_m.group(1).upper() if quant_m else None
    params: float | None = None
    for m in _PARAMS.finditer(stem):
        experts = int(m.group(1)) if m.group(1) else 1
        value = experts * float(m.group(2))
        if 0 < value <= 2000:
            params = value
    return NameHints(params, quant)


def context_from_command(argv: tuple[str, ...] | list[str] | None) -> int | None:
    """The context size an app's command asks for (``-c``, ``--ctx-size``, ``--contextsize``)."""
    args = list(argv or ())
    for i, arg in enumerate(args):
        key, _, inline = arg.partition("=")
        if key in ("-c", "--ctx-size", "--contextsize", "--max-model-len"):
            value = inline or (args[i + 1] if i + 1 < len(args) else "")
            if value.isdigit() and int(value) > 0:
                return int(value)
    return None


def estimate_gguf(size: int, hints: NameHints, context: int = DEFAULT_CONTEXT) -> int:
    """Bytes a GGUF LLM needs fully offloaded: file + KV cache for ``context`` + overhead."""
    params = hints.params_b
    if params is None:
        bits = QUANT_BITS.get(hints.quant or "", QUANT_BITS["Q4_K_M"])
        params = size * 8 / bits / 1e9
    kv = int(max(context, 0) * KV_PER_TOKEN_PER_B * params)
    return size + kv + LLM_OVERHEAD


def model_need(
    *,
    kind: str,
    size: int | None,
    name: str = "",
    min_memory_gb: float | None = None,
    whole_repo: bool = False,
    context: int = DEFAULT_CONTEXT,
) -> Need | None:
    """Memory a model needs: the catalog's figure, else an estimate; None when unknown."""
    if min_memory_gb is not None:
        return Need(int(min_memory_gb * GIB), False, "from the app's docs")
    if size is None or size <= 0 or whole_repo:
        return None
    if name.lower().endswith(".gguf") and kind in ("llm", "unknown"):
        return Need(estimate_gguf(size, name_hints(name), context), True, f"{context} context")
    if kind in _ADDON_KINDS:
        return Need(size, True, "on top of its base model")
    return Need(size + IMAGE_OVERHEAD, True, "weights and activations")


def pick_gpu(report: HardwareReport, accel: Accel, choice: Gpu | None = None) -> Gpu | None:
    """The GPU a variant runs on: the user's choice, else the planner's default for ``accel``."""
    if choice is not None:
        return choice
    vendor = _VENDOR_OF.get(accel)
    gpus = [
        g
        for g in report.gpus
        if not g.is_display_only
        and (vendor is None or g.vendor == vendor)
        and (vendor is not None or g.vendor != Vendor.OTHER)
    ]
    if not gpus:
        return None
    return max(gpus, key=lambda g: (not g.integrated, g.vram_total or 0))


def device_budget(
    accel: Accel, report: HardwareReport, *, ram: int | None = None, gpu: Gpu | None = None
) -> Budget | FitResult:
    """What the variant's device has, or an UNKNOWN result saying what is missing."""
    if accel == Accel.CPU:
        if not ram:
            return FitResult(Fit.UNKNOWN, "host RAM is not known")
        return Budget(ram, None, "host RAM", ram=True)
    chosen = pick_gpu(report, accel, gpu)
    if chosen is None:
        return FitResult(Fit.UNKNOWN, f"no GPU for the {accel.value} variant was found")
    name = _short(chosen.name)
    if chosen.integrated and ram:
        return Budget(int(ram * IGPU_RAM_SHARE), None, f"the {name} (shares host RAM)", ram=False)
    if not chosen.vram_total:
        return FitResult(Fit.UNKNOWN, f"the VRAM of the {name} is not known")
    free = chosen.vram_total - chosen.vram_used if chosen.vram_used is not None else None
    return Budget(chosen.vram_total, free, f"the {name}", ram=False)


def judge(need: Need | None, budget: Budget | FitResult) -> FitResult:
    """Compare a need with a budget and word the verdict."""
    if isinstance(budget, FitResult):
        return budget if need is not None else FitResult(Fit.UNKNOWN, budget.message)
    if need is None:
        return FitResult(Fit.UNKNOWN, "how much memory it needs is not known", None, budget)
    approx = "~" if need.estimated else ""
    need_gb, has_gb = spoken_gib(need.bytes), spoken_gib(budget.total)
    text = f"needs {approx}{need_gb} GB, {budget.label} has {has_gb} GB"
    ratio = RAM_FITS if budget.ram else VRAM_FITS
    if need.bytes > budget.total:
        fit = Fit.TOO_BIG
    elif need.bytes <= budget.total * ratio:
        fit = Fit.FITS
    else:
        fit = Fit.TIGHT
    if fit == Fit.FITS and budget.free is not None and need.bytes > budget.free:
        fit = Fit.TIGHT
        text += f" ({spoken_gib(budget.total - budget.free)} GB in use now)"
    return FitResult(fit, text, need, budget)


def suggestion_fit(
    model: SuggestedModel,
    accel: Accel,
    report: HardwareReport,
    *,
    ram: int | None = None,
    gpu: Gpu | None = None,
    context: int = DEFAULT_CONTEXT,
) -> FitResult:
    """Whether a catalog suggestion runs on the variant's device (GPU VRAM, or RAM for cpu)."""
    need = model_need(
        kind=model.kind,
        size=model.size_bytes,
        name=model.file or "",
        min_memory_gb=model.min_memory_gb,
        whole_repo=model.file is None,
        context=context,
    )
    return judge(need, device_budget(accel, report, ram=ram, gpu=gpu))


def file_fit(
    path: str,
    size: int | None,
    accel: Accel,
    report: HardwareReport,
    *,
    kind: str = "unknown",
    ram: int | None = None,
    gpu: Gpu | None = None,
    context: int = DEFAULT_CONTEXT,
) -> FitResult:
    """Whether one Hub file (from a search) runs on the variant's device, estimated by its name."""
    need = model_need(kind=kind, size=size, name=path, context=context)
    return judge(need, device_budget(accel, report, ram=ram, gpu=gpu))


def _short(name: str) -> str:
    """``AMD Radeon RX 7600`` -> ``RX 7600``: the part people call the card by."""
    for prefix in ("AMD Radeon ", "Radeon ", "NVIDIA GeForce ", "GeForce ", "NVIDIA ", "Intel "):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name
