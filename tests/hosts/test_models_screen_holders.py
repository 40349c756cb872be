"""The Models screen says which box holds what: each ssh:// box's own store, asked over SSH."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from textual.app import ComposeResult
from textual.widgets import DataTable, Label

from paitui.services.registry import Services
from paitui.settings import load_settings
from paitui.ui.screens.models import ModelsScreen
from tests.hosts.remote_box import RemoteBox
from tests.ui.hosts import HostApp


class ModelsApp(HostApp):
    def compose(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.push_screen(ModelsScreen())


def _cli(r: RemoteBox, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paitui", "--config", str(r.config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=r.env,
        check=False,
    )


async def test_the_library_says_which_other_box_holds_each_repo(
    remote: RemoteBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # gpubox holds both repos (pulled there over SSH); this box only the tiny one.
    for repo, name in (("acme/tiny-gguf", "tiny.Q4_K_M.gguf"), ("acme/big", "big.gguf")):
        out = _cli(remote, "models", "pull", repo, name, "--host", "gpubox")
        assert out.returncode == 0, out.stdout + out.stderr
    monkeypatch.setenv("HF_ENDPOINT", remote.hub.url)
    services = Services(load_settings(remote.config))
    info = services.hub.repo_info("acme/tiny-gguf")
    services.downloads.enqueue(
        info.repo_id, info.commit, [f for f in info.files if f.path.endswith(".gguf")]
    )
    services.downloads.wait([d.id for d in services.downloads.snapshot()])
    app = ModelsApp(services)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            library = app.screen.query_one("#library", DataTable)
            deadline = time.monotonic() + 30
            where = ""
            while time.monotonic() < deadline:
                if library.row_count == 1:
                    where = str(library.get_row_at(0)[4])
                    if "gpubox" in where:
                        break
                await pilot.pause(0.05)
            # gpubox answered and holds it too; bare's paitui is not found: it may hold it.
            assert where == "store · gpubox, bare?", where
            title = str(app.screen.query_one("#library-title", Label).render())
            assert "gpubox holds 1 more" in title, title
    finally:
        services.downloads.shutdown()
