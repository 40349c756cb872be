"""Fixtures for the real llama.cpp server: its image and tiny models, a Hub serving them, an
environment for real ``paitui`` processes, and a catalog entry that is the bundled one.

The image and models come from ``scripts/build-llama-server.sh`` (run by ``scripts/test-env.sh
up``), cached in ``$PAITUI_TEST_CACHE`` (default /var/cache/paitui-test). Missing, the tests fail
under CI and skip elsewhere with the command that builds them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.models.hub_server import HubServer, make_repo

LLAMA_IMAGE = "ghcr.io/ggml-org/llama.cpp:server"
CACHE = Path(os.environ.get("PAITUI_TEST_CACHE", "/var/cache/paitui-test"))
MODELS = CACHE / "models"
REPO = "ggml-test/tiny-llama-GGUF"
TINY = "tiny-llama-q8_0.gguf"
SHARDS = ("tiny-llama-split-00001-of-00002.gguf", "tiny-llama-split-00002-of-00002.gguf")
#: The first half of the tiny model: a header paitui can read, tensor data that ends too soon.
TRUNCATED = "tiny-llama-truncated.gguf"


@dataclass(frozen=True)
class LlamaAssets:
    """The built image and the model bytes the test Hub serves."""

    image: str
    tiny: bytes
    shards: tuple[bytes, bytes]


@pytest.fixture(scope="session")
def llama_assets(docker_client: Any) -> LlamaAssets:
    """The real llama.cpp server image and its tiny models, or a clear failure (CI) / skip."""
    import docker.errors

    missing = [str(MODELS / n) for n in (TINY, *SHARDS) if not (MODELS / n).is_file()]
    try:
        docker_client.images.get(LLAMA_IMAGE)
    except docker.errors.ImageNotFound:
        missing.append(f"image {LLAMA_IMAGE}")
    if missing:
        message = (
            f"the real llama.cpp server is not built: {', '.join(missing)} missing "
            "(run: bash scripts/build-llama-server.sh, about 7 min once; "
            "scripts/test-env.sh up runs it)"
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return LlamaAssets(
        LLAMA_IMAGE,
        (MODELS / TINY).read_bytes(),
        ((MODELS / SHARDS[0]).read_bytes(), (MODELS / SHARDS[1]).read_bytes()),
    )


@pytest.fixture
def llama_hub(llama_assets: LlamaAssets) -> Iterator[HubServer]:
    """A Hub stand-in serving the tiny model, its 2 shards and a truncated copy."""
    files = {
        TINY: llama_assets.tiny,
        SHARDS[0]: llama_assets.shards[0],
        SHARDS[1]: llama_assets.shards[1],
        TRUNCATED: llama_assets.tiny[: len(llama_assets.tiny) // 2],
        "README.md": b"# tiny llama for paitui's tests\n",
    }
    with HubServer([make_repo(REPO, files, tags=("gguf", "text-generation"))]) as server:
        yield server


@pytest.fixture
def llama_app(tmp_path: Path, docker_client: Any) -> Iterator[tuple[str, Path]]:
    """The bundled llama-cpp-server entry under an id of this test's own (so a developer's real
    llama-cpp-server container is never touched); its catalog file. Containers removed after."""
    bundled = yaml.safe_load((REPO_ROOT / "catalog.yml").read_text(encoding="utf-8"))
    (entry,) = [a for a in bundled["apps"] if a["id"] == "llama-cpp-server"]
    suffix = uuid.uuid4().hex[:8]
    entry = {**entry, "id": f"llama-cpp-server-{suffix}", "name": f"llama.cpp server {suffix}"}
    catalog = tmp_path / "llama.yml"
    catalog.write_text(yaml.safe_dump({"apps": [entry]}, sort_keys=False), encoding="utf-8")
    yield entry["id"], catalog
    mine = {"label": f"paitui.app={entry['id']}"}
    for c in docker_client.containers.list(all=True, filters=mine):
        c.remove(force=True)


@pytest.fixture
def llama_env(tmp_path: Path, llama_hub: HubServer, llama_app: tuple[str, Path]) -> dict[str, str]:
    """The environment of a real ``paitui`` process: this checkout, the test Hub, own dirs."""
    env = {
        **os.environ,
        "PAITUI_CATALOG": str(llama_app[1]),
        "HF_ENDPOINT": llama_hub.url,
        "HF_HOME": str(tmp_path / "hf-home"),
        "PAITUI_STATE_DIR": str(tmp_path / "state"),
        "PAITUI_CONFIG_DIR": str(tmp_path / "config"),
        "PAITUI_PROBE_START_INTERVAL": "0.2",
        "PYTHONPATH": str(REPO_ROOT),
    }
    for var in ("HF_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "SSH_CONNECTION", "SSH_TTY"):
        env.pop(var, None)
    return env


def run_paitui(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """A real ``paitui`` command; its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        env=env, text=True, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )  # fmt: skip
