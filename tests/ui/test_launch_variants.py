"""The launch dialog's variant choice: the best verified one preselected, unverified marked."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.widgets import Input, Select, Static

from paitui.services.catalog.loader import load_catalog
from paitui.settings import Settings
from paitui.ui.screens.launch import LaunchRequest, LaunchScreen
from tests.test_variant_choice import cuda_box
from tests.ui.hosts import HostApp


class Host(HostApp):
    """Hosts one launch dialog."""

    def __init__(self, dialog: LaunchScreen) -> None:
        super().__init__()
        self.dialog = dialog
        self.results: list[LaunchRequest | None] = []

    def compose(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.results.append)


async def until(pilot: Any, check: Callable[[], object], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def test_unverified_variant_is_marked_and_warned_not_preselected(tmp_path: Path) -> None:
    runner = load_catalog(include_user=False).apps["livepeer-ai-runner"]
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    dialog = LaunchScreen(runner, cuda_box(), settings, [], set())
    host = Host(dialog)
    async with host.run_test(size=(100, 40)) as pilot:
        select = dialog.query_one("#variant", Select)
        await until(pilot, lambda: dialog.plan is not None or dialog.problem, "the first plan")
        assert select.value == "cuda"
        labels = {value: str(label) for label, value in select._options if value}
        assert labels["cuda"] == "cuda ★ best here"
        assert labels["cpu-test"] == "cpu-test (unverified)"
        dialog.query_one("#model-id", Input).value = "a/b"
        dialog.query_one("#env-PIPELINE", Select).value = "live-video-to-video"
        select.value = "cpu-test"
        warnings = dialog.query_one("#warnings", Static)
        await until(pilot, lambda: "unverified" in str(warnings.content), "the warning")
        assert "No-op" in str(warnings.content), dialog.problem


async def test_a_build_only_app_takes_its_source_folder_in_the_dialog(tmp_path: Path) -> None:
    runai = load_catalog(include_user=False).apps["runai"]
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    dialog = LaunchScreen(runai, cuda_box(), settings, [], set())
    host = Host(dialog)
    async with host.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: dialog.plan is not None or dialog.problem, "the first plan")
        assert dialog.plan is None and "type that folder under Source" in dialog.problem
        source = tmp_path / "airunner_nexus"
        source.mkdir()
        dialog.query_one("#source", Input).value = str(source)
        await until(pilot, lambda: dialog.plan is not None, "a plan with the source")
        assert dialog.plan is not None and dialog.plan.build is not None
        assert dialog.plan.build.context == str(source)
