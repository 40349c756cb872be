"""The one seam between screens and the app: what a screen or widget may ask of its host.

``PaituiApp`` is the implementation (mypy checks it conforms, see ``paitui.ui.app``); tests host
screens in smaller apps that conform too. Screens reach it with :func:`host_of`, never with
``getattr``, so ``--strict`` sees every use. Nothing here imports the app: no import circle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.signal import Signal

    from paitui.domain.catalog.schema import Catalog
    from paitui.domain.engine.containers import EngineConnection
    from paitui.domain.fleet.status import AppStatus
    from paitui.domain.hardware.report import HardwareReport
    from paitui.domain.launch.catalog_preview import CatalogPreview
    from paitui.services.registry import Services
    from paitui.settings import Settings


class Host(Protocol):
    """The app as screens see it: shared state, its change signals, and the app-wide actions."""

    services: Services
    settings: Settings
    #: False in demo mode and tests: no hardware detection, no engine to follow.
    live: bool

    @property
    def catalog(self) -> Catalog | None:
        """The catalog as its owner (``Services``) holds it; None until first read."""

    #: What the last start saved of these very catalog files, until the catalog is read.
    catalog_preview: CatalogPreview | None
    hardware_report: HardwareReport | None
    #: The combined state of every managed app, by app id.
    statuses: dict[str, AppStatus]
    #: Names of the themes read from the user's config dir.
    user_themes: set[str]
    catalog_changed: Signal[Catalog]
    catalog_preview_changed: Signal[CatalogPreview]
    hardware_changed: Signal[HardwareReport]
    statuses_changed: Signal[dict[str, AppStatus]]

    # Reactive on the app: widgets follow them with ``self.watch(host, name, ...)``.
    @property
    def fleet_items(self) -> list[tuple[str, str]]:
        """(app name, state) of every app on the taskbar."""
        ...

    @property
    def engine_connection(self) -> EngineConnection | None:
        """The engine connection as last reported; None until the fleet has tried."""
        ...

    def clock(self) -> float:
        """Now, in epoch seconds (fixed in demo mode)."""
        ...

    def set_hardware_report(self, report: HardwareReport) -> None:
        """Store a new hardware report and tell the screens."""
        ...

    def app_name(self, app_id: str) -> str:
        """The display name of a catalog app (from the preview until the catalog is read;
        its id when it is in neither)."""
        ...

    def open_launch(self, app_id: str) -> None:
        """Open the launch flow for a catalog app."""
        ...

    def stop_app(self, app_id: str) -> None:
        """Stop a managed app."""
        ...

    def open_app_link(self, app_id: str) -> None:
        """Open the app's web UI, or copy its link."""
        ...

    def load_catalog(self) -> object:
        """Read the catalogs again (in a worker) and publish them."""
        ...

    def use_theme(self, name: str) -> None:
        """Switch the theme live and remember it."""
        ...


def host_of(node: DOMNode) -> Host:
    """The host app of a node (``node.app`` as the :class:`Host` it is)."""
    return cast("Host", node.app)
