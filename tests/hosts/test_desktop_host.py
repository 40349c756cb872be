"""The Desktop says which box a tile would run on, once more than one host is configured."""

from __future__ import annotations

from pathlib import Path

from paitui.services.registry import Services
from paitui.settings import load_settings
from paitui.ui.app import PaituiApp
from paitui.ui.widgets.tiles import AppTile


async def _tiles(app: PaituiApp, pilot: object) -> list[AppTile]:
    for _ in range(50):
        tiles = list(app.screen.query(AppTile))
        if tiles:
            return tiles
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    raise AssertionError("no tiles on the Desktop")


async def test_tiles_name_the_box_only_with_several_hosts(tmp_path: Path) -> None:
    for hosts, note in (
        ('[hosts.gpu1]\nendpoint = "ssh://ana@gpu1.lan"\n', "runs on local"),
        ("", None),
    ):
        config = tmp_path / "config.toml"
        config.write_text(hosts)
        app = PaituiApp(Services(load_settings(config)), live=False)
        async with app.run_test(size=(100, 30)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            tiles = await _tiles(app, pilot)
            runnable = [t for t in tiles if t.data.variant is not None]
            assert runnable, "the bundled catalog offers runnable tiles before detection"
            assert {t.data.host for t in runnable} == {note}
            text = runnable[0].render().plain
            assert ("runs on local" in text) == bool(note), text
            assert all(t.data.host is None for t in tiles if t.data.variant is None)
