"""Pilot tests of the app shell: sections on one key, the Catalog screen's filter, help, quit."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, Static

from paitui.services.catalog.loader import load_catalog
from paitui.services.registry import Services
from paitui.settings import load_settings
from paitui.ui.app import PaituiApp
from tests.helpers import plain

SMALL_CATALOG = """\
apps:
  - id: alpha-llm
    name: Alpha LLM
    description: a text model server
    kind: llm
    variants:
      rocm: {image: "example.org/alpha:v1.2.3-rocm-v7.2.4-20260101"}
      cpu: {image: "example.org/alpha:v1.2.3"}
    ports:
      - {container: 8080, purpose: API}
  - id: beta-image
    name: Beta Image
    description: makes pictures
    kind: image
    variants:
      cuda: {image: "example.org/beta:latest"}
"""


def make_app(tmp_path: Path, extra: str | None = None) -> PaituiApp:
    paths = []
    if extra is not None:
        path = tmp_path / "extra.yml"
        path.write_text(extra)
        paths.append(path)
    return PaituiApp(Services(load_settings(), paths), live=False)


async def _wait_catalog(app: PaituiApp, pilot: object) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


async def test_each_section_is_one_key_away(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        seen = {}
        for key, mode in [
            ("2", "hardware"),
            ("3", "catalog"),
            ("4", "models"),
            ("5", "running"),
            ("1", "home"),
        ]:
            await pilot.press(key)
            await pilot.pause()
            seen[mode] = app.current_mode
        assert seen == {m: m for m in seen}


async def test_catalog_lists_every_bundled_app_and_filters(tmp_path: Path) -> None:
    app = make_app(tmp_path, SMALL_CATALOG)
    expected = len(load_catalog([tmp_path / "extra.yml"]).apps)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await _wait_catalog(app, pilot)
        table = app.screen.query_one("#apps", DataTable)
        assert table.row_count == expected
        # Typing in the list starts the filter.
        await pilot.press("b", "e", "t", "a")
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).value == "beta"
        assert table.row_count == 1
        assert "Beta Image" in plain(app.screen.query_one("#detail", Static))
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == expected
        assert table.has_focus


async def test_catalog_detail_shows_stack_and_ports(tmp_path: Path) -> None:
    app = make_app(tmp_path, SMALL_CATALOG)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("3")
        await _wait_catalog(app, pilot)
        await pilot.press("slash", *"alpha", "enter")
        await pilot.pause()
        assert app.screen.query_one("#apps", DataTable).row_count == 1
        detail = plain(app.screen.query_one("#detail", Static))
        assert "Alpha LLM" in detail
        assert "1.2.3 · ROCm 7.2.4 · 2026-01-01" in detail
        assert "8080/http" in detail and "API" in detail


async def test_broken_user_catalog_is_shown_and_valid_apps_still_load(tmp_path: Path) -> None:
    broken = (
        SMALL_CATALOG + "  - id: gamma\n    name: G\n    description: x\n    kind: nope\n"
        "    variants: {cpu: {image: x}}\n"
    )
    app = make_app(tmp_path, broken)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("3")
        await _wait_catalog(app, pilot)
        assert app.catalog is not None
        assert "alpha-llm" in app.catalog.apps and "gamma" not in app.catalog.apps
        issues = plain(app.screen.query_one("#catalog-issues", Static))
        assert "extra.yml:20:11" in issues and "kind" in issues


async def test_help_lists_keys_and_q_quits(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query("HelpPanel")
        await pilot.press("question_mark")
        await pilot.pause()
        assert not app.screen.query("HelpPanel")
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_desktop_focuses_a_runnable_app_and_explains_blocked_ones(tmp_path: Path) -> None:
    from paitui.domain.hardware.accel import Accel
    from paitui.domain.hardware.report import HardwareReport
    from paitui.ui.screens.launch import LaunchScreen
    from paitui.ui.widgets.tiles import AppTile

    app = make_app(tmp_path, SMALL_CATALOG)
    async with app.run_test(size=(100, 30)) as pilot:
        await _wait_catalog(app, pilot)
        # Before detection every app is offered; Alpha sorts first and has the focus.
        assert isinstance(app.focused, AppTile) and app.focused.data.app_id == "alpha-llm"
        await pilot.press("right")
        assert isinstance(app.focused, AppTile) and app.focused.data.app_id == "beta-image"
        # A CPU-only box: Beta (cuda only) cannot run; the focus moves to a runnable tile.
        app.set_hardware_report(HardwareReport(ranking=(Accel.CPU,)))
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.focused, AppTile) and app.focused.data.app_id == "alpha-llm"
        blocked = {t.data.app_id: t for t in app.screen.query(AppTile) if t.data.variant is None}
        assert "beta-image" in blocked and "alpha-llm" not in blocked
        assert "needs NVIDIA CUDA" in blocked["beta-image"].data.reason
        # Enter on the blocked tile explains instead of launching.
        blocked["beta-image"].focus()
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, LaunchScreen)
        assert any(n.title == "Cannot run here" for n in app._notifications)
        # Enter on the runnable one opens the launch flow with its CPU variant.
        app.screen.query(AppTile).first().focus()
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, LaunchScreen)
        assert app.screen.plan is not None and app.screen.plan.variant == "cpu"


async def test_enter_in_the_catalog_opens_the_launch_flow(tmp_path: Path) -> None:
    from paitui.ui.screens.launch import LaunchScreen

    app = PaituiApp(Services(load_settings()), demo=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("3")
        await _wait_catalog(app, pilot)
        await pilot.press("slash", *"sd webui", "enter", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, LaunchScreen)
        assert app.screen.catalog_app.id == "sd-webui-rx5500"
        assert app.screen.plan is not None and app.screen.plan.variant == "rocm"
