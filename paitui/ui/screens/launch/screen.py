"""The launch flow: pick variant, model, port and options, see the exact ``docker run``, start.

The plan is recomputed on every change by the pure planner, so the preview is always what will
run; a choice that cannot work shows the planner's reason instead of a preview.

An app that reads a model gets a "get a model" part (``ModelPicker``): its suggestions and a Hub
search, each with whether it fits the chosen variant's device. Enter on one reads the repo,
downloads the file with progress (thread workers and the shared download queue), selects it and
starts the previewed plan; a failed or cancelled download starts nothing and says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.worker import get_current_worker

from paitui.domain.catalog.companions import model_companions
from paitui.domain.catalog.schema import App
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.export import run_line
from paitui.domain.launch.model_choice import (
    ModelOffer,
    app_formats,
    hub_filter,
    needs_model,
    refit_offer,
    suggested_offers,
)
from paitui.domain.launch.plan import LaunchChoices, LaunchPlan
from paitui.domain.launch.planner import PlanError, plan_launch
from paitui.domain.launch.variant_fit import best_variant, ranked_variants
from paitui.domain.models.fit_verdict import FitLevel, Verdict
from paitui.domain.models.records import Download, DownloadState, InstalledModel
from paitui.services.fleet.host_ports import PortCheck
from paitui.settings import Settings
from paitui.ui.failures import ReportsWorkerFailures
from paitui.ui.host import host_of
from paitui.ui.widgets.model_picker import ModelPicker

if TYPE_CHECKING:
    from paitui.services.models.will_fit import GpuFreeSource
    from paitui.services.registry import Services

from paitui.ui.screens.launch import fit_choices
from paitui.ui.screens.launch.fit_panel import FitPanel, takes_llama_args
from paitui.ui.screens.launch.model_fetch import fetch_model, find_offers
from paitui.ui.screens.launch.request import (
    DOWNLOAD,
    LaunchRequest,
    folder,
    formats_label,
    model_options,
)


class LaunchScreen(ReportsWorkerFailures, ModalScreen[LaunchRequest | None]):
    """Choose how to launch one app."""

    # --- messages from the get-a-model workers ---

    @dataclass
    class SearchDone(Message):
        """Hub results for the search box (or why there are none)."""

        offers: list[ModelOffer]
        text: str
        error: bool = False

    @dataclass
    class GetProgress(Message):
        """The chosen model's download moved; a newer one replaces an older one waiting."""

        download: Download

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, LaunchScreen.GetProgress)

    @dataclass
    class GetFinished(Message):
        """Getting the model ended: the download's last state, or an error before it began."""

        download: Download | None
        error: str | None = None

    DEFAULT_CSS = """
    LaunchScreen { align: center middle; }
    LaunchScreen #launch-box {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        background: $surface; border: thick $primary; padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    LaunchScreen .row { height: auto; margin-top: 1; }
    LaunchScreen .row Label { width: 12; padding: 0 1 0 0; }
    LaunchScreen .row Select, LaunchScreen .row Input { width: 1fr; }
    LaunchScreen #preview-box { height: auto; max-height: 12; border: round $panel; }
    LaunchScreen #preview { padding: 0 1; }
    LaunchScreen #warnings { color: $warning; }
    LaunchScreen #buttons { height: auto; align-horizontal: right; margin-top: 1; }
    LaunchScreen #buttons Button { margin-left: 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "start", "Start", priority=True),
    ]

    def __init__(
        self,
        app: App,
        report: HardwareReport,
        settings: Settings,
        models: Sequence[InstalledModel],
        taken_ports: set[int],
        port_free: PortCheck | None = None,
        *,
        hf_cache: Path | None = None,
        gpu_source: GpuFreeSource | None = None,
    ) -> None:
        """``port_free`` is the host's free-port test, the one the CLI uses too, primed in a
        worker for the app's own ports (a port the user types costs one bind test, once);
        None plans with ``taken_ports`` alone (the demo box). ``gpu_source``: free GPU memory
        for "will it fit?" (None: the live readings of this machine)."""
        super().__init__()
        self.catalog_app = app
        self.report = report
        self.settings = settings
        self.models = list(models)
        self.taken_ports = taken_ports
        self.port_free = port_free
        #: The user's Hugging Face cache, mounted read-only for apps that read the views.
        self.hf_cache = hf_cache
        self.plan: LaunchPlan | None = None
        #: Why there is no plan, as shown in the preview ("" when there is one).
        self.problem = ""
        #: The download the dialog is waiting for (its id), while one runs.
        self.getting: str | None = None
        self.gpu_source = gpu_source

    def compose(self) -> ComposeResult:
        app = self.catalog_app
        ranked = ranked_variants(app, self.report)
        best = best_variant(app, self.report)
        others = [v for v in app.variants if v not in ranked]
        unverified = {n for n, v in app.variants.items() if v.unverified}
        # The best variant comes first and is preselected; an unverified one never is.
        order = ([best] if best else []) + [v for v in ranked if v != best]
        variant_options = [(f"{v} ★ best here" if v == best else v, v) for v in order]
        variant_options += [(f"{v} (not usable here)", v) for v in others]
        variant_options = [
            (f"{label} (unverified)" if v in unverified else label, v)
            for label, v in variant_options
        ]
        with VerticalScroll(id="launch-box"):
            yield Static(
                Text.assemble(
                    ("Launch ", "bold"), (app.name, "bold cyan"), (f"  {app.kind.value}", "dim")
                )
            )
            with Horizontal(classes="row"):
                yield Label("Variant")
                yield Select(
                    variant_options,
                    value=variant_options[0][1],
                    allow_blank=False,
                    id="variant",
                    compact=True,
                )
            if app.needs.model_file or (app.mounts.models and app.mounts.models.formats):
                options = self._model_select_options()
                with Horizontal(classes="row"):
                    yield Label("Model")
                    yield Select(options, prompt="no model (pick one)", id="model", compact=True)
            if app.needs.hf_repo:
                with Horizontal(classes="row"):
                    yield Label("Model id")
                    yield Input(
                        placeholder="org/repo on the Hugging Face Hub", id="model-id", compact=True
                    )
            if any(v.build is not None for v in app.variants.values()):
                # Build-only images (RunAI): paitui builds from the user's checkout.
                with Horizontal(classes="row"):
                    yield Label("Source")
                    yield Input(
                        placeholder="the app's source folder (its git checkout) to build from",
                        id="source",
                        compact=True,
                    )
            if needs_model(app):
                yield ModelPicker(app.name, formats_label(app), id="picker")
            for name in app.needs.env:
                with Horizontal(classes="row"):
                    yield Label(name)
                    choices = app.needs.choices.get(name)
                    if choices:
                        yield Select(
                            [(c, c) for c in choices],
                            id=f"env-{name}",
                            prompt=f"choose {name}",
                            compact=True,
                        )
                    else:
                        yield Input(id=f"env-{name}", placeholder=f"value of {name}", compact=True)
            if app.ports:
                with Horizontal(classes="row"):
                    yield Label("Port")
                    yield Input(
                        placeholder=f"{app.ports[0].container} (free one picked if taken)",
                        id="port",
                        type="integer",
                        compact=True,
                    )
            with Horizontal(classes="row"):
                yield Label("Options")
                yield Input(
                    placeholder="extra arguments added after the command",
                    id="extra",
                    compact=True,
                )
            if needs_model(app) or app.needs.model_file:
                yield FitPanel(self.gpu_source, id="fit")
            yield Static(id="warnings")
            with VerticalScroll(id="preview-box"):
                yield Static(id="preview")
            with Horizontal(id="buttons"):
                yield Button("Start  ctrl+s", variant="primary", id="start", compact=True)
                yield Button("Cancel  esc", id="cancel", compact=True)

    def _model_select_options(self) -> list[tuple[str, str]]:
        options = model_options(self.catalog_app, self.models)
        options.append(("get one below (suggested, or a Hub search)…", DOWNLOAD))
        return options

    def on_mount(self) -> None:
        self.query_one("#variant", Select).focus()
        pickers = self.query(ModelPicker)
        if pickers:
            self._refresh_offers()
            # Nothing installed that the app reads: getting one is the thing to do first.
            app = self.catalog_app
            if not model_options(app, self.models) and not app.needs.hf_repo:
                pickers.first().focus_offers()
        self._replan()

    def _accel(self) -> Accel:
        variant = self._value("#variant") or next(iter(self.catalog_app.variants))
        return self.catalog_app.variant_accel(variant)

    def _installed(self) -> list[tuple[str, str]]:
        return [(m.repo_id, m.path) for m in self.models]

    def _refresh_offers(self) -> None:
        """Recompute the suggestions' fit for the chosen variant (the Hub results too)."""
        pickers = self.query(ModelPicker)
        if not pickers:
            return
        picker = pickers.first()
        accel = self._accel()
        suggested = suggested_offers(self.catalog_app, accel, self.report, self._installed())
        found = [refit_offer(o, self.catalog_app, accel, self.report) for o in picker.found]
        picker.set_offers(suggested, found)

    def _value(self, selector: str) -> str | None:
        found = self.query(selector)
        if not found:
            return None
        widget = found.first()
        if isinstance(widget, Select):
            value = widget.value
            return value if isinstance(value, str) else None
        if isinstance(widget, Input):
            return widget.value.strip() or None
        return None

    def choices(self) -> LaunchChoices:
        """The user's choices as the planner takes them."""
        model = self._value("#model")
        port = self._value("#port")
        env = {}
        for name in self.catalog_app.needs.env:
            value = self._value(f"#env-{name}")
            if value:
                env[name] = value
        extra = self._value("#extra")
        model_file = model if model and model != DOWNLOAD else None
        projector = None
        models_mount = self.catalog_app.mounts.models
        if model_file and models_mount is not None and models_mount.projector_arg:
            # A multimodal GGUF's projector beside it goes with it (domain.companions).
            repo = [m for m in self.models if model_file.startswith(f"{m.repo_id}/")]
            found = model_companions(
                model_file,
                [f"{m.repo_id}/{m.path}" for m in repo],
                {f"{m.repo_id}/{m.path}": m.effective_kind for m in repo},
            )
            model_file, projector = found.main, found.projector
        return LaunchChoices(
            variant=self._value("#variant"),
            model_file=model_file,
            projector=projector,
            model_id=self._value("#model-id"),
            source_dir=folder(self._value("#source")),
            host_port=int(port) if port and port.isdigit() else None,
            env=env,
            extra_args=tuple(extra.split()) if extra else (),
        )

    def _replan(self) -> None:
        preview = self.query_one("#preview", Static)
        warnings = self.query_one("#warnings", Static)
        try:
            self.plan = plan_launch(
                self.catalog_app,
                self.report,
                self.settings,
                self.choices(),
                taken_ports=self.taken_ports,
                port_free=self.port_free,
                hf_cache=self.hf_cache,
            )
        except PlanError as exc:
            self.plan = None
            self.problem = self._plan_problem(exc)
            preview.update(Text(self.problem, style="bold red"))
            warnings.update("")
        else:
            self.problem = ""
            preview.update(Text(run_line(self.plan), style="green"))
            warnings.update("\n".join(f"⚠ {w}" for w in self.plan.warnings))
        self.query_one("#start", Button).disabled = self.plan is None
        self._check_fit()

    def _plan_problem(self, exc: PlanError) -> str:
        """The planner's reason, worded for this dialog: no command-line flags in the TUI."""
        app, choices = self.catalog_app, self.choices()
        has_picker = bool(self.query(ModelPicker))
        if app.needs.model_file and choices.model_file is None and has_picker:
            formats = formats_label(app)
            return (
                f"{app.name} needs a {formats} model file. Choose an installed one under Model, "
                "or Enter on a suggested model to download it and start."
            )
        if app.needs.hf_repo and not choices.model_id:
            return (
                f"{app.name} needs a Hugging Face model id: type org/name under Model id, or "
                "Enter on a suggested model."
            )
        if choices.source_dir is None and self.query("#source"):
            return (
                f"{app.name} has no registry image: paitui builds it from its source. Clone "
                f"{app.homepage or 'its repository'} and type that folder under Source."
            )
        # The planner's fixes name CLI flags where the CLI is the way; the dialog is not.
        return exc.message if exc.fix and "--" in exc.fix else str(exc)

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "model" and event.value == DOWNLOAD:
            event.select.clear()
            pickers = self.query(ModelPicker)
            if pickers:
                pickers.first().focus_offers()
            return
        if event.select.id == "variant":
            self._refresh_offers()
        self._replan()

    @on(Input.Changed)
    def _input_changed(self) -> None:
        self._replan()

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        """Start with the previewed plan (a model that may not fit is said, not stopped)."""
        if self.plan is not None:
            self._dismiss_with(self.plan)

    def _dismiss_with(self, plan: LaunchPlan) -> None:
        panels = self.query(FitPanel)
        result = panels.first().result if panels else None
        if isinstance(result, Verdict) and result.level == FitLevel.TOO_BIG:
            self.app.notify(
                f"{self.catalog_app.name} is starting, but its model may not fit: {result.text}",
                title="Will it fit?",
                severity="warning",
                timeout=10,
            )
        self.dismiss(LaunchRequest(plan))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Cancel the model download when one runs; else close without starting anything."""
        if self.getting is not None:
            self._cancel_download(self.getting)
            return
        self.dismiss(None)

    # --- get a model: Hub search, download, then start ------------------------------------

    def _services(self) -> Services:
        return host_of(self).services

    def _picker(self) -> ModelPicker:
        return self.query_one(ModelPicker)

    @on(ModelPicker.SearchRequested)
    def _search_requested(self, event: ModelPicker.SearchRequested) -> None:
        flt = hub_filter(app_formats(self.catalog_app))
        what = f"{flt.upper()} models" if flt else "models"
        self._picker().status(f"searching the Hub for {what} matching {event.query!r}…")
        self._search_hub(event.query, flt, self._accel())

    @work(
        thread=True,
        exclusive=True,
        name="search the Hub",
        group="launch-hub-search",
        exit_on_error=False,
    )
    def _search_hub(self, query: str, flt: str | None, accel: Accel) -> None:
        """Search the Hub for offers; the result comes back as a SearchDone message."""
        worker = get_current_worker()
        found = find_offers(
            self._services(),
            self.catalog_app,
            accel,
            self.report,
            self._installed(),
            query,
            flt,
            lambda: worker.is_cancelled,
        )
        if found is not None:
            self.post_message(self.SearchDone(found.offers, found.text, found.error))

    def on_launch_screen_search_done(self, message: SearchDone) -> None:
        picker = self._picker()
        picker.set_offers(found=message.offers)
        picker.status(message.text, error=message.error)
        if message.offers:
            picker.focus_offers()

    @on(ModelPicker.Picked)
    def _picked(self, event: ModelPicker.Picked) -> None:
        offer = event.offer
        picker = self._picker()
        if self.getting is not None:
            picker.status("A download is running: wait for it, or esc cancels it.", error=True)
            return
        if offer.installed:
            self._use_model(offer.installed)
            return
        if offer.whole_repo:
            self._use_model_id(offer.repo)
            return
        assert offer.file is not None
        self.getting = offer.key  # until the download's id is known
        self._set_downloading(True)
        picker.status(f"reading {offer.repo} on the Hub…")
        self._get_model(offer.repo, offer.file)

    def _set_downloading(self, on: bool) -> None:
        self.query_one("#cancel", Button).label = "Cancel download  esc" if on else "Cancel  esc"
        if not on:
            self.getting = None

    @work(
        thread=True,
        exclusive=True,
        name="get the model",
        group="launch-get-model",
        exit_on_error=False,
    )
    def _get_model(self, repo: str, pattern: str) -> None:
        """Get the model (off the loop); progress and the end come back as messages."""
        download, error = fetch_model(
            self._services(), repo, pattern, lambda d: self.post_message(self.GetProgress(d))
        )
        self.post_message(self.GetFinished(download, error))

    def on_launch_screen_get_progress(self, message: GetProgress) -> None:
        if self.getting is None:
            return
        self.getting = message.download.id
        self._picker().show_progress(message.download)

    def on_launch_screen_get_finished(self, message: GetFinished) -> None:
        picker = self._picker()
        d = message.download
        self._set_downloading(False)
        picker.show_progress(None)
        tail = " Nothing was started."
        if d is None:
            picker.status((message.error or "The model could not be fetched.") + tail, error=True)
        elif d.state == DownloadState.DONE:
            self._use_model(f"{d.repo_id}/{d.file.path}")
        elif d.state == DownloadState.CANCELLED:
            picker.status(
                f"Download of {d.file.path} cancelled.{tail} Its data so far is kept: Enter on "
                "it again continues it.",
                error=True,
            )
        elif d.state == DownloadState.FAILED:
            picker.status(
                f"Download failed: {d.error}.{tail} Enter on it tries again (it continues where "
                "it stopped); another model may do.",
                error=True,
            )
        else:  # paused (paitui is closing): the Models screen can resume it
            picker.status(f"Download of {d.file.path} {d.state.value}.{tail}", error=True)

    def _cancel_download(self, key: str) -> None:
        services = self._services()
        if "downloads" in services.__dict__ and "/" in key:
            services.downloads.cancel(key)  # signals the thread; returns at once
        self._picker().status("cancelling the download…")

    def _use_model(self, rel: str) -> None:
        """Select an installed file and start, when the plan allows it."""
        select = self.query_one("#model", Select)
        options = self._model_select_options()
        if rel not in {v for _, v in options}:
            options.insert(0, (rel, rel))
        select.set_options(options)
        select.value = rel
        self._start_or_explain(f"{rel} is installed")

    def _use_model_id(self, repo: str) -> None:
        """Take a Hub repo as the model id (the app fetches it when it starts)."""
        self.query_one("#model-id", Input).value = repo
        self._start_or_explain(f"{repo} is chosen")

    def _start_or_explain(self, what: str) -> None:
        self._replan()
        if self.plan is not None:
            self._dismiss_with(self.plan)
            return
        self._picker().status(f"{what}, but the app cannot start yet: {self.problem}", error=True)

    # --- will it fit? (the logic: ``fit_choices``) -------------------------------------------

    @on(OptionList.OptionHighlighted, "#offers")
    def _offer_highlighted(self) -> None:
        self._check_fit()

    def _check_fit(self) -> None:
        panels = self.query(FitPanel)
        if panels:
            panels.first().check(fit_choices.fit_target(self))

    @on(FitPanel.Judged)
    def _judged(self, event: FitPanel.Judged) -> None:
        pickers = self.query(ModelPicker)
        if pickers:
            fit_choices.word_offers(pickers.first(), event.target, event.result)

    @on(FitPanel.OfferChosen)
    def _fit_offer(self, event: FitPanel.OfferChosen) -> None:
        offer = event.offer
        if offer.kind == "quant":
            fit_choices.take_quant(self, offer)
            self._check_fit()
            return
        if not takes_llama_args(self.catalog_app):
            self.app.notify(f"{self.catalog_app.name} takes no llama.cpp arguments.")
            return
        extra = self.query_one("#extra", Input)
        extra.value = fit_choices.with_offer(extra.value, offer)
