"""The paitui Textual app: one mode per section, reachable with one key from anywhere.

The app holds the shared state the screens render (the hardware report; the catalog is read from
its owner, ``Services``) and announces changes through signals; screens subscribe on mount.
Loading and detection run in thread workers.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.signal import Signal
from textual.timer import Timer
from textual.worker import get_current_worker

from paitui.resources import bundled
from paitui.settings import config_dir, save_setting
from paitui.ui.commands import PaituiCommands
from paitui.ui.failures import ReportsWorkerFailures
from paitui.ui.fleet_actions import run_fleet_action
from paitui.ui.host import Host
from paitui.ui.sections import SECTIONS
from paitui.ui.themes import load_themes
from paitui.ui.widgets.taskbar import Taskbar, taskbar_items

#: Seconds after the start at most before the first hardware detection (see ``on_mount``).
HARDWARE_AFTER_S = 1.0
#: Seconds the fleet waits at most for the first catalog read before it loads (see start_fleet).
CATALOG_FIRST_S = 2.0
#: Seconds the catalog's reading waits at most for its preview to be drawn (see load_catalog).
PREVIEW_DRAW_S = 1.0

if TYPE_CHECKING:
    # The domain is imported where it is used, after the first frame (its dataclasses and
    # pydantic models are most of paitui's import time).
    from textual.driver import Driver

    from paitui.domain.catalog.schema import Catalog
    from paitui.domain.engine.containers import EngineConnection
    from paitui.domain.fleet.status import AppStatus
    from paitui.domain.hardware.report import HardwareReport
    from paitui.domain.launch.catalog_preview import CatalogPreview
    from paitui.domain.launch.plan import LaunchPlan
    from paitui.domain.models.records import InstalledModel
    from paitui.services.fleet.host_ports import PortCheck
    from paitui.services.registry import Services


def _screen_factory(module: str, cls: str) -> Callable[[], Screen[None]]:
    # Screens are imported on first visit, so start-up pays only for the first screen.
    def make() -> Screen[None]:
        screen: Screen[None] = getattr(importlib.import_module(module), cls)()
        return screen

    return make


class PaituiApp(ReportsWorkerFailures, App[None]):
    """Keyboard-driven manager for AI apps in containers."""

    TITLE = "paitui"
    CSS_PATH = "app.tcss"
    MODES = {s.mode: _screen_factory(s.module, s.cls) for s in SECTIONS}
    DEFAULT_MODE = "home"
    COMMANDS = App.COMMANDS | {PaituiCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(s.key, f"switch_mode('{s.mode}')", s.title, show=False) for s in SECTIONS),
        Binding("question_mark", "toggle_help", "Keys", key_display="?"),
        Binding("q", "quit", "Quit", show=False),
    ]

    #: (app id, state) of every app on the taskbar; each screen's Taskbar follows it.
    fleet_items: reactive[list[tuple[str, str]]] = reactive(list, always_update=True)
    #: The engine connection as last reported (None until the fleet has tried); the header,
    #: the taskbar and the Running screen show a lost one for as long as it lasts.
    engine_connection: reactive[EngineConnection | None] = reactive(None, always_update=True)

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for this terminal; on Linux, one whose input thread sleeps until
        input instead of waking ten times a second (``paitui.ui.input_driver``)."""
        driver_class = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if driver_class is LinuxDriver:
            from paitui.ui.input_driver import WakingLinuxDriver

            return WakingLinuxDriver
        return driver_class

    def __init__(self, services: Services, *, live: bool = True, demo: bool = False) -> None:
        """``live=False`` starts no hardware detection and no engine follow (tests);
        ``demo`` shows the fixed sample box of ``paitui.demo`` instead."""
        super().__init__()
        self.services = services
        self.live = live and not demo
        self.demo = demo
        self._session_start = time.time()
        self._engine_lost = False
        self._publish_pending = False
        self._hardware_asked = False
        self._catalog_read = asyncio.Event()
        self._hardware_timer: Timer | None = None
        self.settings = services.settings
        self.hardware_report: HardwareReport | None = None
        self.catalog_preview: CatalogPreview | None = None
        self.catalog_changed: Signal[Catalog] = Signal(self, "catalog-changed")
        self.catalog_preview_changed: Signal[CatalogPreview] = Signal(self, "preview-changed")
        self.hardware_changed: Signal[HardwareReport] = Signal(self, "hardware-changed")
        #: The combined state of every managed app, by app id.
        self.statuses: dict[str, AppStatus] = {}
        self.statuses_changed: Signal[dict[str, AppStatus]] = Signal(self, "statuses-changed")
        bundled_themes, self.theme_problems = load_themes([bundled("themes")])
        user_themes, user_problems = load_themes([config_dir() / "themes"])
        self.theme_problems += user_problems
        self.user_themes = {t.name for t in user_themes}
        for theme in (*bundled_themes, *user_themes):
            self.register_theme(theme)
        wanted = self.settings.theme
        if wanted not in self.available_themes:
            self.theme_problems.append(f"theme {wanted!r} not found; using paitui-dark")
            wanted = "paitui-dark"
        self.theme = wanted

    def on_mount(self) -> None:
        for problem in (*self.settings.problems, *self.theme_problems):
            self.notify(problem, title="Settings", severity="warning", timeout=10)
        if self.demo:
            from paitui.demo import demo_report, demo_statuses

            self.set_hardware_report(demo_report())
            self._publish_statuses(demo_statuses())

    def on_ready(self) -> None:
        """After the first layout: the work that fills the screens starts once it is drawn."""
        # Anything started sooner shares the interpreter lock with the first paint and delays it.
        self.call_after_refresh(self._after_first_frame)

    def _after_first_frame(self) -> None:
        self.load_catalog()
        if self.live:
            self.start_fleet()
            # Detection loads the SDK and asks udev and the engine: it waits for the first list of
            # apps (what people look at first), or HARDWARE_AFTER_S when the engine is slow.
            self._hardware_timer = self.set_timer(HARDWARE_AFTER_S, self._detect_first)

    async def on_unmount(self) -> None:
        """Leave nothing half-done: checkpoint downloads, stop following the engine."""
        import asyncio

        built = self.services.__dict__
        if "downloads" in built:
            # Writes each partial's metadata so the next start resumes at the exact byte.
            await asyncio.to_thread(self.services.downloads.shutdown)
        if "fleet" in built:
            await self.services.fleet.close()

    # --- hardware ------------------------------------------------------------------------------

    @work(
        thread=True,
        exclusive=True,
        name="detect the hardware",
        group="hardware",
        exit_on_error=False,
    )
    def detect_hardware(self) -> None:
        """Detect GPUs, host and Docker facts off the event loop, then publish the report."""
        report = self.services.detect_hardware(cancel=get_current_worker().cancelled_event)
        self.call_from_thread(self.set_hardware_report, report)

    # --- the fleet of managed apps ---------------------------------------------------------------

    @work(exclusive=True, name="follow the Docker engine", group="fleet", exit_on_error=False)
    async def start_fleet(self) -> None:
        """Follow the managed containers (engine events + probes) for the whole session."""
        import asyncio
        import contextlib

        from paitui.domain.fleet.status import from_listing

        # The apps on a local socket in one request, before the fleet or the SDK is loaded.
        listed = await self.services.quick_listing()
        if listed is not None:
            self._publish_statuses(from_listing(listed, self.clock()))
        # Building the fleet imports much (its module, the SDK next): the catalog, which the
        # Desktop needs to draw those apps, goes first.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._catalog_read.wait(), CATALOG_FIRST_S)
        fleet = await asyncio.to_thread(lambda: self.services.fleet)
        fleet.subscribe(lambda _status: self._statuses_dirty())
        fleet.subscribe_connection(self._engine_connection)
        await fleet.start(seed=listed)

    def clock(self) -> float:
        """Now, in epoch seconds; fixed in demo mode so what is shown never changes."""
        if self.demo:
            from paitui.demo import DEMO_NOW

            return DEMO_NOW
        return time.time()

    def _statuses_dirty(self) -> None:
        # The fleet reports changes one by one (500 at once when paitui starts beside 500
        # containers); publish once per batch, after the loop has taken them all in.
        if not self._publish_pending:
            self._publish_pending = True
            self.call_later(self._flush_statuses)

    def _flush_statuses(self) -> None:
        self._publish_pending = False
        self._publish_statuses(dict(self.services.fleet.statuses))
        if not self._hardware_asked:
            self.call_after_refresh(self._detect_first)

    def _detect_first(self) -> None:
        """The session's first hardware detection, once (after the first list, or the timer)."""
        if self._hardware_asked or not self.live:
            return
        self._hardware_asked = True
        if self._hardware_timer is not None:
            self._hardware_timer.stop()
        self.detect_hardware()

    def _publish_statuses(self, statuses: dict[str, AppStatus]) -> None:
        from paitui.domain.fleet.status import AppState

        for app_id, new in statuses.items():
            old = self.statuses.get(app_id)
            if old is not None and old.state == new.state:
                continue
            name = self.app_name(app_id)
            # Ready is news for an app started in this session, or one that recovered; apps
            # found running when paitui starts are not announced one by one.
            fresh = (new.started_at or 0.0) >= self._session_start
            recovered = old is not None and old.state == AppState.UNHEALTHY
            if new.state == AppState.READY and old is not None and (fresh or recovered):
                self.notify(f"{name} is ready.", title="Ready", timeout=6)
            elif new.state == AppState.CRASHED and old is not None:
                tail = "\n".join(new.last_logs[-3:])
                self.notify(
                    f"{name}: {new.detail}" + (f"\n{tail}" if tail else ""),
                    title="Crashed",
                    severity="error",
                    timeout=12,
                )
        # The taskbar shows names, not ids: it is what people read at a glance.
        self.fleet_items = [(self.app_name(i), s) for i, s in taskbar_items(statuses.values())]
        self.set_statuses(statuses)

    def _engine_connection(self, connection: EngineConnection) -> None:
        # Being connected is the normal case: say only that it was lost, and that it is back.
        # The lasting state is in the header, the taskbar and the Running screen.
        if not self._hardware_asked:
            self.call_after_refresh(self._detect_first)  # the engine answered, or cannot
        was_lost = self._engine_lost
        self._engine_lost = not connection.connected
        self.engine_connection = connection
        if not connection.connected and not was_lost:
            self.notify(connection.message, title="Docker engine", severity="error", timeout=8)
        elif connection.connected and was_lost:
            self.notify(connection.message, title="Docker engine", timeout=6)
        report = self.hardware_report
        if (
            connection.connected
            and report is not None
            and report.docker is not None
            and not report.docker.reachable
            and self.live
        ):
            # Detected while the engine was away: its facts (version, runtimes) are stale.
            self.detect_hardware()

    def open_launch(self, app_id: str) -> None:
        """Open the launch flow for a catalog app."""
        from paitui.domain.launch.variant_fit import best_variant, why_not

        if self.catalog is None and self.catalog_preview is not None:
            self.notify("Still reading the catalog; try again in a moment.")
            return
        if self.catalog is None or app_id not in self.catalog.apps:
            self.notify(f"{app_id} is not in the catalog.", severity="warning")
            return
        if self.hardware_report is None:
            self.notify("Still detecting the hardware; try again in a moment.")
            return
        app = self.catalog.apps[app_id]
        if best_variant(app, self.hardware_report) is None:
            self.notify(
                f"{app.name} {why_not(app, self.hardware_report)}. The Hardware screen (2) says "
                "what is missing.",
                title="Cannot run here",
                severity="warning",
                timeout=10,
            )
            return
        from paitui.services.fleet.host_ports import held_ports

        self._gather_launch(app_id, held_ports(self.statuses.values()))

    @work(
        thread=True,
        exclusive=True,
        name="read the installed models for the launch",
        group="launch-form",
        exit_on_error=False,
    )
    def _gather_launch(self, app_id: str, taken: set[int]) -> None:
        """Read the installed models and bind-test the app's ports (the same check as the
        CLI's) before showing the launch form."""
        from paitui.services.fleet.host_ports import launch_port_check
        from paitui.services.models.library import user_hf_cache

        models = self.services.model_store.installed()
        # Apps that read the store's views also get the user's HF cache, read-only.
        hf_cache = None if self.demo else user_hf_cache()
        # The demo box is fixed: its plan must not depend on this host's ports.
        wanted = [p.container for p in self.catalog.apps[app_id].ports] if self.catalog else []
        ports = None if self.demo else launch_port_check(self.settings.bind_address, taken, wanted)
        self.call_from_thread(self._show_launch, app_id, models, taken, ports, hf_cache)

    def _show_launch(
        self,
        app_id: str,
        models: list[InstalledModel],
        taken: set[int],
        ports: PortCheck | None,
        hf_cache: Path | None = None,
    ) -> None:
        from paitui.ui.screens.launch import LaunchRequest, LaunchScreen

        assert self.catalog is not None and self.hardware_report is not None
        app = self.catalog.apps[app_id]

        def chosen(request: LaunchRequest | None) -> None:
            if request is None:
                return
            if request.plan is None:
                self.switch_mode("models")
                formats = ", ".join(request.download_formats) or "model"
                self.notify(
                    f"Search for a {formats} file for {app.name}, then launch again.",
                    title="Download a model",
                )
                return
            self.switch_mode("running")
            self.launch_plan(request.plan)

        self.push_screen(
            LaunchScreen(
                app, self.hardware_report, self.settings, models, taken, ports, hf_cache=hf_cache
            ),
            chosen,
        )

    def launch_plan(self, plan: LaunchPlan) -> None:
        """Pull (with progress), create and start; states arrive through the fleet."""
        name = self.app_name(plan.app_id)
        run_fleet_action(self, f"start {name}", self.services.fleet.launch(plan))

    def stop_app(self, app_id: str) -> None:
        """Stop a managed app."""
        name = self.app_name(app_id)
        run_fleet_action(self, f"stop {name}", self.services.fleet.stop(app_id))

    def open_app_link(self, app_id: str) -> None:
        """Open the app's web UI, or copy its link (and the ssh -L command over SSH)."""
        from paitui.domain.fleet.links import app_links, can_open_browser

        status = self.statuses.get(app_id)
        app = self.catalog.apps.get(app_id) if self.catalog else None
        links = app_links(app, status.ports if status else (), os.environ)
        link = links.primary
        if link is None:
            self.notify(f"{self.app_name(app_id)} publishes no port.", severity="warning")
            return
        if can_open_browser(os.environ):
            self.open_url(link.url)
            return
        self.copy_to_clipboard(links.ssh_tunnel or link.url)
        what = "ssh -L command" if links.ssh_tunnel else "link"
        self.notify(
            f"Copied the {what}: {links.ssh_tunnel or link.url}", title=self.app_name(app_id)
        )

    def on_taskbar_selected(self, event: Taskbar.Selected) -> None:
        """A click on the taskbar goes to the Running screen."""
        self.switch_mode("running")

    @work(
        thread=True, exclusive=True, name="read the catalog", group="catalog", exit_on_error=False
    )
    def load_catalog(self) -> None:
        """Read the catalogs off the event loop, then publish them.

        The first time, the preview saved by the last start (when the files are the same) is
        published first: the apps are on screen without waiting for the schema to load."""
        services = self.services
        fingerprint = services.catalog_fingerprint()
        if self.catalog is None and fingerprint is not None:
            preview = services.catalog_preview(fingerprint)
            if preview is not None:
                self.call_from_thread(self._set_preview, preview)
                # The reading shares the interpreter lock with the drawing: the screen shown
                # (the Desktop, or another section a key chose meanwhile) is drawn first.
                drawn = threading.Event()
                self.call_from_thread(self.call_after_refresh, drawn.set)
                drawn.wait(PREVIEW_DRAW_S)
        try:
            catalog = services.load_catalog()
        except BaseException:
            self.call_from_thread(self._catalog_read.set)  # failed: the fleet goes on
            raise
        self.call_from_thread(self._set_catalog, catalog)
        services.save_catalog_preview(catalog, fingerprint)

    def _set_preview(self, preview: CatalogPreview) -> None:
        if self.catalog is None:
            self.catalog_preview = preview
            self.catalog_preview_changed.publish(preview)

    @property
    def catalog(self) -> Catalog | None:
        """The catalog as its owner (``Services``) holds it; None until first read."""
        return self.services.loaded_catalog

    def _set_catalog(self, catalog: Catalog) -> None:
        if catalog.issues:
            count = len(catalog.issues)
            plural = "s" if count > 1 else ""
            self.notify(
                f"{count} problem{plural} in the catalog; see the Catalog screen (3).",
                title="Catalog",
                severity="warning",
                timeout=8,
            )
        self.catalog_changed.publish(catalog)
        # The fleet (it loads the SDK, a long hold of the interpreter lock) waits until the
        # screens have drawn the catalog.
        self.call_after_refresh(self._catalog_read.set)

    def set_hardware_report(self, report: HardwareReport) -> None:
        """Store a new hardware report and tell the screens."""
        self.hardware_report = report
        self.hardware_changed.publish(report)

    def set_statuses(self, statuses: dict[str, AppStatus]) -> None:
        """Store the latest app states and tell the screens and the taskbar."""
        self.statuses = statuses
        self.statuses_changed.publish(statuses)

    def app_name(self, app_id: str) -> str:
        """The display name of a catalog app (from the preview until the catalog is read; its
        id when it is in neither)."""
        if self.catalog is not None and app_id in self.catalog.apps:
            return self.catalog.apps[app_id].name
        named = self.catalog_preview.name_of(app_id) if self.catalog_preview else None
        return named or app_id

    def use_theme(self, name: str) -> None:
        """Switch the theme live and remember it in config.toml."""
        self.theme = name
        try:
            save_setting("theme", name)
        except OSError as exc:
            self.notify(f"Theme not remembered: {exc}", severity="warning")

    def action_toggle_help(self) -> None:
        """Show or hide the list of keys of the current screen."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()


def _conforms(app: PaituiApp) -> Host:
    # Never called: mypy checks here that the app is the Host its screens are written against.
    return app
