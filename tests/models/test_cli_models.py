"""``paitui models`` sub-commands against the local Hub server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paitui.cli.main import main
from tests.models.conftest import GGUF_Q4
from tests.models.hub_server import HubServer


def _models_dir(tmp_path: Path) -> Path:
    return tmp_path / "state" / "models"  # PAITUI_STATE_DIR from the autouse fixture


def test_search_json_and_table(hub_env: HubServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "search", "tiny", "--gguf", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [r["repo_id"] for r in found] == ["acme/tiny-gguf"]
    assert main(["models", "search", "acme", "--sort", "likes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["REPO", "DOWNLOADS", "LIKES", "SIZE"]
    assert lines[1].startswith("acme/tiny-sd")


def test_pull_ls_rm(hub_env: HubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "pull", "acme/tiny-gguf", "*Q4_K_M*"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert (
        first.startswith("acme/tiny-gguf@") and "1 file(s), 2.0 MB" in first and "free on" in first
    )
    assert "tiny.Q4_K_M.gguf: done, verified" in out
    path = _models_dir(tmp_path) / "acme" / "tiny-gguf" / "tiny.Q4_K_M.gguf"
    assert path.read_bytes() == GGUF_Q4
    assert main(["models", "ls", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["total_size"] == len(GGUF_Q4)
    entry = listing["repos"][0]["files"][0]
    assert entry["path"] == "tiny.Q4_K_M.gguf" and entry["formats"] == ["gguf"]
    assert any("llama" in a for a in entry["apps"])
    assert main(["models", "ls"]) == 0
    assert "tiny.Q4_K_M.gguf" in capsys.readouterr().out
    # rm without --yes and without a terminal refuses
    assert main(["models", "rm", "acme/tiny-gguf"]) == 1
    assert "--yes" in capsys.readouterr().err
    assert path.exists()
    assert main(["models", "rm", "acme/tiny-gguf/tiny.Q4_K_M.gguf", "--yes"]) == 0
    assert not path.exists()
    assert main(["models", "rm", "acme/tiny-gguf", "--yes"]) == 1
    assert "not installed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["models", "pull", "acme/absent"], "not found"),
        (["models", "pull", "acme/tiny-gguf", "*.onnx"], "no file of acme/tiny-gguf matches"),
        (["models", "pull", "acme/gated"], "gated"),
        (["models", "pull", "acme/tiny-gguf", "--revision", "v2"], "no revision"),
    ],
)
def test_pull_failures_are_one_clear_line(
    hub_env: HubServer, argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert words in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_pull_offline(
    hub_env: HubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["models", "pull", "acme/tiny-gguf"]) == 1
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err
    assert hub_env.requests == []


def test_pull_checks_free_space(
    hub_env: HubServer,
    small_fs: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = small_fs("1m")  # type: ignore[operator]
    monkeypatch.setenv("PAITUI_MODELS_DIR", str(root))
    assert main(["models", "pull", "acme/big"]) == 1
    err = capsys.readouterr().err
    assert "needs 4.0 MB" in err and f"free on {root}" in err
    assert hub_env.gets("/repos/") == []
