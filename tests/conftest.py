"""Shared fixtures: isolated config/state dirs, and the real Docker engine and local registry.

Where the engine or registry is missing, tests that need them fail when CI is set (never a
silent skip) and skip with the reason otherwise. ``scripts/test-env.sh up`` provides both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REGISTRY = os.environ.get("PAITUI_TEST_REGISTRY", "127.0.0.1:5000")
BUSYBOX_IMAGE = f"{REGISTRY}/paitest/busybox:latest"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _unavailable(what: str) -> None:
    """Fail under CI, skip on a developer machine: a missing engine must never pass silently."""
    message = f"{what} (run: scripts/test-env.sh up)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own config and state dirs, so nothing touches the user's."""
    monkeypatch.setenv("PAITUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("PAITUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("PAITUI_CATALOG", raising=False)
    # Nor the user's Hugging Face cache, which the models library lists and plans mount.
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    """A real docker SDK client talking to the engine under test."""
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except docker.errors.DockerException as exc:
        _unavailable(f"Docker engine not reachable: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry() -> str:
    """Address of the local registry (host:port)."""
    import httpx

    try:
        httpx.get(f"http://{REGISTRY}/v2/", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        _unavailable(f"local registry {REGISTRY} not answering: {exc}")
    return REGISTRY


@pytest.fixture(scope="session")
def busybox_image(docker_client: Any, registry: str) -> str:
    """The busybox stand-in image, present locally and in the registry."""
    import docker.errors

    try:
        docker_client.images.get(BUSYBOX_IMAGE)
    except docker.errors.ImageNotFound:
        _unavailable(f"test image {BUSYBOX_IMAGE} is missing")
    return BUSYBOX_IMAGE


@pytest.fixture
def test_label() -> str:
    """A unique label value so a test finds only its own containers and events."""
    return f"t{uuid.uuid4().hex[:10]}"
