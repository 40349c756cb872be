"""The fleet against the real engine with busybox stand-ins: the state sequence of each app."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.catalog.schema import Catalog
from paitui.domain.engine.errors import EngineError
from paitui.domain.fleet.status import AppState
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import LaunchChoices, LaunchPlan
from paitui.domain.launch.planner import plan_launch
from paitui.services.catalog.loader import load_catalog
from paitui.services.engine.client import Engine
from paitui.services.fleet.tracker import Fleet
from paitui.settings import Settings
from tests.helpers import free_port
from tests.status.standins import Recorder, remove_containers, write_catalog

pytestmark = pytest.mark.docker

S = AppState


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        models_dir=tmp_path / "models",
        apps_dir=tmp_path / "apps",
        probe_start_interval=0.2,
        probe_ready_interval=2.0,
        probe_timeout=1.0,
    )


@pytest.fixture
def catalog(tmp_path: Path, test_label: str, busybox_image: str) -> Catalog:
    path = write_catalog(tmp_path, test_label, busybox_image)
    return load_catalog([path], include_bundled=False, include_user=False)


@pytest.fixture
async def fleet(
    settings: Settings, catalog: Catalog, docker_client: Any, test_label: str
) -> AsyncIterator[tuple[Fleet, Recorder]]:
    engine = Engine(settings)
    fleet = Fleet(engine, catalog, settings)
    recorder = Recorder()
    fleet.subscribe(recorder)
    await fleet.start()
    try:
        yield fleet, recorder
    finally:
        await fleet.close()
        await engine.close()
        remove_containers(docker_client, test_label)


def plan_for(catalog: Catalog, settings: Settings, app: str, label: str, **kw: Any) -> LaunchPlan:
    plan = plan_launch(
        catalog.apps[f"{app}-{label}"],
        HardwareReport(),
        settings,
        LaunchChoices(host_port=free_port()),
    )
    return dataclasses.replace(plan, **kw) if kw else plan


async def test_503_then_200_goes_loading_then_ready_then_stops(
    fleet: tuple[Fleet, Recorder], catalog: Catalog, settings: Settings, test_label: str
) -> None:
    f, rec = fleet
    app_id = f"slow-{test_label}"
    await f.launch(plan_for(catalog, settings, "slow", test_label))
    ready = await rec.until_state(app_id, S.READY, timeout=20)
    seq = rec.states[app_id]
    assert seq[0] == S.CREATING and seq[-1] == S.READY
    assert S.LOADING in seq and seq.index(S.LOADING) > seq.index(S.STARTING)
    assert set(seq) <= {S.CREATING, S.STARTING, S.LOADING, S.READY}
    assert ready.probe is not None and ready.probe.status_code == 200
    assert ready.ports and ready.ports[0].host_ip == "127.0.0.1"
    # Ready: probed seldom now.
    assert f.scheduler.interval_of(app_id) == settings.probe_ready_interval
    # A routine probe of a ready app is kept but wakes no subscriber.
    notified = len(rec.all)
    last_probe = ready.probe.time
    f.scheduler.probe_soon(app_id)
    deadline = time.monotonic() + 10
    while (probe := f.statuses[app_id].probe) is ready.probe or (
        probe is not None and probe.time == last_probe
    ):
        assert time.monotonic() < deadline, "no second probe"
        await asyncio.sleep(0.05)
    assert len(rec.all) == notified and f.statuses[app_id].state == S.READY
    await f.stop(app_id)
    stopped = await rec.until_state(app_id, S.EXITED, timeout=15)
    assert rec.states[app_id][-2:] == [S.STOPPING, S.EXITED]
    assert stopped.exit_code == 0
    assert app_id not in f.scheduler.watched()  # never probed when stopped


async def test_never_ready_turns_unhealthy_after_its_start_period(
    fleet: tuple[Fleet, Recorder], catalog: Catalog, settings: Settings, test_label: str
) -> None:
    f, rec = fleet
    app_id = f"never-{test_label}"
    await f.launch(plan_for(catalog, settings, "never", test_label))
    status = await rec.until_state(app_id, S.UNHEALTHY, timeout=20)
    seq = rec.states[app_id]
    assert seq[0] == S.CREATING and seq[-1] == S.UNHEALTHY and S.READY not in seq
    # It answers "loading" within its start period, and is unhealthy after it.
    assert S.LOADING in seq and "after 3 s" in status.detail
    assert app_id in f.scheduler.watched()  # still running, still probed


async def test_crash_has_exit_code_and_last_log_lines(
    fleet: tuple[Fleet, Recorder], catalog: Catalog, settings: Settings, test_label: str
) -> None:
    f, rec = fleet
    app_id = f"crash-{test_label}"
    # No restart policy: the engine would restart it, which is right for users, noisy here.
    await f.launch(plan_for(catalog, settings, "crash", test_label, restart_policy="no"))
    await rec.until(lambda: app_id in rec.last and rec.last[app_id].last_logs, what="crash logs")
    status = rec.last[app_id]
    assert status.state == S.CRASHED and status.exit_code == 3
    assert rec.states[app_id][:2] == [S.CREATING, S.STARTING]
    assert rec.states[app_id][-1] == S.CRASHED and S.READY not in rec.states[app_id]
    # stdout and stderr are separate streams: their relative order is not kept.
    assert {"fatal: model file not found", "starting the server"} <= set(status.last_logs)
    assert status.detail == "crashed with code 3"


async def test_tcp_only_service(
    fleet: tuple[Fleet, Recorder], catalog: Catalog, settings: Settings, test_label: str
) -> None:
    f, rec = fleet
    app_id = f"tcp-{test_label}"
    await f.launch(plan_for(catalog, settings, "tcp", test_label))
    status = await rec.until_state(app_id, S.READY, timeout=20)
    # nc listens only after a second: through Docker's proxy that looks like a hang-up first.
    assert rec.states[app_id] == [S.CREATING, S.STARTING, S.READY]
    assert status.probe is not None and "accepts connections" in status.probe.detail


async def test_a_second_fleet_picks_up_running_apps(
    fleet: tuple[Fleet, Recorder], catalog: Catalog, settings: Settings, test_label: str
) -> None:
    f, rec = fleet
    app_id = f"slow-{test_label}"
    await f.launch(plan_for(catalog, settings, "slow", test_label))
    await rec.until_state(app_id, S.READY, timeout=20)
    # paitui quit and came back: a new fleet lists the container and probes it to ready.
    engine = Engine(settings)
    other = Fleet(engine, catalog, settings)
    rec2 = Recorder()
    other.subscribe(rec2)
    await other.start()
    try:
        await rec2.until_state(app_id, S.READY, timeout=10)
        assert rec2.states[app_id] == [S.STARTING, S.READY]
        started = rec2.last[app_id].started_at
        assert started is not None and abs(started - (rec.last[app_id].started_at or 0)) < 1
    finally:
        await other.close()
        await engine.close()


async def test_a_crash_loop_is_counted_and_keeps_its_logs(
    fleet: tuple[Fleet, Recorder], catalog: Catalog, settings: Settings, test_label: str
) -> None:
    f, rec = fleet
    app_id = f"crash-{test_label}"
    # The plan's restart policy (unless-stopped): the engine restarts the crashing app.
    await f.launch(plan_for(catalog, settings, "crash", test_label))
    await rec.until(
        lambda: app_id in rec.last and rec.last[app_id].crash_restarts >= 2,
        what="two restarts after crashes",
    )
    status = rec.last[app_id]
    assert status.state in (S.STARTING, S.CRASHED)
    assert rec.states[app_id][:4] == [S.CREATING, S.STARTING, S.CRASHED, S.STARTING]
    await rec.until(
        lambda: "fatal: model file not found" in rec.last[app_id].last_logs, what="the crash logs"
    )


async def test_a_failed_launch_shows_why_and_can_be_dismissed(
    fleet: tuple[Fleet, Recorder],
    catalog: Catalog,
    settings: Settings,
    test_label: str,
    registry: str,
) -> None:
    f, rec = fleet
    app_id = f"slow-{test_label}"
    missing = f"{registry}/paitest/missing-{test_label}:latest"
    with pytest.raises(EngineError):
        await f.launch(plan_for(catalog, settings, "slow", test_label, image=missing))
    status = f.statuses[app_id]
    assert rec.states[app_id] == [S.PULLING, S.CRASHED]
    assert status.container_id is None and "not found" in status.detail.lower()
    await f.remove(app_id)
    assert f.statuses[app_id].state == S.REMOVED
