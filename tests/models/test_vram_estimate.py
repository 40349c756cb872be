"""The GGUF layout parser and llama.cpp memory estimate against headers the gguf package wrote.

Expected figures are computed here from each shape's spec (and, for KV caches, the published
figures of real models), not taken from the code under test.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import gguf
import pytest

from paitui.domain.models import vram_estimate as ve
from paitui.domain.models.fit_verdict import FitLevel, GpuFree, LlamaArgs, gguf_verdict
from paitui.domain.models.gguf_layout import (
    GGML_TYPES,
    GgufBad,
    GgufNeedMore,
    parse_gguf_layout,
)
from paitui.services.models.gguf_remote import HeaderUnavailable, read_local_layout
from tests.models.gguf_headers import (
    LLAMA2_7B_Q8,
    LLAMA3_8B_Q4,
    QWEN25_7B_Q4,
    SMALL_TIED_F16,
    Spec,
    nbytes,
    tensors,
    write_header,
)

MIB = 1024**2
GIB = 1024**3
SPECS = {
    "llama3-8b-q4": LLAMA3_8B_Q4,
    "llama2-7b-q8": LLAMA2_7B_Q8,
    "qwen2.5-7b-q4": QWEN25_7B_Q4,
    "small-tied-f16": SMALL_TIED_F16,
}


@pytest.fixture(scope="module")
def headers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("gguf")
    return {name: write_header(spec, root / f"{name}.gguf") for name, spec in SPECS.items()}


def test_type_table_matches_the_gguf_package() -> None:
    for type_id, (name, block, size) in GGML_TYPES.items():
        qtype = gguf.GGMLQuantizationType(type_id)
        assert qtype.name == name
        assert gguf.GGML_QUANT_SIZES[qtype] == (block, size)


@pytest.mark.parametrize("name", list(SPECS))
def test_layout_lists_every_tensor_with_its_type_and_size(
    name: str, headers: dict[str, Path]
) -> None:
    spec = SPECS[name]
    layout = read_local_layout(headers[name])
    want = tensors(spec)
    assert [t.name for t in layout.tensors] == [n for n, _, _ in want]
    for t, (_, shape, type_name) in zip(layout.tensors, want, strict=True):
        assert t.type_name == type_name
        assert t.shape == tuple(reversed(shape))  # ggml order: innermost first
        assert t.nbytes == nbytes(shape, type_name)
    assert layout.meta["tokenizer.ggml.tokens.count"] == spec.n_vocab


# KV cache, f16, full context: published figures for the real models.
KNOWN_KV = [
    ("llama3-8b-q4", 8192, 1024 * MIB),  # 32 layers x 8 KV heads x 128 x 2 x 2 B
    ("llama2-7b-q8", 4096, 2048 * MIB),  # MHA: 4x the GQA figure per token
    ("qwen2.5-7b-q4", 32768, 1792 * MIB),  # 28 layers x 4 KV heads
]


@pytest.mark.parametrize(("name", "ctx", "kv"), KNOWN_KV)
def test_kv_cache_matches_published_figures(
    name: str, ctx: int, kv: int, headers: dict[str, Path]
) -> None:
    shape = ve.model_shape(read_local_layout(headers[name]))
    assert ve.estimate(shape, ctx).kv == kv


def _expected(spec: Spec, ctx: int, kv_elem: float = 2.0, n_seq: int = 4) -> dict[str, int]:
    """The parts as the docstring states them, from the spec alone."""
    parts = {n: nbytes(s, t) for n, s, t in tensors(spec)}
    weights = sum(parts.values()) - parts["token_embd.weight"]
    if spec.tied:
        weights += parts["token_embd.weight"]
    cells = -(-ctx // 256) * 256
    head = spec.n_embd // spec.n_head
    kv = int(cells * spec.n_layer * spec.n_head_kv * 2 * head * kv_elem)
    compute = 512 * (2 * cells + 26 * spec.n_embd + 10 * spec.n_ff)
    return {
        "weights": weights,
        "kv": kv,
        "output": 4 * spec.n_vocab * n_seq,
        "compute": compute,
        "runtime": int(0.375 * GIB),
    }


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("ctx", [1000, 4096])
def test_estimate_parts_follow_the_stated_formula(
    name: str, ctx: int, headers: dict[str, Path]
) -> None:
    est = ve.estimate(ve.model_shape(read_local_layout(headers[name])), ctx)
    got = {k: getattr(est, k) for k in ("weights", "kv", "output", "compute", "runtime")}
    assert got == _expected(SPECS[name], ctx)


def test_llama3_8b_q4_total_is_in_the_real_range(headers: dict[str, Path]) -> None:
    # A Llama 3 8B Q4_K_M with 8k context takes 5.5-6.5 GiB on a CUDA card in practice; this
    # header is all Q4_K (no Q6_K tensors as in a real Q4_K_M), so a little less.
    est = ve.estimate(ve.model_shape(read_local_layout(headers["llama3-8b-q4"])), 8192)
    assert 5.0 * GIB < est.total < 6.5 * GIB


def test_q8_kv_cache_and_default_context(headers: dict[str, Path]) -> None:
    shape = ve.model_shape(read_local_layout(headers["llama2-7b-q8"]))
    args = LlamaArgs.from_argv(["-m", "x", "--cache-type-k=q8_0", "-np", "1"])
    est = ve.estimate(shape, args.context, kv_type=args.kv_type, n_seq=args.n_seq)
    want = _expected(LLAMA2_7B_Q8, 4096, kv_elem=34 / 32, n_seq=1)  # context: the model's
    assert (est.kv, est.output, est.context) == (want["kv"], want["output"], 4096)


def test_partial_offload_counts_the_last_layers(headers: dict[str, Path]) -> None:
    spec = LLAMA3_8B_Q4
    shape = ve.model_shape(read_local_layout(headers["llama3-8b-q4"]))
    per_layer = sum(nbytes(s, t) for n, s, t in tensors(spec) if n.startswith("blk.0."))
    est = ve.estimate(shape, 4096, gpu_layers=10)
    assert est.weights == 10 * per_layer
    assert est.kv == 4096 * 10 * 8 * 2 * 128 * 2
    full = ve.estimate(shape, 4096)
    k = ve.layers_that_fit(shape, full.total - 1, 4096)
    assert k == spec.n_layer  # one byte short: everything but the output layer
    assert ve.estimate(shape, 4096, gpu_layers=0).total == 4 * spec.n_vocab * 4


def test_verdict_words_and_offers(headers: dict[str, Path]) -> None:
    shape = ve.model_shape(read_local_layout(headers["llama3-8b-q4"]))
    need = ve.estimate(shape, 8192).total
    free = need - GIB // 2
    gpu = GpuFree("0", "RX 7900 XTX", 24 * GIB, free, (("comfyui", 2 * GIB), ("x", 0)))
    siblings = [("m-Q8_0.gguf", 8 * GIB), ("m-Q3_K_M.gguf", 3 * GIB), ("m-Q2_K.gguf", 2 * GIB)]
    v = gguf_verdict(
        shape,
        gpu,
        LlamaArgs.from_argv(["-c", "8192"]),
        file_name="m-Q4_K_M.gguf",
        file_size=shape.n_params // 2,
        siblings=siblings,
    )
    assert v.level == FitLevel.TOO_BIG
    assert v.text == (
        f"needs ~{need / GIB:.1f} GiB; {free / GIB:.1f} GiB free on RX 7900 XTX"
        " — 2.0 GiB held by comfyui"
    )
    kinds = [o.split(":")[0] for o in v.offers]
    assert kinds == ["a shorter context", "a smaller quant", "partial offload"]
    assert "m-Q3_K_M.gguf" in v.offers[1]  # the largest smaller quant that fits
    ctx = int(v.offers[0].split("-c ")[1].split()[0])
    assert ctx < 8192 and ve.estimate(shape, ctx).total <= free * 0.95
    roomy = GpuFree("0", "RX 7900 XTX", 24 * GIB, 20 * GIB, (("comfyui", 4 * GIB),))
    ok = gguf_verdict(shape, roomy, LlamaArgs())
    assert ok.level == FitLevel.FITS and not ok.offers and "comfyui" not in ok.text


# --- bad headers ---------------------------------------------------------------------------------


def test_truncated_header_is_refused(headers: dict[str, Path], tmp_path: Path) -> None:
    data = headers["small-tied-f16"].read_bytes()
    rng = random.Random(15)
    for cut in [5, 20, 24, *(rng.randrange(24, len(data) - 1) for _ in range(30))]:
        bad = tmp_path / "cut.gguf"
        bad.write_bytes(data[:cut])
        with pytest.raises(HeaderUnavailable, match=r"truncated|past the end"):
            read_local_layout(bad)
        with pytest.raises(GgufNeedMore):
            parse_gguf_layout(data[:cut])  # size unknown: asks for more, never guesses


def _header(n_tensors: int, n_kv: int, body: bytes = b"") -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + body


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"GGML" + b"\0" * 60, "wrong magic"),
        (b"GGUF" + struct.pack("<I", 1) + b"\0" * 16, "version 1"),
        (_header(0, 10**12), "key/value pairs"),
        (_header(10**12, 0), "tensors"),
        (_header(0, 1, struct.pack("<Q", 2**62)), "over 64 MiB|past the end"),
        # an array of strings claiming 2^40 elements
        (_header(0, 1, struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 8, 2**40)), "refused"),
        (_header(0, 1, struct.pack("<Q", 1) + b"k" + struct.pack("<I", 77)), "unknown value type"),
        (
            _header(1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<I", 99)),
            "dimensions",
        ),
        (
            _header(1, 0, struct.pack("<Q", 1) + b"t" + struct.pack("<IQIQ", 1, 32, 200, 0)),
            "unknown ggml type",
        ),
    ],
)
def test_hostile_headers_get_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(GgufBad, match=reason):
        parse_gguf_layout(data + b"\0" * 64, len(data) + 64)


def test_not_a_model_says_so(tmp_path: Path) -> None:
    w = gguf.GGUFWriter(str(tmp_path / "vocab.gguf"), "llama")
    w.add_token_list(["a", "b"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()
    with pytest.raises(ve.NotAModel, match="block_count"):
        ve.model_shape(read_local_layout(tmp_path / "vocab.gguf"))
