"""The launch flow: pick variant, model, port and options, see the exact ``docker run``, start.

The plan is recomputed on every change by the pure planner, so the preview is always what will
run; a choice that cannot work shows the planner's reason instead of a preview.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from paitui.domain.catalog import App
from paitui.domain.fit import ranked_variants
from paitui.domain.hardware import HardwareReport
from paitui.domain.launch import LaunchChoices, LaunchPlan
from paitui.domain.models import InstalledModel, human_size
from paitui.services.export import run_line
from paitui.services.host_ports import PortCheck
from paitui.services.planner import PlanError, plan_launch
from paitui.settings import Settings

#: The model select's entry that leads to the Models screen.
DOWNLOAD = "__download__"


@dataclass(frozen=True)
class LaunchRequest:
    """What the user confirmed: start this plan (or go and download a model first)."""

    plan: LaunchPlan | None
    download_formats: tuple[str, ...] = ()


def model_options(app: App, models: Sequence[InstalledModel]) -> list[tuple[str, str]]:
    """Installed files the app can read, as (label, store-relative path)."""
    wanted = set(app.needs.model_file) or set(
        app.mounts.models.formats if app.mounts.models else ()
    )
    options = []
    for m in models:
        if wanted and not wanted.intersection(m.formats):
            continue
        options.append((f"{m.repo_id}/{m.path}  {human_size(m.size)}", f"{m.repo_id}/{m.path}"))
    return options


class LaunchScreen(ModalScreen[LaunchRequest | None]):
    """Choose how to launch one app."""

    DEFAULT_CSS = """
    LaunchScreen { align: center middle; }
    LaunchScreen #launch-box {
        width: 100; max-width: 100%; height: auto; max-height: 100%;
        background: $surface; border: thick $primary; padding: 0 1;
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
    ) -> None:
        """``port_free`` is the host's free-port test, the one the CLI uses too, primed in a
        worker for the app's own ports (a port the user types costs one bind test, once);
        None plans with ``taken_ports`` alone (the demo box)."""
        super().__init__()
        self.catalog_app = app
        self.report = report
        self.settings = settings
        self.models = list(models)
        self.taken_ports = taken_ports
        self.port_free = port_free
        self.plan: LaunchPlan | None = None

    def compose(self) -> ComposeResult:
        app = self.catalog_app
        ranked = ranked_variants(app, self.report)
        others = [v for v in app.variants if v not in ranked]
        variant_options = [(f"{v} ★ best here" if i == 0 else v, v) for i, v in enumerate(ranked)]
        variant_options += [(f"{v} (not usable here)", v) for v in others]
        with Vertical(id="launch-box"):
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
                options = model_options(app, self.models)
                formats = "/".join(app.needs.model_file or ("model",))
                options.append((f"download a {formats} model…", DOWNLOAD))
                with Horizontal(classes="row"):
                    yield Label("Model")
                    yield Select(options, prompt="no model (pick one)", id="model", compact=True)
            if app.needs.hf_repo:
                with Horizontal(classes="row"):
                    yield Label("Model id")
                    yield Input(
                        placeholder="org/repo on the Hugging Face Hub", id="model-id", compact=True
                    )
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
            yield Static(id="warnings")
            with VerticalScroll(id="preview-box"):
                yield Static(id="preview")
            with Horizontal(id="buttons"):
                yield Button("Start  ctrl+s", variant="primary", id="start", compact=True)
                yield Button("Cancel  esc", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#variant", Select).focus()
        self._replan()

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
        return LaunchChoices(
            variant=self._value("#variant"),
            model_file=model if model and model != DOWNLOAD else None,
            model_id=self._value("#model-id"),
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
            )
        except PlanError as exc:
            self.plan = None
            preview.update(Text(str(exc), style="bold red"))
            warnings.update("")
        else:
            preview.update(Text(run_line(self.plan), style="green"))
            warnings.update("\n".join(f"⚠ {w}" for w in self.plan.warnings))
        self.query_one("#start", Button).disabled = self.plan is None

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "model" and event.value == DOWNLOAD:
            formats = self.catalog_app.needs.model_file or (
                self.catalog_app.mounts.models.formats if self.catalog_app.mounts.models else ()
            )
            self.dismiss(LaunchRequest(None, tuple(formats)))
            return
        self._replan()

    @on(Input.Changed)
    def _input_changed(self) -> None:
        self._replan()

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        """Start with the previewed plan."""
        if self.plan is not None:
            self.dismiss(LaunchRequest(self.plan))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without starting anything."""
        self.dismiss(None)
