"""Engine loss: the engine goes away mid-session and comes back; the same Engine reports both,
reconnects by itself, lists the managed containers again and delivers new events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paitui.domain.engine.containers import EngineConnection, ManagedSnapshot
from paitui.domain.engine.errors import EngineError, ErrorKind
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.planner import plan_launch
from paitui.services.engine.client import Engine
from paitui.settings import Settings
from tests.engine.conftest import Recorder, stand_in_app
from tests.engine.second_dockerd import SecondDockerd

pytestmark = pytest.mark.docker


@pytest.fixture
async def d2_engine(d2: SecondDockerd, tmp_path: Path) -> AsyncIterator[Engine]:
    settings = Settings(
        models_dir=tmp_path / "models", apps_dir=tmp_path / "apps", docker_host=d2.host
    )
    eng = Engine(settings, backoff_initial=0.05, backoff_max=0.5)
    yield eng
    await eng.close()


async def test_engine_loss_and_recovery(
    d2: SecondDockerd, d2_engine: Engine, busybox_image: str, test_label: str, tmp_path: Path
) -> None:
    engine = d2_engine
    rec = Recorder()
    task = asyncio.create_task(rec.run(engine))
    try:
        await rec.wait_for(lambda: rec.connections() == [True] and rec.snapshots(), what="connect")
        assert rec.snapshots()[0].containers == ()  # a fresh engine: nothing managed yet
        await engine.pull(busybox_image)
        app = stand_in_app(f"pt-{test_label}", busybox_image, port=None, data=False)
        plan = plan_launch(app, HardwareReport(), engine.settings)
        info = await engine.launch(plan)
        await rec.wait_for(lambda: "start" in rec.actions(info.id), what="start on d2")

        # The engine goes away: reported once, with a readable message.
        await asyncio.to_thread(d2.stop)
        lost = await rec.wait_for(
            lambda: [u for u in rec.updates if isinstance(u, EngineConnection) and not u.connected],
            what="connection lost",
        )
        assert "not reachable" in lost[0].message and lost[0].host == d2.host
        mark = len(rec.updates)
        # Calls in the meantime fail with the same readable error, not a traceback.
        with pytest.raises(EngineError) as err:
            await engine.list_managed()
        assert err.value.kind == ErrorKind.UNREACHABLE and err.value.fix

        # It comes back: the same Engine reconnects, lists again, and follows new events.
        await asyncio.to_thread(d2.start)
        await rec.wait_for(
            lambda: rec.connections()[-1:] == [True] and len(rec.connections()) == 3,
            what="reconnect",
        )
        # The listing follows the reconnect report.
        found = await rec.wait_for(
            lambda: [u for u in rec.updates[mark:] if isinstance(u, ManagedSnapshot)],
            what="snapshot after reconnect",
        )
        snapshot = found[0]
        assert [c.id for c in snapshot.containers] == [info.id]
        assert rec.connections() == [True, False, True]

        # Plain calls work again on the same Engine, and new events arrive on the old iterator.
        current = await engine.inspect(app.id)
        if current.status.value != "running":
            await engine.start(app.id)
        await engine.stop(app.id, timeout=5)
        await rec.wait_for(
            lambda: "stop" in [e.action for e in rec.events(info.id) if e in rec.updates[mark:]],
            what="stop after reconnect",
        )
        await engine.remove(app.id)
        await rec.wait_for(
            lambda: "destroy" in [e.action for e in rec.events(info.id) if e in rec.updates[mark:]],
            what="destroy after reconnect",
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
