"""What the Models screen's "will it fit?" line judges: the highlighted file, repo or library
entry, as a ``FitTarget`` for the shared ``FitPanel``.

The figures are llama.cpp's defaults (the model's own context, all layers on the GPU, an f16
KV cache): what a llama.cpp-style app would load, on the GPU with the most free memory.
"""

from __future__ import annotations

from pathlib import Path

from paitui.domain.models.records import InstalledModel, RepoInfo
from paitui.ui.screens.launch.fit_panel import FitTarget


def _is_model(path: str) -> bool:
    return path.lower().endswith((".gguf", ".safetensors", ".ckpt", ".bin", ".pt", ".pth"))


def file_target(info: RepoInfo, path: str) -> FitTarget | None:
    """A Hub file of an open repo (its siblings known already: no second repo read)."""
    f = info.file(path)
    if f is None or not _is_model(path):
        return None
    siblings = tuple((s.path, s.size or 0) for s in info.files)
    return FitTarget(
        key=f"hub:{info.repo_id}/{path}",
        repo=info.repo_id,
        file=path,
        size=f.size or 0,
        siblings=siblings,
        list_repo=False,
    )


def repo_target(repo_id: str) -> FitTarget:
    """A search result: its representative GGUF (read when the row stays highlighted)."""
    return FitTarget(key=f"repo:{repo_id}", repo=repo_id)


def library_target(model: InstalledModel) -> FitTarget | None:
    """An installed file (the store's or the HF cache's), read from disk."""
    if not _is_model(model.path):
        return None
    return FitTarget(
        key=f"local:{model.store_path}",
        local=Path(model.store_path),
        repo=model.repo_id,
        list_repo=False,  # the library does not ask the Hub
    )
