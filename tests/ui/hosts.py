"""The smallest Textual app that is a paitui ``Host``, for tests that mount one screen or widget.

It has what ``paitui.ui.host.Host`` lists, with real services, and records the app-wide actions
screens ask for instead of performing them.
"""

from __future__ import annotations

import time

from textual.app import App
from textual.reactive import reactive
from textual.signal import Signal

from paitui.domain.catalog.schema import Catalog
from paitui.domain.engine.containers import EngineConnection
from paitui.domain.fleet.status import AppStatus
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.catalog_preview import CatalogPreview
from paitui.services.fleet.tracker import Fleet
from paitui.services.registry import Services
from paitui.settings import load_settings
from paitui.ui.host import Host


class HostApp(App[None]):
    """A host with real services; ``fleet`` replaces the services' own; no engine unless live."""

    fleet_items: reactive[list[tuple[str, str]]] = reactive(list, always_update=True)
    engine_connection: reactive[EngineConnection | None] = reactive(None, always_update=True)

    def __init__(
        self, services: Services | None = None, *, fleet: Fleet | None = None, live: bool = False
    ) -> None:
        super().__init__()
        if services is None:
            services = Services(fleet.settings if fleet is not None else load_settings())
        if fleet is not None:
            services.fleet = fleet
        self.services = services
        self.settings = services.settings
        self.live = live
        self.catalog: Catalog | None = None
        self.catalog_preview: CatalogPreview | None = None
        self.hardware_report: HardwareReport | None = None
        self.statuses: dict[str, AppStatus] = {}
        self.user_themes: set[str] = set()
        self.catalog_changed: Signal[Catalog] = Signal(self, "catalog-changed")
        self.catalog_preview_changed: Signal[CatalogPreview] = Signal(self, "preview-changed")
        self.hardware_changed: Signal[HardwareReport] = Signal(self, "hardware-changed")
        self.statuses_changed: Signal[dict[str, AppStatus]] = Signal(self, "statuses-changed")
        #: (action, app id) of each app-wide action a screen asked for.
        self.asked: list[tuple[str, str]] = []

    def clock(self) -> float:
        return time.time()

    def set_hardware_report(self, report: HardwareReport) -> None:
        self.hardware_report = report
        self.hardware_changed.publish(report)

    def app_name(self, app_id: str) -> str:
        if self.catalog is not None and app_id in self.catalog.apps:
            return self.catalog.apps[app_id].name
        named = self.catalog_preview.name_of(app_id) if self.catalog_preview else None
        return named or app_id

    def open_launch(self, app_id: str) -> None:
        self.asked.append(("launch", app_id))

    def stop_app(self, app_id: str) -> None:
        self.asked.append(("stop", app_id))

    def open_app_link(self, app_id: str) -> None:
        self.asked.append(("open", app_id))

    def load_catalog(self) -> None:
        self.asked.append(("reload", ""))

    def use_theme(self, name: str) -> None:
        self.theme = name


def _conforms(app: HostApp) -> Host:
    # Never called: mypy checks that the test host is a Host.
    return app
