"""The terminal driver's input thread on a real pseudo-terminal: keys, a lone Escape after its
delay, a prompt exit, and no wake-ups while nothing is typed."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import queue
import struct
import termios
import threading
import time
import tty
from collections.abc import Iterator
from typing import Any

import pytest
from textual import events
from textual._xterm_parser import XTermParser
from textual.app import App
from textual.constants import ESCAPE_DELAY
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

from paitui.ui import input_driver
from paitui.ui.input_driver import WakingLinuxDriver, parser_wait


class Recording(WakingLinuxDriver):
    """The driver on a given terminal, keeping what it would post to the app."""

    def __init__(self, app: App[Any], fd: int) -> None:
        super().__init__(app)
        self.fileno = fd
        self.got: queue.Queue[Message] = queue.Queue()

    def process_message(self, message: Message) -> None:
        self.got.put(message)


class CountingParser(XTermParser):
    ticks = 0

    def tick(self) -> Iterator[Message]:
        CountingParser.ticks += 1
        yield from super().tick()


def _raw_pty() -> tuple[int, int]:
    leader, follower = pty.openpty()
    tty.setraw(follower)  # as the driver's application mode sets it: bytes as they come
    return leader, follower


async def _until_read(fd: int, within: float = 5.0) -> None:
    """Poll until the thread has read everything written to the terminal ``fd``."""
    deadline = time.monotonic() + within
    while struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]:
        assert time.monotonic() < deadline, "the input thread did not read"
        await asyncio.sleep(0.01)


def _next_key(driver: Recording, within: float = 5.0) -> events.Key:
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        message = driver.got.get(timeout=left)
        if isinstance(message, events.Key):
            return message
    raise AssertionError("no key within the deadline")


def test_the_thread_waits_for_ever_unless_an_escape_is_pending() -> None:
    parser = XTermParser()
    assert parser_wait(parser, time.monotonic()) is None
    list(parser.feed("\x1b"))  # an Escape, or the start of a sequence
    wait = parser_wait(parser, time.monotonic())
    assert wait is not None and 0 < wait <= ESCAPE_DELAY
    assert parser_wait(parser, time.monotonic() + 10) == 0.0
    # A parser that keeps its deadline elsewhere (another Textual): Textual's own polling.
    assert parser_wait(object(), time.monotonic()) == input_driver.FALLBACK_WAIT_S


async def test_keys_an_escape_and_the_exit_on_a_pseudo_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(input_driver, "XTermParser", CountingParser)
    leader, follower = _raw_pty()
    driver = Recording(App(), follower)
    thread = threading.Thread(target=driver.run_input_thread, daemon=True)
    thread.start()
    try:
        os.write(leader, b"a")
        assert _next_key(driver).key == "a"
        é = "é".encode()
        os.write(leader, é[:1])  # a character split between two reads
        await _until_read(follower)  # the first byte is read alone
        os.write(leader, é[1:])
        assert _next_key(driver).character == "é"
        os.write(leader, b"\x1b")  # a lone Escape: a key once its delay has passed
        assert _next_key(driver).key == "escape"
        # Nothing typed for half a second: the thread sleeps (Textual's polls five times).
        before = CountingParser.ticks
        await asyncio.sleep(0.5)
        assert CountingParser.ticks - before <= 1
        started = time.monotonic()
        driver.exit_event.set()
        await asyncio.to_thread(thread.join, 5)
        assert not thread.is_alive() and time.monotonic() - started < 1
    finally:
        driver.exit_event.set()
        thread.join(5)
        driver.close()
        os.close(leader)
        os.close(follower)


async def test_a_restarted_thread_is_not_woken_by_the_last_exit() -> None:
    # A suspend (Ctrl+Z) stops the thread and starts a new one: the old wake-up is drained.
    leader, follower = _raw_pty()
    driver = Recording(App(), follower)
    try:
        for _ in range(2):
            driver.exit_event.clear()
            thread = threading.Thread(target=driver.run_input_thread, daemon=True)
            thread.start()
            os.write(leader, b"q")
            assert _next_key(driver).key == "q"
            driver.exit_event.set()
            await asyncio.to_thread(thread.join, 5)
            assert not thread.is_alive()
    finally:
        driver.close()
        os.close(leader)
        os.close(follower)


def test_the_app_uses_it_on_a_linux_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.drivers.headless_driver import HeadlessDriver

    from paitui.services.registry import Services
    from paitui.settings import load_settings
    from paitui.ui.app import PaituiApp

    app = PaituiApp(Services(load_settings()), live=False)
    monkeypatch.setattr(App, "get_driver_class", lambda self: LinuxDriver)
    assert app.get_driver_class() is WakingLinuxDriver
    # Anything else Textual picks (headless in tests, the browser's for ``paitui serve``) stays.
    monkeypatch.setattr(App, "get_driver_class", lambda self: HeadlessDriver)
    assert app.get_driver_class() is HeadlessDriver
