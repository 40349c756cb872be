"""Models a catalog app suggests from its own docs: what to download first, and what it needs.

Each entry names a Hub repo and the file (or files) in it an app can use, the download size, the
memory needed to run it and the kind of model it is. Validated like the rest of the catalog, so a
bad entry becomes a located ``CatalogIssue``.

Units: ``size_gb`` is the download in decimal gigabytes (10^9 bytes), as the Hub lists files;
``min_memory_gb`` is memory in GiB (2^30 bytes), as GPU makers label cards ("an 8 GB card") and
as the hardware report measures VRAM and RAM.

Pure: no I/O, and no import of ``paitui.domain.models.records`` (which imports the catalog module).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from paitui.domain.models.records import UnsafePathError, check_repo_id, file_formats
from paitui.domain.units import spoken_number

#: The values of ``paitui.domain.models.kinds.ModelKind``, kept as strings here so the catalog
#: schema does not depend on the classifier module.
SuggestedKind = Literal[
    "llm",
    "checkpoint",
    "diffusion_model",
    "lora",
    "vae",
    "text_encoder",
    "controlnet",
    "upscaler",
    "embedding",
    "diffusers",
    "transformers",
    "projector",
    "adapter",
    "unknown",
]
#: Kinds used as a whole repo (diffusers pipelines, transformers models): no single ``file``.
WHOLE_REPO_KINDS: frozenset[str] = frozenset({"diffusers", "transformers"})

#: The largest download or memory figure taken as real; anything above is a typo (a size in MB).
MAX_GB = 1000.0
#: At most this many suggestions per app: a short list a newcomer can read.
MAX_SUGGESTIONS = 8
_MAX_NOTE = 160

# Glob characters allowed in ``file`` / ``files`` (fnmatch style).
_GLOB = re.compile(r"[*?\[]")


def _check_repo(repo: str) -> str:
    try:
        check_repo_id(repo)  # the store's own rule for repo ids
    except UnsafePathError:
        raise ValueError(f"not a Hugging Face repo id: {repo!r} (expected org/name)") from None
    if any(".." in p for p in repo.split("/")):
        raise ValueError(f"not a Hugging Face repo id: {repo!r} ('..' in a name)")
    return repo


def _check_path(path: str) -> str:
    """A file path or glob inside a repo: relative, no '..', no oddities."""
    bad = (
        not path
        or path != path.strip()
        or "\\" in path
        or "\x00" in path
        or "\n" in path
        or path.startswith("/")
        or re.match(r"^[A-Za-z]:", path) is not None
    )
    if bad or any(p in ("", ".", "..") for p in path.split("/")):
        raise ValueError(
            f"unsafe path in the repo: {path!r} (a relative path such as 'sub/model.gguf', "
            "without '..', a leading '/' or backslashes)"
        )
    return path


def _one_line(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise ValueError("write it on one line")
    return text


RepoId = Annotated[str, AfterValidator(_check_repo)]
RepoPath = Annotated[str, AfterValidator(_check_path)]
Gigabytes = Annotated[float, Field(gt=0, le=MAX_GB, allow_inf_nan=False)]


class SuggestedModel(BaseModel):
    """One model an app's docs suggest, with what it needs to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The Hub repo, ``org/name``.
    repo: RepoId
    #: The file the app is pointed at (a path or glob in the repo), for single-file models.
    file: RepoPath | None = None
    #: Globs of the files to fetch for a whole-repo model; empty = the whole repo.
    files: tuple[RepoPath, ...] = ()
    #: Download size in decimal GB (what the Hub lists).
    size_gb: Gigabytes
    #: Memory needed to run it, in GiB: VRAM for GPU variants, RAM for cpu ones. None = estimate.
    min_memory_gb: Gigabytes | None = None
    kind: SuggestedKind
    #: One line: what it is good for.
    note: Annotated[str, Field(min_length=1, max_length=_MAX_NOTE), AfterValidator(_one_line)]
    #: Where in the app's docs it is suggested (repo and path, or URL).
    source: Annotated[str, Field(min_length=1), AfterValidator(_one_line)]

    @field_validator("source", "note")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v

    @model_validator(mode="after")
    def _file_fits_kind(self) -> SuggestedModel:
        if self.file is not None and self.files:
            raise ValueError("give either 'file' (one file) or 'files' (globs of a repo), not both")
        if self.kind in WHOLE_REPO_KINDS and self.file is not None:
            raise ValueError(
                f"a {self.kind} model is used as a whole repo: list its files under 'files' "
                "(globs) or leave both out for the whole repo"
            )
        if self.kind not in WHOLE_REPO_KINDS and self.file is None:
            raise ValueError(f"a {self.kind} model is one file: name it in 'file'")
        return self

    @property
    def is_glob(self) -> bool:
        """True when ``file`` is a pattern to match against the repo's files."""
        return self.file is not None and _GLOB.search(self.file) is not None

    @property
    def size_bytes(self) -> int:
        """The download size in bytes."""
        return int(self.size_gb * 1e9)

    @property
    def label(self) -> str:
        """``org/name`` or ``org/name/file`` for lists."""
        return f"{self.repo}/{self.file}" if self.file else self.repo


def _unique(v: tuple[SuggestedModel, ...]) -> tuple[SuggestedModel, ...]:
    seen: set[tuple[str, str | None]] = set()
    for item in v:
        key = (item.repo, item.file)
        if key in seen:
            raise ValueError(f"{item.label} is suggested twice")
        seen.add(key)
    if len(v) > MAX_SUGGESTIONS:
        raise ValueError(f"at most {MAX_SUGGESTIONS} suggestions per app (got {len(v)})")
    return v


#: The ``suggested_models:`` list of an app.
SuggestedModels = Annotated[tuple[SuggestedModel, ...], AfterValidator(_unique)]


def suggestion_formats(model: SuggestedModel) -> tuple[str, ...]:
    """The catalog formats (``ModelsMount.formats`` values) a suggestion is in.

    A file's format comes from its suffix (as ``domain.models.file_formats``); whole repos are
    ``diffusers`` or ``hf-repo``.
    """
    if model.kind == "diffusers":
        return ("diffusers",)
    if model.kind == "transformers":
        return ("hf-repo",)
    return file_formats(model.file or "")


def fits_formats(model: SuggestedModel, formats: tuple[str, ...]) -> bool:
    """Whether an app reading ``formats`` can use the suggestion (Ollama imports GGUF too)."""
    return bool(set(suggestion_formats(model)) & set(formats))


#: ``6.5`` -> ``"6.5"``, ``8.0`` -> ``"8"``: sizes as people say them (``domain.units``).
gb_text = spoken_number
