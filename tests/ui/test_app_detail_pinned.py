"""The catalog detail pane shows a pinned tag's unverified build date as unverified."""

from __future__ import annotations

from rich.console import Console

from paitui.services.catalog.files import bundled_catalog_path
from paitui.services.catalog.loader import load_file
from paitui.ui.widgets.app_detail import render_app_detail, stack_cell


def _render(app_id: str) -> tuple[str, str]:
    apps = {a.id: a for a in load_file(bundled_catalog_path())[0]}
    console = Console(width=100, record=True, color_system="standard", force_terminal=True)
    console.print(render_app_detail(apps[app_id], None, None))
    return console.export_text(clear=False), console.export_text(styles=True)


def test_pai_detail_marks_the_build_date_unverified() -> None:
    plain, styled = _render("pai-koboldcpp")
    assert "1.117.1 · ROCm 7.2.4 · build date unverified" in plain
    assert "2026-01-01" not in plain
    # Yellow, apart from the cyan facts, so it does not read as one.
    assert "\x1b[33mbuild date unverified" in styled
    assert "\x1b[36m1.117.1 · ROCm 7.2.4 · \x1b[0m" in styled


def test_verified_stack_has_no_unverified_mark() -> None:
    plain, _ = _render("sd-webui-rx5500")
    assert "sd 1.10.1 · ControlNet 1.1 · PyTorch 2.2.0 · ROCm 5.4.3" in plain
    assert "unverified" not in plain.split("Ports")[0]


def test_catalog_list_cell_marks_the_build_date_unverified() -> None:
    apps = {a.id: a for a in load_file(bundled_catalog_path())[0]}
    cell = stack_cell(apps["pai-comfyui"], None)
    assert cell.plain == "0.28.2 · PyTorch 2.11.0 · ROCm 7.2.4 · build date unverified"
    yellow = [cell.plain[s.start : s.end] for s in cell.spans if str(s.style) == "yellow"]
    assert yellow == ["build date unverified"]
