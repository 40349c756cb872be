""" "Will it fit?": a model's estimate against what is free on a GPU now, in words, with offers.

Pure. The GPU side comes in as ``GpuFree`` (free memory per GPU and who holds the rest), the
model side as a ``ModelShape`` (GGUF) or plain file sizes (other formats). The verdict never
blocks anything: it is a line to show and, when it does not fit, things to try.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from paitui.domain.models import vram_estimate as ve
from paitui.domain.models.fit import name_hints

#: "fits" only with this share of the free memory left over; up to all of it is "tight".
FITS_SHARE = 0.95


class FitLevel(StrEnum):
    """The verdict."""

    FITS = "fits"
    TIGHT = "tight"
    TOO_BIG = "does not fit"


@dataclass(frozen=True)
class GpuFree:
    """One GPU now: total and free bytes, and the apps holding memory on it (app, bytes)."""

    gpu_id: str
    name: str
    total: int
    free: int
    held: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class LlamaArgs:
    """What an app's llama.cpp command line says about memory (None: the server's default)."""

    context: int | None = None
    gpu_layers: int | None = None
    kv_type: str = "f16"
    flash_attention: bool = True
    n_seq: int = ve.N_SEQ

    @classmethod
    def from_argv(
        cls, argv: Sequence[str] | None, env: Mapping[str, str] | None = None
    ) -> LlamaArgs:
        """Read ``-c``, ``-ngl``, ``-ctk/-ctv``, ``-fa``, ``-np`` (and their ``LLAMA_ARG_*``)."""
        found: dict[str, str] = {}
        for key, name in _ENV.items():
            if env and env.get(key):
                found[name] = env[key]
        args = list(argv or ())
        for i, arg in enumerate(args):
            flag, eq, inline = arg.partition("=")
            field_name = _FLAGS.get(flag)
            if field_name is None:
                continue
            found[field_name] = inline if eq else (args[i + 1] if i + 1 < len(args) else "")
        context = _pos_int(found.get("context"))
        layers = _pos_int(found.get("gpu_layers"), zero=True)
        kv = found.get("kv_type", "f16").lower()
        fa = found.get("flash", "auto").lower() not in ("off", "0", "false", "disabled")
        return cls(
            context=context or None,
            gpu_layers=layers,
            kv_type=kv if kv in ve.KV_BYTES else "f16",
            flash_attention=fa,
            n_seq=_pos_int(found.get("n_seq")) or ve.N_SEQ,
        )


_FLAGS = {
    "-c": "context", "--ctx-size": "context", "-ngl": "gpu_layers", "--n-gpu-layers": "gpu_layers",
    "--gpu-layers": "gpu_layers", "-ctk": "kv_type", "--cache-type-k": "kv_type",
    "-fa": "flash", "--flash-attn": "flash", "-np": "n_seq", "--parallel": "n_seq",
}  # fmt: skip
_ENV = {
    "LLAMA_ARG_CTX_SIZE": "context", "LLAMA_ARG_N_GPU_LAYERS": "gpu_layers",
    "LLAMA_ARG_CACHE_TYPE_K": "kv_type", "LLAMA_ARG_FLASH_ATTN": "flash",
    "LLAMA_ARG_N_PARALLEL": "n_seq",
}  # fmt: skip


def _pos_int(text: str | None, *, zero: bool = False) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    value = int(text)
    return value if value > 0 or (zero and value == 0) else None


@dataclass(frozen=True)
class Offer:
    """One thing that would fit, as a line and as what a dialog sets to take it.

    ``kind`` is "context" (``value``: the ``-c`` tokens), "quant" (``value``: the sibling's
    path) or "layers" (``value``: the ``--n-gpu-layers`` count).
    """

    kind: str
    text: str
    value: str


@dataclass(frozen=True)
class Verdict:
    """The verdict, its sentence, and what would fit (each a short line)."""

    level: FitLevel
    text: str
    need: int
    free: int
    offers: tuple[str, ...] = field(default=())
    #: The same offers, structured (in the same order).
    choices: tuple[Offer, ...] = field(default=())


def gib(n: int) -> str:
    """Bytes as ``9.1 GiB`` (``512 MiB`` under one GiB)."""
    if abs(n) < ve.GIB:
        return f"{n / ve.MIB:.0f} MiB"
    return f"{n / ve.GIB:.1f} GiB"


def _level(need: int, free: int) -> FitLevel:
    if need <= free * FITS_SHARE:
        return FitLevel.FITS
    return FitLevel.TIGHT if need <= free else FitLevel.TOO_BIG


def _sentence(need: int, gpu: GpuFree, level: FitLevel) -> str:
    text = f"needs ~{gib(need)}; {gib(gpu.free)} free on {gpu.name}"
    held = sorted(((a, b) for a, b in gpu.held if b > 0), key=lambda h: -h[1])
    if held and level != FitLevel.FITS:
        parts = [f"{gib(b)} held by {a}" for a, b in held[:3]]
        if len(held) > 3:
            parts.append(f"{len(held) - 3} more")
        text += " — " + ", ".join(parts)
    elif level == FitLevel.TIGHT:
        text += " — tight"
    return text


def gguf_verdict(
    shape: ve.ModelShape,
    gpu: GpuFree,
    args: LlamaArgs | None = None,
    *,
    partial_offload: bool = True,
    file_name: str = "",
    file_size: int = 0,
    siblings: Sequence[tuple[str, int]] = (),
) -> Verdict:
    """The verdict for a GGUF model on ``gpu``; when it does not fit, what would.

    ``partial_offload``: the app takes ``--n-gpu-layers``. ``siblings``: (path, size) of the
    repo's other GGUF files (other quants of the same model are offered when they fit).
    """
    a = args or LlamaArgs()
    kw: dict[str, object] = {
        "kv_type": a.kv_type,
        "flash_attention": a.flash_attention,
        "n_seq": a.n_seq,
    }
    est = ve.estimate(shape, a.context, gpu_layers=a.gpu_layers, **kw)  # type: ignore[arg-type]
    level = _level(est.total, gpu.free)
    text = _sentence(est.total, gpu, level)
    if level == FitLevel.FITS:
        return Verdict(level, text, est.total, gpu.free)
    budget = int(gpu.free * FITS_SHARE)
    offers: list[Offer] = []
    ctx = ve.context_that_fits(shape, budget, a.context, **kw)
    if ctx >= min(2048, est.context) and ctx < est.context:
        at = ve.estimate(shape, ctx, **kw)  # type: ignore[arg-type]
        offers.append(Offer("context", f"a shorter context: -c {ctx} (~{gib(at.total)})", str(ctx)))
    for path, size in _smaller_quants(file_name, file_size, siblings):
        need = ve.sibling_need(shape, size, file_size, a.context)
        if need <= budget:
            offers.append(Offer("quant", f"a smaller quant: {path} (~{gib(need)})", path))
            break
    if partial_offload:
        k = ve.layers_that_fit(shape, budget, a.context, **kw)
        if 0 < k < shape.n_layer + 1:
            line = (
                f"partial offload: --n-gpu-layers {k} of {shape.n_layer + 1} "
                "(the rest runs on the CPU, slower)"
            )
            offers.append(Offer("layers", line, str(k)))
    return Verdict(level, text, est.total, gpu.free, tuple(o.text for o in offers), tuple(offers))


def _smaller_quants(
    name: str, size: int, siblings: Sequence[tuple[str, int]]
) -> list[tuple[str, int]]:
    """Other single-file GGUFs of the repo smaller than this one, largest first (best quality).

    Files of the same model differ by their quantization tag; a different parameter count in
    the name (another model of the repo) is left out.
    """
    mine = name_hints(name).params_b
    out = []
    for path, s in siblings:
        if path == name or not path.lower().endswith(".gguf") or not 0 < s < size:
            continue
        if "-of-" in path or "mmproj" in path.lower():
            continue  # shards and vision projectors are not a whole model
        params = name_hints(path).params_b
        if mine is not None and params is not None and params != mine:
            continue
        out.append((path, s))
    return sorted(out, key=lambda p: -p[1])


def sized_verdict(file_sizes: Sequence[int], gpu: GpuFree) -> Verdict:
    """The verdict for a non-GGUF model: its files' sizes times the stated factor."""
    need = ve.other_format_need(list(file_sizes))
    level = _level(need, gpu.free)
    return Verdict(level, _sentence(need, gpu, level), need, gpu.free)


def best_gpu(gpus: Sequence[GpuFree], gpu_id: str | None = None) -> GpuFree | None:
    """The chosen GPU (by id), else the one with the most free memory."""
    if gpu_id is not None:
        return next((g for g in gpus if g.gpu_id == gpu_id), None)
    return max(gpus, key=lambda g: g.free, default=None)
