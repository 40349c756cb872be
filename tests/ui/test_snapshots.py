"""Snapshot tests of every screen at 80x24 and 160x48, on the fixed demo box.

Update after reviewing a deliberate change: ``pytest tests/ui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from paitui.services.registry import Services
from paitui.settings import load_settings
from paitui.ui.app import PaituiApp

SIZES = [(80, 24), (160, 48)]


def demo_app() -> PaituiApp:
    return PaituiApp(Services(load_settings()), demo=True)


async def catalog_shown(pilot: Any, timeout: float = 10.0) -> None:
    """Until the app has read its catalog (it starts reading once the first frame is drawn)."""
    deadline = time.monotonic() + timeout
    while pilot.app.catalog is None:
        assert time.monotonic() < deadline, "the catalog was not read"
        await pilot.pause(0.01)
    await pilot.app.workers.wait_for_complete()


def go(key: str, then: Callable[[Any], Awaitable[None]] | None = None) -> Any:
    async def run_before(pilot: Any) -> None:
        await catalog_shown(pilot)
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


def test_running_with_vram_80x24(
    snap_compare: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo's Running screen with a VRAM column, sampled from the fixture trees: the demo's
    two apps are the fixture's two containers on an RX 7900 XTX (8.3G and 3.0G)."""
    import dataclasses

    import paitui.demo
    import paitui.ui.screens.running as running
    from tests.gpu.trees import DOCKER_ID, OTHER_ID
    from tests.ui.test_running_gpu import CountingSampler

    statuses = paitui.demo.demo_statuses()
    ids = {"pai-koboldcpp": DOCKER_ID, "pai-comfyui": OTHER_ID}
    full = {k: dataclasses.replace(s, container_id=ids[k]) for k, s in statuses.items()}
    monkeypatch.setattr(paitui.demo, "demo_statuses", lambda: full)
    sampler = CountingSampler(tmp_path)

    class Sampled(running.RunningScreen):
        def __init__(self) -> None:
            super().__init__(sampler=sampler)

    monkeypatch.setattr(running, "RunningScreen", Sampled)

    async def sampled(pilot: Any) -> None:
        screen = pilot.app.screen
        deadline = time.monotonic() + 10
        while not all(screen.table.get_cell(k, "vram") for k in ids):
            assert time.monotonic() < deadline, "no VRAM figures"
            await pilot.pause(0.05)

    assert snap_compare(demo_app(), terminal_size=(80, 24), run_before=go("5", sampled))
