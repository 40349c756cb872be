"""An engine that freezes while paitui connects is reported, not waited on for the SDK's minute.

The first requests of a connection (the SDK's version check, the listing) use the client's own
timeout; the heartbeat watches the attempt and says "does not answer" after ``answer_timeout``.
Here ``connect`` blocks the way a frozen engine's first request does (a real frozen engine is in
tests/engine/test_engine_frozen.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from paitui.domain.engine.containers import EngineConnection
from paitui.services.engine.events import EventPump


def test_a_connect_that_never_returns_is_reported_within_the_answer_timeout() -> None:
    release = threading.Event()
    updates: list[object] = []
    said = threading.Event()

    def connect() -> Any:
        release.wait(30)  # frozen: no answer until released
        raise ConnectionError("engine gone")

    def callback(update: object) -> None:
        updates.append(update)
        if isinstance(update, EngineConnection) and not update.connected:
            said.set()

    pump = EventPump(connect, callback, "unix:///frozen.sock", heartbeat=0.1, answer_timeout=0.3)
    started = time.monotonic()
    pump.start()
    try:
        assert said.wait(10), updates
        took = time.monotonic() - started
        assert 0.3 <= took < 5.0, took
        first = updates[0]
        assert isinstance(first, EngineConnection)
        assert "unix:///frozen.sock does not answer" in first.message
        assert sum(isinstance(u, EngineConnection) for u in updates) == 1  # said once
    finally:
        release.set()
        pump.close()
