"""Write a tiny, valid llama GGUF that the real llama.cpp server loads (for the test suite).

    python make-tiny-gguf.py VOCAB.gguf OUT.gguf

Run with the gguf-py of the llama.cpp tree the server was built from. Architecture ``llama``:
n_embd 64, 2 blocks, 4 heads (4 KV heads), n_ff 128, context 256, weights drawn from N(0, 0.02)
with a fixed seed (the same bytes on every run), Q8_0 matrices and F32 norms; the tokenizer is
copied from the vocab-only file VOCAB (llama.cpp's models/ggml-vocab-llama-spm.gguf). It answers
gibberish, deterministically at temperature 0.
"""

from __future__ import annotations

import sys
from typing import Any

import gguf
import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter

N_EMBD = 64
N_BLOCKS = 2
N_HEADS = 4
N_FF = 128
N_CTX = 256
SEED = 1234


def copy_tokenizer(vocab_path: str, writer: GGUFWriter) -> int:
    """Copy every ``tokenizer.*`` key of the vocab-only file; the vocabulary size."""
    reader = GGUFReader(vocab_path)
    size = 0
    for name, field in reader.fields.items():
        if not name.startswith("tokenizer."):
            continue
        value: Any = field.contents()
        main = field.types[0]
        sub = field.types[-1] if main == GGUFValueType.ARRAY else None
        writer.add_key_value(name, value, main, sub_type=sub)
        if name == "tokenizer.ggml.tokens":
            size = len(value)
    if not size:
        raise SystemExit(f"{vocab_path} has no tokenizer.ggml.tokens")
    return size


def main() -> None:
    """Write the model."""
    vocab_path, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(SEED)
    writer = GGUFWriter(out, "llama")
    writer.add_name("paitui tiny test llama")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_BLOCKS)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEADS)
    writer.add_head_count_kv(N_HEADS)
    writer.add_rope_dimension_count(N_EMBD // N_HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    n_vocab = copy_tokenizer(vocab_path, writer)

    def matrix(name: str, rows: int, cols: int) -> None:
        data = rng.normal(0.0, 0.02, size=(rows, cols)).astype(np.float32)
        q8 = gguf.quants.quantize(data, GGMLQuantizationType.Q8_0)
        writer.add_tensor(name, q8, raw_dtype=GGMLQuantizationType.Q8_0)

    def norm(name: str) -> None:
        writer.add_tensor(name, np.ones(N_EMBD, dtype=np.float32))

    matrix("token_embd.weight", n_vocab, N_EMBD)
    for i in range(N_BLOCKS):
        norm(f"blk.{i}.attn_norm.weight")
        for part in ("attn_q", "attn_k", "attn_v", "attn_output"):
            matrix(f"blk.{i}.{part}.weight", N_EMBD, N_EMBD)
        norm(f"blk.{i}.ffn_norm.weight")
        matrix(f"blk.{i}.ffn_gate.weight", N_FF, N_EMBD)
        matrix(f"blk.{i}.ffn_up.weight", N_FF, N_EMBD)
        matrix(f"blk.{i}.ffn_down.weight", N_EMBD, N_FF)
    norm("output_norm.weight")
    matrix("output.weight", n_vocab, N_EMBD)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
