"""A failed worker is shown to the user, whether the app or a screen started it.

The failure is real: a models store whose lock file is a directory, with a download sidecar a
crash left behind, so reading the installed models has to take the lock, and cannot.
"""

from __future__ import annotations

import time
from pathlib import Path

from textual.pilot import Pilot

from paitui.services.registry import Services
from paitui.settings import Settings
from paitui.ui.app import PaituiApp
from paitui.ui.failures import failure_text
from paitui.ui.screens.launch import LaunchScreen
from paitui.ui.screens.models import ModelsScreen


def broken_store(models_dir: Path) -> None:
    """A store whose installed files cannot be read: the index lock is a directory."""
    sidecar = models_dir / ".partial" / "acme" / "tiny" / "tiny.gguf.part.json"
    sidecar.parent.mkdir(parents=True)
    sidecar.write_text("{}")  # its .part is gone: the store adopts it under the lock
    (models_dir / ".paitui-index.lock").mkdir()


def demo_app(tmp_path: Path) -> PaituiApp:
    settings = Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")
    broken_store(settings.models_dir)
    return PaituiApp(Services(settings), demo=True)


def error_titles(app: PaituiApp) -> list[str]:
    return [n.title for n in app._notifications if n.severity == "error"]


async def until(pilot: Pilot[None], check: object, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def test_enter_on_a_tile_says_why_the_launch_form_cannot_open(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.catalog is not None, "the catalog")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("enter")  # the focused tile: an app the demo box can run
        title = "Could not read the installed models for the launch"
        await until(pilot, lambda: title in error_titles(app), "the failure notification")
        note = next(n for n in app._notifications if n.title == title)
        assert "Is a directory" in note.message
        assert str(tmp_path / "models" / ".paitui-index.lock") in note.message
        assert not isinstance(app.screen, LaunchScreen)  # nothing half-open


async def test_a_screen_worker_failure_is_shown_too(tmp_path: Path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("4")  # the Models screen reads the library on mount
        await until(pilot, lambda: isinstance(app.screen, ModelsScreen), "the Models screen")
        await until(
            pilot, lambda: "Could not read the library" in error_titles(app), "the notification"
        )
        note = next(n for n in app._notifications if n.title == "Could not read the library")
        assert note.message and note.severity == "error"


def test_failure_text_is_in_a_users_words() -> None:
    assert failure_text(IsADirectoryError(21, "Is a directory", "/x/lock")) == (
        "Is a directory: /x/lock"
    )
    assert failure_text(ValueError("bad size 'x'")) == "ValueError: bad size 'x'"
    assert failure_text(KeyError("repo")) == "KeyError: 'repo'"
    assert failure_text(RuntimeError()) == "RuntimeError"
