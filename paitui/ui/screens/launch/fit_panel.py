"""The launch dialog's "will it fit?" line: the chosen model against free GPU memory now.

The screen says which model is chosen (a ``FitTarget``); the panel waits a moment (typing and
scrolling through offers cost nothing), then reads the header in a thread worker (a local
file, or the Hub file by Range requests), caches the verdict per file and arguments, and shows
it coloured by level with the offers that would fit. Enter on an offer is a message the screen
acts on (another quant, ``-c``, ``--n-gpu-layers``). Nothing here blocks a start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from paitui.domain.catalog.schema import App
from paitui.domain.models.fit_verdict import Offer, Verdict
from paitui.ui.host import host_of
from paitui.ui.widgets.model_picker import verdict_text

if TYPE_CHECKING:
    from paitui.domain.gpu.usage import GpuSnapshot
    from paitui.services.models.will_fit import GpuFreeSource

#: Seconds the chosen model must stay chosen before its header is read.
DEBOUNCE_S = 0.3

_LLAMA_FLAGS = ("-ngl", "--n-gpu-layers", "--gpu-layers", "-c", "--ctx-size")


def takes_llama_args(app: App) -> bool:
    """Whether the app is llama.cpp-like: its command or images take ``-c``/``-ngl``."""
    if any(arg.partition("=")[0] in _LLAMA_FLAGS for arg in app.command or ()):
        return True
    return any("llama.cpp" in v.image or "llama-cpp" in v.image for v in app.variants.values())


@dataclass(frozen=True)
class FitTarget:
    """The chosen model: an installed file (``local``) or a Hub file (``repo``/``file``)."""

    key: str
    argv: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    local: Path | None = None
    repo: str = ""
    file: str = ""
    size: int = 0
    #: (path in the repo, size) of the repo's other files, when known (installed ones).
    siblings: tuple[tuple[str, int], ...] = ()
    partial_offload: bool = True
    #: Hub files: ask the Hub for the repo's file list (other quants) too.
    list_repo: bool = True

    @property
    def cache_key(self) -> tuple[object, ...]:
        return (self.key, self.argv, self.env, self.partial_offload)


def _raise(err: Exception) -> Callable[[], GpuSnapshot]:
    def sample() -> GpuSnapshot:
        raise err

    return sample


def representative_gguf(files: list[tuple[str, int]]) -> str | None:
    """The file a repo's fit hint reads: its Q4_K_M GGUF (the usual pick), else the smallest
    whole-model GGUF (no shards, no vision projectors); None when it has none."""
    whole = [
        (p, n)
        for p, n in files
        if p.lower().endswith(".gguf") and "-of-" not in p and "mmproj" not in p.lower()
    ]
    usual = [p for p, _ in whole if "q4_k_m" in p.lower()]
    if usual:
        return sorted(usual)[0]
    return min(whole, key=lambda f: f[1])[0] if whole else None


def set_flag(extra: str, flags: tuple[str, ...], value: str) -> str:
    """``extra`` (the Options text) with ``flags[0] value`` replacing any of ``flags``."""
    out: list[str] = []
    tokens = extra.split()
    skip = False
    for tok in tokens:
        if skip:
            skip = False
            continue
        name, eq, _ = tok.partition("=")
        if name in flags:
            skip = not eq
            continue
        out.append(tok)
    return " ".join([*out, flags[0], value])


class FitPanel(Vertical):
    """The verdict for the chosen model and the offers that would fit."""

    DEFAULT_CSS = """
    FitPanel { height: auto; margin-top: 1; }
    FitPanel.-empty { display: none; }
    FitPanel #fit-offers { height: auto; max-height: 4; }
    FitPanel #fit-offers.-empty { display: none; }
    """

    @dataclass
    class Checked(Message):
        """A verdict (or why there is none) for the target ``key``."""

        key: tuple[object, ...]
        result: Verdict | str
        reason: str | None = None
        #: Sizes of the repo's files (path -> bytes), for the quant offers.
        sizes: dict[str, int] = field(default_factory=dict)
        #: Which file a repo's hint read ("" for a chosen file).
        label: str = ""

    @dataclass
    class Judged(Message):
        """A verdict is shown for ``target`` (the screen may word its lists with it)."""

        target: FitTarget
        result: Verdict | str

    @dataclass
    class OfferChosen(Message):
        """Enter on an offer: the screen takes it."""

        offer: Offer

    def __init__(
        self,
        source: GpuFreeSource | None,
        *,
        start_note: bool = True,
        take_hint: bool = True,
        id: str | None = None,
    ) -> None:
        """``start_note``: say that Start still works when it does not fit (the dialog);
        ``take_hint``: say that Enter on an offer takes it."""
        super().__init__(id=id, classes="-empty")
        self.source = source
        self.start_note = start_note
        self.take_hint = take_hint
        self.target: FitTarget | None = None
        self.result: Verdict | str | None = None
        self._cache: dict[tuple[object, ...], FitPanel.Checked] = {}
        self._timer: Timer | None = None
        #: How many headers were read (a test checks that browsing does not burst).
        self.reads = 0
        self._repos: dict[str, list[tuple[str, int]] | None] = {}
        #: Sizes of the last judged repo's files (path -> bytes).
        self.sizes: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="fit-line")
        yield OptionList(id="fit-offers", compact=True, classes="-empty")

    # --- what is checked ---

    def check(self, target: FitTarget | None) -> None:
        """Judge ``target`` (None: nothing chosen, the panel hides) after a short pause.

        Not on a box that is not live (the demo): no reading of this machine's GPUs or the Hub
        unless a source was given."""
        if self.source is None and not host_of(self).live:
            target = None
        if target == self.target:
            return
        self.target = target
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if target is None:
            self._show(None, None)
            return
        cached = self._cache.get(target.cache_key)
        if cached is not None:
            self.sizes = cached.sizes
            self._show(cached.result, cached.reason, cached.label)
            return
        self._show(None, None)
        self.remove_class("-empty")
        self.query_one("#fit-line", Static).update(
            Text("checking whether it fits the GPU…", style="bright_black")
        )
        self._timer = self.set_timer(DEBOUNCE_S, self._start)

    def _start(self) -> None:
        self._timer = None
        if self.target is not None:
            self._judge(self.target)

    def _source(self) -> GpuFreeSource:
        if self.source is None:
            from paitui.services.gpu.sampler import sampler_from_env
            from paitui.services.models.will_fit import LiveGpus

            host = host_of(self)
            report = host.hardware_report
            statuses = host.statuses
            assert report is not None, "the launch dialog is opened with a report"

            def apps() -> dict[str, str]:
                return {s.container_id: s.app_id for s in statuses.values() if s.container_id}

            # No helper container from a dialog: paitui's own readings, unless asked for
            # (PAITUI_GPU_HELPER); a bad variable is said as the verdict's reason.
            try:
                sampler = sampler_from_env(default_helper="off")
            except ValueError as err:
                self.source = LiveGpus(_raise(err), report, apps)
            else:
                self.source = LiveGpus(sampler.sample, report, apps)
        return self.source

    @work(thread=True, exclusive=True, name="check the fit", group="fit", exit_on_error=False)
    def _judge(self, target: FitTarget) -> None:
        """Read the header and judge (off the loop); the verdict comes back as Checked."""
        from paitui.services.models.will_fit import fit_hub_file, fit_local

        source = self._source()
        self.reads += 1
        label = ""
        env = dict(target.env)
        siblings = list(target.siblings)
        result: Verdict | str
        if target.local is not None and target.repo and target.list_repo:
            # The repo's quants on the Hub too, not only the installed ones.
            siblings = self._repo_files(target.repo) or siblings
        if target.local is not None:
            result = fit_local(
                target.local,
                source,
                argv=target.argv,
                env=env,
                partial_offload=target.partial_offload,
                siblings=siblings,
            )
        else:
            services = host_of(self).services
            path, size = target.file, target.size
            files = self._repo_files(target.repo) if target.list_repo else None
            if files is not None and not path:  # a repo's hint: one representative file
                path = representative_gguf(files) or ""
                size = dict(files).get(path, 0)
                label = f"{path}: " if path else ""
            if files is not None:
                from paitui.domain.launch.model_choice import pick_file
                from paitui.domain.models.records import RepoFile

                siblings = files
                listed = [RepoFile(p, n) for p, n in files]
                picked = pick_file(target.file, listed)  # a suggestion may be a glob
                if picked is not None:
                    path, size = picked.path, picked.size or size
            if not path:
                result = f"{target.repo} has no single-file GGUF to read"
            elif "*" in path or "?" in path:
                result = f"{target.repo} has no file {path} on the Hub"
            else:
                result = fit_hub_file(
                    services.hub.config,
                    target.repo,
                    path,
                    size,
                    source,
                    argv=target.argv,
                    env=env,
                    partial_offload=target.partial_offload,
                    siblings=siblings,
                )
        reason = getattr(source, "reason", None)
        sizes = {p: n for p, n in siblings}
        self.post_message(self.Checked(target.cache_key, result, reason, sizes, label))

    def _repo_files(self, repo: str) -> list[tuple[str, int]] | None:
        """The repo's files on the Hub (path, size), once per repo; None when unreadable."""
        if repo in self._repos:
            return self._repos[repo]
        services = host_of(self).services
        files = None
        if not services.hub.config.offline:
            from paitui.services.models.hub import HubError

            # Unreadable: no other quants to offer; the header read says what is wrong.
            with contextlib.suppress(HubError):
                files = [(f.path, f.size or 0) for f in services.hub.repo_info(repo).files]
        self._repos[repo] = files
        return files

    def on_fit_panel_checked(self, message: Checked) -> None:
        message.stop()
        self._cache[message.key] = message
        if self.target is not None and self.target.cache_key == message.key:
            self.sizes = message.sizes
            self._show(message.result, message.reason, message.label)
            self.post_message(self.Judged(self.target, message.result))

    # --- what is shown ---

    def _show(self, result: Verdict | str | None, reason: str | None, label: str = "") -> None:
        self.result = result
        self.set_class(result is None, "-empty")
        line = self.query_one("#fit-line", Static)
        offers = self.query_one("#fit-offers", OptionList)
        if result is None:
            line.update("")
            offers.clear_options()
            offers.add_class("-empty")
            return
        text = verdict_text(result, start_note=self.start_note)
        if label:
            text = Text(label, style="bold") + text
        choices = result.choices if isinstance(result, Verdict) else ()
        if choices and self.take_hint:
            text.append("\nwould fit (Enter on one takes it):", style="dim")
        line.update(text)
        line.tooltip = reason
        offers.set_options([Option(Text(f"→ {c.text}"), id=str(i)) for i, c in enumerate(choices)])
        if choices:
            offers.highlighted = 0
        offers.set_class(not choices, "-empty")

    def line_text(self) -> str:
        """The verdict line as shown (for tests)."""
        return str(self.query_one("#fit-line", Static).render())

    @on(OptionList.OptionSelected, "#fit-offers")
    def _offer_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if isinstance(self.result, Verdict) and event.option.id is not None:
            self.post_message(self.OfferChosen(self.result.choices[int(event.option.id)]))
