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
from paitui.resources import bundled
from paitui.services.registry import Services
from paitui.settings import config_dir
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
        themes, self.theme_problems = load_themes(
            [bundled("themes"), config_dir() / "themes"]
        )
        for theme in themes:
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

    def action_toggle_help(self) -> None:
        """Show or hide the list of keys of the current screen."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()
