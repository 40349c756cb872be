"""The engine service against the real Docker engine and the local registry."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import socket
import threading
from collections import deque
from pathlib import Path
from typing import Any

import httpx
import pytest

from paitui.domain.engine.containers import ContainerStatus, PullProgress
from paitui.domain.engine.errors import EngineError, ErrorKind
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import DeviceMapping, LaunchChoices
from paitui.domain.launch.planner import plan_launch
from paitui.services.engine.client import Engine
from paitui.services.fleet.host_ports import taken_ports
from paitui.settings import Settings
from tests.engine.conftest import LayeredImage, Recorder, stand_in_app
from tests.helpers import free_port

pytestmark = pytest.mark.docker


def _absent(docker_client: Any, image: str) -> None:
    with contextlib.suppress(Exception):
        docker_client.images.remove(image, force=True)


async def test_pull_progress_adds_up(
    engine: Engine, layered_image: LayeredImage, docker_client: Any
) -> None:
    _absent(docker_client, layered_image.name)
    seen: list[PullProgress] = []
    final = await engine.pull(layered_image.name, seen.append, threading.Event())
    assert final.done and final is seen[-1]
    pulled = [la for la in final.layers if la.status != "Already exists"]
    # The three layers of random bytes were downloaded; busybox's base may already exist.
    assert len(pulled) >= len(("12", "10", "8"))
    assert all(la.status == "Pull complete" and la.current == la.total > 0 for la in pulled)
    assert final.total == sum(la.total for la in final.layers)
    assert final.downloaded == final.total >= 28 * 1024 * 1024
    # Layer totals are the compressed blob sizes the registry's manifest gives.
    by_prefix = {d.split(":")[1][:12]: size for d, size in layered_image.layer_sizes.items()}
    assert {la.id: la.total for la in pulled} == {la.id: by_prefix[la.id] for la in pulled}
    # Every intermediate state adds up too, and bytes never go backwards.
    for before, after in itertools.pairwise(seen):
        assert after.downloaded >= before.downloaded
    for p in seen:
        assert p.total == sum(la.total for la in p.layers)
        assert p.downloaded == sum(la.current for la in p.layers) <= p.total
    assert any(0 < p.downloaded < p.total for p in seen), "no partial progress was reported"
    assert any(p.speed > 0 for p in seen)
    assert await engine.image_present(layered_image.name)


async def test_pull_cancel(engine: Engine, layered_image: LayeredImage, docker_client: Any) -> None:
    _absent(docker_client, layered_image.name)
    cancel = threading.Event()

    def on_progress(p: PullProgress) -> None:
        if p.downloaded > 0:
            cancel.set()

    with pytest.raises(EngineError) as err:
        await engine.pull(layered_image.name, on_progress, cancel)
    assert err.value.kind == ErrorKind.CANCELLED
    # Closing the stream made the engine abandon the pull: the image was never tagged.
    assert not await engine.image_present(layered_image.name)


async def test_pull_errors_are_readable(engine: Engine, registry: str) -> None:
    with pytest.raises(EngineError) as missing:
        await engine.pull(f"{registry}/paitest/busybox:no-such-tag-{os.getpid()}")
    assert missing.value.kind == ErrorKind.IMAGE_NOT_FOUND
    assert "not found" in missing.value.message and missing.value.fix
    with pytest.raises(EngineError) as down:
        await engine.pull(f"127.0.0.1:{free_port()}/paitest/busybox:latest")
    assert down.value.kind == ErrorKind.REGISTRY_DOWN
    assert "not reachable" in down.value.message


async def test_launch_events_stop_remove(
    engine: Engine,
    recorder: Recorder,
    busybox_image: str,
    settings: Settings,
    test_label: str,
    cleanup: list[str],
) -> None:
    app = stand_in_app(f"pt-{test_label}", busybox_image)
    cleanup.append(f"paitui-{app.id}")
    plan = plan_launch(app, HardwareReport(), settings, taken_ports=taken_ports([8080]))
    info = await engine.launch(plan)
    assert info.status == ContainerStatus.RUNNING and info.app_id == app.id
    cid = info.id
    await recorder.wait_for(lambda: {"create", "start"} <= set(recorder.actions(cid)), what="start")
    # The data dir exists, owned by the image's user.
    data = settings.apps_dir / app.id
    assert (data.stat().st_uid, data.stat().st_gid) == (1999, 1999)
    # The stand-in answers on the published port.
    port = plan.ports[0].host_port
    assert info.ports[0].host_port == port

    async def answered() -> bool:
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/")).text.strip() == "ok":
                        return True
                await asyncio.sleep(0.05)
        return False

    assert await answered()
    lines: deque[str] = deque(maxlen=10)
    got = [line async for line in engine.logs(app.id, follow=False, buffer=lines)]
    assert got == ["hello from paitui"] and list(lines) == got
    following = engine.logs(app.id, follow=True)
    assert await anext(following) == "hello from paitui"
    await following.aclose()  # leaving a followed log closes its stream
    stats = engine.stats(app.id)
    sample = await anext(stats)
    await stats.aclose()
    assert sample.container_id == cid and sample.memory_bytes > 0 and sample.memory_limit > 0
    assert sample.cpu_percent >= 0

    assert [c.id for c in await engine.list_managed() if c.app_id == app.id] == [cid]
    stopped = await engine.stop(app.id, timeout=5)
    assert stopped.status == ContainerStatus.EXITED and stopped.exit_code == 0
    await recorder.wait_for(lambda: {"die", "stop"} <= set(recorder.actions(cid)), what="die+stop")
    die = next(e for e in recorder.events(cid) if e.action == "die")
    assert die.exit_code == 0 and die.app_id == app.id and die.variant == "cpu"
    restarted = await engine.restart(app.id, timeout=1)
    assert restarted.status == ContainerStatus.RUNNING

    await engine.remove(app.id)  # without delete_data the data dir stays
    await recorder.wait_for(lambda: "destroy" in recorder.actions(cid), what="destroy")
    assert data.is_dir()
    again = await engine.launch(plan)
    await engine.remove(again.id, delete_data=True)
    assert not data.exists()
    assert not [c for c in await engine.list_managed() if c.app_id == app.id]


async def test_foreign_container_is_left_alone(
    engine: Engine,
    recorder: Recorder,
    docker_client: Any,
    busybox_image: str,
    test_label: str,
    settings: Settings,
    cleanup: list[str],
) -> None:
    name = f"{test_label}-foreign"
    cleanup.append(name)
    foreign = docker_client.containers.run(
        busybox_image, ["sleep", "300"], name=name, detach=True, labels={"paitest": test_label}
    )
    for action in (engine.stop(name, timeout=0), engine.restart(name), engine.remove(name)):
        with pytest.raises(EngineError) as err:
            await action
        assert err.value.kind == ErrorKind.NOT_MANAGED
        assert "not started by paitui" in err.value.message
    foreign.reload()
    assert foreign.status == "running"
    assert not recorder.events(foreign.id)
    # A foreign container holding paitui's name for an app is not replaced either.
    app = stand_in_app(f"pt-{test_label}", busybox_image, port=None)
    squatter = f"paitui-{app.id}"
    cleanup.append(squatter)
    docker_client.containers.create(busybox_image, ["sleep", "1"], name=squatter)
    with pytest.raises(EngineError) as err:
        await engine.launch(plan_launch(app, HardwareReport(), settings))
    assert err.value.kind == ErrorKind.CONFLICT
    assert docker_client.containers.get(squatter).labels == {}


async def test_port_in_use_and_missing_device_are_clear(
    engine: Engine,
    busybox_image: str,
    test_label: str,
    settings: Settings,
    cleanup: list[str],
) -> None:
    app = stand_in_app(f"pt-{test_label}", busybox_image, data=False)
    cleanup.append(f"paitui-{app.id}")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = int(holder.getsockname()[1])
        # The plan does not know the port is taken (as if it was taken after planning).
        plan = plan_launch(app, HardwareReport(), settings, LaunchChoices(host_port=busy))
        with pytest.raises(EngineError) as err:
            await engine.launch(plan)
    assert err.value.kind == ErrorKind.PORT_IN_USE
    assert str(busy) in err.value.message and err.value.fix
    # The failed container does not block the next try.
    assert not [c for c in await engine.list_managed() if c.app_id == app.id]

    missing = f"/dev/paitui-missing-{test_label}"
    plan = dataclasses.replace(
        plan_launch(app, HardwareReport(), settings, LaunchChoices(host_port=free_port())),
        devices=(DeviceMapping(missing, missing),),
    )
    with pytest.raises(EngineError) as err:
        await engine.launch(plan)
    assert err.value.kind == ErrorKind.DEVICE_MISSING and missing in err.value.message


def test_permission_denied_on_the_socket_names_the_fix(tmp_path: Path) -> None:
    """A socket the user may not open (mode 000, checked without root's DAC override)."""
    import shutil
    import subprocess
    import sys

    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop the DAC override capability")
    sock_path = tmp_path / "denied.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(sock_path))
        listener.listen()
        sock_path.chmod(0)
        code = (
            "import asyncio\n"
            "from paitui.services.engine.client import Engine\n"
            "from paitui.domain.engine.errors import EngineError\n"
            "from paitui.settings import Settings\n"
            "try:\n"
            f"    asyncio.run(Engine(Settings(docker_host='unix://{sock_path}')).connect())\n"
            "except EngineError as e:\n"
            "    print(e.kind.value); print(e.message); print(e.fix)\n"
        )
        out = subprocess.run(
            [
                "setpriv",
                "--bounding-set",
                "-dac_override,-dac_read_search",
                "--inh-caps",
                "-all",
                sys.executable,
                "-c",
                code,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    lines = out.stdout.splitlines()
    assert lines and lines[0] == "permission", out.stdout + out.stderr
    assert str(sock_path) in lines[1]
    assert "sudo usermod -aG docker $USER" in lines[2]


async def test_docker_host_and_contexts_are_honoured(tmp_path: Path, docker_client: Any) -> None:
    from tests.engine.test_engine_units import _context

    settings = Settings(models_dir=tmp_path / "m", apps_dir=tmp_path / "a")
    real = "unix:///var/run/docker.sock"
    home = tmp_path / "home"
    config = home / ".docker"
    _context(config, "box", real)
    _context(config, "gone", f"unix://{tmp_path}/nothing-here.sock")
    (config / "config.json").write_text('{"currentContext": "box"}')
    by_context = Engine(settings, env={"HOME": str(home)})
    assert by_context.endpoint.source == "context box"
    assert (await by_context.connect())["ApiVersion"]
    by_env = Engine(settings, env={"HOME": str(home), "DOCKER_HOST": real})
    assert by_env.endpoint.source == "DOCKER_HOST" and (await by_env.connect())["ApiVersion"]
    gone = Engine(settings, env={"HOME": str(home), "DOCKER_CONTEXT": "gone"})
    with pytest.raises(EngineError) as err:
        await gone.connect()
    assert err.value.kind == ErrorKind.UNREACHABLE and "nothing-here.sock" in err.value.message
    for eng in (by_context, by_env, gone):
        await eng.close()


async def test_data_dir_owner_set_by_a_helper_container_when_not_root(
    engine: Engine, busybox_image: str, settings: Settings, test_label: str, docker_client: Any
) -> None:
    """Without the right to chown, the engine gives the data dir to the image's user."""
    app = stand_in_app(f"pt-{test_label}", busybox_image, port=None)
    plan = plan_launch(app, HardwareReport(), settings)
    assert plan.data_dir is not None
    data = Path(plan.data_dir)
    data.mkdir(parents=True)
    assert data.stat().st_uid == os.getuid() != 1999
    # The stand-in image has no chown applet link; real app images (Ubuntu based) have chown.
    maker = docker_client.containers.run(
        busybox_image, ["/bin/busybox", "ln", "-s", "busybox", "/bin/chown"], detach=True
    )
    maker.wait(timeout=30)
    repo = f"paitest/with-chown-{test_label}"
    maker.commit(repository=repo, tag="v1")
    maker.remove(force=True)
    try:
        with_chown = dataclasses.replace(plan, image=f"{repo}:v1")
        await asyncio.to_thread(engine._chown_in_container, with_chown, 1999)
    finally:
        docker_client.images.remove(f"{repo}:v1", force=True)
    assert (data.stat().st_uid, data.stat().st_gid) == (1999, 1999)
    helpers = docker_client.containers.list(
        all=True, filters={"label": f"paitui.helper-for={app.id}"}
    )
    assert helpers == []  # removed after use


async def test_a_helper_that_cannot_chown_is_reported_and_removed(
    engine: Engine, busybox_image: str, settings: Settings, test_label: str, docker_client: Any
) -> None:
    app = stand_in_app(f"pt-{test_label}", busybox_image, port=None)
    plan = plan_launch(app, HardwareReport(), settings)
    assert plan.data_dir is not None
    Path(plan.data_dir).mkdir(parents=True)
    # The stand-in image has no chown: the helper container cannot start.
    with pytest.raises(EngineError) as err:
        await asyncio.to_thread(engine._chown_in_container, plan, 1999)
    assert err.value.kind == ErrorKind.DATA_DIR
    assert f"sudo chown 1999:1999 {plan.data_dir}" in (err.value.fix or "")
    helpers = docker_client.containers.list(
        all=True, filters={"label": f"paitui.helper-for={app.id}"}
    )
    assert helpers == []


async def test_stats_of_a_local_engine_are_read_on_its_socket(
    engine: Engine,
    busybox_image: str,
    settings: Settings,
    test_label: str,
    cleanup: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Readings come from the engine's Unix socket in the loop, without the SDK; when the
    socket answers otherwise, the SDK reads from then on and the graphs go on."""
    import paitui.services.engine.client as client_module
    from paitui.services.engine.streams import one_stats_reading as sdk_reading

    app = stand_in_app(f"ps-{test_label}", busybox_image)
    cleanup.append(f"paitui-{app.id}")
    plan = plan_launch(app, HardwareReport(), settings, taken_ports=taken_ports([8080]))
    info = await engine.launch(plan)
    sdk_readings: list[bool] = []

    def counted_sdk(client: Any, cid: str, one_shot: bool) -> dict[str, Any]:
        sdk_readings.append(one_shot)
        return sdk_reading(client, cid, one_shot)

    monkeypatch.setattr(client_module, "one_stats_reading", counted_sdk)
    stats = engine.stats(app.id, every=0.0)
    samples = [await anext(stats) for _ in range(3)]
    await stats.aclose()
    assert sdk_readings == []
    assert all(s.container_id == info.id and s.memory_bytes > 0 for s in samples)
    assert all(s.memory_limit > 0 and s.cpu_percent >= 0 for s in samples)

    socket_readings: list[bool] = []

    async def refused(path: str, cid: str, one_shot: bool) -> dict[str, Any]:
        socket_readings.append(one_shot)
        raise ValueError("engine answered b'HTTP/1.1 400 Bad Request'")

    monkeypatch.setattr(client_module, "one_stats_reading_on_socket", refused)
    stats = engine.stats(app.id, every=0.0)
    samples = [await anext(stats) for _ in range(3)]
    await stats.aclose()
    assert socket_readings == [False]  # tried once, then left alone
    assert sdk_readings == [False, True, True]
    assert all(s.container_id == info.id and s.memory_bytes > 0 for s in samples)
    await engine.remove(app.id, delete_data=True)
