"""The catalog has one owner, ``Services``: a reload reaches the fleet and the Desktop without
anyone copying it over."""

from __future__ import annotations

import time
from pathlib import Path

from paitui.services.registry import Services
from paitui.settings import Settings


def entry(app_id: str) -> str:
    return (
        "apps:\n"
        f"  - id: {app_id}\n"
        f"    name: Owner test {app_id}\n"
        "    description: d\n"
        "    kind: other\n"
        '    variants: {cpu: {image: "example.org/x:1"}}\n'
    )


def test_a_reload_reaches_every_reader(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yml"
    extra.write_text(entry("owner-first"))
    services = Services(Settings(models_dir=tmp_path / "m", apps_dir=tmp_path / "a"), [extra])
    assert services.loaded_catalog is None  # nothing read before first use
    fleet = services.fleet  # built before the reload, as the Desktop builds it
    assert fleet.app("owner-first") is not None
    assert services.loaded_catalog is services.catalog is fleet.catalog
    extra.write_text(entry("owner-second"))
    reloaded = services.load_catalog()
    assert services.catalog is reloaded is fleet.catalog
    assert fleet.app("owner-second") is not None and fleet.app("owner-first") is None


async def test_the_desktop_reads_the_owners_catalog(tmp_path: Path) -> None:
    from paitui.ui.app import PaituiApp

    extra = tmp_path / "extra.yml"
    extra.write_text(entry("owner-ui"))
    services = Services(Settings(models_dir=tmp_path / "m", apps_dir=tmp_path / "a"), [extra])
    app = PaituiApp(services, live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 10  # the reading starts once the first frame is drawn
        while app.catalog is None and time.monotonic() < deadline:
            await pilot.pause(0.01)
        await app.workers.wait_for_complete()
        assert app.catalog is not None and app.catalog is services.catalog
        assert "owner-ui" in app.catalog.apps
        extra.write_text(entry("owner-ui-2"))
        app.load_catalog()  # what the Catalog screen's reload does
        await app.workers.wait_for_complete()
        assert app.catalog is services.catalog and "owner-ui-2" in app.catalog.apps
