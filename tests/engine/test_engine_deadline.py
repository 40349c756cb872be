"""Command deadlines and daemon-thread calls (no engine needed): a call stuck for good costs its
caller only what is left of the deadline, and neither the caller nor the process exit waits."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest

from paitui.domain.engine.errors import ErrorKind, is_timeout, not_answering, translate
from paitui.services.engine.deadline import DeadlinePassed, deadline, in_daemon_thread, remaining


async def test_a_stuck_call_costs_only_the_time_left() -> None:
    release = threading.Event()
    try:
        start = time.monotonic()
        with deadline(0.4), pytest.raises(DeadlinePassed) as passed:
            await in_daemon_thread(lambda: release.wait(60))
        took = time.monotonic() - start
        assert 0.35 <= took < 1.0
        assert passed.value.waited == pytest.approx(0.4, abs=0.3)
        # Nothing left: the next call inside an expired deadline fails at once.
        with deadline(0.0), pytest.raises(DeadlinePassed):
            await in_daemon_thread(lambda: 1)
    finally:
        release.set()


async def test_results_errors_nesting_and_tasks() -> None:
    assert await in_daemon_thread(lambda: 41 + 1) == 42
    with pytest.raises(ZeroDivisionError):
        await in_daemon_thread(lambda: 1 / 0)
    assert remaining() is None and remaining(3.0) == 3.0
    with deadline(10.0):
        with deadline(0.5):  # the earlier one wins
            left = remaining()
            assert left is not None and left <= 0.5
        with deadline(30.0):  # an inner, later one cannot extend the outer
            left = remaining()
            assert left is not None and 9.0 < left <= 10.0

        async def in_a_task() -> float | None:
            return remaining()

        # A task started inside the block keeps its deadline.
        inherited = await asyncio.create_task(in_a_task())
        assert inherited is not None and inherited <= 10.0
    assert remaining() is None


async def test_a_cancelled_call_is_abandoned_not_awaited() -> None:
    release = threading.Event()
    try:
        task = asyncio.create_task(in_daemon_thread(lambda: release.wait(60)))
        await asyncio.sleep(0)  # let it start its thread
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - start < 0.2
    finally:
        release.set()


def test_the_process_exits_with_a_call_stuck_forever() -> None:
    # asyncio.run joins its executor's threads at the end: a call stuck there would hold the
    # exit for as long as it is stuck. A daemon-thread call must not.
    code = (
        "import asyncio, threading\n"
        "from paitui.services.engine.deadline import deadline, in_daemon_thread\n"
        "async def main():\n"
        "    with deadline(0.3):\n"
        "        try:\n"
        "            await in_daemon_thread(lambda: threading.Event().wait(3600))\n"
        "        except Exception as exc:\n"
        "            print(type(exc).__name__)\n"
        "asyncio.run(main())\n"
    )
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "DeadlinePassed"
    assert time.monotonic() - start < 10  # interpreter start-up included; stuck would be 3600


def test_a_read_timeout_reads_as_an_engine_that_does_not_answer() -> None:
    import requests

    exc = requests.exceptions.ReadTimeout(
        "UnixHTTPConnectionPool(host='localhost', port=None): Read timed out. (read timeout=60)"
    )
    assert is_timeout(exc)
    error = translate(exc, host="unix:///run/d.sock")
    assert error.kind == ErrorKind.UNREACHABLE
    assert error.message == "Docker engine at unix:///run/d.sock does not answer"
    assert error.fix and "restart" in error.fix
    assert "no reply in 5 s" in not_answering("unix:///x", 5).message
    refused = requests.exceptions.ConnectionError("Connection refused")
    assert not is_timeout(refused)
    assert "not reachable" in translate(refused, host="unix:///x").message
