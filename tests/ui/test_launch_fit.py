""" "Will it fit?" in the launch dialog at 80x24: the verdict, its offers, and starting anyway.

Headers are real GGUFs written with the ``gguf`` package, served by the suite's Hub stand-in
(read by Range requests) or installed in the store; free GPU memory is a fixed source.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, OptionList, Select

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import Gpu, HardwareReport, Vendor
from paitui.domain.models.fit import Fit
from paitui.domain.models.fit_verdict import FitLevel, GpuFree, Verdict
from paitui.services.models.will_fit import StaticGpus
from paitui.services.registry import Services
from paitui.settings import Settings
from paitui.ui.screens.launch import LaunchScreen
from paitui.ui.screens.launch.fit_panel import FitPanel, set_flag
from paitui.ui.widgets.model_picker import ModelPicker
from tests.helpers import free_port
from tests.models.gguf_headers import LLAMA3_8B_Q4, SMALL_TIED_F16, write_header
from tests.models.hub_server import HubServer, make_repo
from tests.ui.test_launch_picker import Host, until

GIB = 1024**3
REPO = "org/Model-8B-GGUF"
BIG = "Model-8B-Q4_K_M.gguf"
SMALL = "Model-8B-Q2_K.gguf"
SLOT = "0000:01:00.0"
GPU = Gpu(Vendor.NVIDIA, "10de:2684", SLOT, "RTX 4090", "nvidia", vram_total=24 * GIB)
REPORT = HardwareReport(gpus=(GPU,), ranking=(Accel.CUDA, Accel.CPU), ram_bytes=64 * GIB)
#: 3 GiB free: an 8B Q4 (~5 GiB with its KV cache) does not fit; comfyui holds most of it.
TIGHT_GPU = StaticGpus([GpuFree(SLOT, "RTX 4090", 24 * GIB, 3 * GIB, (("comfyui", 20 * GIB),))])


def llama_app() -> App:
    """llama.cpp's server as the catalog has it (CUDA), suggesting the 8B Q4."""
    return App.model_validate(
        {
            "id": "llama-cpp-server",
            "name": "llama.cpp server",
            "description": "serves one GGUF",
            "kind": "llm",
            "variants": {"cuda": {"image": "ghcr.io/ggml-org/llama.cpp:server-cuda"}},
            "mounts": {"models": {"path": "/models", "formats": ["gguf"], "read_only": True}},
            "command": ["-m", "{model}", "--n-gpu-layers", "99"],
            "needs": {"model_file": ["gguf"]},
            "suggested_models": [
                {
                    "repo": REPO,
                    "file": BIG,
                    "size_gb": 4.9,
                    "kind": "llm",
                    "note": "8B",
                    "source": "tests",
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def headers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("fit-headers")
    return {
        BIG: write_header(LLAMA3_8B_Q4, root / BIG).read_bytes(),
        SMALL: write_header(SMALL_TIED_F16, root / SMALL).read_bytes(),
        "README.md": b"# model\n",
    }


@pytest.fixture
def hub(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, headers: dict[str, bytes]
) -> Iterator[HubServer]:
    with HubServer([make_repo(REPO, headers, tags=("gguf",))]) as server:
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


def install(services: Services, name: str, data: bytes) -> None:
    store = services.model_store
    target = store.path_for(REPO, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    store.record(REPO, name, size=len(data), sha256=digest, revision="0" * 40)


def dialog(services: Services, source: StaticGpus = TIGHT_GPU) -> LaunchScreen:
    models = services.model_store.installed()
    return LaunchScreen(llama_app(), REPORT, services.settings, models, set(), gpu_source=source)


def panel_of(screen: LaunchScreen) -> FitPanel:
    return screen.query_one(FitPanel)


def verdict(screen: LaunchScreen) -> Verdict | None:
    result = panel_of(screen).result
    return result if isinstance(result, Verdict) else None


def offer_texts(screen: LaunchScreen) -> list[str]:
    options = panel_of(screen).query_one("#fit-offers", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def choose_offer(pilot: Any, screen: LaunchScreen, starts: str) -> None:
    options = panel_of(screen).query_one("#fit-offers", OptionList)
    index = next(i for i, t in enumerate(offer_texts(screen)) if t.startswith(f"→ {starts}"))
    options.focus()
    options.highlighted = index
    await pilot.press("enter")


async def test_a_hub_suggestion_shows_the_verdict_and_its_smaller_quant_is_taken(
    services: Services, hub: HubServer, headers: dict[str, bytes]
) -> None:
    host = Host(services, dialog(services))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        await until(pilot, lambda: verdict(screen), "the verdict of the suggestion")
        v = verdict(screen)
        assert v is not None and v.level == FitLevel.TOO_BIG
        line = panel_of(screen).line_text()
        assert "does not fit" in line and "3.0 GiB free on RTX 4090" in line
        assert "20.0 GiB held by comfyui" in line and "Start still works" in line
        texts = offer_texts(screen)
        assert any(t.startswith(f"→ a smaller quant: {SMALL}") for t in texts), texts
        assert any("--n-gpu-layers" in t for t in texts), texts
        # The list says the same as the line: the verdict on free memory now.
        picker = screen.query_one(ModelPicker)
        await until(pilot, lambda: picker.suggested[0].fit.fit == Fit.TOO_BIG, "the list")
        assert "3.0 GiB free" in picker.suggested[0].fit.message
        # Read by Range requests: the header only, never a whole-file GET.
        gets = hub.gets(f"/{BIG}")
        assert gets and all(r.headers.get("range", "").startswith("bytes=") for r in gets)
        # At 80 columns the verdict wraps inside the dialog: nothing is cut off.
        line_widget = panel_of(screen).query_one("#fit-line")
        assert line_widget.content_region.right <= 80 and line_widget.size.height >= 2
        await choose_offer(pilot, screen, "a smaller quant")
        highlighted = picker.query_one("#offers", OptionList).highlighted_option
        assert highlighted is not None and highlighted.id == f"{REPO}/{SMALL}"
        await until(
            pilot, lambda: (v := verdict(screen)) and v.level == FitLevel.FITS, "its verdict"
        )
        await pilot.press("enter")  # downloads the smaller quant and starts
        await until(pilot, lambda: host.results, "the start")
    [request] = host.results
    assert request is not None and request.plan is not None
    assert f"/models/{REPO}/{SMALL}" in (request.plan.command or ())
    assert not host._notifications  # it fits: no warning


async def test_an_installed_model_that_does_not_fit_still_starts_with_a_warning(
    services: Services, hub: HubServer, headers: dict[str, bytes]
) -> None:
    install(services, BIG, headers[BIG])
    host = Host(services, dialog(services))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        screen.query_one("#model", Select).value = f"{REPO}/{BIG}"
        await until(pilot, lambda: verdict(screen), "the verdict of the installed file")
        assert screen.plan is not None and not screen.query_one("#start").disabled
        v = verdict(screen)
        assert v is not None and v.level == FitLevel.TOO_BIG
        # The repo's other quants on the Hub are offered for an installed file too.
        assert any(t.startswith(f"→ a smaller quant: {SMALL}") for t in offer_texts(screen))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: host.results, "the start")
    [request] = host.results
    assert request is not None and request.plan is not None  # not blocked
    [note] = list(host._notifications)
    assert "may not fit" in note.message and "held by comfyui" in note.message
    assert note.severity == "warning"
    assert not hub.gets(f"/{BIG}")  # an installed file's header is read from disk


async def test_the_smaller_quant_of_an_installed_file_becomes_the_hub_choice(
    services: Services, hub: HubServer, headers: dict[str, bytes]
) -> None:
    install(services, BIG, headers[BIG])
    host = Host(services, dialog(services))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        screen.query_one("#model", Select).value = f"{REPO}/{BIG}"
        await until(pilot, lambda: verdict(screen), "the verdict")
        await choose_offer(pilot, screen, "a smaller quant")
        assert screen.query_one("#model", Select).is_blank()
        picker = screen.query_one(ModelPicker)
        chosen = picker.query_one("#offers", OptionList).highlighted_option
        assert chosen is not None and chosen.id == f"{REPO}/{SMALL}"
        [offer] = [o for o in picker.found if o.file == SMALL]
        assert offer.size == len(headers[SMALL]) and offer.installed is None
        await until(
            pilot, lambda: (v := verdict(screen)) and v.level == FitLevel.FITS, "its verdict"
        )


async def test_the_partial_offload_offer_sets_the_layers_in_the_launch_args(
    services: Services, hub: HubServer, headers: dict[str, bytes]
) -> None:
    install(services, BIG, headers[BIG])
    host = Host(services, dialog(services))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        screen.query_one("#model", Select).value = f"{REPO}/{BIG}"
        await until(pilot, lambda: verdict(screen), "the verdict")
        await choose_offer(pilot, screen, "partial offload")
        extra = screen.query_one("#extra", Input).value.split()
        assert extra[0] == "--n-gpu-layers" and int(extra[1]) < LLAMA3_8B_Q4.n_layer + 1
        plan = screen.plan
        assert plan is not None and plan.command is not None
        assert list(plan.command[-2:]) == extra  # after the catalog's "--n-gpu-layers 99"
        await until(
            pilot,
            lambda: (v := verdict(screen)) is not None and v.level != FitLevel.TOO_BIG,
            "the verdict with fewer layers on the GPU",
        )


async def test_the_shorter_context_offer_sets_c_in_the_launch_args(
    services: Services, hub: HubServer, headers: dict[str, bytes]
) -> None:
    install(services, BIG, headers[BIG])
    # 5.2 GiB free: the weights fit, the KV cache of the model's 8192 tokens does not.
    almost = StaticGpus([GpuFree(SLOT, "RTX 4090", 24 * GIB, int(5.2 * GIB))])
    host = Host(services, dialog(services, almost))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        screen.query_one("#model", Select).value = f"{REPO}/{BIG}"
        await until(pilot, lambda: verdict(screen), "the verdict")
        before = verdict(screen)
        assert before is not None and before.level == FitLevel.TOO_BIG
        [context] = [c for c in before.choices if c.kind == "context"]
        assert 2048 <= int(context.value) < LLAMA3_8B_Q4.n_ctx
        await choose_offer(pilot, screen, "a shorter context")
        assert screen.query_one("#extra", Input).value == f"-c {context.value}"
        plan = screen.plan
        assert plan is not None and plan.command is not None
        assert list(plan.command[-2:]) == ["-c", context.value]
        await until(
            pilot,
            lambda: (v := verdict(screen)) is not None and v.level != FitLevel.TOO_BIG,
            "the verdict at the shorter context",
        )


async def test_an_unreachable_hub_gives_a_readable_line(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    services = Services(services.settings)  # a Hub client for the dead endpoint
    host = Host(services, dialog(services))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        await until(pilot, lambda: isinstance(panel_of(screen).result, str), "the reason")
        line = panel_of(screen).line_text()
        assert (line.startswith("? no GPU memory estimate:") and BIG in line) or "127.0.0.1" in line
        assert host.screen is screen and not host.results  # no crash, the dialog stays


async def test_offline_says_so(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    services = Services(services.settings)
    host = Host(services, dialog(services))
    async with host.run_test(size=(80, 24)) as pilot:
        screen = host.dialog
        await until(pilot, lambda: "offline" in panel_of(screen).line_text(), "the reason")
        assert host.screen is screen  # said in the dialog, nothing else opened or crashed


def test_set_flag_replaces_the_flag_in_any_spelling() -> None:
    flags = ("-c", "--ctx-size")
    assert set_flag("", flags, "4096") == "-c 4096"
    assert set_flag("--ctx-size 8192 -fa on", flags, "2048") == "-fa on -c 2048"
    assert set_flag("--ctx-size=8192 -t 4", flags, "2048") == "-t 4 -c 2048"
