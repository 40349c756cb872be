"""What the launch dialog offers an app that needs a model: its suggestions and Hub files.

Each offer carries the fit verdict for the chosen variant's device (``model_fit``), whether it is
installed already, and enough to fetch it (repo and file, or a whole repo for apps that take a
Hub model id). Pure: the Hub answers (``RepoInfo``) and the store's files come from the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Literal

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.models.fit import (
    DEFAULT_CONTEXT,
    FitResult,
    context_from_command,
    device_budget,
    file_fit,
    judge,
    model_need,
    suggestion_fit,
)
from paitui.domain.models.records import ModelSearchResult, RepoFile, RepoInfo
from paitui.domain.models.suggested import WHOLE_REPO_KINDS, fits_formats

#: Hub search filters paitui knows (``services.hub.FORMAT_FILTERS``), in order of preference.
_HUB_FILTERS = ("gguf", "diffusers", "safetensors")
#: File suffixes of the catalog's single-file formats.
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "gguf": (".gguf",),
    "safetensors": (".safetensors",),
    "ckpt": (".ckpt", ".pt", ".pth"),
}
#: At most this many files of one repo in the search results: the choice is among quantizations.
FILES_PER_REPO = 4

Origin = Literal["suggested", "hub"]


@dataclass(frozen=True)
class ModelOffer:
    """One model the dialog offers to get."""

    #: Unique among the offers shown (an option id).
    key: str
    repo: str
    #: The file (a path, or a glob for some suggestions); None for a whole repo (a model id).
    file: str | None
    #: Download size in bytes, when known.
    size: int | None
    kind: str
    note: str
    fit: FitResult
    origin: Origin
    #: The store-relative path (``org/repo/file``) when the file is installed already.
    installed: str | None = None

    @property
    def whole_repo(self) -> bool:
        """True when the app is given the repo id rather than a file."""
        return self.file is None

    @property
    def name(self) -> str:
        """What the offer is called in a list: the file name, or the repo for whole repos."""
        return PurePosixPath(self.file).name if self.file else self.repo


def app_formats(app: App) -> tuple[str, ...]:
    """The formats an app reads: its ``needs.model_file``, else its models mount's formats;
    ``hf-repo`` for apps that take a Hub model id."""
    formats = app.needs.model_file or (app.mounts.models.formats if app.mounts.models else ())
    if app.needs.hf_repo and "hf-repo" not in formats:
        formats = (*formats, "hf-repo")
    return tuple(formats)


def needs_model(app: App) -> bool:
    """Whether the launch dialog should offer models for this app."""
    return bool(app.needs.model_file or app.needs.hf_repo or app_formats(app))


def hub_filter(formats: Sequence[str]) -> str | None:
    """The Hub search filter for an app reading ``formats`` (None: search unfiltered)."""
    return next((f for f in _HUB_FILTERS if f in formats), None)


def file_formats_wanted(formats: Sequence[str]) -> tuple[str, ...]:
    """The suffixes of single files an app reading ``formats`` can be pointed at."""
    return tuple(s for f in formats for s in _SUFFIXES.get(f, ()))


def reads_file(path: str, formats: Sequence[str]) -> bool:
    """Whether a file of that name is in one of ``formats`` (by its suffix)."""
    return path.lower().endswith(file_formats_wanted(formats)) if formats else False


def _context(app: App) -> int:
    return context_from_command(list(app.command) if app.command else None) or DEFAULT_CONTEXT


def _installed_match(
    repo: str, pattern: str | None, installed: Iterable[tuple[str, str]]
) -> str | None:
    if pattern is None:
        return None
    for repo_id, path in installed:
        if repo_id.lower() == repo.lower() and fnmatchcase(path, pattern):
            return f"{repo_id}/{path}"
    return None


def suggested_offers(
    app: App,
    accel: Accel,
    report: HardwareReport,
    installed: Iterable[tuple[str, str]] = (),
) -> list[ModelOffer]:
    """The app's suggestions it can read, each with its fit on ``accel``'s device."""
    formats = app_formats(app)
    context = _context(app)
    have = list(installed)
    offers = []
    for i, s in enumerate(app.suggested_models):
        if formats and not fits_formats(s, formats):
            continue
        whole = s.kind in WHOLE_REPO_KINDS
        if whole and not app.needs.hf_repo:
            continue  # a whole repo is given as a model id; this app takes files
        offers.append(
            ModelOffer(
                key=f"s{i}",
                repo=s.repo,
                file=s.file,
                size=s.size_bytes,
                kind=s.kind,
                note=s.note,
                fit=suggestion_fit(s, accel, report, ram=report.ram_bytes, context=context),
                origin="suggested",
                installed=_installed_match(s.repo, s.file, have),
            )
        )
    return offers


def hub_file_offers(
    app: App,
    accel: Accel,
    report: HardwareReport,
    infos: Sequence[RepoInfo],
    installed: Iterable[tuple[str, str]] = (),
) -> list[ModelOffer]:
    """Files of searched repos the app can read (smallest first, a few per repo), with fit."""
    formats = app_formats(app)
    context = _context(app)
    have = {(r.lower(), p) for r, p in installed}
    offers = []
    for info in infos:
        files = [f for f in info.files if reads_file(f.path, formats)]
        files.sort(key=lambda f: (f.size or 0, f.path))
        for f in files[:FILES_PER_REPO]:
            kind = "llm" if f.path.lower().endswith(".gguf") else "unknown"
            fit = file_fit(
                f.path, f.size, accel, report, kind=kind, ram=report.ram_bytes, context=context
            )
            key = f"h:{info.repo_id}/{f.path}"
            mark = f"{info.repo_id}/{f.path}" if (info.repo_id.lower(), f.path) in have else None
            offers.append(ModelOffer(key, info.repo_id, f.path, f.size, kind, "", fit, "hub", mark))
    return offers


def hub_repo_offers(
    accel: Accel, report: HardwareReport, results: Sequence[ModelSearchResult]
) -> list[ModelOffer]:
    """Searched repos as model ids, for apps that take a whole repo (their need is unknown)."""
    budget = device_budget(accel, report, ram=report.ram_bytes)
    offers = []
    for r in results:
        need = model_need(kind="transformers", size=r.size, whole_repo=True)
        note = "gated: accept its terms on the Hub first" if r.gated else ""
        offers.append(
            ModelOffer(
                f"h:{r.repo_id}", r.repo_id, None, r.size, "repo", note, judge(need, budget), "hub"
            )
        )
    return offers


def refit_offer(offer: ModelOffer, app: App, accel: Accel, report: HardwareReport) -> ModelOffer:
    """A Hub offer judged again for another variant's device."""
    budget = device_budget(accel, report, ram=report.ram_bytes)
    if offer.file is None:
        need = model_need(kind="transformers", size=offer.size, whole_repo=True)
    else:
        need = model_need(kind=offer.kind, size=offer.size, name=offer.file, context=_context(app))
    return replace(offer, fit=judge(need, budget))


def pick_file(pattern: str, files: Sequence[RepoFile]) -> RepoFile | None:
    """The repo file an offer names: the exact path, else the first (by name) a glob matches."""
    exact = next((f for f in files if f.path == pattern), None)
    if exact is not None:
        return exact
    matches = sorted((f for f in files if fnmatchcase(f.path, pattern)), key=lambda f: f.path)
    return matches[0] if matches else None
