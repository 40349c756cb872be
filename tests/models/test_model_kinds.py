"""Model kinds from real headers: files written by the ``safetensors`` and ``gguf`` packages.

Tiny zero tensors under the real key names of each kind (no weights), read back by
``paitui.services.models.headers`` and checked against the packages' own readers; then hostile
headers (truncated, absurd lengths and counts, wrong magic, deep JSON, non-UTF-8, seeded random
mutations), which must give an ``UnreadableHeader`` or facts, never an exception or a hang.
"""

from __future__ import annotations

import os
import random
import struct
import time
import tracemalloc
from pathlib import Path

import gguf
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from paitui.domain.models.kinds import (
    Confidence,
    HeaderFacts,
    ModelKind,
    RepoFacts,
    Source,
    UnreadableHeader,
    classify,
    classify_repo,
    group_model_files,
    parse_split_name,
)
from paitui.services.models.headers import SAFETENSORS_MAX_HEADER, read_model_header

K = ModelKind
Z = np.zeros((1,), dtype=np.float16)

# (case, tensor names, __metadata__, expected kind, expected architecture or None)
SAFETENSORS_CASES: list[tuple[str, list[str], dict[str, str], ModelKind, str | None]] = [
    (
        "sd15-checkpoint",
        [
            "model.diffusion_model.input_blocks.0.0.weight",
            "model.diffusion_model.middle_block.0.in_layers.0.weight",
            "model.diffusion_model.out.2.weight",
            "first_stage_model.encoder.conv_in.weight",
            "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
        ],
        {},
        K.CHECKPOINT,
        "sd",
    ),
    (
        "sdxl-checkpoint",
        [
            "model.diffusion_model.input_blocks.0.0.weight",
            "model.diffusion_model.middle_block.0.in_layers.0.weight",
            "model.diffusion_model.label_emb.0.0.weight",
            "first_stage_model.decoder.conv_in.weight",
            "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight",
        ],
        {"modelspec.architecture": "stable-diffusion-xl-v1-base"},
        K.CHECKPOINT,
        "sdxl",
    ),
    (
        "unet-with-prefix-only",
        ["model.diffusion_model.input_blocks.0.0.weight", "model.diffusion_model.middle_block.1.x"],
        {},
        K.DIFFUSION_MODEL,
        "sd",
    ),
    (
        "flux-bare",
        [
            "double_blocks.0.img_attn.norm.key_norm.scale",
            "img_in.weight",
            "single_blocks.0.linear1.weight",
        ],
        {},
        K.DIFFUSION_MODEL,
        "flux",
    ),
    (
        "sd3-bare",
        ["joint_blocks.0.context_block.attn.qkv.weight", "x_embedder.proj.weight"],
        {},
        K.DIFFUSION_MODEL,
        "sd3",
    ),
    (
        "diffusers-unet",
        [
            "conv_in.weight",
            "time_embedding.linear_1.weight",
            "down_blocks.0.resnets.0.conv1.weight",
        ],
        {},
        K.DIFFUSION_MODEL,
        "unet (diffusers)",
    ),
    (
        "vae",
        ["encoder.conv_in.weight", "decoder.conv_in.weight", "quant_conv.weight"],
        {},
        K.VAE,
        None,
    ),
    (
        "kohya-lora",
        [
            "lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight",
            "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
            "lora_unet_down_blocks_0_attentions_0_proj_in.alpha",
            "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight",
        ],
        {"ss_network_module": "networks.lora", "ss_base_model_version": "sdxl_base_v1-0"},
        K.LORA,
        "sdxl_base_v1-0",
    ),
    (
        "diffusers-flux-lora",
        [
            "transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight",
            "transformer.single_transformer_blocks.0.attn.to_k.lora_B.weight",
        ],
        {},
        K.LORA,
        None,
    ),
    (
        "lycoris-loha",
        [
            "lora_unet_mid_block_attentions_0.hada_w1_a",
            "lora_unet_mid_block_attentions_0.hada_w1_b",
        ],
        {},
        K.LORA,
        None,
    ),
    (
        "peft-llm-adapter",
        [
            "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
            "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
        ],
        {},
        K.ADAPTER,
        None,
    ),
    (
        "controlnet-original",
        ["control_model.zero_convs.0.0.weight", "control_model.input_hint_block.0.weight"],
        {},
        K.CONTROLNET,
        None,
    ),
    (
        "controlnet-diffusers",
        [
            "controlnet_cond_embedding.conv_in.weight",
            "conv_in.weight",
            "time_embedding.linear_1.weight",
            "down_blocks.0.resnets.0.conv1.weight",
        ],
        {},
        K.CONTROLNET,
        None,
    ),
    (
        "control-lora",
        ["lora_controlnet", "input_hint_block.0.weight", "input_blocks.0.0.up"],
        {},
        K.CONTROLNET,
        None,
    ),
    ("embedding-sd1", ["emb_params"], {}, K.EMBEDDING, None),
    ("embedding-sdxl", ["clip_l", "clip_g"], {}, K.EMBEDDING, None),
    (
        "clip-l",
        [
            "text_model.encoder.layers.0.self_attn.k_proj.weight",
            "text_model.embeddings.token_embedding.weight",
        ],
        {},
        K.TEXT_ENCODER,
        "clip",
    ),
    (
        "t5xxl",
        ["encoder.block.0.layer.0.SelfAttention.k.weight", "shared.weight"],
        {},
        K.TEXT_ENCODER,
        "t5",
    ),
    (
        "realesrgan",
        ["conv_first.weight", "body.0.rdb1.conv1.weight", "conv_up1.weight", "conv_last.weight"],
        {},
        K.UPSCALER,
        None,
    ),
    (
        "esrgan-old",
        ["model.0.weight", "model.1.sub.0.RDB1.conv1.0.weight"],
        {},
        K.UPSCALER,
        None,
    ),
    (
        "llm-shard",
        ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "lm_head.weight"],
        {},
        K.TRANSFORMERS,
        None,
    ),
]


def _save(path: Path, names: list[str], meta: dict[str, str] | None = None) -> Path:
    save_file({n: Z for n in names}, str(path), metadata=meta or None)
    return path


@pytest.mark.parametrize(
    ("case", "names", "meta", "kind", "arch"),
    SAFETENSORS_CASES,
    ids=[c[0] for c in SAFETENSORS_CASES],
)
def test_safetensors_kinds(
    tmp_path: Path,
    case: str,
    names: list[str],
    meta: dict[str, str],
    kind: ModelKind,
    arch: str | None,
) -> None:
    # A neutral name, so the verdict can only come from the header.
    path = _save(tmp_path / "model.safetensors", names, meta)
    facts = read_model_header(path)
    assert isinstance(facts, HeaderFacts), facts
    with safe_open(str(path), framework="np") as real:
        assert sorted(facts.tensor_names) == sorted(real.keys())
        assert dict(facts.metadata) == (real.metadata() or {})
    assert facts.tensor_count == len(names)
    assert facts.complete is True
    verdict = classify("model.safetensors", facts)
    assert verdict.kind is kind, verdict
    assert verdict.source is Source.HEADER
    assert verdict.sure
    assert verdict.architecture == arch


def test_header_beats_a_misleading_name(tmp_path: Path) -> None:
    path = _save(tmp_path / "my_lora.safetensors", ["encoder.conv_in.weight", "decoder.conv_in.x"])
    verdict = classify("loras/my_lora.safetensors", read_model_header(path))
    assert verdict.kind is K.VAE
    assert verdict.source is Source.HEADER


def test_unfinished_safetensors_is_reported_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "cut.safetensors"
    save_file({"a": np.zeros((1000,), dtype=np.float32)}, str(path))
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size - 100)
    facts = read_model_header(path)
    assert isinstance(facts, HeaderFacts)
    assert facts.complete is False


# --- GGUF ---------------------------------------------------------------------------------------


def _gguf(path: Path, arch: str, tensors: list[str], **kw: object) -> list[Path]:
    """Write a GGUF with the real writer; ``kw`` holds extra keys (str, bool, int, float, list)."""
    split = int(kw.pop("_split", 0))  # type: ignore[call-overload]
    endian = kw.pop("_endian", gguf.GGUFEndian.LITTLE)
    writer = gguf.GGUFWriter(str(path), arch, split_max_tensors=split, endianess=endian)  # type: ignore[arg-type]
    gtype = kw.pop("general.type", None)
    if gtype is not None:
        writer.add_type(str(gtype))
    for key, value in kw.items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, int):
            writer.add_uint32(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        elif isinstance(value, list):
            writer.add_array(key, value)
        else:
            writer.add_string(key, str(value))
    for name in tensors:
        writer.add_tensor(name, np.zeros((2, 2), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    if split:
        return sorted(path.parent.glob(f"{path.stem}-*-of-*.gguf"))
    return [path]


VOCAB = [f"tok{i}" for i in range(20_000)]


def test_gguf_llm_with_a_vocabulary(tmp_path: Path) -> None:
    (path,) = _gguf(
        tmp_path / "tiny.Q4_K_M.gguf",
        "llama",
        ["token_embd.weight", "blk.0.attn_q.weight"],
        **{
            "llama.block_count": 2,
            "general.name": "tiny",
            "tokenizer.ggml.tokens": VOCAB,
            "tokenizer.ggml.scores": [0.5] * len(VOCAB),
            "tokenizer.chat_template": "{{ x }}" * 2000,
        },
    )
    facts = read_model_header(path)
    assert isinstance(facts, HeaderFacts), facts
    real = gguf.GGUFReader(str(path))
    assert facts.version == 3
    assert facts.tensor_count == len(real.tensors)
    assert list(facts.tensor_names) == [t.name for t in real.tensors]
    assert facts.metadata["general.architecture"] == "llama"
    assert facts.metadata["llama.block_count"] == 2
    assert facts.metadata["general.name"] == "tiny"
    # Vocabularies and templates are skipped, not kept.
    assert not any(k.startswith("tokenizer.") for k in facts.metadata)
    verdict = classify(path.name, facts)
    assert (verdict.kind, verdict.confidence, verdict.architecture) == (
        K.LLM,
        Confidence.HIGH,
        "llama",
    )


@pytest.mark.parametrize(
    ("case", "arch", "keys", "tensors", "kind"),
    [
        (
            "mmproj",
            "clip",
            {
                "general.type": "mmproj",
                "clip.has_vision_encoder": True,
                "clip.projector_type": "mlp",
            },
            ["v.blk.0.attn_q.weight"],
            K.PROJECTOR,
        ),
        ("clip-no-type", "clip", {"clip.has_vision_encoder": True}, ["v.x"], K.PROJECTOR),
        (
            "lora-adapter",
            "llama",
            {"general.type": "adapter", "adapter.type": "lora", "adapter.lora.alpha": 16.0},
            ["blk.0.attn_q.weight.lora_a"],
            K.ADAPTER,
        ),
        (
            "control-vector",
            "controlvector",
            {"controlvector.model_hint": "llama"},
            ["d.1"],
            K.ADAPTER,
        ),
        (
            "flux-diffusion",
            "flux",
            {},
            ["double_blocks.0.img_attn.norm.key_norm.scale", "img_in.weight"],
            K.DIFFUSION_MODEL,
        ),
        (
            "sd-unet-no-arch-hint",
            "sdxl_like",
            {},
            ["model.diffusion_model.input_blocks.0.0.weight"],
            K.DIFFUSION_MODEL,
        ),
        (
            "imatrix",
            "llama",
            {"general.type": "imatrix"},
            ["blk.0.ffn_down.weight.in_sum2"],
            K.UNKNOWN,
        ),
    ],
)
def test_gguf_kinds(
    tmp_path: Path,
    case: str,
    arch: str,
    keys: dict[str, object],
    tensors: list[str],
    kind: ModelKind,
) -> None:
    (path,) = _gguf(tmp_path / "model.gguf", arch, tensors, **keys)
    facts = read_model_header(path)
    assert isinstance(facts, HeaderFacts), facts
    verdict = classify("model.gguf", facts)
    assert verdict.kind is kind, verdict
    assert verdict.source is Source.HEADER
    assert verdict.sure


def test_big_endian_gguf_reads_like_little_endian(tmp_path: Path) -> None:
    little = _gguf(tmp_path / "le.gguf", "qwen2", ["a.weight"], **{"qwen2.block_count": 7})[0]
    big = _gguf(
        tmp_path / "be.gguf",
        "qwen2",
        ["a.weight"],
        _endian=gguf.GGUFEndian.BIG,
        **{"qwen2.block_count": 7},
    )[0]
    assert little.read_bytes() != big.read_bytes()
    a, b = read_model_header(little), read_model_header(big)
    assert isinstance(a, HeaderFacts) and isinstance(b, HeaderFacts), (a, b)
    assert (a.metadata, a.tensor_names) == (b.metadata, b.tensor_names)


def test_split_gguf_shards_group_with_their_projector(tmp_path: Path) -> None:
    shards = _gguf(tmp_path / "big.gguf", "llama", ["t0", "t1", "t2"], _split=1)
    assert [p.name for p in shards] == [f"big-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    for i, shard in enumerate(shards):
        facts = read_model_header(shard)
        assert isinstance(facts, HeaderFacts), facts
        assert (facts.metadata["split.no"], facts.metadata["split.count"]) == (i, 3)
        split = parse_split_name(shard.name)
        assert split is not None and (split.index, split.count) == (i + 1, 3)
    _gguf(tmp_path / "mmproj-big-f16.gguf", "clip", ["v.x"], **{"general.type": "mmproj"})
    names = [f"repo/{p.name}" for p in sorted(tmp_path.glob("*.gguf"))]
    (group,) = group_model_files(names)
    assert group.main == "repo/big-00001-of-00003.gguf"
    assert len(group.shards) == 3 and group.complete
    assert group.projectors == ("repo/mmproj-big-f16.gguf",)
    partial = [n for n in names if "00002" not in n]
    (group,) = group_model_files(partial)
    assert group.missing == (2,) and not group.complete


def test_group_model_files_mixed_folder() -> None:
    paths = [
        "a/m.Q4_K_M.gguf",
        "a/m.Q8_0.gguf",
        "a/mmproj-m-f16.gguf",
        "b/mmproj-only.gguf",
        "c/model-00002-of-00002.safetensors",
        "c/model-00001-of-00002.safetensors",
        "c/config.json",
    ]
    groups = {g.main: g for g in group_model_files(paths)}
    assert groups["a/m.Q4_K_M.gguf"].projectors == ("a/mmproj-m-f16.gguf",)
    assert groups["a/m.Q8_0.gguf"].projectors == ("a/mmproj-m-f16.gguf",)
    assert groups["b/mmproj-only.gguf"].shards == ("b/mmproj-only.gguf",)
    assert groups["c/model-00001-of-00002.safetensors"].shards == (
        "c/model-00001-of-00002.safetensors",
        "c/model-00002-of-00002.safetensors",
    )
    assert groups["c/config.json"].projectors == ()
    assert len(groups) == 5


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x-00001-of-00003.gguf", (1, 3)),
        ("dir/Q4/x-00003-of-00003.gguf", (3, 3)),
        ("x-00000-of-00003.gguf", None),
        ("x-00004-of-00003.gguf", None),
        ("x-0001-of-0003.gguf", None),
        ("x-00001-of-00003.bin", None),
        ("-00001-of-00003.gguf", None),
    ],
)
def test_parse_split_name(name: str, expected: tuple[int, int] | None) -> None:
    split = parse_split_name(name)
    assert (None if split is None else (split.index, split.count)) == expected


# --- Precedence: user > header > repo > name ------------------------------------------------------


def test_precedence_and_refinement() -> None:
    llm_header = HeaderFacts("safetensors", ("model.layers.0.self_attn.q_proj.weight",), 1)
    diffusers = RepoFacts(
        library_name="diffusers", files=("model_index.json", "text_encoder_2/model.safetensors")
    )
    # A generic header verdict is narrowed by the repo: this is the pipeline's text encoder.
    verdict = classify("text_encoder_2/model.safetensors", llm_header, diffusers)
    assert verdict.kind is K.TEXT_ENCODER and verdict.source is Source.REPO
    # Alone, the same header says transformers weights.
    assert classify("model.safetensors", llm_header).kind is K.TRANSFORMERS
    # A specific header verdict is not overruled by the repo's tags or the name.
    vae = HeaderFacts("safetensors", ("encoder.conv_in.weight", "decoder.conv_in.weight"), 2)
    lora_repo = RepoFacts(tags=("lora",), files=("lora.safetensors",))
    assert classify("lora.safetensors", vae, lora_repo).kind is K.VAE
    # A LoRA header in a PEFT text-generation repo becomes an LLM adapter.
    lora = HeaderFacts("safetensors", ("x.lora_A.weight", "x.lora_B.weight"), 2)
    peft = RepoFacts(library_name="peft", pipeline_tag="text-generation", tags=("lora",))
    assert classify("adapter_model.safetensors", lora, peft).kind is K.ADAPTER
    # The user's choice wins over everything.
    user = classify("lora.safetensors", vae, lora_repo, user_kind=K.LORA)
    assert (user.kind, user.source) == (K.LORA, Source.USER)
    # Repo beats name when there is no header.
    gguf_repo = RepoFacts(library_name="gguf", pipeline_tag="text-generation")
    assert classify("some_lora_thing.gguf", None, gguf_repo).source is Source.REPO


def test_unreadable_header_falls_back_to_name_and_says_why() -> None:
    bad = UnreadableHeader("pickle file: not read (unpickling runs code)", "pickle")
    verdict = classify("upscale_models/4x-UltraSharp.pth", bad)
    assert verdict.kind is K.UPSCALER and verdict.source is Source.NAME
    assert "unpickling" in verdict.why
    nothing = classify("notes.txt", bad)
    assert nothing.kind is K.UNKNOWN and "unreadable header" in nothing.why


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("sdxl_vae.safetensors", K.VAE),
        ("ae.safetensors", K.VAE),
        ("split_files/vae/flux_vae.safetensors", K.VAE),
        ("RealESRGAN_x4plus.pth", K.UPSCALER),
        ("4x-UltraSharp.pth", K.UPSCALER),
        ("t5xxl_fp16.safetensors", K.TEXT_ENCODER),
        ("clip_l.safetensors", K.TEXT_ENCODER),
        ("control_v11p_sd15_canny.pth", K.CONTROLNET),
        ("my_style_lora.safetensors", K.LORA),
        ("loras/style.safetensors", K.LORA),
        ("embeddings/badhands.pt", K.EMBEDDING),
        ("mmproj-model-f16.gguf", K.PROJECTOR),
        ("model.Q4_K_M.gguf", K.LLM),
        ("v1-5-pruned.ckpt", K.CHECKPOINT),
        ("README.md", K.UNKNOWN),
    ],
)
def test_name_hints(name: str, kind: ModelKind) -> None:
    verdict = classify(name)
    assert verdict.kind is kind, verdict
    assert verdict.confidence is not Confidence.HIGH


def test_classify_repo_layouts() -> None:
    assert classify_repo(RepoFacts(files=("model_index.json", "unet/x.safetensors"))).kind is (
        K.DIFFUSERS
    )
    peft = RepoFacts(files=("adapter_config.json", "adapter_model.safetensors"))
    assert classify_repo(peft).kind is K.ADAPTER
    hf = RepoFacts(files=("config.json", "model-00001-of-00002.safetensors", "tokenizer.json"))
    assert classify_repo(hf).kind is K.TRANSFORMERS
    ggufs = RepoFacts(files=("config.json", "model.safetensors", "model.Q4_K_M.gguf"))
    assert classify_repo(ggufs).kind is K.UNKNOWN


# --- Hostile files -------------------------------------------------------------------------------


def _st_raw(path: Path, length: int, body: bytes) -> Path:
    path.write_bytes(struct.pack("<Q", length) + body)
    return path


def assert_unreadable(path: Path, *words: str) -> UnreadableHeader:
    t0 = time.monotonic()
    result = read_model_header(path)
    assert time.monotonic() - t0 < 5
    assert isinstance(result, UnreadableHeader), result
    for word in words:
        assert word in result.reason, result.reason
    return result


def test_hostile_safetensors_lengths_and_json(tmp_path: Path) -> None:
    p = tmp_path / "x.safetensors"
    assert_unreadable(_st_raw(p, SAFETENSORS_MAX_HEADER + 1, b"{}" * 8), "cap")
    assert_unreadable(_st_raw(p, 2**64 - 1, b"{}"), "cap")
    assert_unreadable(_st_raw(p, 1000, b'{"a": 1}'), "does not fit")
    p.write_bytes(b"\x05\x00")
    assert_unreadable(p, "too short")
    assert_unreadable(_st_raw(p, 6, b"\xff\xfe{}\x00\x00"), "UTF-8")
    assert_unreadable(_st_raw(p, 8, b"[1, 2] }"), "JSON")
    assert_unreadable(_st_raw(p, 9, b'{"a": 1} '), "not a tensor")
    deep = b'{"a":' * 50_000 + b"0" + b"}" * 50_000
    assert_unreadable(_st_raw(p, len(deep), deep), "not a tensor")
    nested = (
        b'{"a":{"dtype":"F16","shape":' + b"[" * 1500 + b"]" * 1500 + b',"data_offsets":[0,0]}}'
    )
    assert_unreadable(_st_raw(p, len(nested), nested), "not a tensor")
    meta = b'{"__metadata__":{"k":{"x":1}}}'
    assert_unreadable(_st_raw(p, len(meta), meta), "JSON string")
    bad_off = b'{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,-2]}}'
    assert_unreadable(_st_raw(p, len(bad_off), bad_off), "not a tensor")
    trail = b'{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,0]}} x'
    assert_unreadable(_st_raw(p, len(trail), trail), "after its JSON")


def test_huge_safetensors_headers_stay_bounded(tmp_path: Path) -> None:
    """Headers near the cap: memory stays a small multiple of the header, time a few seconds."""
    entry = b'{"dtype":"F16","shape":[1],"data_offsets":[0,2]}'
    blank = b'{"a":' + b" " * (SAFETENSORS_MAX_HEADER - 100) + entry + b"}"
    spam = b'{"__metadata__":{' + b",".join(b'"k%d":"v"' % i for i in range(40_000)) + b"}}"
    many = b"{" + b",".join(b'"t%d":%s' % (i, entry) for i in range(10_000)) + b"}"
    for body, count, kept in ((blank, 1, 0), (spam, 0, 1024), (many, 10_000, 0)):
        path = _st_raw(tmp_path / "big.safetensors", len(body), body + b"\0\0")
        tracemalloc.start()
        t0 = time.monotonic()
        facts = read_model_header(path)
        took = time.monotonic() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert isinstance(facts, HeaderFacts), facts
        assert (facts.tensor_count, len(facts.metadata)) == (count, kept)
        assert peak < 3 * len(body) + 10_000_000, (peak, len(body))
        assert took < 20


def _gguf_head(*, version: int = 3, tensors: int = 0, kvs: int = 1) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensors, kvs)


def _gstr(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def test_hostile_gguf(tmp_path: Path) -> None:
    p = tmp_path / "x.gguf"
    cases: list[tuple[bytes, str]] = [
        (b"GGUX" + b"\0" * 40, "wrong magic"),
        (_gguf_head(version=1), "version 1"),
        (_gguf_head(version=99), "unknown GGUF version"),
        (_gguf_head(kvs=2**64 - 1), "key/value pairs"),
        (_gguf_head(tensors=2**63), "tensors"),
        (_gguf_head() + struct.pack("<Q", 2**62), "past the end"),
        (_gguf_head() + _gstr(b"k") + struct.pack("<IQ", 8, 2**63), "past the end"),
        (_gguf_head() + _gstr(b"k") + struct.pack("<IIQ", 9, 0, 2**62), "past the end"),
        (_gguf_head() + _gstr(b"k") + struct.pack("<IIQ", 9, 8, 2**60), "past the end"),
        (_gguf_head() + _gstr(b"k") + struct.pack("<IIQ", 9, 77, 1), "unknown element type"),
        (_gguf_head() + _gstr(b"k") + struct.pack("<I", 13), "unknown value type"),
        (
            _gguf_head()
            + _gstr(b"k")
            + struct.pack("<I", 9)
            + struct.pack("<IQ", 9, 1) * 8
            + b"\0" * 64,
            "nested too deeply",
        ),
        (
            _gguf_head(tensors=1, kvs=0) + _gstr(b"t") + struct.pack("<I", 1000) + b"\0" * 64,
            "dimensions",
        ),
        (_gguf_head(kvs=2) + _gstr(b"a") + struct.pack("<IB", 0, 1), "past the end"),
    ]
    for data, words in cases:
        p.write_bytes(data)
        assert_unreadable(p, words)


def test_gguf_string_array_walk_is_capped(tmp_path: Path) -> None:
    """Millions of empty strings (8 bytes each) would take minutes to walk: refused fast."""
    p = tmp_path / "x.gguf"
    count = 3_000_000
    with open(p, "wb") as fh:
        fh.write(_gguf_head() + _gstr(b"tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, count))
        fh.truncate(fh.tell() + count * 8)
    assert_unreadable(p, "over")


def test_truncated_at_every_offset(tmp_path: Path) -> None:
    (g,) = _gguf(tmp_path / "g.gguf", "llama", ["a", "b"], **{"general.name": "n", "x.y": [1, 2]})
    s = _save(tmp_path / "s.safetensors", ["first_stage_model.x", "model.diffusion_model.y"])
    info_end = int(gguf.GGUFReader(str(g)).data_offset)  # where the reader says tensor data starts
    for src in (g, s):
        data = src.read_bytes()
        header_end = len(data) - 64  # tensor data is 2x2 float32 (GGUF) or float16 (safetensors)
        cut = tmp_path / f"cut{src.suffix}"
        for n in range(header_end):
            cut.write_bytes(data[:n])
            result = read_model_header(cut)
            if src is g and n > info_end - 32 and isinstance(result, HeaderFacts):
                # Tensor infos end before the 32-byte aligned data: the header is whole.
                assert result.tensor_names == ("a", "b")
                continue
            assert isinstance(result, UnreadableHeader), (src.name, n, result)
            if n >= 4:
                assert result.format == src.suffix[1:], (n, result)


def test_seeded_random_mutations_never_raise(tmp_path: Path) -> None:
    rng = random.Random(1234)
    (g,) = _gguf(tmp_path / "g.gguf", "llama", ["a", "b"], **{"general.name": "n", "t": ["x", "y"]})
    s = _save(tmp_path / "s.safetensors", ["lora_unet_a.lora_up.weight"], {"ss_x": "y"})
    seeds = [(g.read_bytes(), ".gguf"), (s.read_bytes(), ".safetensors")]
    target = tmp_path / "m"
    outcomes = {"facts": 0, "unreadable": 0}
    slowest = 0.0
    for i in range(600):
        if i % 6 == 5:
            data, suffix = (
                rng.randbytes(rng.randrange(0, 200)),
                rng.choice([".gguf", ".safetensors"]),
            )
            if i % 12 == 5:
                data = b"GGUF" + data
        else:
            base, suffix = seeds[i % 2]
            buf = bytearray(base)
            for _ in range(rng.randrange(1, 8)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
            data = bytes(buf[: rng.randrange(len(buf) // 2, len(buf) + 1)])
        path = target.with_suffix(suffix)
        path.write_bytes(data)
        t0 = time.monotonic()
        result = read_model_header(path)
        slowest = max(slowest, time.monotonic() - t0)
        outcomes["facts" if isinstance(result, HeaderFacts) else "unreadable"] += 1
        if isinstance(result, HeaderFacts):
            classify(path.name, result)  # the classifier copes with whatever parsed
    assert outcomes["facts"] > 0 and outcomes["unreadable"] > 0, outcomes
    assert slowest < 2, slowest


def test_special_files_are_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    assert_unreadable(fifo, "not a regular file")  # opening it would block forever
    (tmp_path / "dir.gguf").mkdir()
    assert_unreadable(tmp_path / "dir.gguf", "not a regular file")
    assert_unreadable(tmp_path / "missing.gguf", "cannot open")
    (tmp_path / "model.ckpt").write_bytes(b"\x80\x04PK")
    assert assert_unreadable(tmp_path / "model.ckpt", "pickle").format == "pickle"
