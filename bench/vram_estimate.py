"""The memory estimate against the real llama.cpp server: estimate vs what it allocates.

    python bench/vram_estimate.py [--vocab VOCAB.gguf] [--keep DIR]

Writes small llama GGUFs of a few shapes (random weights, the tokenizer copied from llama.cpp's
``models/ggml-vocab-llama-spm.gguf``; the ``gguf`` package writes them), runs the real server
image ``ghcr.io/ggml-org/llama.cpp:server`` on each at a few contexts (``-c``), reads the buffer
sizes it logs (``model buffer size``, ``KV buffer size``, ``output buffer size``, ``compute
buffer size``) and prints them next to ``paitui.domain.models.vram_estimate``'s figures.

The server here is a CPU build: its buffers are host buffers, but llama.cpp sizes the model and
KV buffers the same way on a GPU backend; compute buffers differ per backend (see the report).
Containers are named ``paitui-bench-vram-*`` and removed on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paitui.domain.models.gguf_layout import parse_gguf_layout
from paitui.domain.models.vram_estimate import estimate, model_shape

IMAGE = "ghcr.io/ggml-org/llama.cpp:server"
MIB = 1024 * 1024
_BUF = re.compile(r"(\S+)\s+(model|KV|output|compute) buffer size\s*=\s*([\d.]+) MiB")


@dataclass(frozen=True)
class Shape:
    """A model shape to write."""

    name: str
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int
    quant: str  # "Q8_0", "F16" or "Q4_0"
    n_ctx_train: int = 4096


SHAPES = (
    Shape("mha-64x2-q8", 64, 2, 4, 4, 128, "Q8_0"),
    Shape("gqa-256x4-q8", 256, 4, 8, 2, 512, "Q8_0"),
    Shape("mha-256x4-f16", 256, 4, 8, 8, 512, "F16"),
    Shape("gqa-512x6-q4", 512, 6, 16, 4, 1408, "Q4_0"),
)
CONTEXTS = (512, 2048, 8192)


def write_model(shape: Shape, vocab_path: str, out: Path) -> None:
    """A valid llama GGUF of ``shape`` with random weights."""
    import gguf
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter

    rng = np.random.default_rng(7)
    writer = GGUFWriter(str(out), "llama")
    writer.add_name(shape.name)
    writer.add_context_length(shape.n_ctx_train)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layer)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_head)
    writer.add_head_count_kv(shape.n_head_kv)
    writer.add_rope_dimension_count(shape.n_embd // shape.n_head)
    writer.add_layer_norm_rms_eps(1e-5)
    reader = GGUFReader(vocab_path)
    n_vocab = 0
    for name, fld in reader.fields.items():
        if name.startswith("tokenizer."):
            value: Any = fld.contents()
            sub = fld.types[-1] if fld.types[0] == GGUFValueType.ARRAY else None
            writer.add_key_value(name, value, fld.types[0], sub_type=sub)
            if name == "tokenizer.ggml.tokens":
                n_vocab = len(value)
    qtype = getattr(GGMLQuantizationType, shape.quant)

    def matrix(name: str, rows: int, cols: int) -> None:
        data = rng.normal(0.0, 0.02, size=(rows, cols)).astype(np.float32)
        if qtype == GGMLQuantizationType.F16:
            writer.add_tensor(name, data.astype(np.float16))
        else:
            q = gguf.quants.quantize(data, qtype)
            writer.add_tensor(name, q, raw_dtype=qtype)

    def norm(name: str) -> None:
        writer.add_tensor(name, np.ones(shape.n_embd, dtype=np.float32))

    head = shape.n_embd // shape.n_head
    matrix("token_embd.weight", n_vocab, shape.n_embd)
    for i in range(shape.n_layer):
        norm(f"blk.{i}.attn_norm.weight")
        matrix(f"blk.{i}.attn_q.weight", shape.n_embd, shape.n_embd)
        matrix(f"blk.{i}.attn_k.weight", head * shape.n_head_kv, shape.n_embd)
        matrix(f"blk.{i}.attn_v.weight", head * shape.n_head_kv, shape.n_embd)
        matrix(f"blk.{i}.attn_output.weight", shape.n_embd, shape.n_embd)
        norm(f"blk.{i}.ffn_norm.weight")
        matrix(f"blk.{i}.ffn_gate.weight", shape.n_ff, shape.n_embd)
        matrix(f"blk.{i}.ffn_up.weight", shape.n_ff, shape.n_embd)
        matrix(f"blk.{i}.ffn_down.weight", shape.n_embd, shape.n_ff)
    norm("output_norm.weight")
    matrix("output.weight", n_vocab, shape.n_embd)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def run_server(model_dir: Path, model: str, ctx: int, timeout: float = 120) -> dict[str, float]:
    """Start the server on ``model`` with ``-c ctx``; the buffer sizes it logs (MiB, summed)."""
    name = f"paitui-bench-vram-{uuid.uuid4().hex[:8]}"
    argv = ["docker", "run", "-d", "--name", name, "-v", f"{model_dir}:/models:ro", IMAGE]
    argv += ["-m", f"/models/{model}", "-c", str(ctx), "-lv", "4"]
    subprocess.run(argv, check=True, capture_output=True)
    try:
        deadline = time.monotonic() + timeout
        log = ""
        while time.monotonic() < deadline:
            done = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
            log = done.stdout + done.stderr
            if "model loaded" in log or "exiting" in log:
                break
            time.sleep(0.2)  # polling a container's log with a deadline
        sizes: dict[str, float] = {}
        for m in _BUF.finditer(log):
            # CPU_REPACK is the CPU backend's re-laid-out copy of some quants: not on a GPU.
            part = "repack" if "REPACK" in m.group(1) else m.group(2)
            sizes[part] = sizes.get(part, 0.0) + float(m.group(3))
        return sizes
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def main() -> int:
    """Write the models, run the server on each, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    found = glob.glob("/var/cache/paitui-test/src/*/llama.cpp/models/ggml-vocab-llama-spm.gguf")
    ap.add_argument("--vocab", default=found[0] if found else None)
    ap.add_argument("--keep", type=Path, default=None, help="write the models here and keep them")
    args = ap.parse_args()
    if not args.vocab:
        print("no vocab file: pass --vocab llama.cpp/models/ggml-vocab-llama-spm.gguf")
        return 2
    with contextlib.ExitStack() as stack:
        out = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        out.mkdir(parents=True, exist_ok=True)
        out.chmod(0o755)
        print(
            "| model | -c | weights est/actual MiB | KV est/actual MiB "
            "| compute+output est/actual MiB | total est/actual MiB | error |"
        )
        print("|---|---|---|---|---|---|---|")
        for shape in SHAPES:
            path = out / f"{shape.name}.gguf"
            if not path.exists():
                write_model(shape, args.vocab, path)
            path.chmod(0o644)
            data = path.read_bytes()
            layout = parse_gguf_layout(data[: 1 << 24], len(data))
            ms = model_shape(layout)
            for ctx in CONTEXTS:
                t0 = time.monotonic()
                actual = run_server(out, path.name, ctx)
                took = time.monotonic() - t0
                est = estimate(ms, ctx, backend="cpu")
                a_w = actual.get("model", 0.0)
                a_kv = actual.get("KV", 0.0)
                a_c = actual.get("compute", 0.0) + actual.get("output", 0.0)
                a_t = a_w + a_kv + a_c
                e_t = est.total / MIB
                err = (e_t - a_t) / a_t * 100 if a_t else float("nan")
                print(
                    f"| {shape.name} ({path.stat().st_size / MIB:.1f} MiB file) | {ctx} "
                    f"| {est.weights / MIB:.2f} / {a_w:.2f} | {est.kv / MIB:.2f} / {a_kv:.2f} "
                    f"| {(est.compute + est.output) / MIB:.2f} / {a_c:.2f} "
                    f"| {e_t:.2f} / {a_t:.2f} | {err:+.1f}% ({took:.1f} s) |"
                    + (f" +{actual['repack']:.2f} MiB CPU repack" if "repack" in actual else ""),
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
