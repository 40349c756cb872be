"""Fixtures for the models tests: a local Hub server, its environment, a store, a small tmpfs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from paitui.services.models.downloads import DownloadManager
from paitui.services.models.hub import HubConfig, HubService
from paitui.services.models.store import ModelStore
from tests.models.hub_server import HubServer, make_repo

TOKEN = "hf_TESTsecretTOKEN0123456789"


def _data(seed: int, size: int) -> bytes:
    """Deterministic, incompressible-enough bytes (fast to build, different per seed)."""
    import random

    return random.Random(seed).randbytes(size)


GGUF_Q4 = _data(1, 2_000_000)
GGUF_Q8 = _data(2, 3_500_000)
BIG = _data(3, 4_000_000)


@pytest.fixture
def hub_server() -> Iterator[HubServer]:
    """A fresh Hub stand-in with a GGUF repo, a diffusers repo and a gated repo."""
    repos = [
        make_repo(
            "acme/tiny-gguf",
            {"tiny.Q4_K_M.gguf": GGUF_Q4, "tiny.Q8_0.gguf": GGUF_Q8, "README.md": b"# tiny\n"},
            tags=("gguf", "text-generation"),
            downloads=500,
            likes=3,
        ),
        make_repo(
            "acme/tiny-sd",
            {
                "model_index.json": b'{"_class_name": "StableDiffusionPipeline"}',
                "unet/diffusion_pytorch_model.safetensors": _data(4, 50_000),
                "v1.ckpt": _data(5, 20_000),
            },
            tags=("diffusers", "safetensors"),
            downloads=100,
            likes=40,
        ),
        make_repo("acme/big", {"big.gguf": BIG}, tags=("gguf",), downloads=7, likes=1),
        make_repo(
            "acme/gated",
            {"gated.gguf": _data(6, 300_000), "config.json": b"{}"},
            tags=("gguf",),
            gated=True,
        ),
    ]
    with HubServer(repos, token=TOKEN) as server:
        yield server


@pytest.fixture
def hub_env(hub_server: HubServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> HubServer:
    """The environment pointing huggingface_hub and paitui at the local server, no token."""
    monkeypatch.setenv("HF_ENDPOINT", hub_server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN_PATH", raising=False)
    return hub_server


@pytest.fixture
def hub(hub_server: HubServer) -> HubService:
    """A hub client for the local server (no token)."""
    return HubService(HubConfig(endpoint=hub_server.url))


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    """An empty store."""
    return ModelStore(tmp_path / "store")


@pytest.fixture
def make_manager(
    store: ModelStore, hub_server: HubServer
) -> Iterator[Callable[..., DownloadManager]]:
    """Build managers on the local server; all are shut down after the test."""
    made: list[DownloadManager] = []

    def make(
        *, token: str | None = None, root: ModelStore | None = None, **kw: Any
    ) -> DownloadManager:
        kw.setdefault("read_timeout", 5.0)
        kw.setdefault("backoff", 0.05)
        cfg = HubConfig(endpoint=hub_server.url, token=token)
        manager = DownloadManager(root or store, cfg, **kw)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.shutdown()


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount small tmpfs file systems (e.g. ``"3m"``) for full-disk tests; unmounted after."""
    mounts: list[Path] = []

    def mount(size: str) -> Path:
        where = tmp_path / f"fs{len(mounts)}"
        where.mkdir()
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            message = f"cannot mount a tmpfs for the full-disk test: {proc.stderr.strip()}"
            if os.environ.get("CI"):
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        mounts.append(where)
        return where

    yield mount
    for where in mounts:
        subprocess.run(["umount", "-l", str(where)], check=False)
