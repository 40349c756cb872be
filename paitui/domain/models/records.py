"""Model files from the Hugging Face Hub: search results, repo files, downloads and the local store.

Plain frozen data and pure functions, no I/O: the hub service, the download manager, the CLI and
the Models screen share these shapes. ``store_path`` is the one place that turns names coming from
the hub into paths under the store, so a hostile file name can never escape it.
"""

from __future__ import annotations

import email.utils
import os.path
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath

from paitui.domain.models.kinds import FileGroup, RepoFacts, group_model_files
from paitui.domain.units import format_size

#: The store's index of installed files, at the top of the models dir.
INDEX_NAME = ".paitui-index.json"
#: Where a library file lives: paitui's store, or the user's Hugging Face cache (read-only).
ORIGIN_STORE = "store"
ORIGIN_HF_CACHE = "hf-cache"
#: Partial downloads and their metadata live here, inside the store (same file system, so the
#: finished file can be renamed into place atomically).
PARTIAL_DIR = ".partial"

# Hub repo ids are "<org>/<name>"; the hub allows letters, digits, '-', '_' and '.'.
_REPO_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


class DownloadState(StrEnum):
    """Where one file download stands."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True once nothing more happens without the user asking."""
        return self in (DownloadState.DONE, DownloadState.FAILED, DownloadState.CANCELLED)


@dataclass(frozen=True)
class ModelSearchResult:
    """One repo as a hub search lists it."""

    repo_id: str
    downloads: int = 0
    likes: int = 0
    tags: tuple[str, ...] = ()
    pipeline_tag: str | None = None
    library: str | None = None
    gated: bool = False
    #: Bytes of all files in the repo, when the hub says.
    size: int | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class RepoFile:
    """One file of a repo at one commit."""

    path: str
    size: int | None = None
    #: The git blob id (sha1 of ``blob <size>\\0<content>``); the ETag of a non-LFS file.
    blob_id: str | None = None
    #: The content's sha256 for LFS files (the LFS oid).
    sha256: str | None = None

    @property
    def lfs(self) -> bool:
        """True for files stored in LFS (large files: weights)."""
        return self.sha256 is not None

    @property
    def name(self) -> str:
        """The last path component."""
        return PurePosixPath(self.path).name


@dataclass(frozen=True)
class RepoInfo:
    """A repo at one commit with every file's size and checksum."""

    repo_id: str
    commit: str
    files: tuple[RepoFile, ...] = ()
    gated: bool = False
    private: bool = False
    tags: tuple[str, ...] = ()
    downloads: int = 0
    likes: int = 0
    #: File names the hub listed that are unsafe as paths (``../x``, ``/etc/x``): left out of
    #: ``files``, kept here so the user can be warned.
    skipped: tuple[str, ...] = ()
    library_name: str | None = None
    pipeline_tag: str | None = None

    @property
    def total_size(self) -> int:
        """Bytes of all files whose size is known."""
        return sum(f.size or 0 for f in self.files)

    def file(self, path: str) -> RepoFile | None:
        """The file at ``path``, if the repo has one."""
        return next((f for f in self.files if f.path == path), None)


def repo_facts(info: RepoInfo) -> RepoFacts:
    """What the Hub said about a repo, as the kind classifier (``model_kinds``) takes it."""
    return RepoFacts(
        library_name=info.library_name,
        pipeline_tag=info.pipeline_tag,
        tags=info.tags,
        files=tuple(f.path for f in info.files),
    )


@dataclass(frozen=True)
class Download:
    """A snapshot of one file download, as the queue shows it."""

    id: str
    repo_id: str
    file: RepoFile
    revision: str
    state: DownloadState = DownloadState.QUEUED
    bytes_done: int = 0
    #: Expected size; None when the hub did not say.
    bytes_total: int | None = None
    #: Bytes per second, smoothed.
    speed: float = 0.0
    error: str | None = None
    #: Where the finished file is (or will be).
    target: str = ""
    #: Bytes this run continued from an earlier partial (resume), for display and tests.
    resumed_from: int = 0

    @property
    def fraction(self) -> float | None:
        """0..1 progress when the size is known."""
        if not self.bytes_total:
            return None
        return min(1.0, self.bytes_done / self.bytes_total)

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the current speed, when both are known."""
        if self.bytes_total is None or self.speed <= 0:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) / self.speed)


@dataclass(frozen=True)
class InstalledModel:
    """One verified file in the store, as the index records it."""

    repo_id: str
    path: str  # path inside the repo
    store_path: str  # absolute path on disk
    size: int
    sha256: str
    revision: str
    date: str  # ISO 8601 UTC, when it was installed
    formats: tuple[str, ...] = ()
    #: Its type (``model_kinds.ModelKind`` value) as decided at install, how, and why; empty for
    #: entries older than kinds in the index (then the header decides, see ``model_library``).
    kind: str = ""
    kind_source: str = ""
    kind_why: str = ""
    #: The type the user chose (overrides ``kind``), empty when automatic.
    user_kind: str = ""
    #: ``store`` (paitui's own, writable by paitui) or ``hf-cache`` (the user's Hugging Face
    #: cache, read-only: ``store_path`` is then the cache's snapshot entry).
    origin: str = "store"

    @property
    def read_only(self) -> bool:
        """True for files paitui must never delete or move (the user's HF cache)."""
        return self.origin == ORIGIN_HF_CACHE

    @property
    def effective_kind(self) -> str:
        """The user's choice, else the recorded kind (``unknown`` when neither)."""
        return self.user_kind or self.kind or "unknown"


@dataclass(frozen=True)
class RepoUsage:
    """Disk use of one repo's installed files."""

    repo_id: str
    files: tuple[InstalledModel, ...] = field(default_factory=tuple)

    @property
    def size(self) -> int:
        """Bytes of all installed files of the repo."""
        return sum(f.size for f in self.files)


class UnsafePathError(ValueError):
    """A repo id or file name from the hub that would land outside the store."""


def check_repo_id(repo_id: str) -> tuple[str, str]:
    """Split ``org/name`` after checking both parts are plain names; UnsafePathError otherwise."""
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_REPO_PART.match(p) for p in parts):
        raise UnsafePathError(f"not a valid repo id: {repo_id!r} (expected org/name)")
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        raise UnsafePathError(f"not a valid repo id: {repo_id!r}")
    return parts[0], parts[1]


# Control characters (C0, DEL, C1): legal in Linux names, but they can rewrite a terminal line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: The longest name one path component may have on common file systems (bytes).
NAME_MAX = 255


def check_file_path(name: str) -> PurePosixPath:
    """A hub file name as a safe relative path: not absolute, no ``..``, no oddities."""
    if not name or "\\" in name or _CONTROL.search(name) or name.startswith("/"):
        raise UnsafePathError(f"unsafe file name from the hub: {name!r}")
    parts = name.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UnsafePathError(f"unsafe file name from the hub: {name!r}")
    # A part too long for the file system, with the .part suffix a download adds.
    if any(len(p.encode("utf-8", "surrogateescape")) + len(".part.json") > NAME_MAX for p in parts):
        raise UnsafePathError(f"unsafe file name from the hub (too long): {name[:60]!r}…")
    if re.match(r"^[A-Za-z]:", name):  # a Windows drive letter
        raise UnsafePathError(f"unsafe file name from the hub: {name!r}")
    return PurePosixPath(*parts)


def store_path(store: Path, repo_id: str, name: str) -> Path:
    """Where ``name`` of ``repo_id`` lives in the store: ``<store>/<org>/<repo>/<name>``.

    Lexical checks plus a final containment check on the normalised path, so nothing from the hub
    can point outside the store (symlinks inside the store are the user's own business).
    """
    org, repo = check_repo_id(repo_id)
    rel = check_file_path(name)
    root = Path(store).absolute()
    target = root.joinpath(org, repo, *rel.parts)
    if not os.path.normpath(target).startswith(os.path.normpath(root) + os.sep):
        raise UnsafePathError(f"{repo_id}/{name} would be outside the store")
    return target


def split_safe_files(files: Iterable[RepoFile]) -> tuple[tuple[RepoFile, ...], tuple[str, ...]]:
    """The files whose names are safe paths, and the names of those that are not."""
    safe: list[RepoFile] = []
    unsafe: list[str] = []
    for f in files:
        try:
            check_file_path(f.path)
        except UnsafePathError:
            unsafe.append(f.path)
        else:
            safe.append(f)
    return tuple(safe), tuple(unsafe)


def partial_path(store: Path, repo_id: str, name: str) -> Path:
    """Where the unfinished data of a file lives: ``<store>/.partial/<org>/<repo>/<name>.part``."""
    org, repo = check_repo_id(repo_id)
    rel = check_file_path(name)
    base = Path(store).absolute().joinpath(PARTIAL_DIR, org, repo, *rel.parts[:-1])
    return base / (rel.name + ".part")


# --- Retrying transient hub errors -------------------------------------------------------------

#: HTTP statuses worth retrying: timeout, rate limit, server errors.
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep retrying a transient failure: bounded by a count and by a deadline.

    The wait doubles from ``base`` up to ``cap``; a server's ``Retry-After`` is honoured when it
    asks for longer, up to ``max_retry_after`` (a longer wait is not retried: the caller says so).
    """

    attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    #: Seconds of retrying (without progress) after which to give up.
    deadline: float = 300.0
    max_retry_after: float = 120.0

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``failures`` (1 for the first retry)."""
        wait: float = min(self.cap, self.base * 2.0 ** max(0, failures - 1))
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait

    def gives_up(
        self, failures: int, elapsed: float, wait: float, retry_after: float | None = None
    ) -> str | None:
        """Why not to retry once more (``None`` to go on): too many tries, past the deadline."""
        if retry_after is not None and retry_after > self.max_retry_after:
            return f"the hub asks to wait {retry_after:.0f}s"
        if failures > self.attempts:
            return f"{failures} failures in a row"
        if elapsed + wait > self.deadline:
            return f"still failing after {elapsed:.0f}s"
        return None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date); None if absent.

    ``now`` is the current Unix time, for the date form. Fractions are accepted (lenient).
    """
    if not value:
        return None
    text = value.strip()
    if re.fullmatch(r"\d{1,9}(\.\d+)?", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


# --- Formats and which apps can use them ---------------------------------------------------------

_SUFFIX_FORMATS = {
    ".gguf": "gguf",
    ".safetensors": "safetensors",
    ".ckpt": "ckpt",
    ".pt": "ckpt",
    ".pth": "ckpt",
}


def file_formats(path: str) -> tuple[str, ...]:
    """Formats one model file is in, from its name (``model.Q4_K_M.gguf`` -> ``("gguf",)``)."""
    suffix = PurePosixPath(path).suffix.lower()
    fmt = _SUFFIX_FORMATS.get(suffix)
    return (fmt,) if fmt else ()


def repo_formats(paths: Iterable[str]) -> tuple[str, ...]:
    """Formats a set of files from one repo offers, including whole-repo layouts.

    ``model_index.json`` marks a diffusers pipeline; ``config.json`` with weights marks a
    transformers repo loadable by its id (``hf-repo``: vLLM, ai-runner).
    """
    names = list(paths)
    found: list[str] = []
    for name in names:
        for fmt in file_formats(name):
            if fmt not in found:
                found.append(fmt)
    basenames = {PurePosixPath(n).name for n in names}
    top = {n for n in names if "/" not in n}
    # pytorch_model.bin is weights too, but no checkpoint an image UI loads: only for hf-repo.
    has_weights = any(f in found for f in ("safetensors", "ckpt")) or any(
        n.endswith(".bin") for n in names
    )
    if "model_index.json" in top:
        found.append("diffusers")
    if "config.json" in basenames and has_weights and "model_index.json" not in top:
        found.append("hf-repo")
    return tuple(found)


#: Kinds an app reads as single files, by the format it reads them in. GGUF readers load LLMs
#: and the projectors and adapters that go with them; image apps load the image kinds.
#: A GGUF of a diffusion model or text encoder (ComfyUI-GGUF) is read by no catalog app.
_FILE_KINDS: dict[str, frozenset[str]] = {
    "gguf": frozenset({"llm", "projector", "adapter"}),
    "safetensors": frozenset(
        {"checkpoint", "diffusion_model", "lora", "vae", "text_encoder", "controlnet"}
        | {"upscaler", "embedding"}
    ),
}
_FILE_KINDS["ckpt"] = _FILE_KINDS["safetensors"]


def kind_is_read(kind: str | None, fmt: str) -> bool:
    """Whether a file of ``kind`` in ``fmt`` is something apps load on its own.

    An unknown kind is not held against the file (the format decides): nothing says it is not.
    """
    if not kind or kind == "unknown":
        return True
    return kind in _FILE_KINDS.get(fmt, frozenset())


def group_by_repo(installed: Iterable[InstalledModel]) -> tuple[RepoUsage, ...]:
    """Installed files grouped per repo, largest first."""
    repos: dict[str, list[InstalledModel]] = {}
    for item in installed:
        repos.setdefault(item.repo_id, []).append(item)
    usage = [RepoUsage(r, tuple(sorted(fs, key=lambda f: f.path))) for r, fs in repos.items()]
    return tuple(sorted(usage, key=lambda u: (-u.size, u.repo_id)))


def vram_fit(file_size: int | None, vram: int | None) -> str | None:
    """Whether a model file fits in VRAM: "fits", "tight", "too big", or None if unknown.

    Weights plus context and activations need headroom; 85% of VRAM for the weights is a fair line
    between "fits" and "tight" for GGUF inference.
    """
    if file_size is None or not vram:
        return None
    if file_size <= vram * 0.85:
        return "fits"
    if file_size <= vram:
        return "tight"
    return "too big"


#: Bytes as a short readable size (``1.5 GB``); ``?`` when unknown (``domain.units``).
human_size = format_size


# --- Naming a model on the command line ---------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """``REPO[:FILE]`` as ``paitui start --model`` takes it; FILE may be a shell glob."""

    repo_id: str
    pattern: str | None = None


def parse_model_spec(text: str) -> ModelSpec | None:
    """``org/name:file`` or ``org/name`` as a spec; None for anything else (a path in the store).

    ``org/name.gguf`` is a path: a repo named like a model file is written ``org/name.gguf:``.
    UnsafePathError for ``x:y`` whose repo part is no repo id (it would be no path either).
    """
    repo, colon, pattern = text.partition(":")
    if colon:
        check_repo_id(repo)
        return ModelSpec(repo, pattern or None)
    if file_formats(text):
        return None
    try:
        check_repo_id(text)
    except UnsafePathError:
        return None
    return ModelSpec(text)


class ModelChoiceError(ValueError):
    """No single model of a repo fits what was asked; the message lists what there is."""


def _matches(path: str, pattern: str | None) -> bool:
    import fnmatch

    return pattern is None or path == pattern or fnmatch.fnmatchcase(path, pattern)


def choose_model(
    sizes: Mapping[str, int | None], formats: Iterable[str], spec: ModelSpec
) -> FileGroup:
    """The one model (a file, or all its shards) of a repo that ``spec`` names among files in
    ``formats``; ModelChoiceError listing the candidates when none or several match.

    Several matches are an error, not a guess: a GGUF repo holds a dozen quantizations and which
    one is right (quality against memory) is the user's call; the error names each with its size
    so the next command is a copy away. A pattern naming any shard of a split model means the set.
    """
    wanted = {f.lower() for f in formats}
    usable = sorted(p for p in sizes if wanted.intersection(file_formats(p)))
    groups = [
        g for g in group_model_files(usable)
        if not (len(g.shards) == 1 and "mmproj" in PurePosixPath(g.main).name.lower())
    ]  # fmt: skip
    found = [g for g in groups if any(_matches(s, spec.pattern) for s in g.shards)]
    if len(found) == 1:
        return found[0]

    def size(g: FileGroup) -> str:
        known = [sizes.get(s) for s in g.shards]
        total = sum(s or 0 for s in known) if all(s is not None for s in known) else None
        return human_size(total)

    listing = ", ".join(f"{g.main} ({size(g)})" for g in (found or groups)[:20]) or "none"
    kinds = "/".join(sorted(wanted)) or "model"
    if not found:
        what = f"no {kinds} file of {spec.repo_id}"
        what += f" matches {spec.pattern!r}" if spec.pattern else ""
        raise ModelChoiceError(f"{what} (files: {listing})")
    raise ModelChoiceError(
        f"{len(found)} {kinds} models in {spec.repo_id}"
        + (f" match {spec.pattern!r}" if spec.pattern else "")
        + f": {listing}; name one: --model {spec.repo_id}:FILE"
    )
