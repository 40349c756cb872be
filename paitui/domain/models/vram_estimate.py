"""How much (GPU) memory a model takes in llama.cpp, from its GGUF header; and what would fit.

Pure. The figure is ``weights + KV cache + output + compute + runtime``, each sized as
llama.cpp sizes its buffers (checked against the real server: ``bench/vram_estimate.py``):

* weights: the bytes of the tensors on the device. With every layer offloaded that is all
  tensors but ``token_embd`` (llama.cpp keeps the input embedding on the host), plus a copy of
  it when the model has no ``output.weight`` (tied embeddings). ``n_gpu_layers = k`` offloads
  the last ``k`` blocks; the output layer goes too when ``k > n_layer``.
* KV cache: ``cells x sum over layers of n_head_kv(l) x (key_length + value_length) x bytes``
  with ``cells`` the context rounded up to 256 (llama.cpp pads it), key/value lengths from the
  header (default ``n_embd / n_head``) and the cache type's bytes per element (f16: 2).
* output: ``4 x n_vocab x n_seq`` (logits for each of the server's ``n_seq`` slots; 4 by
  default, ``-np``).
* compute: ``n_ubatch x (2 x cells + COMPUTE_PER_EMBD x n_embd + COMPUTE_PER_FF x n_ff)`` bytes:
  the f16 attention mask plus the activations of one micro-batch (``n_ubatch`` 512), fitted
  to the real server's ``compute buffer size``; without flash attention (``-fa off``) the f32
  attention scores ``4 x n_ubatch x cells x n_head`` come on top.
* runtime: ``GPU_RUNTIME`` (0.375 GiB) for a GPU backend's own context (CUDA/HIP/SYCL/Vulkan
  allocate workspaces and kernels outside llama.cpp's buffers); 0 on the CPU.

Other formats (safetensors, checkpoints) get ``file sizes x OTHER_FACTOR`` (1.2: weights plus
activations and the framework's context).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from paitui.domain.models.gguf_layout import GGML_TYPES, GgufLayout, Meta

GIB = 1024**3
MIB = 1024**2
#: llama.cpp rounds the KV cache's cells up to a multiple of this.
KV_PAD = 256
#: Micro-batch (``-ub``) and server slots (``-np`` "auto") llama-server uses by default.
N_UBATCH = 512
N_SEQ = 4
#: Bytes of activations per token of a micro-batch per unit of n_embd / n_ff (fitted, f32).
COMPUTE_PER_EMBD = 26
COMPUTE_PER_FF = 10
#: A GPU backend's own memory outside llama.cpp's buffers.
GPU_RUNTIME = int(0.375 * GIB)
OTHER_FACTOR = 1.2
#: KV cache element types (``-ctk``/``-ctv``): bytes per element.
KV_BYTES: dict[str, float] = {
    "f32": 4.0, "f16": 2.0, "bf16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32, "q4_1": 20 / 32,
    "iq4_nl": 18 / 32, "q5_0": 22 / 32, "q5_1": 24 / 32,
}  # fmt: skip
#: ``general.file_type`` -> the quantization people name files by.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 38: "MXFP4_MOE",
}  # fmt: skip
_BLOCK = re.compile(r"^blk\.(\d+)\.")


class NotAModel(ValueError):
    """The header lacks what the estimate needs (a vocabulary-only file, an adapter...)."""


@dataclass(frozen=True)
class ModelShape:
    """What the estimate reads from a GGUF header."""

    architecture: str
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: tuple[int, ...]  # per layer
    key_length: int
    value_length: int
    n_ff: int
    n_vocab: int
    n_ctx_train: int
    n_params: int
    quant: str
    layer_bytes: tuple[int, ...]  # per block
    embd_bytes: int  # token_embd
    output_bytes: int  # output.weight + norms and other non-block tensors
    tied_output: bool


@dataclass(frozen=True)
class VramEstimate:
    """Bytes per part, and their sum."""

    weights: int
    kv: int
    output: int
    compute: int
    runtime: int
    context: int
    gpu_layers: int

    @property
    def total(self) -> int:
        return self.weights + self.kv + self.output + self.compute + self.runtime


def _int(meta: dict[str, Meta], key: str, default: int | None = None) -> int:
    value = meta.get(key, default)
    if isinstance(value, tuple):
        value = max(value) if value else default
    if isinstance(value, bool) or not isinstance(value, int):
        if default is None:
            raise NotAModel(f"the GGUF header has no {key}: not a model llama.cpp can size")
        return default
    return value


def model_shape(layout: GgufLayout) -> ModelShape:
    """The shape of the model whose header is ``layout``; ``NotAModel`` when it is not one."""
    meta = layout.meta
    arch = layout.architecture
    if not arch:
        raise NotAModel("the GGUF header has no general.architecture")
    p = f"{arch}."
    n_layer = _int(meta, p + "block_count")
    n_embd = _int(meta, p + "embedding_length")
    n_head = _int(meta, p + "attention.head_count")
    if not (0 < n_layer <= 10_000 and 0 < n_embd <= 1 << 20 and 0 < n_head <= 1 << 14):
        raise NotAModel(f"implausible shape: {n_layer} layers, n_embd {n_embd}, {n_head} heads")
    kv_meta = meta.get(p + "attention.head_count_kv", n_head)
    if isinstance(kv_meta, tuple) and len(kv_meta) == n_layer:
        n_head_kv = tuple(int(v) for v in kv_meta)
    else:
        n_head_kv = (_int(meta, p + "attention.head_count_kv", n_head),) * n_layer
    key_length = _int(meta, p + "attention.key_length", n_embd // n_head)
    value_length = _int(meta, p + "attention.value_length", key_length)
    layer_bytes = [0] * n_layer
    embd = out = 0
    params = 0
    vocab = _int(meta, "tokenizer.ggml.tokens.count", 0)
    tied = True
    for t in layout.tensors:
        n = 1
        for d in t.shape:
            n *= d
        params += n
        m = _BLOCK.match(t.name)
        if m and int(m.group(1)) < n_layer:
            layer_bytes[int(m.group(1))] += t.nbytes
        elif t.name == "token_embd.weight":
            embd = t.nbytes
            if not vocab and len(t.shape) == 2:
                vocab = t.shape[1]
        else:
            out += t.nbytes
            tied = tied and t.name != "output.weight"
    return ModelShape(
        architecture=arch,
        n_layer=n_layer,
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=n_head_kv,
        key_length=key_length,
        value_length=value_length,
        n_ff=_int(meta, p + "feed_forward_length", 4 * n_embd),
        n_vocab=vocab,
        n_ctx_train=_int(meta, p + "context_length", 4096),
        n_params=params,
        quant=_quant_name(layout),
        layer_bytes=tuple(layer_bytes),
        embd_bytes=embd,
        output_bytes=out,
        tied_output=tied and embd > 0,
    )


def _quant_name(layout: GgufLayout) -> str:
    ftype = layout.meta.get("general.file_type")
    if isinstance(ftype, int) and not isinstance(ftype, bool) and ftype in FILE_TYPES:
        return FILE_TYPES[ftype]
    # Else the type holding the most bytes.
    by_type: dict[int, int] = {}
    for t in layout.tensors:
        by_type[t.ggml_type] = by_type.get(t.ggml_type, 0) + t.nbytes
    return GGML_TYPES[max(by_type, key=lambda k: by_type[k])][0] if by_type else "?"


def kv_cells(context: int) -> int:
    """The KV cache's cells for a context: rounded up to ``KV_PAD``."""
    return max(KV_PAD, -(-context // KV_PAD) * KV_PAD)


def kv_bytes(
    shape: ModelShape, context: int, kv_type: str = "f16", layers: int | None = None
) -> int:
    """Bytes of the K and V caches for ``context`` over the last ``layers`` blocks (all: None)."""
    per_elem = KV_BYTES.get(kv_type.lower(), 2.0)
    heads = shape.n_head_kv if layers is None else shape.n_head_kv[shape.n_layer - layers :]
    per_cell = sum(h * (shape.key_length + shape.value_length) for h in heads)
    return int(kv_cells(context) * per_cell * per_elem)


def estimate(
    shape: ModelShape,
    context: int | None = None,
    *,
    kv_type: str = "f16",
    gpu_layers: int | None = None,
    flash_attention: bool = True,
    n_seq: int = N_SEQ,
    backend: str = "gpu",
) -> VramEstimate:
    """Device bytes for ``context`` (None or 0: the model's own) with ``gpu_layers`` offloaded.

    ``gpu_layers`` None means all (llama-server's default); ``backend`` "cpu" counts every
    tensor (nothing stays behind on a host) and no GPU runtime.
    """
    ctx = context or shape.n_ctx_train
    full = shape.n_layer + 1
    k = full if gpu_layers is None else max(0, min(gpu_layers, full))
    blocks = min(k, shape.n_layer)
    weights = sum(shape.layer_bytes[shape.n_layer - blocks :]) if blocks else 0
    if backend == "cpu":
        weights = sum(shape.layer_bytes) + shape.embd_bytes + shape.output_bytes
    elif k > shape.n_layer:
        weights += shape.output_bytes + (shape.embd_bytes if shape.tied_output else 0)
    cells = kv_cells(ctx)
    compute = N_UBATCH * (2 * cells + COMPUTE_PER_EMBD * shape.n_embd + COMPUTE_PER_FF * shape.n_ff)
    if not flash_attention:
        compute += 4 * N_UBATCH * cells * shape.n_head
    if k == 0 and backend != "cpu":
        compute = 0
    return VramEstimate(
        weights=weights,
        kv=kv_bytes(shape, ctx, kv_type, None if backend == "cpu" else blocks),
        output=4 * shape.n_vocab * n_seq,
        compute=compute,
        runtime=GPU_RUNTIME if backend != "cpu" and k else 0,
        context=ctx,
        gpu_layers=k,
    )


def layers_that_fit(shape: ModelShape, free: int, context: int | None = None, **kw: object) -> int:
    """The most ``--n-gpu-layers`` whose estimate fits in ``free`` bytes (0: none)."""
    for k in range(shape.n_layer + 1, 0, -1):
        if estimate(shape, context, gpu_layers=k, **kw).total <= free:  # type: ignore[arg-type]
            return k
    return 0


def context_that_fits(
    shape: ModelShape, free: int, context: int | None = None, **kw: object
) -> int:
    """The longest context (a multiple of 256, at most the asked one) that fits; 0: none."""
    ctx = context or shape.n_ctx_train
    best = 0
    lo, hi = 1, kv_cells(ctx) // KV_PAD
    while lo <= hi:  # the estimate grows with the context: bisect over 256-cell steps
        mid = (lo + hi) // 2
        if estimate(shape, mid * KV_PAD, **kw).total <= free:  # type: ignore[arg-type]
            best, lo = mid * KV_PAD, mid + 1
        else:
            hi = mid - 1
    return min(best, ctx)


def sibling_need(shape: ModelShape, file_size: int, this_size: int, context: int | None) -> int:
    """Bytes another quant of the same model (a file of ``file_size``) needs: weights scaled."""
    base = estimate(shape, context)
    ratio = file_size / this_size if this_size > 0 else 1.0
    return base.total - base.weights + int(base.weights * ratio)


def other_format_need(file_sizes: list[int]) -> int:
    """Bytes a non-GGUF model needs: its files' sizes times ``OTHER_FACTOR``."""
    return int(sum(file_sizes) * OTHER_FACTOR)
