"""The TUI with hostile files in catalog.d: it lists the valid apps, shows the problems, quits."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from textual.widgets import DataTable

from paitui.services.catalog.loader import load_catalog
from paitui.services.registry import Services
from paitui.settings import load_settings
from paitui.ui.app import PaituiApp
from tests.catalog.test_cli_catalog import GOOD

CORPUS = Path(__file__).parent / "corpus"


async def test_tui_loads_valid_apps_past_bad_files_and_quits() -> None:
    folder = Path(os.environ["PAITUI_CONFIG_DIR"]) / "catalog.d"
    folder.mkdir(parents=True)
    (folder / "10-good.yml").write_text(GOOD)
    for name in ("alias-bomb.yml", "deep-nesting.yml", "recursive-alias.yml", "float-tag.yml"):
        (folder / f"20-{name}").write_bytes((CORPUS / name).read_bytes())
    os.mkfifo(folder / "30-fifo.yml")
    catalog = load_catalog()
    assert "mine" in catalog.apps and len(catalog.issues) == 5

    app = PaituiApp(Services(load_settings()), live=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        # A hang in the loader (the alias bomb once did) fails here instead of blocking the run.
        await asyncio.wait_for(app.workers.wait_for_complete(), timeout=20)
        await pilot.pause()
        assert app.catalog is not None and "mine" in app.catalog.apps
        assert app.screen.query_one("#apps", DataTable).row_count == len(catalog.apps)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
