"""The one host-port choice of the Desktop launch form and the CLI, attacked with real sockets.

Ports are held by real listening sockets (and, for the managed-container case, by a real
container on the engine); every port the plan offers is bound again here to prove it is free.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from paitui.domain.engine.containers import APP_LABEL, MANAGED_LABEL, VARIANT_LABEL
from paitui.domain.engine.errors import EngineError, ErrorKind
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import LaunchChoices, LaunchPlan
from paitui.domain.launch.planner import PlanError, plan_launch
from paitui.services.engine.client import Engine
from paitui.services.fleet.host_ports import SCAN_SPAN, PortCheck, held_ports, launch_port_check
from paitui.services.registry import Services
from paitui.settings import Settings, load_settings
from tests.engine.conftest import stand_in_app
from tests.helpers import plain

RNG = random.Random(11_08)
#: Below the kernel's ephemeral range, so sockets other tests open do not land in a block.
LOW, HIGH = 20_000, 32_000


def binds(port: int, address: str = "127.0.0.1") -> bool:
    """Whether this process can bind the port right now (what docker-proxy will need)."""
    with socket.socket() as s:
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def held_block(count: int) -> Iterator[int]:
    """``count`` consecutive loopback ports held by listening sockets; yields the first."""
    for _ in range(40):
        base = RNG.randrange(LOW, HIGH - count - 10)
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
                s.listen()
        except OSError:
            for s in socks:
                s.close()
            continue
        try:
            yield base
        finally:
            for s in socks:
                s.close()
        return
    raise AssertionError(f"found no {count} consecutive free ports to hold")


def catalog_file(tmp_path: Path, app_id: str, port: int, image: str = "example.org/x:1") -> Path:
    path = tmp_path / f"{app_id}.yml"
    path.write_text(
        "apps:\n"
        f"  - id: {app_id}\n"
        f"    name: Port test {app_id}\n"
        "    description: d\n"
        "    kind: other\n"
        f'    variants: {{cpu: {{image: "{image}"}}}}\n'
        f"    ports: [{{container: {port}, purpose: web}}]\n"
    )
    return path


def paitui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def cli_host_port(catalog: Path, app_id: str, *extra: str) -> int:
    """The host port ``paitui run-cmd`` plans for the app's first port."""
    out = paitui("--catalog", str(catalog), "run-cmd", app_id, "--no-hw", "--json", *extra)
    assert out.returncode == 0, out.stderr
    argv = json.loads(out.stdout)["argv"]
    spec = argv[argv.index("-p") + 1]  # 127.0.0.1:HOST:CONTAINER/tcp
    return int(spec.split(":")[1])


async def ui_plan(catalog: Path, app_id: str) -> tuple[LaunchPlan | None, str]:
    """The plan and preview text of the Desktop's launch form once it checked the ports."""
    from paitui.ui.app import PaituiApp
    from paitui.ui.screens.launch import LaunchScreen

    app = PaituiApp(Services(load_settings(), [catalog]), live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        app.set_hardware_report(HardwareReport())
        await pilot.pause()
        app.open_launch(app_id)
        for _ in range(200):  # bounded: each round waits for the workers of the form
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = app.screen
            if isinstance(screen, LaunchScreen):
                return screen.plan, plain(screen.query_one("#preview", Static))
        raise AssertionError("the launch form never opened")


async def test_34_and_more_taken_ports_are_skipped_and_ui_and_cli_agree(tmp_path: Path) -> None:
    held = 40
    with held_block(held) as base:
        catalog = catalog_file(tmp_path, "pt-scan", base)
        cli = cli_host_port(catalog, "pt-scan")
        plan, _ = await ui_plan(catalog, "pt-scan")
        assert plan is not None
        ui = plan.ports[0].host_port
        # Every port below the pick really is taken; the pick itself really binds.
        assert cli >= base + held
        assert not any(binds(p) for p in range(base, cli))
        assert binds(cli)
        assert ui == cli
        assert any(f"{base}" in w and f"{cli}" in w for w in plan.warnings)


async def test_every_port_of_the_range_taken_is_a_clear_error(tmp_path: Path) -> None:
    with held_block(SCAN_SPAN + 1) as base:
        catalog = catalog_file(tmp_path, "pt-full", base)
        out = paitui("--catalog", str(catalog), "run-cmd", "pt-full", "--no-hw")
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert f"{base}-{base + SCAN_SPAN} on 127.0.0.1 are all in use" in out.stderr
        assert "fix:" in out.stderr
        plan, preview = await ui_plan(catalog, "pt-full")
        assert plan is None and f"{base}-{base + SCAN_SPAN}" in preview


async def test_a_chosen_port_that_is_taken_is_an_error_with_a_free_one(tmp_path: Path) -> None:
    with held_block(3) as base:
        catalog = catalog_file(tmp_path, "pt-chosen", base + 100)
        out = paitui(
            "--catalog", str(catalog), "run-cmd", "pt-chosen", "--no-hw", "--port", str(base)
        )
        assert out.returncode == 2, out.stdout
        assert f"host port {base} is already in use on 127.0.0.1" in out.stderr
        suggested = int(out.stderr.split("e.g. ", 1)[1].split(" (free now)")[0])
        assert suggested >= base + 3 and binds(suggested)
        settings = Settings()
        app = stand_in_app("pt-chosen", "example.org/x:1", port=base + 100, data=False)
        with pytest.raises(PlanError, match=f"host port {base} is already in use"):
            plan_launch(
                app,
                HardwareReport(),
                settings,
                LaunchChoices(host_port=base),
                port_free=PortCheck(settings.bind_address),
            )
    with pytest.raises(PlanError, match="not a port"):
        plan_launch(app, HardwareReport(), settings, LaunchChoices(host_port=70000))


async def test_a_port_of_a_running_managed_container_is_taken(
    tmp_path: Path, docker_client: Any, busybox_image: str, test_label: str, cleanup: list[str]
) -> None:
    # Published on 127.0.0.2 only: 127.0.0.1:port still binds, so only the engine's listing
    # (not the bind test) can tell the plan that the engine holds it.
    port = next(
        p
        for p in (RNG.randrange(LOW, HIGH) for _ in range(50))
        if binds(p) and binds(p, "127.0.0.2")
    )
    name = f"paitui-pt-{test_label}"
    cleanup.append(name)
    docker_client.containers.run(
        busybox_image,
        ["sleep", "120"],
        detach=True,
        name=name,
        labels={MANAGED_LABEL: "true", APP_LABEL: f"pt-{test_label}", VARIANT_LABEL: "cpu"},
        ports={"8080/tcp": ("127.0.0.2", port)},
    )
    assert binds(port)
    catalog = catalog_file(tmp_path, "pt-held", port)
    assert cli_host_port(catalog, "pt-held") > port
    engine = Engine(Settings())
    try:
        held = held_ports(await engine.list_managed())
    finally:
        await engine.close()
    assert port in held and not PortCheck("127.0.0.1", held)(port)


def test_port_check_remembers_and_rejects_impossible_ports() -> None:
    with held_block(1) as base:
        check = PortCheck("127.0.0.1", held={base + 1})
        assert not check(base) and not check(base + 1)
    # Remembered: the socket is closed now, the answer of the open form stays the same.
    assert not check(base) and binds(base)
    assert not check(0) and not check(65536)


async def test_start_names_the_refused_port_and_a_free_one(
    busybox_image: str, test_label: str, settings: Settings, cleanup: list[str]
) -> None:
    from paitui.cli.status import _port_taken

    app = stand_in_app(f"pt-{test_label}", busybox_image, data=False)
    cleanup.append(f"paitui-{app.id}")
    engine = Engine(settings)
    try:
        with held_block(1) as busy:
            # Planned without the check, as if the port was taken after planning.
            plan = plan_launch(app, HardwareReport(), settings, LaunchChoices(host_port=busy))
            with pytest.raises(EngineError) as err:
                await engine.launch(plan)
            assert err.value.kind == ErrorKind.PORT_IN_USE
            # As in `paitui start`, outside an event loop (it asks the engine for held ports).
            message = await asyncio.to_thread(_port_taken, err.value, plan, Services(settings))
    finally:
        await engine.close()
    assert f"127.0.0.1:{busy}" in message and "launch again" not in message
    suggested = int(message.split("--port ")[1].split(",")[0])
    assert suggested > busy and binds(suggested)


def test_the_ui_launch_path_refuses_a_port_another_program_holds() -> None:
    """``launch_port_check`` is what the Desktop's launch form gets (``PaituiApp._gather_launch``)
    and what the CLI gets: a port held by a program that is no managed container is refused,
    even when the Desktop's live statuses name no port at all."""
    from paitui.domain.launch.planner import first_free_port

    with held_block(3) as base:
        check = launch_port_check("127.0.0.1", held=set(), wanted=[base])
        assert not check(base) and not check(base + 2)
        picked = first_free_port(base, check)
        assert picked is not None and picked >= base + 3 and binds(picked)
        # The managed containers' ports are refused too, though nothing listens on them.
        with_held = launch_port_check("127.0.0.1", held={picked}, wanted=[base])
        assert not with_held(picked)
    # Checked while held: the form that opens afterwards keeps the answer it was primed with.
    assert not check(base) and binds(base)
