"""Snapshot tests of every screen at 80x24 and 160x48, on the fixed demo box.

Update after reviewing a deliberate change: ``pytest tests/ui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from paitui.services.registry import Services
from paitui.settings import load_settings
from paitui.ui.app import PaituiApp

SIZES = [(80, 24), (160, 48)]


def demo_app() -> PaituiApp:
    return PaituiApp(Services(load_settings()), demo=True)


def go(key: str, then: Callable[[Any], Awaitable[None]] | None = None) -> Any:
    async def run_before(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.press(key)
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if then is not None:
            await then(pilot)
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()

    return run_before


async def _launch_form(pilot: Any) -> None:
    pilot.app.open_launch("pai-koboldcpp")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    ("name", "key", "then"),
    [
        ("home", "1", None),
        ("hardware", "2", None),
        ("catalog", "3", None),
        ("models", "4", None),
        ("running", "5", None),
        ("launch", "1", _launch_form),
    ],
)
def test_screen(snap_compare: Any, name: str, key: str, then: Any, size: tuple[int, int]) -> None:
    assert snap_compare(demo_app(), terminal_size=size, run_before=go(key, then))
