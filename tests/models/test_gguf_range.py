"""GGUF headers read from the Hub stand-in by Range requests: bounded, without the whole file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from paitui.domain.models import vram_estimate as ve
from paitui.domain.models.fit_verdict import FitLevel, GpuFree
from paitui.services.models.gguf_remote import (
    FIRST_READ,
    HeaderUnavailable,
    read_local_layout,
    read_remote_layout,
)
from paitui.services.models.hub import HubConfig
from paitui.services.models.will_fit import StaticGpus, fit_hub_file, fit_local, warning_line
from tests.models.gguf_headers import LLAMA3_8B_Q4, SMALL_TIED_F16, write_header
from tests.models.hub_server import HubServer, make_repo

REPO = "org/Model-8B-GGUF"
BIG = "Model-8B-Q4_K_M.gguf"
PAD = 24 * 1024 * 1024  # stands for the tensor data: must never be fetched
GIB = 1024**3


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("range")
    big = write_header(LLAMA3_8B_Q4, root / "big.gguf").read_bytes()
    small = write_header(SMALL_TIED_F16, root / "small.gguf").read_bytes()
    return {
        BIG: big + b"\0" * PAD,
        "Model-8B-Q2_K.gguf": small,
        "notes.gguf": b"not a gguf at all" * 10,
    }


@pytest.fixture
def hub(files: dict[str, bytes]) -> Iterator[HubServer]:
    with HubServer([make_repo(REPO, files), make_repo("org/gated", files, gated=True)]) as s:
        yield s


def _url(hub: HubServer, path: str, repo: str = REPO) -> str:
    return HubConfig(endpoint=hub.url).resolve_url(repo, "main", path)


def _asked(hub: HubServer, path: str) -> int:
    """Bytes the client asked for in its Range headers."""
    total = 0
    for r in hub.gets(path):
        m = re.match(r"bytes=(\d+)-(\d+)", r.headers.get("range", ""))
        assert m, f"a GET without a bounded Range: {r.headers}"
        total += int(m.group(2)) - int(m.group(1)) + 1
    return total


def test_header_over_several_ranges_without_the_data(
    hub: HubServer, files: dict[str, bytes], tmp_path: Path
) -> None:
    local = tmp_path / BIG
    local.write_bytes(files[BIG])
    layout = read_remote_layout(_url(hub, BIG))
    assert layout.header_bytes > FIRST_READ  # the vocabulary made it grow
    assert layout.file_size == len(files[BIG])
    assert layout == read_local_layout(local)
    asked = _asked(hub, BIG)
    assert layout.header_bytes <= asked < layout.header_bytes * 2 + FIRST_READ
    assert asked < len(files[BIG]) - PAD // 2


def test_server_ignoring_range_is_read_only_as_far_as_needed(
    hub: HubServer, files: dict[str, bytes], tmp_path: Path
) -> None:
    hub.faults.ignore_range = True
    layout = read_remote_layout(_url(hub, BIG))
    local = tmp_path / BIG
    local.write_bytes(files[BIG])
    assert layout.tensors == read_local_layout(local).tensors


@pytest.mark.parametrize(
    ("repo", "path", "reason"),
    [
        (REPO, "missing.gguf", "not found"),
        ("org/gated", BIG, "token"),
        (REPO, "notes.gguf", "wrong magic"),
    ],
)
def test_unreadable_remote_headers_say_why(
    hub: HubServer, repo: str, path: str, reason: str
) -> None:
    with pytest.raises(HeaderUnavailable, match=reason):
        read_remote_layout(_url(hub, path, repo))


def test_fit_before_download_offers_the_smaller_quant(
    hub: HubServer, files: dict[str, bytes]
) -> None:
    siblings = [(p, len(d)) for p, d in files.items()]
    size = len(files[BIG])
    gpus = StaticGpus([GpuFree("card0", "RX 7600", 8 * GIB, 2 * GIB, (("comfyui", 5 * GIB),))])
    v = fit_hub_file(
        HubConfig(endpoint=hub.url), REPO, BIG, size, gpus, argv=["-c", "8192"], siblings=siblings
    )
    assert not isinstance(v, str)
    assert v.level == FitLevel.TOO_BIG
    assert "2.0 GiB free on RX 7600 — 5.0 GiB held by comfyui" in v.text
    assert any("Model-8B-Q2_K.gguf" in o for o in v.offers)
    line = warning_line(v)
    assert line is not None and line.startswith("warning: needs ~")
    offline = HubConfig(endpoint=hub.url, offline=True)
    assert "offline" in str(fit_hub_file(offline, REPO, BIG, size, gpus))


def test_fit_of_the_real_tiny_model_on_disk() -> None:
    tiny = Path("/var/cache/paitui-test/models/tiny-llama-q8_0.gguf")
    if not tiny.is_file():
        pytest.skip(f"{tiny} missing (scripts/build-llama-server.sh makes it)")
    v = fit_local(tiny, StaticGpus([GpuFree("0", "Arc A770", 16 * GIB, 15 * GIB)]))
    assert not isinstance(v, str) and v.level == FitLevel.FITS
    assert warning_line(v) is None
    shape = ve.model_shape(read_local_layout(tiny))
    assert (shape.n_layer, shape.n_embd, shape.n_head_kv, shape.quant) == (2, 64, (4, 4), "Q8_0")
    assert "no GPU" in str(fit_local(tiny, StaticGpus([])))


def test_start_warning_finds_the_model_through_the_mounts(
    files: dict[str, bytes], tmp_path: Path
) -> None:
    from paitui.domain.hardware.accel import Accel
    from paitui.domain.launch.plan import LaunchPlan, MountSpec
    from paitui.services.models.will_fit import plan_model_file, start_warning

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / BIG).write_bytes(files[BIG])
    plan = LaunchPlan(
        app_id="llama-cpp",
        variant="rocm",
        accel=Accel.ROCM,
        name="paitui-llama-cpp",
        image="x",
        command=("-m", f"/models/{BIG}", "--ctx-size=8192"),
        mounts=(MountSpec(str(tmp_path / "m"), "/models", True),),
    )
    assert plan_model_file(plan) == tmp_path / "m" / BIG
    small = StaticGpus([GpuFree("0", "RX 7600", 8 * GIB, 3 * GIB, (("comfyui", 5 * GIB),))])
    line = start_warning(plan, small)
    assert line is not None and "held by comfyui" in line and "; try " in line
    assert start_warning(plan, StaticGpus([GpuFree("0", "W7900", 48 * GIB, 40 * GIB)])) is None


def test_models_fit_command(
    hub: HubServer,
    files: dict[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from paitui.cli.main import main
    from paitui.services.models import will_fit

    gpus = [GpuFree("card0", "RX 7600", 8 * GIB, 2 * GIB, (("comfyui", 5 * GIB),))]
    monkeypatch.setattr(will_fit.ReportGpus, "gpu_free", lambda self: gpus)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert main(["models", "fit", f"{REPO}:{BIG}", "--ctx", "8192"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("does not fit: needs ~") and "would fit: a smaller quant" in out
    assert main(["models", "fit", f"{REPO}:nope.gguf"]) == 1
    assert "has no file" in capsys.readouterr().err
    monkeypatch.setattr(will_fit.ReportGpus, "gpu_free", lambda self: [])
    assert main(["models", "fit", f"{REPO}:{BIG}"]) == 1
    assert "cannot say: no GPU" in capsys.readouterr().err
