"""The paitui Textual app: one mode per section, reachable with one key from anywhere.

The app owns the shared state the screens render (catalog, hardware report) and announces changes
through signals; screens subscribe on mount. Loading and detection run in thread workers.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.signal import Signal

from paitui.domain.catalog import Catalog
from paitui.domain.hardware import HardwareReport
from paitui.domain.status import AppStatus
from paitui.resources import bundled
from paitui.services.registry import Services
from paitui.settings import config_dir, save_setting
from paitui.ui.commands import PaituiCommands
from paitui.ui.themes import load_themes

#: What a section not built yet will hold (shown until its module exists).
PROMISES = {
    "home": "tiles of the apps this box can run, running services and notifications.",
    "hardware": "every GPU, driver, device node and permission, with fixes for what is wrong.",
    "models": "search the Hugging Face Hub, download into the shared store, and the library.",
    "running": "managed containers with live state, links, logs and stats.",
}

#: mode name -> (module, class, key, title)
SECTIONS: tuple[tuple[str, str, str, str, str], ...] = (
    ("home", "paitui.ui.screens.home", "HomeScreen", "1", "Desktop"),
    ("hardware", "paitui.ui.screens.hardware", "HardwareScreen", "2", "Hardware"),
    ("catalog", "paitui.ui.screens.catalog", "CatalogScreen", "3", "Catalog"),
    ("models", "paitui.ui.screens.models", "ModelsScreen", "4", "Models"),
    ("running", "paitui.ui.screens.running", "RunningScreen", "5", "Running"),
)


def _screen_factory(name: str, module: str, cls: str, title: str) -> Any:
    def make() -> Screen[Any]:
        try:
            screen_cls = getattr(importlib.import_module(module), cls)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            from paitui.ui.screens.placeholder import PlaceholderScreen

            return PlaceholderScreen(title, PROMISES.get(name, ""))
        screen: Screen[Any] = screen_cls()
        return screen

    return make


class PaituiApp(App[None]):
    """Keyboard-driven manager for AI apps in containers."""

    TITLE = "paitui"
    CSS_PATH = "app.tcss"
    MODES: ClassVar[dict[str, Any]] = {
        name: _screen_factory(name, module, cls, title) for name, module, cls, _, title in SECTIONS
    }
    DEFAULT_MODE = "home"
    COMMANDS = App.COMMANDS | {PaituiCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(key, f"switch_mode('{name}')", title, key_display=key)
            for name, _, _, key, title in SECTIONS
        ),
        Binding("question_mark", "toggle_help", "Keys", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services
        self.settings = services.settings
        self.catalog: Catalog | None = None
        self.hardware_report: HardwareReport | None = None
        self.catalog_changed: Signal[Catalog] = Signal(self, "catalog-changed")
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
        self.load_catalog()

    @work(thread=True, exclusive=True, group="catalog", exit_on_error=False)
    def load_catalog(self) -> None:
        """Read the catalogs off the event loop, then publish them."""
        catalog = self.services.load_catalog()
        self.call_from_thread(self._set_catalog, catalog)

    def _set_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        if catalog.issues:
            count = len(catalog.issues)
            self.notify(
                f"{count} problem{'s' if count > 1 else ''} in the catalog; see the Catalog screen (3).",
                title="Catalog",
                severity="warning",
                timeout=8,
            )
        self.catalog_changed.publish(catalog)

    def set_hardware_report(self, report: HardwareReport) -> None:
        """Store a new hardware report and tell the screens."""
        self.hardware_report = report
        self.hardware_changed.publish(report)

    def set_statuses(self, statuses: dict[str, AppStatus]) -> None:
        """Store the latest app states and tell the screens and the taskbar."""
        self.statuses = statuses
        self.statuses_changed.publish(statuses)

    def app_name(self, app_id: str) -> str:
        """The display name of a catalog app (its id when it is not in the catalog)."""
        if self.catalog is not None and app_id in self.catalog.apps:
            return self.catalog.apps[app_id].name
        return app_id

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
