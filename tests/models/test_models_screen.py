"""Pilot tests of the Models screen against the local Hub server."""

from __future__ import annotations

import time
from pathlib import Path

from textual.app import ComposeResult
from textual.widgets import DataTable, Input, Label, OptionList

from paitui.domain.models.records import DownloadState
from paitui.services.registry import Services
from paitui.settings import load_settings
from paitui.ui.screens.confirm import ConfirmDialog
from paitui.ui.screens.models import ModelsScreen
from paitui.ui.widgets.download_queue import DownloadQueue
from tests.models.conftest import GGUF_Q4
from tests.models.hub_server import HubServer
from tests.ui.hosts import HostApp


class ModelsTestApp(HostApp):
    """The smallest app that hosts the screen: services, settings, no hardware report."""

    def compose(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.push_screen(ModelsScreen())


async def _until(pilot: object, check: object, timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def test_search_pick_download_library_delete(hub_env: HubServer, tmp_path: Path) -> None:
    services = Services(load_settings())
    app = ModelsTestApp(services)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        query = screen.query_one("#query", Input)
        assert screen.query_one("#results", DataTable).has_focus
        await pilot.press(*"tiny")  # typing in the list starts a search
        assert query.has_focus and query.value == "tiny"
        await pilot.press("enter")
        results = screen.query_one("#results", DataTable)
        await _until(pilot, lambda: results.row_count == 2, what="search results")
        assert str(results.get_row_at(0)[0]) == "acme/tiny-gguf"
        assert results.has_focus
        await pilot.press("enter")  # open the first repo
        files = screen.query_one("#files", DataTable)
        await _until(pilot, lambda: files.row_count == 3, what="the file list")
        rows = [files.get_row_at(i) for i in range(files.row_count)]
        # weights first, biggest first; no hardware report: VRAM fit unknown
        assert [str(r[0]) for r in rows] == ["tiny.Q8_0.gguf", "tiny.Q4_K_M.gguf", "README.md"]
        assert str(rows[1][1]) == "2.0 MB"
        assert files.has_focus
        hub_env.faults.throttle = 4_000_000
        await pilot.press("down", "enter")  # download the Q4 quantization
        queue = screen.query_one(DownloadQueue)
        await _until(pilot, lambda: len(queue.rows()) == 1, what="a queue row")
        manager = services.downloads
        await _until(
            pilot,
            lambda: any(
                d.state == DownloadState.RUNNING and d.bytes_done > 0 for d in manager.snapshot()
            ),
            what="progress",
        )
        await _until(
            pilot,
            lambda: queue.rows()[0].download.bytes_done > 0,
            what="the row to show progress",
        )
        await _until(
            pilot, lambda: queue.rows()[0].download.state == DownloadState.DONE, what="done"
        )
        info = str(queue.rows()[0].query_one(".dl-info", Label).render())
        assert "verified" in info
        library = screen.query_one("#library", DataTable)
        await _until(pilot, lambda: library.row_count == 1, what="the library")
        cells = [str(c) for c in library.get_row_at(0)]
        assert (cells[0], cells[5]) == ("tiny.Q4_K_M.gguf", "acme/tiny-gguf")
        assert cells[2] == "LLM (GGUF)" and cells[4] == "store"  # random bytes: kind by name
        # The cell shows as many apps as fit; the row knows them all.
        assert "llama-cpp-server" in screen._library[0].apps
        assert cells[3].split(", ")[0] in screen._library[0].apps
        target = services.model_store.path_for("acme/tiny-gguf", "tiny.Q4_K_M.gguf")
        assert target.read_bytes() == GGUF_Q4
        # delete with confirmation: "n" keeps it, "y" deletes
        await pilot.press("ctrl+l", "d")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("n")
        await _until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="dialog closed")
        assert target.exists()
        await pilot.press("d")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog), what="the dialog")
        await pilot.press("y")
        await _until(pilot, lambda: library.row_count == 0, what="the library to empty")
        assert not target.exists()
        services.downloads.shutdown()


async def test_queue_pause_resume_and_errors(hub_env: HubServer, tmp_path: Path) -> None:
    services = Services(load_settings())
    app = ModelsTestApp(services)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        await pilot.press("slash", *"acme/big", "enter")
        results = screen.query_one("#results", DataTable)
        await _until(pilot, lambda: results.row_count == 1, what="search results")
        await pilot.press("enter")
        files = screen.query_one("#files", DataTable)
        await _until(pilot, lambda: files.row_count == 1, what="files")
        hub_env.faults.throttle = 1_000_000
        await pilot.press("enter")
        queue = screen.query_one(DownloadQueue)
        await _until(pilot, lambda: len(queue.rows()) == 1, what="a queue row")
        row = queue.rows()[0]
        await _until(pilot, lambda: row.download.bytes_done > 0, what="progress")
        row.focus()
        await pilot.press("p")
        await _until(pilot, lambda: row.download.state == DownloadState.PAUSED, what="paused")
        hub_env.faults.throttle = 0
        manager = services.downloads
        await _until(pilot, lambda: manager.wait(timeout=0), what="the thread to stop")
        await pilot.press("p")
        await _until(pilot, lambda: row.download.state == DownloadState.DONE, what="done")
        assert row.download.resumed_from > 0
        # a repo that does not exist: a readable error in the status line
        screen._load_files("acme/absent")
        status = screen.query_one("#status", Label)
        await _until(pilot, lambda: "not found" in str(status.render()), what="the error")
        assert status.has_class("-error")
        services.downloads.shutdown()


async def test_downloads_go_on_while_another_section_is_shown(
    hub_env: HubServer, tmp_path: Path
) -> None:
    from paitui.ui.app import PaituiApp

    services = Services(load_settings())
    app = PaituiApp(services)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("4")
        await _until(pilot, lambda: isinstance(app.screen, ModelsScreen), what="models")
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        info = services.hub.repo_info("acme/big")
        hub_env.faults.throttle = 2_000_000
        services.downloads.enqueue(info.repo_id, info.commit, list(info.files))
        await pilot.press("1")
        await _until(pilot, lambda: app.current_mode == "home", what="home")
        manager = services.downloads
        await _until(pilot, lambda: manager.snapshot()[0].state == DownloadState.DONE, what="done")
        await pilot.press("4")
        await _until(pilot, lambda: app.screen is screen, what="back on models")
        library = screen.query_one("#library", DataTable)
        await _until(pilot, lambda: library.row_count == 1, what="the library")
        row = screen.query_one(DownloadQueue).rows()[0]
        assert row.download.state == DownloadState.DONE
        services.downloads.shutdown()


async def test_file_picker_shows_vram_fit(hub_env: HubServer) -> None:
    from paitui.domain.hardware.report import Gpu, HardwareReport, Vendor

    services = Services(load_settings())
    app = ModelsTestApp(services)
    gpu = Gpu(Vendor.AMD, "1002:7340", "0000:03:00.0", "test GPU", "amdgpu", vram_total=2_500_000)
    app.hardware_report = HardwareReport(gpus=(gpu,))
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        screen._load_files("acme/tiny-gguf")
        files = screen.query_one("#files", DataTable)
        await _until(pilot, lambda: files.row_count == 3, what="the file list")
        fit = {str(files.get_row_at(i)[0]): str(files.get_row_at(i)[2]) for i in range(3)}
        # 2.0 MB fits in 85% of 2.5 MB; 3.5 MB does not fit at all; README is no model
        assert fit == {"tiny.Q8_0.gguf": "too big", "tiny.Q4_K_M.gguf": "fits", "README.md": ""}


async def test_hostile_names_are_left_out_and_said(hub_env: HubServer, tmp_path: Path) -> None:
    from tests.models.hub_server import make_repo

    hub_env.add(make_repo("acme/evil", {"../../evil.gguf": GGUF_Q4, "ok.gguf": b"ok"}))
    services = Services(load_settings())
    app = ModelsTestApp(services)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        screen._load_files("acme/evil")
        files = screen.query_one("#files", DataTable)
        await _until(pilot, lambda: files.row_count == 1, what="the file list")
        assert str(files.get_row_at(0)[0]) == "ok.gguf"
        status = screen.query_one("#status", Label)
        assert "1 file(s) with names unsafe as paths were left out" in str(status.render())
        assert status.has_class("-error")


async def test_library_types_the_hf_cache_and_the_type_picker(
    hub_env: HubServer, tmp_path: Path
) -> None:
    from huggingface_hub import hf_hub_download

    from paitui.ui.screens.models import KindPicker

    services = Services(load_settings())
    info = services.hub.repo_info("acme/tiny-gguf")
    services.downloads.enqueue(info.repo_id, info.commit, [info.files[0]])
    services.downloads.wait([d.id for d in services.downloads.snapshot()])
    cache = tmp_path / "hf-home" / "hub"  # HF_HOME from hub_env: the user's cache
    hf_hub_download("acme/big", "big.gguf", endpoint=hub_env.url, cache_dir=cache)
    app = ModelsTestApp(services)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        library = screen.query_one("#library", DataTable)
        await _until(pilot, lambda: library.row_count == 2, what="the library")
        rows = [[str(c) for c in library.get_row_at(i)] for i in range(2)]
        assert [(r[5], r[0], r[2], r[4]) for r in rows] == [
            ("acme/tiny-gguf", "tiny.Q4_K_M.gguf", "LLM (GGUF)", "store"),
            ("acme/big", "big.gguf", "LLM (GGUF)", "HF cache"),
        ]
        assert all("llama-cpp-server" in r.apps for r in screen._library)
        title = str(screen.query_one("#library-title", Label).render())
        assert "1 files" in title and "+1 in the HF cache, read-only" in title
        await pilot.press("ctrl+l")
        library.move_cursor(row=1)
        await pilot.press("d")  # the HF cache is read-only: refused, said
        assert not isinstance(app.screen, ConfirmDialog)
        status = str(screen.query_one("#status", Label).render())
        assert "Hugging Face cache" in status and (cache / "models--acme--big").is_dir()
        await pilot.press("k")
        await _until(pilot, lambda: isinstance(app.screen, KindPicker), what="the type picker")
        await pilot.press("down", "down", "down", "down", "down", "enter")  # 1 auto + 4: vae
        await _until(
            pilot, lambda: str(library.get_row_at(1)[2]) == "VAE *", what="the chosen type"
        )
        assert services.model_store.cache_kinds() == {"acme/big/big.gguf": "vae"}
        assert str(library.get_row_at(1)[3]).startswith("none")  # no app reads a VAE GGUF
    services.downloads.shutdown()


def test_library_cells_stay_narrow() -> None:
    from paitui.ui.screens.models import _apps_cell, _middle

    assert _middle("Llama-3.2-1B-Instruct-Q4_K_M.gguf", 36) == "Llama-3.2-1B-Instruct-Q4_K_M.gguf"
    cut = _middle("vae-ft-mse-840000-ema-pruned-extra-long-name.safetensors", 36)
    assert len(cut) == 36 and cut.endswith(".safetensors") and "…" in cut
    assert _apps_cell([]) == "none: no app reads this type"
    assert _apps_cell(["a", "b"]) == "a, b"
    many = _apps_cell([f"app-number-{i}" for i in range(6)])
    assert many == "app-number-0, app-number-1 +4" and len(many) <= 30


class FitModelsApp(HostApp):
    """The Models screen on a box with one GPU and a fixed reading of its free memory."""

    def compose(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        from paitui.domain.models.fit_verdict import GpuFree
        from paitui.services.models.will_fit import StaticGpus

        gib = 1024**3
        held = (("comfyui", 20 * gib),)
        source = StaticGpus([GpuFree("0000:01:00.0", "RTX 4090", 24 * gib, 3 * gib, held)])
        self.push_screen(ModelsScreen(gpu_source=source))


async def test_the_highlighted_repo_and_file_show_whether_they_fit(
    hub_env: HubServer, tmp_path: Path
) -> None:
    from paitui.domain.hardware.report import Gpu, HardwareReport, Vendor
    from paitui.ui.screens.launch.fit_panel import FitPanel
    from tests.models.gguf_headers import LLAMA3_8B_Q4, SMALL_TIED_F16, write_header
    from tests.models.hub_server import make_repo

    big = write_header(LLAMA3_8B_Q4, tmp_path / "big.gguf").read_bytes()
    small = write_header(SMALL_TIED_F16, tmp_path / "small.gguf").read_bytes()
    files = {"Model-8B-Q4_K_M.gguf": big, "Model-8B-Q2_K.gguf": small, "README.md": b"#\n"}
    hub_env.add(make_repo("org/Model-8B-GGUF", files, tags=("gguf",), downloads=50))
    hub_env.add(make_repo("org/Model-8B-mini-GGUF", {"mini-Q8_0.gguf": small}, tags=("gguf",)))
    app = FitModelsApp(Services(load_settings()))
    gpu = Gpu(Vendor.NVIDIA, "10de:2684", "0000:01:00.0", "RTX 4090", "nvidia", vram_total=24 << 30)
    app.hardware_report = HardwareReport(gpus=(gpu,))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        panel = screen.query_one(FitPanel)
        screen.query_one("#query", Input).value = "Model-8B"
        screen.run_search()
        results = screen.query_one("#results", DataTable)
        await _until(pilot, lambda: results.row_count == 2, what="search results")
        await _until(pilot, lambda: "held by comfyui" in panel.line_text(), what="the hint")
        assert panel.line_text().startswith("Model-8B-Q4_K_M.gguf: ✗ does not fit")
        # Scrolling through the results reads only where the cursor stays, once per repo.
        await pilot.press("down", "up", "down", "up", "down")
        await _until(pilot, lambda: "mini-Q8_0.gguf: ✓ fits" in panel.line_text(), what="2nd")
        assert panel.reads == 2
        assert len([r for r in hub_env.gets("/mini-Q8_0.gguf") if r.method == "GET"]) == 1
        await pilot.press("up", "enter")  # open the 8B repo: its files, biggest first
        table = screen.query_one("#files", DataTable)
        await _until(pilot, lambda: table.row_count == 3, what="the file list")
        await _until(pilot, lambda: panel.target is not None and "hub:" in panel.target.key,
                     what="the file's verdict")  # fmt: skip
        await _until(pilot, lambda: "✗ does not fit: needs ~" in panel.line_text(), what="it")
        assert "Start still works" not in panel.line_text()  # that is the launch dialog's
        offers = panel.query_one("#fit-offers", OptionList)
        assert "a smaller quant: Model-8B-Q2_K.gguf" in str(offers.get_option_at_index(0).prompt)
        # 24 rows keep the lists: the verdict on one line, the offers shown from 40 rows.
        assert panel.has_class("-short") and not offers.display
        await pilot.resize_terminal(120, 44)
        await _until(pilot, lambda: offers.display, what="the offers on a taller screen")
        offers.focus()
        await pilot.press("enter")  # the smaller quant: the cursor goes to its row
        assert table.has_focus and table.get_row_at(table.cursor_row)[0] == "Model-8B-Q2_K.gguf"
        await _until(pilot, lambda: "✓ fits: needs ~" in panel.line_text(), what="the Q2 fits")
