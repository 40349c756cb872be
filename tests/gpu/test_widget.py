"""The GPU use panel and the Running screen's VRAM cell at 80 columns (text and a real pilot)."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from paitui.domain.gpu.usage import AppGpuUsage, GpuUsage, vram_cell
from paitui.ui.widgets.gpu_usage import GpuUsagePanel, render_usage
from tests.helpers import plain

GiB = 1024**3


def _app(holder: str, vram: int | None, gpu: str = "0000:03:00.0") -> AppGpuUsage:
    return AppGpuUsage(gpu, holder, holder, vram, 0, (1,), 1, "fdinfo")


def _usage(*apps: AppGpuUsage, asleep: bool = False) -> GpuUsage:
    return GpuUsage(
        "0000:03:00.0", "amdgpu", asleep, 12 * GiB, 24 * GiB, 37, "sysfs", {}, tuple(apps)
    )


def test_panel_text_at_80_columns() -> None:
    usage = _usage(*(_app(str(i) * 64, i * GiB) for i in range(1, 7)))
    names = {"6" * 64: "llama.cpp server", "5" * 64: "comfyui"}
    lines = [x.rstrip() for x in plain(GpuUsagePanel("x"), 80).splitlines()]
    assert lines == ["live use unknown: no sample yet"]
    text = render_usage(usage, names)
    got = [line.rstrip() for line in text.plain.splitlines()]
    assert got[0].startswith("VRAM   ") and got[0].endswith("12.0 GiB / 24.0 GiB")
    assert got[1] == "busy   37 %"
    assert got[2].split() == ["llama.cpp", "server", "6.0G"]
    assert got[3].split() == ["comfyui", "5.0G"]
    assert got[4].split() == ["4" * 12, "4.0G"]
    assert got[6].split() == ["+2", "more", "3.0G"]
    assert max(len(x) for x in got) <= 80


def test_asleep_and_unknown() -> None:
    assert render_usage(_usage(asleep=True)).plain.startswith("asleep · runtime PM suspended")
    unknown = GpuUsage("s", "nouveau", False, None, None, None, "sysfs", {"memory_used": "no"})
    assert "? (no)" in render_usage(unknown).plain


@pytest.mark.parametrize(
    ("usage", "cell"),
    [
        (None, "?"),
        ((), "-"),
        ((_app("a", 3 * GiB + GiB // 5),), "3.2G"),
        ((_app("a", 3 * GiB), _app("a", 3 * GiB, gpu="0000:04:00.0")), "6.0G/2"),
        ((_app("a", 300 * 1024**2),), "300M"),
        ((_app("a", None),), "?"),
    ],
)
def test_vram_cell(usage: tuple[AppGpuUsage, ...] | None, cell: str) -> None:
    assert vram_cell(usage) == cell


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield GpuUsagePanel("0000:03:00.0", id="gpu")


async def test_panel_in_a_real_app_at_80x24() -> None:
    app = _Host()
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one("#gpu", GpuUsagePanel)
        panel.show(_usage(_app("c" * 64, 8 * GiB)), {"c" * 64: "llama"})
        await pilot.pause()
        assert panel.outer_size.width == 80 and panel.size.height == 3
        assert "llama" in plain(panel, 80) and "8.0G" in plain(panel, 80)
