"""The library: the store's files and the user's Hugging Face cache, each with its type and apps.

One listing for ``paitui models ls``, the Models screen and the views. Store files carry the kind
decided at install (``store.record``); entries older than that, and files of the HF cache, are
classified here from their own header and name (and, for the cache, the repo's other files),
once per file version. The user's choice overrides either.

The HF cache is read, never written (``hf_cache.scan_hub_cache``); of each cached repo the
revision ``refs/main`` names is listed (else the newest snapshot), as huggingface_hub would load.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from paitui.domain.catalog.model_apps import apps_for_file
from paitui.domain.catalog.schema import Catalog
from paitui.domain.models.kinds import ModelKind, RepoFacts, Source, classify
from paitui.domain.models.records import (
    ORIGIN_HF_CACHE,
    InstalledModel,
    file_formats,
    group_by_repo,
)
from paitui.services.models.headers import read_model_header
from paitui.services.models.hf_cache import (
    CachedRepo,
    CachedRevision,
    hub_cache_dir,
    scan_hub_cache,
)
from paitui.services.models.store import ModelStore

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
#: Classifications by (path, size, mtime): a header is read once per file version.
_HEADER_KINDS: dict[tuple[str, int, int, str], tuple[str, str, str]] = {}


@dataclass(frozen=True)
class LibraryFile:
    """One file of the library, its type settled, with the apps that can use it."""

    model: InstalledModel
    apps: tuple[str, ...]

    @property
    def unused(self) -> bool:
        """True when no catalog app reads a file of this kind and format."""
        return not self.apps


def _classify_on_disk(
    model: InstalledModel, real_path: str, repo: RepoFacts | None
) -> tuple[str, str, str]:
    try:
        st = os.stat(real_path)
    except OSError:
        return ModelKind.UNKNOWN.value, Source.NONE.value, "file not readable"
    key = (real_path, st.st_size, st.st_mtime_ns, model.path)
    if key not in _HEADER_KINDS:
        verdict = classify(model.path, read_model_header(Path(real_path)), repo)
        _HEADER_KINDS[key] = (verdict.kind.value, verdict.source.value, verdict.why)
    return _HEADER_KINDS[key]


def settle_kind(model: InstalledModel, repo: RepoFacts | None = None) -> InstalledModel:
    """``model`` with ``kind`` filled from its header and name when the index did not record one."""
    if model.kind:
        return model
    kind, source, why = _classify_on_disk(model, model.store_path, repo)
    return dataclasses.replace(model, kind=kind, kind_source=source, kind_why=why)


def _main_revision(repo: CachedRepo) -> CachedRevision | None:
    rev = repo.revision("main")
    if rev is not None:
        return rev
    return repo.revisions[-1] if repo.revisions else None


def cache_models(
    cache: Path | None = None, user_kinds: dict[str, str] | None = None
) -> list[InstalledModel]:
    """The files of the user's HF cache (default ``hub_cache_dir()``) as read-only library files."""
    user_kinds = user_kinds or {}
    out: list[InstalledModel] = []
    for repo in scan_hub_cache(cache).repos:
        rev = _main_revision(repo)
        if rev is None:
            continue
        facts = RepoFacts(files=tuple(f.path for f in rev.files))
        for f in rev.files:
            # An LFS blob is named by its sha256: a verified digest for an Ollama import.
            blob = f.blob_path.name
            model = InstalledModel(
                repo_id=repo.repo_id,
                path=f.path,
                store_path=str(f.snapshot_path),
                size=f.size,
                sha256=blob if f.linked and _SHA256.match(blob) else "",
                revision=rev.commit,
                date="",
                formats=file_formats(f.path),
                user_kind=user_kinds.get(f"{repo.repo_id}/{f.path}", ""),
                origin=ORIGIN_HF_CACHE,
            )
            kind, source, why = _classify_on_disk(model, str(f.blob_path), facts)
            out.append(dataclasses.replace(model, kind=kind, kind_source=source, kind_why=why))
    return sorted(out, key=lambda m: (m.repo_id, m.path))


def user_hf_cache(env: dict[str, str] | None = None) -> Path | None:
    """The user's hub cache when it exists as a folder, else None."""
    path = hub_cache_dir(env)
    return path if path.is_dir() else None


def library_models(store: ModelStore, cache: Path | bool | None = True) -> list[InstalledModel]:
    """Store files (kinds settled) then HF-cache files; ``cache``: True for the user's, False for
    none, or a path."""
    own = [settle_kind(m) for m in store.installed()]
    if cache is False:
        return own
    where = user_hf_cache() if cache is True else cache
    if where is None:
        return own
    return own + cache_models(where, store.cache_kinds())


def library_files(catalog: Catalog, models: Iterable[InstalledModel]) -> list[LibraryFile]:
    """The apps for each file, from its kind, format and its repo's other files."""
    out: list[LibraryFile] = []
    for usage in group_by_repo(models):
        by_origin: dict[str, list[InstalledModel]] = {}
        for m in usage.files:
            by_origin.setdefault(m.origin, []).append(m)
        for files in by_origin.values():
            paths = [m.path for m in files]
            out.extend(
                LibraryFile(m, apps_for_file(catalog, m.path, paths, m.effective_kind))
                for m in files
            )
    return out


def find_in_library(models: Sequence[InstalledModel], target: str) -> list[InstalledModel]:
    """The files ``target`` names: ``ORG/NAME/FILE`` (one file) or ``ORG/NAME`` (a repo's)."""
    target = target.strip("/")
    one = [m for m in models if f"{m.repo_id}/{m.path}" == target]
    return one or [m for m in models if m.repo_id == target]
