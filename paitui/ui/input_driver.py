"""The terminal driver: Textual's Linux driver, with an input thread that sleeps until input.

Textual's input thread waits on the terminal with a 0.1 s timeout, so that it notices the exit
and a lone Escape's delay: ten wake-ups a second for as long as paitui runs, 0.15 % of a core
on an idle box, a third of paitui's idle CPU. Here the thread waits without a timeout unless
the key parser has a deadline (an Escape waiting to see whether a sequence follows), and the
exit wakes it through a pipe.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import time
from codecs import getincrementaldecoder
from collections.abc import Callable
from threading import Event
from typing import TYPE_CHECKING, Any

from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

if TYPE_CHECKING:
    from textual.app import App

#: Longest wait when the parser's deadline cannot be read (another Textual): Textual's own.
FALLBACK_WAIT_S = 0.1
_READ_BYTES = 4096
_UNKNOWN = object()


class _WakingEvent(Event):
    """An Event whose ``set`` also writes to a pipe, waking a thread that waits on it."""

    def __init__(self, wake_fd: int) -> None:
        super().__init__()
        self._wake_fd = wake_fd

    def set(self) -> None:
        super().set()
        with contextlib.suppress(OSError):  # full (a wake-up is pending anyway) or closed
            os.write(self._wake_fd, b"\0")


def parser_wait(parser: object, now: float) -> float | None:
    """How long the input thread may wait for input: until the parser's deadline, or forever."""
    # Textual's parser keeps the deadline (a monotonic time, or None) in ``_timeout_time``.
    due = getattr(parser, "_timeout_time", _UNKNOWN)
    if due is None:
        return None
    if not isinstance(due, float):
        return FALLBACK_WAIT_S
    return max(0.0, due - now)


class WakingLinuxDriver(LinuxDriver):
    """``LinuxDriver`` whose input thread wakes for input, an Escape's deadline and the exit."""

    def __init__(self, app: App[Any], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._wake_read, self._wake_write = os.pipe()
        for fd in (self._wake_read, self._wake_write):
            os.set_blocking(fd, False)
        self.exit_event = _WakingEvent(self._wake_write)

    def run_input_thread(self) -> None:
        """Read the terminal and post its keys and mouse events until the exit is asked."""
        self._drain_wake_ups()  # any left from an earlier run (before a suspend)
        selector = selectors.DefaultSelector()
        selector.register(self.fileno, selectors.EVENT_READ, "input")
        selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        try:
            while not self.exit_event.is_set():
                for key, _mask in selector.select(parser_wait(parser, time.monotonic())):
                    if key.data == "wake":
                        self._drain_wake_ups()
                    elif not self._read_into(parser, decode):
                        # The end of a piped stdin: nothing more comes, wait for the exit.
                        selector.unregister(self.fileno)
                for event in parser.tick():
                    self.process_message(event)
        finally:
            selector.close()
            with contextlib.suppress(EOFError, ParseError):
                for _ in parser.feed(""):
                    pass

    def _read_into(self, parser: XTermParser, decode: Callable[..., str]) -> bool:
        """Read what the terminal has and post its events; False at the end of input."""
        data = os.read(self.fileno, _READ_BYTES)
        if not data:
            return False
        # A character split between two reads decodes to nothing until its last byte comes.
        if text := decode(data):
            for event in parser.feed(text):
                self.process_message(event)
        return True

    def _drain_wake_ups(self) -> None:
        with contextlib.suppress(OSError):  # empty (non-blocking) or closed
            while os.read(self._wake_read, _READ_BYTES):
                pass

    def close(self) -> None:
        """Stop the writer and close the wake-up pipe."""
        super().close()
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)
