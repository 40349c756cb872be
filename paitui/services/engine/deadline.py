"""Deadlines for whole commands, and engine calls that never hold up an exit.

The docker SDK's timeout is per request, and a frozen engine (SIGSTOP, a hung daemon) accepts
the connection and never replies, so a command of several requests waits many timeouts. A
``deadline(seconds)`` block sets one end time for everything inside it (it follows into the
asyncio tasks started there); each engine call waits at most what is left of it.

Blocking calls run in daemon threads of their own, not in the loop's executor: ``asyncio.run``
and Textual join the executor's threads at exit, so one stuck call would hold up quitting.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: The monotonic time by which the current command must be done (None: no deadline).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "paitui_deadline", default=None
)


class DeadlinePassed(Exception):
    """A call did not finish before the command's deadline (or its own timeout)."""

    def __init__(self, waited: float) -> None:
        super().__init__(f"no reply in {waited:g} s")
        self.waited = waited


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Everything inside must finish within ``seconds`` (the earlier of this and an outer one)."""
    if seconds is None:
        yield
        return
    end = time.monotonic() + max(0.0, seconds)
    outer = _DEADLINE.get()
    token = _DEADLINE.set(end if outer is None else min(outer, end))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining(limit: float | None = None) -> float | None:
    """Seconds left before the deadline, capped at ``limit``; None when neither is set."""
    end = _DEADLINE.get()
    left = None if end is None else max(0.0, end - time.monotonic())
    if limit is None:
        return left
    return limit if left is None else min(left, limit)


async def in_daemon_thread(func: Callable[[], T], timeout: float | None = None) -> T:
    """``func()`` in a daemon thread; DeadlinePassed after ``timeout`` or the deadline.

    A call that times out or is cancelled is abandoned: its thread ends when the SDK's own
    request timeout fires, and nothing waits for it, neither the caller nor the exit.
    """
    wait = remaining(timeout)
    if wait is not None and wait <= 0:
        raise DeadlinePassed(0.0)
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def run() -> None:
        try:
            result = func()
        except BaseException as exc:  # handed to the awaiting task, raised there
            error = exc
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                loop.call_soon_threadsafe(settle, lambda: future.set_exception(error))
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, lambda: future.set_result(result))

    # The caller's context travels along, so calls made inside keep its deadline.
    ctx = contextvars.copy_context()
    threading.Thread(target=ctx.run, args=(run,), name="paitui-engine-call", daemon=True).start()
    started = time.monotonic()
    try:
        return await asyncio.wait_for(future, wait)
    except TimeoutError:
        raise DeadlinePassed(round(time.monotonic() - started, 1)) from None
