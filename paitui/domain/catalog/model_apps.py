"""Which catalog apps can use a model file or repo: where the catalog meets the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paitui.domain.catalog.schema import Catalog
from paitui.domain.models.records import file_formats, kind_is_read, repo_formats


def apps_for_formats(catalog: Catalog, formats: Iterable[str]) -> tuple[str, ...]:
    """Ids of catalog apps whose ``mounts.models.formats`` include any of ``formats``, sorted."""
    wanted = set(formats)
    ids = [
        app.id
        for app in catalog.apps.values()
        if app.mounts.models is not None and wanted.intersection(app.mounts.models.formats)
    ]
    return tuple(sorted(ids))


def apps_for_file(
    catalog: Catalog, path: str, repo_paths: Sequence[str] = (), kind: str | None = None
) -> tuple[str, ...]:
    """Apps that can use one file; ``repo_paths`` adds repo formats (diffusers, hf-repo).

    With ``kind`` (a ``ModelKind`` value), a file format only counts when apps load that kind
    on its own (``kind_is_read``): a transformers shard or a diffusion GGUF is no app's model.
    Repo formats count whatever the file's kind: those apps read the whole repo.
    """
    formats = {f for f in file_formats(path) if kind_is_read(kind, f)}
    if repo_paths:
        formats.update(f for f in repo_formats(repo_paths) if f in ("diffusers", "hf-repo"))
    return apps_for_formats(catalog, formats)
