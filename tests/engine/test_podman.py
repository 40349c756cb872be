"""The engine service against a real Podman service (scripts/test-env.sh starts it on its own
socket, test-infra-facts §9): discovery, the engine kind, and the engine suite on Podman."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from paitui.cli.hw import format_report
from paitui.domain.engine.containers import ContainerStatus, PullProgress
from paitui.domain.engine.kind import DOCKER, PODMAN
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.engine_plan import KEEP_GROUPS, plan_for_engine
from paitui.domain.launch.planner import plan_launch
from paitui.services.engine.client import Engine
from paitui.services.engine.connect import DEFAULT_HOST, Endpoint
from paitui.services.engine.podman import find_podman, probe_engine, resolve_engine
from paitui.services.fleet.host_ports import taken_ports
from paitui.services.hardware.host import HostEnv, query_docker
from paitui.settings import Settings
from tests.conftest import BUSYBOX_IMAGE, _unavailable
from tests.engine.conftest import LayeredImage, Recorder, stand_in_app
from tests.engine.standin import run_to_end, stand_in_plan

pytestmark = pytest.mark.docker

STATE = Path(os.environ.get("PAITUI_TEST_STATE", "/tmp/paitui-test-env"))
PODMAN_SOCKET = STATE / "podman" / "podman.sock"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def podman_client(registry: str) -> Iterator[Any]:
    """A docker SDK client on the test Podman service, with the busybox stand-in pulled."""
    import docker

    try:
        client = docker.DockerClient(base_url=f"unix://{PODMAN_SOCKET}", timeout=60)
        client.ping()
    except Exception as exc:
        _unavailable(f"Podman service not answering on {PODMAN_SOCKET}: {exc}")
    try:
        client.images.get(BUSYBOX_IMAGE)
    except docker.errors.ImageNotFound:
        client.images.pull(BUSYBOX_IMAGE)
    yield client
    client.close()


@pytest.fixture
async def podman(tmp_path: Path, podman_client: Any) -> AsyncIterator[Engine]:
    settings = Settings(
        models_dir=tmp_path / "models",
        apps_dir=tmp_path / "apps",
        docker_host=f"unix://{PODMAN_SOCKET}",
    )
    eng = Engine(settings, backoff_initial=0.1, backoff_max=1.0)
    yield eng
    await eng.close()


@pytest.fixture
def podman_cleanup(podman_client: Any) -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(Exception):
            podman_client.containers.get(name).remove(force=True)


def test_the_engine_kind_is_told_from_its_answers(docker_client: Any) -> None:
    kind = probe_engine(Endpoint(f"unix://{PODMAN_SOCKET}", "test"))
    assert kind.name == PODMAN and kind.podman
    assert kind.version and kind.version[0].isdigit()
    assert not kind.rootless  # the test service runs as root
    assert kind.runtime == "runc"  # Debian's default; crun cannot run on hybrid cgroups
    assert probe_engine(Endpoint(DEFAULT_HOST, "test")).name == DOCKER
    facts = query_docker(HostEnv(), f"unix://{PODMAN_SOCKET}")
    assert (facts.engine, facts.default_runtime, facts.version) == (PODMAN, "runc", kind.version)
    assert facts.summary().startswith(f"Podman {kind.version} (API ")
    assert "  Engine Podman " in format_report(HardwareReport(docker=facts))


def test_paitui_hw_says_podman(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO_ROOT),
        DOCKER_HOST=f"unix://{PODMAN_SOCKET}",
        PAITUI_HW_NVML="off",
    )
    done = subprocess.run(
        [sys.executable, "-m", "paitui.cli.main", "hw", "--json"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    docker = json.loads(done.stdout)["docker"]
    assert (
        docker["reachable"] and docker["engine"] == PODMAN and docker["default_runtime"] == "runc"
    )


async def test_a_podman_socket_is_found_and_used(tmp_path: Path, podman_client: Any) -> None:
    runtime = tmp_path / "xdg"
    runtime.mkdir()
    (runtime / "podman").symlink_to(PODMAN_SOCKET.parent)  # as $XDG_RUNTIME_DIR/podman/
    env = {"XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path)}
    rootless = f"unix://{runtime}/podman/podman.sock"
    assert find_podman(env, uid=1000) == Endpoint(rootless, "podman rootless socket")
    assert find_podman({"XDG_RUNTIME_DIR": str(tmp_path / "none")}, uid=1000) is None
    # No Docker socket and nothing configured: Podman's is used...
    missing = str(tmp_path / "no-docker.sock")
    found = resolve_engine(None, env, uid=1000, docker_socket=missing)
    assert found.host == rootless
    eng = Engine(Settings(docker_host=found.host, models_dir=tmp_path / "m", apps_dir=tmp_path))
    try:
        assert any("Podman" in c["Name"] for c in (await eng.connect())["Components"])
    finally:
        await eng.close()
    # ...but never over what the user named, nor over a Docker socket that is there.
    named = resolve_engine(None, {**env, "DOCKER_HOST": "tcp://box:2375"}, 1000, missing)
    assert named.source == "DOCKER_HOST"
    assert resolve_engine(None, env, 1000, "/var/run/docker.sock").host == DEFAULT_HOST


async def test_launch_events_logs_stats_stop_remove_on_podman(
    podman: Engine, test_label: str, podman_cleanup: list[str]
) -> None:
    recorder = Recorder()
    recorder.task = asyncio.create_task(recorder.run(podman))
    try:
        await recorder.wait_for(lambda: recorder.snapshots(), what="first snapshot")
        app = stand_in_app(f"pt-{test_label}", BUSYBOX_IMAGE)
        podman_cleanup.append(f"paitui-{app.id}")
        plan = plan_launch(app, HardwareReport(), podman.settings, taken_ports=taken_ports([8080]))
        info = await podman.launch(plan)
        assert info.status == ContainerStatus.RUNNING and info.app_id == app.id
        cid = info.id
        await recorder.wait_for(lambda: "start" in recorder.actions(cid), what="start")
        data = podman.settings.apps_dir / app.id
        assert (data.stat().st_uid, data.stat().st_gid) == (1999, 1999)
        (port,) = plan.ports
        assert port.host_ip == "127.0.0.1"
        assert [(p.host_ip, p.host_port) for p in info.ports] == [("127.0.0.1", port.host_port)]

        async def answered() -> bool:
            async with httpx.AsyncClient() as http:
                for _ in range(100):
                    with contextlib.suppress(httpx.HTTPError):
                        got = await http.get(f"http://127.0.0.1:{port.host_port}/")
                        if got.text.strip() == "ok":
                            return True
                    await asyncio.sleep(0.05)
            return False

        assert await answered()
        assert [line async for line in podman.logs(app.id, follow=False)] == ["hello from paitui"]
        stats = podman.stats(app.id)
        sample = await anext(stats)
        await stats.aclose()
        assert sample.container_id == cid and sample.memory_bytes > 0
        listed = [c for c in await podman.list_managed() if c.app_id == app.id]
        assert [c.id for c in listed] == [cid]
        assert listed[0].labels == plan.labels  # created with the plan's labels

        stopped = await podman.stop(app.id, timeout=5)
        assert stopped.status == ContainerStatus.EXITED and stopped.exit_code == 0
        await recorder.wait_for(lambda: "die" in recorder.actions(cid), what="die")
        die = next(e for e in recorder.events(cid) if e.action == "die")
        assert die.app_id == app.id and die.variant == "cpu"
        await podman.remove(app.id, delete_data=True)
        await recorder.wait_for(
            lambda: {"remove", "destroy"} & set(recorder.actions(cid)), what="remove"
        )
        assert not data.exists()
        assert not [c for c in await podman.list_managed() if c.app_id == app.id]
    finally:
        recorder.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recorder.task


async def test_pull_from_the_local_registry(
    podman: Engine, podman_client: Any, layered_image: LayeredImage
) -> None:
    with contextlib.suppress(Exception):
        podman_client.images.remove(layered_image.name, force=True)
    assert not await podman.image_present(layered_image.name)
    seen: list[PullProgress] = []
    final = await podman.pull(layered_image.name, seen.append, threading.Event())
    try:
        assert final.done and seen and seen[-1] is final
        assert await podman.image_present(layered_image.name)
    finally:
        with contextlib.suppress(Exception):
            podman_client.images.remove(layered_image.name, force=True)


def test_group_add_as_planned_runs_on_podman(podman_client: Any, tmp_path: Path) -> None:
    """A numeric GID (rootful) reaches the container; keep-groups under runc (the test service's
    runtime: crun refuses this sandbox's hybrid cgroups) does not start, as the plan warns."""
    import docker.errors

    app = stand_in_app(f"pt-{uuid.uuid4().hex[:8]}", BUSYBOX_IMAGE, port=None, data=False)
    base = plan_launch(app, HardwareReport(), Settings(apps_dir=tmp_path, models_dir=tmp_path))
    probe = stand_in_plan(
        base, BUSYBOX_IMAGE, entrypoint=("id", "-G"), command=(), user="0:0", label="groups"
    )
    numeric = dataclasses.replace(probe, group_add=("993",))
    assert "993" in run_to_end(podman_client, numeric).split()
    kind = probe_engine(Endpoint(f"unix://{PODMAN_SOCKET}", "test"))
    rootless_runc = dataclasses.replace(kind, rootless=True)
    planned = plan_for_engine(numeric, rootless_runc)
    assert planned.group_add == (KEEP_GROUPS,)
    assert any("needs crun" in w and "runc" in w for w in planned.warnings)
    with pytest.raises(docker.errors.APIError, match="keep-groups"):
        run_to_end(podman_client, planned)
    assert not podman_client.containers.list(all=True, filters={"label": "paitest=groups"})
