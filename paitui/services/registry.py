"""One place that builds the services from settings, lazily, so start-up imports nothing heavy.

The UI and the CLI take a ``Services``; tests pass one built on their own settings. Each service
module is imported on first use (docker, httpx and huggingface_hub cost time to import).

``Services`` is also the one owner of the catalog: the fleet, the Desktop and its screens read
``catalog`` (or ``loaded_catalog``) here, and ``load_catalog`` replaces it for all of them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    # Types only (the catalog too): the schema's pydantic models cost a fifth of the time to
    # the first frame, and the UI paints before it reads a catalog.
    from paitui.domain.catalog.schema import Catalog
    from paitui.domain.engine.containers import ContainerInfo
    from paitui.domain.fleet.hosts import HostList
    from paitui.domain.hardware.report import HardwareReport
    from paitui.domain.launch.catalog_preview import CatalogPreview
    from paitui.services.engine.client import Engine
    from paitui.services.fleet.tracker import Fleet
    from paitui.services.gpu.sampler import GpuSampler
    from paitui.services.hardware.udev import HardwareMonitor
    from paitui.services.models.downloads import DownloadManager
    from paitui.services.models.hub import HubService
    from paitui.services.models.store import ModelStore
    from paitui.settings import Settings


def _defer_unused_imports() -> None:
    """httpx imports its command-line tool (click, pygments: 100 modules) when they are
    installed; paitui never runs it, and httpx defines a stub when that import fails."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]


_defer_unused_imports()


class Services:
    """Lazily built services sharing one ``Settings``."""

    def __init__(self, settings: Settings, catalog_paths: Sequence[Path] = ()) -> None:
        self.settings = settings
        self.catalog_paths = tuple(catalog_paths)
        self._catalog: Catalog | None = None

    def load_catalog(self) -> Catalog:
        """Read the bundled and user catalogs afresh and make them the current catalog
        (blocking but cheap; used at start and on reload)."""
        from paitui.services.catalog.loader import load_catalog

        catalog = load_catalog(self.catalog_paths)
        self._catalog = catalog  # one reference swapped whole: readers see old or new
        return catalog

    def catalog_fingerprint(self) -> str | None:
        """A digest of the catalog files as they are now (None when they cannot be listed or
        read: the catalog's reading says why)."""
        from paitui.services.catalog.files import catalog_paths
        from paitui.services.catalog.preview_cache import catalog_fingerprint

        paths, listing_error = catalog_paths(self.catalog_paths)
        return None if listing_error is not None else catalog_fingerprint(paths)

    def catalog_preview(self, fingerprint: str) -> CatalogPreview | None:
        """The preview the last start saved, if it was made from the files of ``fingerprint``."""
        from paitui.services.catalog.preview_cache import read_preview
        from paitui.settings import data_dir

        return read_preview(data_dir(), fingerprint)

    def save_catalog_preview(self, catalog: Catalog, fingerprint: str | None) -> None:
        """Save the preview of ``catalog``, read from the files of ``fingerprint``, for the next
        start; nothing when the files changed meanwhile or the same preview is saved already."""
        from paitui.domain.launch.catalog_preview import preview_of
        from paitui.services.catalog.preview_cache import read_preview, write_preview
        from paitui.settings import data_dir

        if fingerprint is None or self.catalog_fingerprint() != fingerprint:
            return
        preview = preview_of(catalog, fingerprint)
        if read_preview(data_dir(), fingerprint) != preview:
            write_preview(data_dir(), preview)

    @property
    def catalog(self) -> Catalog:
        """The current catalog, read at first use."""
        return self._catalog if self._catalog is not None else self.load_catalog()

    @property
    def loaded_catalog(self) -> Catalog | None:
        """The current catalog, or None while none was read yet (never blocks)."""
        return self._catalog

    @cached_property
    def hub(self) -> HubService:
        """Hugging Face Hub search and repo info (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE)."""
        from paitui.services.models.hub import HubService

        return HubService()

    @cached_property
    def model_store(self) -> ModelStore:
        """The shared models store under ``settings.models_dir``."""
        from paitui.services.models.store import ModelStore

        return ModelStore(self.settings.models_dir)

    @cached_property
    def downloads(self) -> DownloadManager:
        """The model download queue; it outlives screens, so downloads go on in the background."""
        from paitui.services.models.downloads import DownloadManager

        return DownloadManager(
            self.model_store, self.hub.config, concurrency=self.settings.download_concurrency
        )

    @cached_property
    def engine(self) -> Engine:
        """The Docker engine service (connects on first call, not here)."""
        from paitui.services.engine.client import Engine

        return Engine(self.settings)

    async def quick_listing(self) -> list[ContainerInfo] | None:
        """The managed containers from one request on a local engine socket, without loading
        the engine service or the SDK (None for other endpoints or no answer; ``quick_list``)."""
        from paitui.services.engine.podman import resolve_engine
        from paitui.services.engine.quick_list import list_managed_quick

        built = self.__dict__.get("engine")
        host = built.host if built is not None else resolve_engine(self.settings.docker_host).host
        return await list_managed_quick(host)

    @cached_property
    def fleet(self) -> Fleet:
        """Live status of every managed app (engine events + probes); call ``await start()``."""
        from paitui.services.fleet.tracker import Fleet

        return Fleet(self.engine, lambda: self.catalog, self.settings)

    @cached_property
    def hosts(self) -> HostList:
        """The engines paitui follows: this one, docker contexts, ``[hosts.NAME]`` (reads files)."""
        from paitui.services.fleet.host_list import load_hosts

        return load_hosts(self.settings)

    @cached_property
    def gpu_sampler(self) -> GpuSampler | None:
        """Live GPU use on demand (``PAITUI_GPU_*``); None when ``PAITUI_GPU_LIVE=off``;
        ValueError saying what to fix for a bad ``PAITUI_GPU_HELPER``."""
        import os

        from paitui.services.gpu.sampler import sampler_from_env

        if os.environ.get("PAITUI_GPU_LIVE", "").lower() == "off":
            return None
        # exec: one long-lived helper container, one exec per sample (every 2 s on screen).
        return sampler_from_env(default_helper="exec")

    def detect_hardware(self, cancel: threading.Event | None = None) -> HardwareReport:
        """Detect GPUs, host and Docker facts afresh (blocking, quick; run it off the UI thread)."""
        from paitui.services.hardware.detect import detect_hardware

        return detect_hardware(self.settings, cancel=cancel)

    def hardware_monitor(self, callback: Callable[[str, str], None]) -> HardwareMonitor:
        """A hot-plug monitor calling ``callback(action, sys_path)``; call ``start()`` on it."""
        from paitui.services.hardware.detect import HardwareMonitor

        return HardwareMonitor(callback)
