"""Gather what "will it fit?" needs (the header, the app's args, free GPU memory) and judge.

Thin: the header comes from ``gguf_remote`` (Hub Range reads or a local prefix), free memory
from any ``GpuFreeSource`` (the live GPU readings implement it), the words from
``domain.models.fit_verdict``. Blocking (file and network reads): call from a thread worker.
Nothing here blocks a launch: callers show the verdict and go on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from paitui.domain.models.fit_verdict import (
    GpuFree,
    LlamaArgs,
    Verdict,
    best_gpu,
    gguf_verdict,
    sized_verdict,
)
from paitui.domain.models.vram_estimate import NotAModel, model_shape
from paitui.services.models.gguf_remote import (
    HeaderUnavailable,
    read_local_layout,
    read_remote_layout,
)
from paitui.services.models.hub import HubConfig


class GpuFreeSource(Protocol):
    """Free memory per GPU now, with the apps holding the rest."""

    def gpu_free(self) -> list[GpuFree]: ...


class StaticGpus:
    """A fixed list (tests, and callers that already hold a reading)."""

    def __init__(self, gpus: Sequence[GpuFree]) -> None:
        self._gpus = list(gpus)

    def gpu_free(self) -> list[GpuFree]:
        return list(self._gpus)


def _gpu(source: GpuFreeSource, gpu_id: str | None) -> GpuFree | str:
    try:
        gpus = source.gpu_free()
    except OSError as err:
        return f"free GPU memory cannot be read ({err})"
    gpu = best_gpu(gpus, gpu_id)
    if gpu is None:
        return f"no GPU {gpu_id} found" if gpu_id else "no GPU with a memory reading was found"
    return gpu


def fit_local(
    path: Path,
    source: GpuFreeSource,
    *,
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    gpu_id: str | None = None,
    partial_offload: bool = True,
    siblings: Sequence[tuple[str, int]] = (),
) -> Verdict | str:
    """The verdict for a model on disk (a GGUF, or any file/folder by size); or why none."""
    gpu = _gpu(source, gpu_id)
    if isinstance(gpu, str):
        return gpu
    if path.is_dir():
        sizes = [p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
        return sized_verdict(sizes, gpu)
    if path.suffix.lower() != ".gguf":
        try:
            return sized_verdict([path.stat().st_size], gpu)
        except OSError as err:
            return f"cannot read {path}: {err.strerror or err}"
    try:
        shape = model_shape(read_local_layout(path))
        size = path.stat().st_size
    except (HeaderUnavailable, NotAModel) as err:
        return str(err)
    return gguf_verdict(
        shape,
        gpu,
        LlamaArgs.from_argv(argv, env),
        partial_offload=partial_offload,
        file_name=path.name,
        file_size=size,
        siblings=siblings,
    )


def fit_hub_file(
    config: HubConfig,
    repo_id: str,
    path: str,
    size: int,
    source: GpuFreeSource,
    *,
    revision: str = "main",
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    gpu_id: str | None = None,
    partial_offload: bool = True,
    siblings: Sequence[tuple[str, int]] = (),
) -> Verdict | str:
    """The verdict for a Hub file before it is downloaded (GGUF: its header by Range reads)."""
    gpu = _gpu(source, gpu_id)
    if isinstance(gpu, str):
        return gpu
    if not path.lower().endswith(".gguf"):
        return sized_verdict([size], gpu)
    if config.offline:
        return "offline (HF_HUB_OFFLINE): the header cannot be read from the Hub"
    url = config.resolve_url(repo_id, revision, path)
    try:
        shape = model_shape(read_remote_layout(url, headers=config.auth_headers()))
    except (HeaderUnavailable, NotAModel) as err:
        return str(err)
    return gguf_verdict(
        shape,
        gpu,
        LlamaArgs.from_argv(argv, env),
        partial_offload=partial_offload,
        file_name=path,
        file_size=size,
        siblings=siblings,
    )


def warning_line(result: Verdict | str) -> str | None:
    """One line for ``paitui start``: None when it fits, else the verdict and the first offer."""
    if isinstance(result, str):
        return None  # no figure: say nothing rather than guess
    if result.level == "fits":
        return None
    line = f"warning: {result.text}"
    if result.offers:
        line += f"; try {result.offers[0]}"
    return line
