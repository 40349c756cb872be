"""Header-only GGUF files of real model shapes, written with the ``gguf`` package (tests only).

Only the header (metadata + tensor infos) is written: the shapes of 7B/8B models without their
gigabytes. The tensor list is llama's (``token_embd``, per block attention + FFN + norms,
``output_norm``, ``output``), so the expected figures can be computed from the spec alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter


@dataclass(frozen=True)
class Spec:
    """A llama-family shape."""

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_vocab: int
    n_ctx: int
    matrix_type: str  # GGMLQuantizationType name for the big matrices
    tied: bool = False


def tensors(spec: Spec) -> list[tuple[str, tuple[int, int] | tuple[int], str]]:
    """(name, numpy-order shape, type name) of every tensor of ``spec``."""
    head = spec.n_embd // spec.n_head
    q = spec.matrix_type
    out: list[tuple[str, tuple[int, int] | tuple[int], str]] = [
        ("token_embd.weight", (spec.n_vocab, spec.n_embd), q)
    ]
    for i in range(spec.n_layer):
        out += [
            (f"blk.{i}.attn_norm.weight", (spec.n_embd,), "F32"),
            (f"blk.{i}.attn_q.weight", (spec.n_embd, spec.n_embd), q),
            (f"blk.{i}.attn_k.weight", (head * spec.n_head_kv, spec.n_embd), q),
            (f"blk.{i}.attn_v.weight", (head * spec.n_head_kv, spec.n_embd), q),
            (f"blk.{i}.attn_output.weight", (spec.n_embd, spec.n_embd), q),
            (f"blk.{i}.ffn_norm.weight", (spec.n_embd,), "F32"),
            (f"blk.{i}.ffn_gate.weight", (spec.n_ff, spec.n_embd), q),
            (f"blk.{i}.ffn_up.weight", (spec.n_ff, spec.n_embd), q),
            (f"blk.{i}.ffn_down.weight", (spec.n_embd, spec.n_ff), q),
        ]
    out.append(("output_norm.weight", (spec.n_embd,), "F32"))
    if not spec.tied:
        out.append(("output.weight", (spec.n_vocab, spec.n_embd), q))
    return out


def nbytes(shape: tuple[int, ...], type_name: str) -> int:
    """Bytes of a tensor, from the gguf package's own block table."""
    block, size = gguf.GGML_QUANT_SIZES[GGMLQuantizationType[type_name]]
    n = int(np.prod(shape))
    return n // block * size


def write_header(spec: Spec, path: Path, *, vocab_strings: bool = True) -> Path:
    """Write the header of ``spec`` to ``path`` (no tensor data)."""
    w = GGUFWriter(str(path), "llama")
    w.add_name("paitui test shape")
    w.add_context_length(spec.n_ctx)
    w.add_embedding_length(spec.n_embd)
    w.add_block_count(spec.n_layer)
    w.add_feed_forward_length(spec.n_ff)
    w.add_head_count(spec.n_head)
    w.add_head_count_kv(spec.n_head_kv)
    w.add_file_type({"Q4_K": 15, "Q8_0": 7, "F16": 1, "Q6_K": 18}.get(spec.matrix_type, 0))
    if vocab_strings:
        w.add_token_list([f"tok{i}" for i in range(spec.n_vocab)])
    for name, shape, type_name in tensors(spec):
        qtype = GGMLQuantizationType[type_name]
        w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes(shape, type_name), qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    return path


LLAMA3_8B_Q4 = Spec(32, 4096, 32, 8, 14336, 128256, 8192, "Q4_K")
LLAMA2_7B_Q8 = Spec(32, 4096, 32, 32, 11008, 32000, 4096, "Q8_0")
QWEN25_7B_Q4 = Spec(28, 3584, 28, 4, 18944, 152064, 32768, "Q4_K")
SMALL_TIED_F16 = Spec(4, 256, 8, 2, 512, 1000, 2048, "F16", tied=True)
