"""The launch dialog's "get a model" part: the app's suggestions and a Hub search, with fit.

Renders ``ModelOffer`` lists and one download's progress; it never talks to the Hub or the
download queue itself. Enter on an offer and a submitted search are messages the launch screen
turns into service calls in thread workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from paitui.domain.launch.model_choice import ModelOffer
from paitui.domain.models.fit import Fit
from paitui.domain.models.fit_verdict import FitLevel, Verdict
from paitui.domain.models.records import Download, DownloadState, human_size
from paitui.ui.widgets.download_queue import describe

#: The mark and colour of each verdict.
FIT_STYLE: dict[Fit, tuple[str, str]] = {
    Fit.FITS: ("✓", "green"),
    Fit.TIGHT: ("~", "yellow"),
    Fit.TOO_BIG: ("✗", "red"),
    Fit.UNKNOWN: ("?", "bright_black"),
}


#: The mark and colour of each GPU-memory verdict ("will it fit?").
LEVEL_STYLE: dict[FitLevel, tuple[str, str]] = {
    FitLevel.FITS: ("✓", "green"),
    FitLevel.TIGHT: ("~", "yellow"),
    FitLevel.TOO_BIG: ("✗", "red"),
}


def verdict_text(result: Verdict | str, *, start_note: bool = False) -> Text:
    """The verdict as one coloured line ("✗ does not fit: needs ~9.1 GiB; …"), or why there
    is none (dim); ``start_note``: say that starting anyway still works."""
    if isinstance(result, str):
        return Text(f"? no GPU memory estimate: {result}", style="bright_black")
    mark, colour = LEVEL_STYLE[result.level]
    text = Text.assemble(
        (f"{mark} {result.level.value}: ", f"bold {colour}"), (result.text, colour)
    )
    if start_note and result.level == FitLevel.TOO_BIG:
        text.append(" — Start still works (it may fail to load, or run slowly)", "dim")
    return text


#: The gap between the parts of a line.
_GAP = "  "


def offer_prompt(offer: ModelOffer) -> Text:
    """An offer on up to three lines: name, size and kind; the fit verdict; note and repo."""
    mark, colour = FIT_STYLE[offer.fit.fit]
    size = human_size(offer.size) if offer.size else "size unknown"
    head = Text.assemble(
        (f"{mark} ", f"bold {colour}"),
        (offer.name, "bold"),
        (f"{_GAP}{size}{_GAP}{offer.kind}", "dim"),
    )
    if offer.installed:
        head.append(f"{_GAP}installed", "bold cyan")
    verdict = Text.assemble(
        (_GAP, ""),
        (offer.fit.fit.value, f"bold {colour}"),
        (f" — {offer.fit.message}", colour),
    )
    lines = [head, verdict]
    extra = " · ".join(p for p in (offer.note, offer.repo if offer.file else "") if p)
    if extra:
        lines.append(Text(f"{_GAP}{extra}", style="dim"))
    return Text("\n").join(lines)


def progress_text(d: Download) -> str:
    """The line under the progress bar."""
    return f"{d.file.path}: {describe(d)}"


class ModelPicker(Vertical):
    """Suggested models and Hub results for one app; Enter on one asks to get it."""

    DEFAULT_CSS = """
    ModelPicker { height: auto; margin-top: 1; }
    ModelPicker .picker-title { text-style: bold; color: $primary; }
    ModelPicker #offers { height: auto; max-height: 13; }
    ModelPicker #hub-row { height: auto; }
    ModelPicker #hub-row Label { width: 12; padding: 0 1 0 0; }
    ModelPicker #hub-query { width: 1fr; }
    ModelPicker #picker-status { color: $text-muted; }
    ModelPicker #picker-status.-empty { display: none; }
    ModelPicker #picker-status.-error { color: $error; }
    ModelPicker #picker-progress { display: none; height: auto; }
    ModelPicker.-downloading #picker-progress { display: block; }
    ModelPicker #picker-progress ProgressBar { width: 1fr; }
    ModelPicker #picker-progress ProgressBar Bar { width: 1fr; }
    """

    @dataclass
    class Picked(Message):
        """Enter on an offer: get it (download, or take the repo id) and start the app."""

        offer: ModelOffer

    @dataclass
    class SearchRequested(Message):
        """The Hub search box was submitted."""

        query: str

    def __init__(self, app_name: str, formats_label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.app_name = app_name
        self.formats_label = formats_label
        self.suggested: list[ModelOffer] = []
        self.found: list[ModelOffer] = []

    def compose(self) -> ComposeResult:
        yield Label(
            f"Get a model — Enter downloads it, then starts {self.app_name}",
            classes="picker-title",
        )
        yield OptionList(id="offers", compact=True)
        with Horizontal(id="hub-row"):
            yield Label("Hub search")
            yield Input(
                placeholder=f"search the Hub for {self.formats_label} models, Enter",
                id="hub-query",
                compact=True,
            )
        yield Static("", id="picker-status", classes="-empty")
        with Vertical(id="picker-progress"):
            yield ProgressBar(total=None, show_eta=False, show_percentage=True)
            yield Label("", id="progress-text")

    # --- what is shown ---

    def offers(self) -> list[ModelOffer]:
        """Every offer in the list, in order: suggestions, then Hub results."""
        return [*self.suggested, *self.found]

    def set_offers(
        self,
        suggested: Sequence[ModelOffer] | None = None,
        found: Sequence[ModelOffer] | None = None,
    ) -> None:
        """Show new suggestions and/or Hub results (None keeps the current ones)."""
        if suggested is not None:
            self.suggested = list(suggested)
        if found is not None:
            self.found = list(found)
        option_list = self.query_one("#offers", OptionList)
        highlighted = option_list.highlighted_option
        keep = highlighted.id if highlighted is not None else None
        options: list[Option | None] = []
        if not self.suggested:
            options.append(
                Option(Text("no suggested models for this app", style="dim"), disabled=True)
            )
        options.extend(Option(offer_prompt(o), id=o.key) for o in self.suggested)
        if self.found:
            options.append(None)
            options.extend(Option(offer_prompt(o), id=o.key) for o in self.found)
        option_list.set_options(options)
        keys = [o.key for o in self.offers()]
        if keep in keys:
            option_list.highlighted = option_list.get_option_index(str(keep))
        elif keys:
            option_list.highlighted = option_list.get_option_index(keys[0])

    def status(self, text: str | Text, *, error: bool = False) -> None:
        """One or two lines under the search box (errors in red)."""
        widget = self.query_one("#picker-status", Static)
        widget.update(text)
        widget.set_class(error, "-error")
        widget.set_class(not str(text), "-empty")

    def show_progress(self, d: Download | None) -> None:
        """Show one download's progress (None hides the bar)."""
        self.set_class(d is not None and not d.state.finished, "-downloading")
        if d is None:
            return
        bar = self.query_one(ProgressBar)
        bar.update(total=d.bytes_total or None, progress=d.bytes_done)
        hint = "  (esc cancels)" if d.state in (DownloadState.QUEUED, DownloadState.RUNNING) else ""
        self.query_one("#progress-text", Label).update(progress_text(d) + hint)

    def focus_offers(self) -> None:
        """Put the focus on the list of offers."""
        self.query_one("#offers", OptionList).focus()

    # --- input ---

    @on(OptionList.OptionSelected, "#offers")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        chosen = next((o for o in self.offers() if o.key == event.option.id), None)
        if chosen is not None:
            self.post_message(self.Picked(chosen))

    @on(Input.Submitted, "#hub-query")
    def _search(self, event: Input.Submitted) -> None:
        event.stop()
        query = event.value.strip()
        if query:
            self.post_message(self.SearchRequested(query))
        else:
            self.status("Type what to look for (a model name such as 'qwen'), then Enter.")

    @on(Input.Changed, "#hub-query")
    def _typing(self, event: Input.Changed) -> None:
        event.stop()  # the search text is no launch choice: no replanning for it
