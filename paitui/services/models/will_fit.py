"""Gather what "will it fit?" needs (the header, the app's args, free GPU memory) and judge.

Thin: the header comes from ``gguf_remote`` (Hub Range reads or a local prefix), free memory
from any ``GpuFreeSource`` (the live GPU readings implement it), the words from
``domain.models.fit_verdict``. Blocking (file and network reads): call from a thread worker.
Nothing here blocks a launch: callers show the verdict and go on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

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

if TYPE_CHECKING:
    from paitui.domain.gpu.usage import GpuSnapshot
    from paitui.domain.hardware.report import HardwareReport
    from paitui.domain.launch.plan import LaunchPlan


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


class ReportGpus:
    """Free memory from the hardware report (``vram_total - vram_used``), no per-app split.

    A stand-in until the live per-app readings are wired in: those implement the same
    ``gpu_free`` and carry who holds the memory.
    """

    def __init__(self, report: HardwareReport) -> None:
        self._report = report

    def gpu_free(self) -> list[GpuFree]:
        out = []
        for g in self._report.gpus:
            if g.is_display_only or not g.vram_total:
                continue
            used = g.vram_used or 0
            out.append(GpuFree(g.pci_slot, g.name, g.vram_total, max(0, g.vram_total - used)))
        return out


class LiveGpus:
    """Free memory from a live GPU sample (total - used now) and who holds it, per app.

    ``sample`` is a ``GpuSampler.sample``-like call (made by the caller: the GPU services
    sit above this module's concern); ``app_of`` maps a container id to the
    app id (the fleet's statuses, or the ``paitui.app`` label); a container it does not know
    is named by its short id, a host process as ``host:<comm>``. A GPU the sample has no
    used/total figure for (asleep, no driver reading) comes from ``fallback`` (the hardware
    report) without a per-app split; ``reason`` then says why.
    """

    def __init__(
        self,
        sample: Callable[[], GpuSnapshot],
        report: HardwareReport,
        app_of: Callable[[], Mapping[str, str]] | Mapping[str, str] | None = None,
    ) -> None:
        self._sample = sample
        self._report = report
        self._app_of = app_of
        #: Why some or all figures came from the hardware report (None: all live).
        self.reason: str | None = None

    def _apps(self) -> Mapping[str, str]:
        if self._app_of is None:
            return {}
        return self._app_of() if callable(self._app_of) else self._app_of

    def gpu_free(self) -> list[GpuFree]:
        fallback = {g.gpu_id.lower(): g for g in ReportGpus(self._report).gpu_free()}
        if os.environ.get("PAITUI_GPU_LIVE", "").lower() == "off":
            self.reason = "PAITUI_GPU_LIVE=off: free memory from the report"
            return list(fallback.values())
        try:
            snap = self._sample()
        except (OSError, ValueError) as err:  # ValueError: a malformed PAITUI_GPU_* variable
            self.reason = f"live GPU use could not be read ({err}); free memory from the report"
            return list(fallback.values())
        names = {g.pci_slot.lower(): g.name for g in self._report.gpus}
        # Asked only when some app holds memory (the CLI asks the engine for it).
        apps = self._apps() if any(u.apps for u in snap.gpus) else {}
        out: list[GpuFree] = []
        missing: list[str] = []
        for usage in snap.gpus:
            slot = usage.gpu.lower()
            total, used = usage.memory_total, usage.memory_used
            if total is None or used is None or usage.asleep:
                if slot in fallback:
                    out.append(fallback.pop(slot))
                    missing.append(names.get(slot, slot))
                continue
            fallback.pop(slot, None)
            held: dict[str, int] = {}
            for a in usage.apps:
                if not a.vram_bytes:
                    continue
                cid = a.container_id
                who = apps.get(cid, cid[:12]) if cid else a.holder
                held[who] = held.get(who, 0) + a.vram_bytes
            name = names.get(slot, slot)
            out.append(GpuFree(slot, name, total, max(0, total - used), tuple(held.items())))
        if fallback:  # GPUs the report knows and the live sample did not see
            out.extend(fallback.values())
            missing.extend(g.name for g in fallback.values())
        self.reason = (
            f"no live memory reading for {', '.join(missing)}: figures from the report"
            if missing
            else None
        )
        return out


def plan_model_file(plan: LaunchPlan) -> Path | None:
    """The host path of the model the plan's command loads (``-m``), through its mounts."""
    args = list(plan.command or ())
    target = None
    for i, arg in enumerate(args):
        flag, eq, inline = arg.partition("=")
        if flag in ("-m", "--model"):
            target = inline if eq else (args[i + 1] if i + 1 < len(args) else None)
    target = target or plan.env.get("LLAMA_ARG_MODEL")
    if not target:
        return None
    for m in sorted(plan.mounts, key=lambda m: -len(m.target)):
        root = m.target.rstrip("/") + "/"
        if target.startswith(root):
            return Path(m.source) / target[len(root) :]
    return None


def start_warning(plan: LaunchPlan, source: GpuFreeSource) -> str | None:
    """A warning line for ``paitui start`` when the plan's model may not fit; None otherwise."""
    if plan.accel.value == "cpu":
        return None
    path = plan_model_file(plan)
    if path is None or not path.is_file():
        return None
    # llama.cpp-style commands take --n-gpu-layers; the estimate is llama.cpp's anyway.
    return warning_line(fit_local(path, source, argv=plan.command, env=plan.env))
