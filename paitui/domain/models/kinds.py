"""What kind of model a file is (LLM GGUF, checkpoint, LoRA, VAE, ...), decided without loading it.

Pure logic over evidence gathered elsewhere: the file's name, the facts parsed from its own header
(``paitui.services.models.headers``) and, when the file came from the Hub, facts about its repo.

Precedence, highest first, and why:

1. **The user's choice.** The user can always correct a wrong guess; nothing overrides it.
2. **The file's header.** It describes *these* bytes: tensor names and GGUF keys are what the apps
   themselves key on when they load a file (ComfyUI, InvokeAI, llama.cpp, Ollama), so it is the
   strongest automatic signal.
3. **Hub repo metadata** (``library_name``, ``pipeline_tag``, tags, the repo's other files). It
   describes the *repo*; a repo with several weight files (a checkpoint plus its VAE, a GGUF plus
   its projector) makes it ambiguous about which file it means.
4. **The file name** (extension, ``lora``/``vae``/``mmproj`` in it, a ComfyUI folder name). A
   convention anybody can break, so the last resort.

A higher source only wins when it is sure (``MEDIUM`` or better). Some header verdicts are generic
and may be *refined* by a lower source instead of overruling it: weights laid out like a
transformers model may be a diffusion pipeline's text encoder, and a LoRA may be an LLM adapter
(see ``REFINEMENTS``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import PurePosixPath

#: A value kept from a header: ``__metadata__`` strings or GGUF scalars.
MetaValue = str | int | float | bool


class ModelKind(StrEnum):
    """What a model file (or a whole repo) is, as far as the apps that use it care."""

    LLM = "llm"  # a language model GGUF (llama.cpp, Ollama, KoboldCpp, LocalAI)
    CHECKPOINT = "checkpoint"  # a full image checkpoint: UNet/DiT + VAE + text encoder
    DIFFUSION_MODEL = "diffusion_model"  # a bare UNet / DiT (ComfyUI ``diffusion_models``)
    LORA = "lora"  # an image-model LoRA / LyCORIS
    VAE = "vae"
    TEXT_ENCODER = "text_encoder"  # CLIP / T5 / ... for an image model
    CONTROLNET = "controlnet"
    UPSCALER = "upscaler"  # ESRGAN-style super-resolution
    EMBEDDING = "embedding"  # textual inversion
    DIFFUSERS = "diffusers"  # a whole diffusers pipeline repo (model_index.json)
    TRANSFORMERS = "transformers"  # a transformers repo, or one of its weight shards
    PROJECTOR = "projector"  # a GGUF multimodal projector (mmproj, clip)
    ADAPTER = "adapter"  # an LLM adapter: GGUF LoRA, control vector, PEFT
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        """A short name for the library."""
        return _LABELS[self]


_LABELS = {
    ModelKind.LLM: "LLM (GGUF)",
    ModelKind.CHECKPOINT: "checkpoint",
    ModelKind.DIFFUSION_MODEL: "diffusion model",
    ModelKind.LORA: "LoRA",
    ModelKind.VAE: "VAE",
    ModelKind.TEXT_ENCODER: "text encoder",
    ModelKind.CONTROLNET: "ControlNet",
    ModelKind.UPSCALER: "upscaler",
    ModelKind.EMBEDDING: "embedding",
    ModelKind.DIFFUSERS: "diffusers repo",
    ModelKind.TRANSFORMERS: "transformers repo",
    ModelKind.PROJECTOR: "projector (mmproj)",
    ModelKind.ADAPTER: "adapter",
    ModelKind.UNKNOWN: "unknown",
}


class Confidence(StrEnum):
    """How sure a verdict is."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        """3 for HIGH down to 1 for LOW."""
        return {"high": 3, "medium": 2, "low": 1}[self.value]


class Source(StrEnum):
    """Which evidence a verdict came from."""

    USER = "user"
    HEADER = "header"
    REPO = "repo"
    NAME = "name"
    NONE = "none"


@dataclass(frozen=True)
class HeaderFacts:
    """What a file's own header says, as ``model_headers`` parsed it (never tensor data)."""

    format: str  # "safetensors" or "gguf"
    #: Tensor names (all of a safetensors header up to a cap; the first ones of a GGUF).
    tensor_names: tuple[str, ...] = ()
    #: Tensors the header declares (may be more than ``tensor_names`` holds).
    tensor_count: int = 0
    #: safetensors ``__metadata__`` (strings) or GGUF key/values (scalars, short strings).
    metadata: Mapping[str, MetaValue] = field(default_factory=dict)
    #: GGUF version (2 or 3); None for safetensors.
    version: int | None = None
    #: Bytes the header says the whole file needs, when it says; see ``complete``.
    data_end: int | None = None
    file_size: int | None = None

    @property
    def complete(self) -> bool | None:
        """False when the file is shorter than its header says (an unfinished download)."""
        if self.data_end is None or self.file_size is None:
            return None
        return self.file_size >= self.data_end


@dataclass(frozen=True)
class UnreadableHeader:
    """A file whose header could not be read, and why (shown to the user as is)."""

    reason: str
    format: str | None = None


HeaderResult = HeaderFacts | UnreadableHeader


@dataclass(frozen=True)
class RepoFacts:
    """What the Hub says about the repo a file came from (all optional)."""

    library_name: str | None = None
    pipeline_tag: str | None = None
    tags: tuple[str, ...] = ()
    #: Every file path in the repo (siblings), for ``model_index.json`` and friends.
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Classification:
    """A verdict: the kind, how sure, from which evidence, and a one-line reason."""

    kind: ModelKind
    confidence: Confidence
    source: Source
    why: str
    #: The architecture or base family when known: ``llama``, ``clip``, ``flux``, ``sdxl`` ...
    architecture: str | None = None

    @property
    def sure(self) -> bool:
        """True for MEDIUM or HIGH confidence."""
        return self.confidence.rank >= Confidence.MEDIUM.rank


UNKNOWN = Classification(ModelKind.UNKNOWN, Confidence.LOW, Source.NONE, "no evidence")

#: Generic verdicts a lower source may narrow down (header kind -> kinds it may become).
REFINEMENTS: Mapping[ModelKind, frozenset[ModelKind]] = {
    ModelKind.TRANSFORMERS: frozenset({ModelKind.TEXT_ENCODER}),
    ModelKind.LORA: frozenset({ModelKind.ADAPTER}),
    ModelKind.ADAPTER: frozenset({ModelKind.LORA}),
    ModelKind.DIFFUSION_MODEL: frozenset({ModelKind.CONTROLNET}),
}


def classify(
    name: str,
    header: HeaderResult | None = None,
    repo: RepoFacts | None = None,
    user_kind: ModelKind | None = None,
) -> Classification:
    """The kind of one file from all the evidence there is (see the module docstring).

    ``name`` is the file's path (inside its repo when it came from one; folders count as hints).
    """
    if user_kind is not None:
        return Classification(user_kind, Confidence.HIGH, Source.USER, "set by the user")
    verdicts = [
        classify_header(header) if isinstance(header, HeaderFacts) else None,
        classify_from_repo(name, repo) if repo is not None else None,
        classify_name(name),
    ]
    # A sure UNKNOWN (a GGUF importance matrix) is a verdict too; an unsure one is no evidence.
    found = [v for v in verdicts if v is not None and (v.kind is not ModelKind.UNKNOWN or v.sure)]
    if isinstance(header, UnreadableHeader):
        note = f"unreadable header: {header.reason}"
        if not found:
            return Classification(ModelKind.UNKNOWN, Confidence.LOW, Source.HEADER, note)
        found = [replace(v, why=f"{v.why}; {note}") for v in found]
    if not found:
        return UNKNOWN
    for i, verdict in enumerate(found):
        if not verdict.sure:
            continue
        # A generic sure verdict may be narrowed by a later (lower) sure one.
        narrower = REFINEMENTS.get(verdict.kind, frozenset())
        for later in found[i + 1 :]:
            if later.sure and later.kind in narrower:
                return Classification(
                    later.kind,
                    later.confidence,
                    later.source,
                    f"{later.why} (refines {verdict.source.value}: {verdict.why})",
                    later.architecture or verdict.architecture,
                )
        return verdict
    return found[0]


# --- Header --------------------------------------------------------------------------------------


def classify_header(facts: HeaderFacts) -> Classification:
    """The kind a parsed header points to (UNKNOWN when it says nothing clear)."""
    if facts.format == "gguf":
        return _classify_gguf(facts)
    return _classify_safetensors(facts)


# llama.cpp architectures that are language models are too many to list; these are the GGUF
# ``general.architecture`` values that are *not* (city96 diffusion GGUFs, encoders, projectors).
_GGUF_DIFFUSION_ARCHS = frozenset(
    {
        "flux", "sd1", "sd2", "sdxl", "sd3", "aura", "ltxv", "hyvid", "wan", "cosmos",
        "lumina2", "hidream", "chroma", "qwen_image", "hunyuan", "stable-diffusion",
    }
)  # fmt: skip
_GGUF_ENCODER_ARCHS = frozenset({"t5encoder", "clip_l", "clip_g", "umt5"})


def _classify_gguf(facts: HeaderFacts) -> Classification:
    meta = facts.metadata
    arch = _str(meta.get("general.architecture"))
    gtype = (_str(meta.get("general.type")) or "").lower()
    hdr = Source.HEADER
    high, med = Confidence.HIGH, Confidence.MEDIUM
    if gtype == "adapter" or "adapter.type" in meta:
        what = _str(meta.get("adapter.type")) or "adapter"
        return Classification(
            ModelKind.ADAPTER, high, hdr, f"GGUF general.type=adapter ({what})", arch
        )
    if "controlvector.model_hint" in meta or arch == "controlvector":
        return Classification(ModelKind.ADAPTER, high, hdr, "GGUF control vector", arch)
    if gtype in ("mmproj", "projector"):
        return Classification(ModelKind.PROJECTOR, high, hdr, f"GGUF general.type={gtype}", arch)
    if arch == "clip" and any(k.startswith("clip.has_") for k in meta):
        return Classification(ModelKind.PROJECTOR, high, hdr, "GGUF clip projector", arch)
    if arch == "clip":
        return Classification(ModelKind.PROJECTOR, med, hdr, "GGUF architecture=clip", arch)
    if gtype == "imatrix":
        return Classification(ModelKind.UNKNOWN, high, hdr, "GGUF importance matrix (not a model)")
    names = facts.tensor_names
    if arch in _GGUF_DIFFUSION_ARCHS or _has_prefix(names, "model.diffusion_model."):
        return Classification(
            ModelKind.DIFFUSION_MODEL,
            high,
            hdr,
            f"GGUF diffusion model ({arch or 'unet keys'})",
            arch,
        )
    st = _classify_tensor_names(names)
    if st.kind is not ModelKind.UNKNOWN and st.kind is not ModelKind.TRANSFORMERS:
        return Classification(st.kind, med, hdr, f"GGUF with {st.why}", arch)
    if arch in _GGUF_ENCODER_ARCHS:
        return Classification(ModelKind.TEXT_ENCODER, med, hdr, f"GGUF architecture={arch}", arch)
    if (
        arch
        and any(k.endswith(".vision.block_count") for k in meta)
        and not any(k == f"{arch}.block_count" for k in meta)
    ):
        return Classification(ModelKind.PROJECTOR, med, hdr, "GGUF vision encoder only", arch)
    if arch:
        return Classification(ModelKind.LLM, high, hdr, f"GGUF architecture={arch}", arch)
    return Classification(
        ModelKind.UNKNOWN, Confidence.LOW, hdr, "GGUF without general.architecture"
    )


def _classify_safetensors(facts: HeaderFacts) -> Classification:
    meta = {k: v for k, v in facts.metadata.items() if isinstance(v, str)}
    hdr = Source.HEADER
    spec = meta.get("modelspec.architecture", "")
    module = meta.get("ss_network_module", "")
    if spec.endswith("/textual-inversion"):
        return Classification(ModelKind.EMBEDDING, Confidence.HIGH, hdr, f"modelspec {spec}")
    named = _classify_tensor_names(facts.tensor_names)
    loose = named.kind in (ModelKind.LORA, ModelKind.UNKNOWN)
    if loose and (module or spec.endswith("/lora")):
        why = f"ss_network_module={module}" if module else f"modelspec {spec}"
        base = meta.get("ss_base_model_version") or (spec.split("/")[0] if spec else None)
        return Classification(ModelKind.LORA, Confidence.HIGH, hdr, why, base or None)
    return named


def _classify_tensor_names(names: Sequence[str]) -> Classification:
    """The kind a set of tensor names points to, by the key conventions apps use."""
    hdr, high, med, low = Source.HEADER, Confidence.HIGH, Confidence.MEDIUM, Confidence.LOW
    if not names:
        return Classification(ModelKind.UNKNOWN, low, hdr, "no tensors")
    n = len(names)
    lora = sum(1 for k in names if _is_lora_key(k))
    if lora and lora * 2 >= n:
        if any(k.startswith("base_model.model.") for k in names) and _llm_like(names):
            return Classification(ModelKind.ADAPTER, med, hdr, "PEFT LoRA on a language model")
        if any(k.startswith("lora_controlnet") for k in names):
            return Classification(ModelKind.CONTROLNET, high, hdr, "control-LoRA keys")
        return Classification(ModelKind.LORA, high, hdr, f"{lora} of {n} tensors are LoRA weights")
    unet = _count_prefix(names, "model.diffusion_model.")
    if unet:
        vae = _has_prefix(names, "first_stage_model.")
        te = _has_prefix(names, "cond_stage_model.", "conditioner.embedders.", "text_encoders.")
        family = _family(names, "model.diffusion_model.")
        if vae or te:
            parts = " + ".join(p for p, ok in (("VAE", vae), ("text encoder", te)) if ok)
            return Classification(ModelKind.CHECKPOINT, high, hdr, f"UNet + {parts}", family)
        return Classification(
            ModelKind.DIFFUSION_MODEL,
            med,
            hdr,
            "model.diffusion_model.* only (no VAE/encoder)",
            family,
        )
    if _has_prefix(names, "control_model.", "controlnet_cond_embedding.", "lora_controlnet") or (
        _has_prefix(names, "controlnet_blocks.") or _has_sub(names, "input_hint_block.")
    ):
        return Classification(ModelKind.CONTROLNET, high, hdr, "ControlNet keys")
    if n <= 8 and (
        set(names) & {"emb_params", "clip_l", "clip_g"} or _has_prefix(names, "string_to_param")
    ):
        return Classification(ModelKind.EMBEDDING, high, hdr, "textual-inversion keys")
    family = _family(names, "")
    if family is not None:
        return Classification(ModelKind.DIFFUSION_MODEL, high, hdr, f"bare {family} keys", family)
    if _has_prefix(names, "encoder.conv_in.", "decoder.conv_in.", "first_stage_model.decoder."):
        return Classification(ModelKind.VAE, high, hdr, "VAE encoder/decoder keys only")
    if _has_prefix(names, "text_model.encoder.", "encoder.block.", "text_projection", "shared."):
        arch = "t5" if _has_prefix(names, "encoder.block.") else "clip"
        return Classification(ModelKind.TEXT_ENCODER, high, hdr, f"{arch} text encoder keys", arch)
    if _has_sub(names, "RRDB_trunk.", ".rdb1.", "conv_up1.", "upconv1.") or (
        _has_prefix(names, "model.0.weight") and _has_sub(names, ".sub.")
    ):
        return Classification(ModelKind.UPSCALER, med, hdr, "ESRGAN-style keys")
    if _llm_like(names):
        return Classification(ModelKind.TRANSFORMERS, med, hdr, "transformers decoder layers")
    if lora:
        return Classification(
            ModelKind.UNKNOWN, low, hdr, "a few LoRA-like keys, nothing else known"
        )
    return Classification(ModelKind.UNKNOWN, low, hdr, "no known key layout")


_LORA_SUFFIXES = (
    ".lora_up.weight", ".lora_down.weight", ".lora_A.weight", ".lora_B.weight", "_lora.up.weight",
    "_lora.down.weight", ".lora.up.weight", ".lora.down.weight", ".lora_linear_layer.up.weight",
    ".lora_linear_layer.down.weight", ".alpha", ".lora_mid.weight", ".dora_scale",
)  # fmt: skip
_LORA_PREFIXES = ("lora_unet_", "lora_te_", "lora_te1_", "lora_te2_", "lora_transformer_")
_LYCORIS = (".hada_w1_a", ".hada_w1_b", ".hada_w2_a", ".hada_w2_b", ".lokr_w1", ".lokr_w2")


def _is_lora_key(key: str) -> bool:
    return (
        key.startswith(_LORA_PREFIXES)
        or key.endswith(_LORA_SUFFIXES)
        or any(s in key for s in _LYCORIS)
    )


def _llm_like(names: Sequence[str]) -> bool:
    return _has_sub(names, "layers.0.self_attn.", "layers.0.mlp.", "h.0.attn.", "embed_tokens.")


def _family(names: Sequence[str], prefix: str) -> str | None:
    """The diffusion-model family from bare keys (after ``prefix``), or None if not one."""

    def has(*subs: str) -> bool:
        return all(any(k.startswith(prefix + s) for k in names) for s in subs)

    if has("double_blocks.", "img_in."):
        return "flux"
    if has("joint_blocks."):
        return "sd3"
    if has("input_blocks.", "middle_block."):
        # SDXL has label_emb (the pooled-text/size embedding); SD1/2 do not.
        return "sdxl" if has("label_emb.") else "sd"
    if has("down_blocks.", "time_embedding.", "conv_in."):
        return "unet (diffusers)"
    if has("transformer_blocks.") and (
        has("x_embedder") or has("time_text_embed.") or has("pos_embed")
    ):
        return "dit (diffusers)"
    if has("patch_embedding.", "blocks.0.self_attn."):
        return "wan"
    return None


def _has_prefix(names: Iterable[str], *prefixes: str) -> bool:
    return any(k.startswith(prefixes) for k in names)


def _count_prefix(names: Iterable[str], prefix: str) -> int:
    return sum(1 for k in names if k.startswith(prefix))


def _has_sub(names: Iterable[str], *subs: str) -> bool:
    return any(s in k for k in names for s in subs)


def _str(value: MetaValue | None) -> str | None:
    return value if isinstance(value, str) and value else None


# --- Repo metadata -------------------------------------------------------------------------------

# Folders of a diffusers pipeline and the kind of the component inside.
_DIFFUSERS_PARTS = {
    "unet": ModelKind.DIFFUSION_MODEL,
    "transformer": ModelKind.DIFFUSION_MODEL,
    "vae": ModelKind.VAE,
    "text_encoder": ModelKind.TEXT_ENCODER,
    "text_encoder_2": ModelKind.TEXT_ENCODER,
    "text_encoder_3": ModelKind.TEXT_ENCODER,
    "controlnet": ModelKind.CONTROLNET,
}


def classify_repo(repo: RepoFacts) -> Classification:
    """The kind of a whole repo, when it is used as a unit (diffusers, transformers, PEFT).

    UNKNOWN means "no whole-repo layout": its files are used one by one (GGUFs, checkpoints).
    """
    top = {p for p in repo.files if "/" not in p}
    src, high = Source.REPO, Confidence.HIGH
    if "model_index.json" in top:
        return Classification(
            ModelKind.DIFFUSERS, high, src, "model_index.json (diffusers pipeline)"
        )
    if "adapter_config.json" in top and any(p.startswith("adapter_model.") for p in top):
        return Classification(ModelKind.ADAPTER, high, src, "adapter_config.json (PEFT adapter)")
    weights = any(p.endswith((".safetensors", ".bin")) for p in top)
    if "config.json" in top and weights and not any(p.endswith(".gguf") for p in repo.files):
        return Classification(ModelKind.TRANSFORMERS, high, src, "config.json + weights")
    return Classification(ModelKind.UNKNOWN, Confidence.LOW, src, "files are used one by one")


def classify_from_repo(path: str, repo: RepoFacts) -> Classification:
    """What the repo's metadata says one of its files is."""
    src, med, low = Source.REPO, Confidence.MEDIUM, Confidence.LOW
    p = PurePosixPath(path)
    suffix = p.suffix.lower()
    top = {f for f in repo.files if "/" not in f}
    tags = {t.lower() for t in repo.tags}
    library = (repo.library_name or "").lower()
    pipeline = (repo.pipeline_tag or "").lower()
    if "model_index.json" in top and len(p.parts) > 1 and p.parts[0] in _DIFFUSERS_PARTS:
        kind = _DIFFUSERS_PARTS[p.parts[0]]
        return Classification(kind, Confidence.HIGH, src, f"{p.parts[0]}/ of a diffusers pipeline")
    if suffix == ".gguf":
        if "mmproj" in p.name.lower():
            return Classification(ModelKind.PROJECTOR, med, src, "mmproj file of a GGUF repo")
        if "lora" in tags or library == "peft":
            return Classification(ModelKind.ADAPTER, low, src, "GGUF in a LoRA/PEFT repo")
        if pipeline in ("text-generation", "image-text-to-text", "") or library == "gguf":
            return Classification(ModelKind.LLM, med, src, "GGUF in a text-generation repo")
    if suffix not in (".safetensors", ".ckpt", ".pt", ".pth", ".bin"):
        return Classification(ModelKind.UNKNOWN, low, src, "not a weights file")
    adapter = any(t.startswith("base_model:adapter:") for t in tags)
    if "lora" in tags or adapter:
        if library == "peft" or pipeline in ("text-generation", "image-text-to-text"):
            return Classification(ModelKind.ADAPTER, med, src, "LoRA repo for a language model")
        return Classification(ModelKind.LORA, med, src, "repo tagged lora")
    if "controlnet" in tags or "controlnet" in library:
        return Classification(ModelKind.CONTROLNET, med, src, "repo tagged controlnet")
    if "textual_inversion" in tags or "textual-inversion" in tags:
        return Classification(ModelKind.EMBEDDING, med, src, "repo tagged textual-inversion")
    whole = classify_repo(repo)
    if whole.kind is ModelKind.TRANSFORMERS and p.name.startswith(("model", "pytorch_model")):
        return Classification(ModelKind.TRANSFORMERS, med, src, "weights of a transformers repo")
    weights = [f for f in top if f.lower().endswith((".safetensors", ".ckpt"))]
    if pipeline == "text-to-image" and len(weights) == 1 and path in weights:
        return Classification(
            ModelKind.CHECKPOINT, low, src, "only weights of a text-to-image repo"
        )
    return Classification(ModelKind.UNKNOWN, low, src, "repo metadata does not say")


# --- Name ----------------------------------------------------------------------------------------

# ComfyUI / A1111 folder names (also used in repos such as Comfy-Org's ``split_files/vae/``).
_FOLDERS = {
    "checkpoints": ModelKind.CHECKPOINT,
    "stable-diffusion": ModelKind.CHECKPOINT,
    "diffusion_models": ModelKind.DIFFUSION_MODEL,
    "unet": ModelKind.DIFFUSION_MODEL,
    "loras": ModelKind.LORA,
    "lora": ModelKind.LORA,
    "lycoris": ModelKind.LORA,
    "vae": ModelKind.VAE,
    "text_encoders": ModelKind.TEXT_ENCODER,
    "clip": ModelKind.TEXT_ENCODER,
    "controlnet": ModelKind.CONTROLNET,
    "upscale_models": ModelKind.UPSCALER,
    "esrgan": ModelKind.UPSCALER,
    "embeddings": ModelKind.EMBEDDING,
}
# Words in a file name, checked in order (the first match wins).
_WORDS: tuple[tuple[re.Pattern[str], ModelKind], ...] = tuple(
    (re.compile(rx), kind)
    for rx, kind in (
        (r"controlnet|control[-_]|t2i[-_]adapter", ModelKind.CONTROLNET),
        (r"lora|lycoris|locon|loha|lokr", ModelKind.LORA),
        (r"(^|[^a-z])vae([^a-z]|$)|^ae\.", ModelKind.VAE),
        (r"esrgan|swinir|(^|[^a-z0-9])[248]x[-_]|[-_]x[248]([^0-9]|$)|upscal", ModelKind.UPSCALER),
        (r"t5xxl|umt5|clip[-_]?[lg]([^a-z]|$)|text[-_]?encoder", ModelKind.TEXT_ENCODER),
        (r"embedding|textual[-_]inversion", ModelKind.EMBEDDING),
    )
)


def classify_name(path: str) -> Classification:
    """What a file's name and folders suggest (never more than MEDIUM)."""
    src, med, low = Source.NAME, Confidence.MEDIUM, Confidence.LOW
    p = PurePosixPath(path)
    name = p.name.lower()
    suffix = p.suffix.lower()
    if suffix == ".gguf":
        # llama.cpp's router mode expects projectors named mmproj*: a convention apps rely on.
        if "mmproj" in name:
            return Classification(ModelKind.PROJECTOR, med, src, f"name {p.name!r}")
        if re.search(r"lora|adapter|control[-_]?vector", name):
            return Classification(ModelKind.ADAPTER, low, src, f"name {p.name!r}")
        return Classification(ModelKind.LLM, low, src, "a .gguf file")
    for rx, kind in _WORDS:
        if rx.search(name):
            return Classification(kind, med, src, f"name {p.name!r}")
    for folder in reversed(p.parts[:-1]):
        in_folder = _FOLDERS.get(folder.lower())
        if in_folder is not None:
            return Classification(in_folder, med, src, f"in a {folder}/ folder")
    if suffix in (".safetensors", ".ckpt"):
        return Classification(ModelKind.CHECKPOINT, low, src, f"a {suffix} file")
    if suffix == ".pth":
        return Classification(ModelKind.UPSCALER, low, src, "a .pth file")
    return Classification(ModelKind.UNKNOWN, low, src, "name says nothing")


# --- Split files and projectors ------------------------------------------------------------------

# llama.cpp / transformers shard names: ``<stem>-00001-of-00003.gguf``.
_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.(?P<ext>gguf|safetensors)$")


@dataclass(frozen=True)
class SplitName:
    """A shard's place in its set: ``index`` counts from 1 like the file name."""

    stem: str
    index: int
    count: int
    ext: str


def parse_split_name(name: str) -> SplitName | None:
    """``model-00002-of-00003.gguf`` -> SplitName('model', 2, 3, 'gguf'); None if not a shard."""
    m = _SPLIT.match(PurePosixPath(name).name)
    if m is None:
        return None
    index, count = int(m["no"]), int(m["count"])
    if not 1 <= index <= count:
        return None
    return SplitName(m["stem"], index, count, m["ext"])


@dataclass(frozen=True)
class FileGroup:
    """Files used together: a model (one file or all its shards) and its GGUF projectors."""

    #: The file apps are pointed at: the single file, or shard 1 (llama.cpp loads the rest).
    main: str
    #: Every shard present, in order (just ``(main,)`` for a single file).
    shards: tuple[str, ...]
    #: mmproj projectors in the same folder (shared by every quantization there).
    projectors: tuple[str, ...] = ()
    #: Shard numbers the set lacks (an unfinished or partial download).
    missing: tuple[int, ...] = ()

    @property
    def complete(self) -> bool:
        """True when no shard is missing."""
        return not self.missing


def group_model_files(paths: Iterable[str]) -> tuple[FileGroup, ...]:
    """Group weight files: shards of one set together, GGUF projectors with the models beside them.

    Files that are neither shards nor projectors are groups of one. A folder holding only
    projectors gives each its own group. Sorted by main path.
    """
    sets: dict[tuple[str, str, int, str], dict[int, str]] = {}
    singles: list[str] = []
    projectors: dict[str, list[str]] = {}
    for path in dict.fromkeys(paths):
        p = PurePosixPath(path)
        split = parse_split_name(path)
        if p.suffix.lower() == ".gguf" and "mmproj" in p.name.lower() and split is None:
            projectors.setdefault(str(p.parent), []).append(path)
        elif split is not None:
            key = (str(p.parent), split.stem, split.count, split.ext)
            sets.setdefault(key, {})[split.index] = path
        else:
            singles.append(path)
    groups: list[FileGroup] = []
    used_dirs: set[str] = set()

    def projs(folder: str, path: str) -> tuple[str, ...]:
        if not path.lower().endswith(".gguf"):
            return ()
        used_dirs.add(folder)
        return tuple(sorted(projectors.get(folder, ())))

    for path in singles:
        groups.append(FileGroup(path, (path,), projs(str(PurePosixPath(path).parent), path)))
    for (folder, _stem, count, _ext), shards in sets.items():
        ordered = tuple(shards[i] for i in sorted(shards))
        missing = tuple(i for i in range(1, count + 1) if i not in shards)
        main = shards.get(1, ordered[0])
        groups.append(FileGroup(main, ordered, projs(folder, main), missing))
    for folder, files in projectors.items():
        if folder not in used_dirs:
            groups.extend(FileGroup(f, (f,)) for f in sorted(files))
    return tuple(sorted(groups, key=lambda g: g.main))
