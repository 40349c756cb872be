"""Headless tests of the launch dialog's "get a model" part against the local Hub server."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import ComposeResult
from textual.widgets import Input, OptionList, Select

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import Gpu, HardwareReport, Vendor
from paitui.domain.models.fit import Fit
from paitui.domain.models.records import InstalledModel
from paitui.services.registry import Services
from paitui.settings import Settings
from paitui.ui.screens.launch import LaunchRequest, LaunchScreen
from paitui.ui.widgets.model_picker import ModelPicker
from tests.models.conftest import GGUF_Q4, GGUF_Q8
from tests.models.hub_server import HubServer, make_repo
from tests.ui.hosts import HostApp

GIB = 1024**3


def gguf_app(suggest: list[dict[str, Any]] | None = None, variants: Any = None) -> App:
    """A llama.cpp-like app: reads one GGUF file from the models store."""
    return App.model_validate(
        {
            "id": "tiny-llm",
            "name": "Tiny LLM",
            "description": "reads one GGUF",
            "kind": "llm",
            "variants": variants or {"cpu": {"image": "example.org/tiny:1"}},
            "mounts": {"models": {"path": "/models", "formats": ["gguf"], "read_only": True}},
            "command": ["-m", "{model}"],
            "needs": {"model_file": ["gguf"]},
            "suggested_models": suggest
            if suggest is not None
            else [
                {
                    "repo": "acme/tiny-gguf",
                    "file": "tiny.Q4_K_M.gguf",
                    "size_gb": 0.002,
                    "kind": "llm",
                    "note": "the tiny one",
                    "source": "tests",
                }
            ],
        }
    )


class Host(HostApp):
    """Hosts one launch dialog with real services; records what it was dismissed with."""

    def __init__(self, services: Services, dialog: LaunchScreen) -> None:
        super().__init__(services)
        self.dialog = dialog
        self.results: list[LaunchRequest | None] = []

    def compose(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.results.append)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubServer]:
    repos = [
        make_repo(
            "acme/tiny-gguf",
            {"tiny.Q4_K_M.gguf": GGUF_Q4, "tiny.Q8_0.gguf": GGUF_Q8, "README.md": b"# tiny\n"},
            tags=("gguf",),
            downloads=9,
        ),
        make_repo("acme/tiny-sd", {"v1.safetensors": b"x" * 5000}, tags=("safetensors",)),
    ]
    with HubServer(repos) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
        monkeypatch.setenv("PAITUI_HUB_RETRY_BASE", "0.01")
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server


@pytest.fixture
def services(tmp_path: Path, hub: HubServer) -> Iterator[Services]:
    built = Services(Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps"))
    yield built
    if "downloads" in built.__dict__:
        built.downloads.shutdown()


CPU_BOX = HardwareReport(ranking=(Accel.CPU,), ram_bytes=16 * GIB)


def dialog(
    app: App, services: Services, models: list[InstalledModel] | None = None, report: Any = None
) -> LaunchScreen:
    return LaunchScreen(app, report or CPU_BOX, services.settings, models or [], set())


async def until(pilot: Any, check: Callable[[], object], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def picker_text(screen: LaunchScreen) -> str:
    return str(screen.query_one("#picker-status").render())


async def test_enter_on_a_suggestion_downloads_selects_and_starts(
    services: Services, hub: HubServer
) -> None:
    host = Host(services, dialog(gguf_app(), services))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        picker = screen.query_one(ModelPicker)
        # Nothing installed: the suggestion list has the focus, with the verdict on RAM.
        assert screen.query_one("#offers", OptionList).has_focus
        [offer] = picker.suggested
        assert offer.fit.fit == Fit.FITS and "host RAM has 16 GB" in offer.fit.message
        assert screen.plan is None and "--" not in screen.problem
        await pilot.press("enter")
        await until(pilot, lambda: host.results, "the dialog to start the app")
    [request] = host.results
    assert request is not None and request.plan is not None
    assert "/models/acme/tiny-gguf/tiny.Q4_K_M.gguf" in (request.plan.command or ())
    path = services.settings.models_dir / "acme/tiny-gguf/tiny.Q4_K_M.gguf"
    assert path.read_bytes() == GGUF_Q4
    assert [m.path for m in services.model_store.installed()] == ["tiny.Q4_K_M.gguf"]


async def test_hub_search_lists_the_files_the_app_reads_with_fit(
    services: Services, hub: HubServer
) -> None:
    host = Host(services, dialog(gguf_app(suggest=[]), services))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        picker = screen.query_one(ModelPicker)
        query = screen.query_one("#hub-query", Input)
        query.focus()
        await pilot.press(*"tiny", "enter")
        await until(pilot, lambda: picker.found, "search results")
        # GGUF only (the filter and the suffix): no README, no safetensors repo; smallest first.
        assert [(o.repo, o.file) for o in picker.found] == [
            ("acme/tiny-gguf", "tiny.Q4_K_M.gguf"),
            ("acme/tiny-gguf", "tiny.Q8_0.gguf"),
        ]
        assert all(o.fit.fit == Fit.FITS for o in picker.found)
        searches = [r for r in hub.gets("/api/models") if "search=" in r.path]
        assert searches and "filter=gguf" in searches[-1].path
        offers = screen.query_one("#offers", OptionList)
        assert offers.has_focus
        await pilot.press("down", "enter")  # the Q8 file (below the empty-suggestions line)
        await until(pilot, lambda: host.results, "the start")
    [request] = host.results
    assert request is not None and request.plan is not None
    assert "/models/acme/tiny-gguf/tiny.Q8_0.gguf" in (request.plan.command or ())


async def test_a_repo_the_hub_does_not_have_starts_nothing_and_says_why(
    services: Services, hub: HubServer
) -> None:
    missing = [
        {"repo": "acme/gone", "file": "x.gguf", "size_gb": 0.1, "kind": "llm",
         "note": "deleted", "source": "tests"},
    ]  # fmt: skip
    host = Host(services, dialog(gguf_app(suggest=missing), services))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        await pilot.press("enter")
        await until(pilot, lambda: "Nothing was started" in picker_text(screen), "the reason")
        assert "acme/gone" in picker_text(screen)
        assert not host.results and host.screen is screen and screen.getting is None
        # Esc now closes the dialog (no download to cancel).
        await pilot.press("escape")
        await until(pilot, lambda: host.results == [None], "the dialog closed")


async def test_installed_models_keep_the_select_and_the_suggestions_reachable(
    services: Services, hub: HubServer
) -> None:
    store = services.model_store
    target = store.path_for("acme/tiny-gguf", "tiny.Q4_K_M.gguf")
    target.parent.mkdir(parents=True)
    target.write_bytes(GGUF_Q4)
    digest = hashlib.sha256(GGUF_Q4).hexdigest()
    store.record("acme/tiny-gguf", "tiny.Q4_K_M.gguf", size=len(GGUF_Q4), sha256=digest,
                 revision="0" * 40)  # fmt: skip
    host = Host(services, dialog(gguf_app(), services, store.installed()))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        select = screen.query_one("#model", Select)
        assert screen.query_one("#variant", Select).has_focus  # a model is there: as before
        select.value = "acme/tiny-gguf/tiny.Q4_K_M.gguf"
        await pilot.pause()
        assert screen.plan is not None
        # The "get one below" entry moves to the suggestions instead of leaving the dialog.
        select.value = "__download__"
        await pilot.pause()
        assert screen.query_one("#offers", OptionList).has_focus and not host.results
        [offer] = screen.query_one(ModelPicker).suggested
        assert offer.installed == "acme/tiny-gguf/tiny.Q4_K_M.gguf"
        await pilot.press("enter")  # installed: starts at once, no download
        await until(pilot, lambda: host.results, "the start")
    assert not hub.gets("/resolve/")
    [request] = host.results
    assert request is not None and request.plan is not None


async def test_the_verdict_follows_the_chosen_variant(services: Services) -> None:
    big = [
        {"repo": "acme/big", "file": "big-7B-Q4_K_M.gguf", "size_gb": 4.9, "kind": "llm",
         "note": "7B", "source": "tests"},
    ]  # fmt: skip
    gpu = Gpu(Vendor.NVIDIA, "10de:1f82", "0000:01:00.0", "NVIDIA GeForce GTX 1650", "nvidia",
              vram_total=4 * GIB)  # fmt: skip
    report = HardwareReport(gpus=(gpu,), ranking=(Accel.CUDA, Accel.CPU), ram_bytes=32 * GIB)
    variants = {"cuda": {"image": "example.org/tiny:cuda"}, "cpu": {"image": "example.org/t:1"}}
    app = gguf_app(suggest=big, variants=variants)
    host = Host(services, dialog(app, services, report=report))
    async with host.run_test(size=(100, 30)) as pilot:
        screen = host.dialog
        picker = screen.query_one(ModelPicker)
        [on_gpu] = picker.suggested
        assert on_gpu.fit.fit == Fit.TOO_BIG and "GTX 1650 has 4 GB" in on_gpu.fit.message
        screen.query_one("#variant", Select).value = "cpu"
        await pilot.pause()
        [on_cpu] = picker.suggested
        assert on_cpu.fit.fit == Fit.FITS and "host RAM has 32 GB" in on_cpu.fit.message
