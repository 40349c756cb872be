"""Fixtures for the engine tests: a multi-layer image in the local registry, a busybox stand-in
app, and an Engine on the real Docker engine."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.catalog.schema import App
from paitui.domain.engine.containers import EngineConnection, EngineEvent, ManagedSnapshot
from paitui.services.engine.client import Engine
from paitui.services.engine.events import EngineUpdate
from paitui.settings import Settings
from tests.engine.second_dockerd import SecondDockerd

LAYER_MB = (12, 10, 8)


@dataclass
class LayeredImage:
    """An image present in the registry (and not locally unless a test pulled it)."""

    name: str
    layer_sizes: dict[str, int]  # compressed size per layer digest, from the registry manifest


@pytest.fixture(scope="session")
def layered_image(docker_client: Any, busybox_image: str, registry: str) -> Iterator[LayeredImage]:
    """busybox plus three layers of random bytes (~30 MB), pushed to the registry, removed
    locally; deleted from the registry at the end."""
    import httpx

    repo = f"{registry}/paitest/engine-layers-{uuid.uuid4().hex[:8]}"
    image = f"{repo}:v1"
    current = busybox_image
    made: list[str] = []
    for i, size in enumerate(LAYER_MB):
        container = docker_client.containers.run(
            current,
            ["dd", "if=/dev/urandom", f"of=/layer{i}", "bs=1048576", f"count={size}"],
            detach=True,
            labels={"paitest": "engine-layers"},
        )
        try:
            assert container.wait(timeout=60)["StatusCode"] == 0
            container.commit(repository=repo, tag=f"step{i}")
        finally:
            container.remove(force=True)
        current = f"{repo}:step{i}"
        made.append(current)
    docker_client.images.get(current).tag(repo, "v1")
    for line in docker_client.api.push(repo, tag="v1", stream=True, decode=True):
        assert "error" not in line, line
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    resp = httpx.get(
        f"http://{registry}/v2/{repo.split('/', 1)[1]}/manifests/v1", headers={"Accept": accept}
    )
    resp.raise_for_status()
    digest = resp.headers["Docker-Content-Digest"]
    sizes = {layer["digest"]: int(layer["size"]) for layer in resp.json()["layers"]}
    for tag in [*made, image]:
        with contextlib.suppress(Exception):
            docker_client.images.remove(tag)
    yield LayeredImage(image, sizes)
    with contextlib.suppress(Exception):
        docker_client.images.remove(image, force=True)
    with contextlib.suppress(Exception):
        httpx.delete(f"http://{registry}/v2/{repo.split('/', 1)[1]}/manifests/{digest}")


@pytest.fixture
def d2(registry: str) -> Iterator[SecondDockerd]:
    """A second dockerd of the test's own, thawed and removed at the end whatever happened."""
    if shutil.which("dockerd") is None or shutil.which("ip") is None:
        pytest.fail("dockerd and ip (iproute2) are needed: scripts/test-env.sh up")
    daemon = SecondDockerd()
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.close()  # thaws a frozen one first


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(models_dir=tmp_path / "models", apps_dir=tmp_path / "apps")


@pytest.fixture
async def engine(settings: Settings, docker_client: Any) -> AsyncIterator[Engine]:
    eng = Engine(settings, backoff_initial=0.1, backoff_max=1.0)
    yield eng
    await eng.close()


def stand_in_app(app_id: str, image: str, *, port: int | None = 8080, data: bool = True) -> App:
    """A catalog entry backed by busybox: httpd on 8080, a TERM trap for a quick stop."""
    script = (
        "echo hello from $APP_GREETING; "
        "httpd -f -p 8080 -h /www & pid=$!; "
        "trap 'kill $pid; exit 0' TERM; wait"
    )
    entry: dict[str, Any] = {
        "id": app_id,
        "name": f"Stand-in {app_id}",
        "description": "busybox httpd standing in for an app",
        "kind": "other",
        "variants": {"cpu": {"image": image}},
        "entrypoint": ["/bin/sh", "-c"],
        "command": [script],
        "env": {"APP_GREETING": "paitui"},
        "mounts": {"data": {"path": "/data", "uid": 1999, "gid": 1999}} if data else {},
        "ports": [{"container": port, "purpose": "httpd"}] if port else [],
    }
    return App.model_validate(entry)


@dataclass
class Recorder:
    """Collects an Engine's updates in a background task; tests wait on what they expect."""

    updates: list[EngineUpdate] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def run(self, engine: Engine) -> None:
        async for update in engine.events():
            self.updates.append(update)
            self.changed.set()

    def events(self, container_id: str | None = None) -> list[EngineEvent]:
        return [
            u
            for u in self.updates
            if isinstance(u, EngineEvent)
            and (container_id is None or u.container_id == container_id)
        ]

    def actions(self, container_id: str) -> list[str]:
        return [e.action for e in self.events(container_id)]

    async def wait_for(self, check: Any, timeout: float = 20.0, what: str = "update") -> Any:
        async def loop() -> Any:
            while True:
                result = check()
                if result:
                    return result
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; got {self.updates!r}") from None

    def connections(self) -> list[bool]:
        return [u.connected for u in self.updates if isinstance(u, EngineConnection)]

    def snapshots(self) -> list[ManagedSnapshot]:
        return [u for u in self.updates if isinstance(u, ManagedSnapshot)]


@pytest.fixture
async def recorder(engine: Engine) -> AsyncIterator[Recorder]:
    rec = Recorder()
    rec.task = asyncio.create_task(rec.run(engine))
    await rec.wait_for(lambda: rec.snapshots(), what="first snapshot")
    yield rec
    rec.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await rec.task


@pytest.fixture
def cleanup(docker_client: Any) -> Iterator[list[str]]:
    """Names/ids of containers a test made; removed at the end whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(Exception):
            docker_client.containers.get(name).remove(force=True)
