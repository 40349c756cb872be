"""Readiness probes: one HTTP or TCP check against an app's published port, and a scheduler.

``Prober`` sends one request per probe (``probe_transport``) and turns a catalog
``HealthCheck`` into a ``ProbeResult``. ``ProbeScheduler`` keeps an adaptive schedule per
target: often while an app starts (``probe_start_interval``, backing off to a cap), seldom once
it is ready (``probe_ready_interval``), never once it is unwatched (stopped). Each probe runs as
its own task with a timeout and a bounded number run at once, so a hung endpoint delays no other.
If the loop wakes late (the process was stopped, the machine was busy), due targets are
rescheduled from now, spread out, instead of catching up in a burst.

No Textual imports: the UI, ``paitui wait`` and the benchmarks share this.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from paitui.domain.catalog.schema import HealthCheck, HttpExpect
from paitui.domain.fleet.status import ProbeOutcome, ProbeResult
from paitui.services.fleet.probe_transport import (
    AnswerTimeout,
    ConnectTimeout,
    HungUp,
    NoConnection,
    ProbeTransport,
)
from paitui.settings import Settings

#: Longest wait between probes of an app that is starting (never above the ready interval).
START_BACKOFF_CAP = 5.0
START_BACKOFF_FACTOR = 1.5
#: Bytes of a health answer read at most; health bodies are small, a misdirected probe may not be.
MAX_BODY = 64 * 1024
#: How long a TCP probe waits after connecting to see whether the peer hangs up at once. Docker's
#: userland proxy accepts on the host port even when nothing listens in the container, then closes.
TCP_SETTLE = 0.25
#: Sent with every HTTP probe (the transport adds Host, Connection and Accept-Encoding).
PROBE_HEADERS = {"User-Agent": "paitui-probe", "Accept": "*/*"}


@dataclass(frozen=True)
class ProbeTarget:
    """What to probe for one app: where, and how."""

    key: str  # the app id
    host: str
    port: int
    check: HealthCheck = field(default_factory=HealthCheck)


def probe_host_for(docker_host: str | None) -> str:
    """The address published ports are reached on: the engine's host, or this machine."""
    if docker_host and docker_host.startswith(("tcp://", "ssh://", "http://", "https://")):
        host = urlsplit(docker_host).hostname
        if host:
            return host
    return "127.0.0.1"


def _expect_matches(expect: HttpExpect, status: int, text: str, data: Any) -> bool:
    if status not in expect.status:
        return False
    if expect.body_contains is not None and expect.body_contains not in text:
        return False
    any_fields: dict[str, tuple[Any, ...]] = getattr(expect, "json_any", {}) or {}
    if expect.json_fields or any_fields or expect.json_nonempty:
        if not isinstance(data, dict):
            return False
        for key in expect.json_nonempty:
            value = data.get(key)
            if not isinstance(value, list | dict) or not value:
                return False
        for key, wanted in expect.json_fields.items():
            if key not in data or not _same(data[key], wanted):
                return False
        for key, choices in any_fields.items():
            if key not in data or not any(_same(data[key], c) for c in choices):
                return False
    return True


def _same(value: object, wanted: object) -> bool:
    # JSON true must not equal 1 (Python's True == 1).
    return type(value) is type(wanted) and bool(value == wanted)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def classify_http(check: HealthCheck, status: int, body: str) -> tuple[ProbeOutcome, str]:
    """Whether an HTTP answer means ready, loading or unhealthy, with a short reason."""
    data: Any = None
    error: HttpExpect | None = getattr(check, "error", None)
    expects = [e for e in (check.ready, check.loading, error) if e is not None]
    if any(e.json_fields or getattr(e, "json_any", None) or e.json_nonempty for e in expects):
        with contextlib.suppress(ValueError):
            data = json.loads(body)
    said = f"HTTP {status}{': ' + _short(body) if body else ''}"
    if _expect_matches(check.ready, status, body, data):
        return ProbeOutcome.READY, f"HTTP {status}"
    if check.loading is not None and _expect_matches(check.loading, status, body, data):
        return ProbeOutcome.LOADING, said
    if error is not None and _expect_matches(error, status, body, data):
        return ProbeOutcome.ERROR, f"the app reports an error ({said})"
    return ProbeOutcome.UNHEALTHY, said


class Prober:
    """Runs single probes, each one plain HTTP/1.1 request on a connection of its own."""

    def __init__(self, timeout: float = 3.0) -> None:
        self.timeout = timeout
        # A transport of its own, not an httpx client: a probe needs no cookies, redirects,
        # auth or URL merging, and those were half of what remained of its CPU. No kept-alive
        # connections: probes come seconds apart (ready ones 30 s), longer than most servers
        # keep one open.
        self._transport = ProbeTransport(timeout)

    async def aclose(self) -> None:
        """Close what the prober holds: nothing, as no connection outlives its probe."""

    async def probe(self, target: ProbeTarget) -> ProbeResult:
        """One probe of ``target``; never raises (except cancellation)."""
        started = time.monotonic()
        try:
            # A backstop: the transport's timeouts apply per read, not in total.
            async with asyncio.timeout(self.timeout + 0.5):
                if target.check.type == "tcp":
                    outcome, detail, code = await self._tcp(target)
                else:
                    outcome, detail, code = await self._http(target)
        except TimeoutError:
            outcome, detail, code = (
                ProbeOutcome.UNHEALTHY,
                f"no answer within {self.timeout:g} s",
                None,
            )
        latency = time.monotonic() - started
        return ProbeResult(outcome, detail, latency, time.time(), code)

    async def _http(self, target: ProbeTarget) -> tuple[ProbeOutcome, str, int | None]:
        try:
            answer = await self._transport.get(
                target.host, target.port, target.check.path, PROBE_HEADERS
            )
            try:
                raw = await answer.body(MAX_BODY)
            finally:
                await answer.aclose()
            body = raw.decode("utf-8", errors="replace")
            outcome, detail = classify_http(target.check, answer.status_code, body)
            return outcome, detail, answer.status_code
        except ConnectTimeout:
            return ProbeOutcome.UNREACHABLE, f"no connection within {self.timeout:g} s", None
        except NoConnection:
            return ProbeOutcome.UNREACHABLE, f"nothing listens on port {target.port}", None
        except HungUp:
            # Docker's proxy accepts, then hangs up when nothing listens in the container.
            return ProbeOutcome.UNREACHABLE, f"port {target.port} closed the connection", None
        except AnswerTimeout:
            return ProbeOutcome.UNHEALTHY, f"no answer within {self.timeout:g} s", None

    async def _tcp(self, target: ProbeTarget) -> tuple[ProbeOutcome, str, int | None]:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(target.host, target.port), self.timeout
            )
        except TimeoutError:
            return ProbeOutcome.UNREACHABLE, f"no connection within {self.timeout:g} s", None
        except OSError as exc:
            return ProbeOutcome.UNREACHABLE, f"port {target.port}: {exc.strerror or exc}", None
        try:
            try:
                data = await asyncio.wait_for(reader.read(1), min(TCP_SETTLE, self.timeout))
            except TimeoutError:
                return ProbeOutcome.READY, f"port {target.port} accepts connections", None
            except OSError:
                data = b""
            if data:
                return ProbeOutcome.READY, f"port {target.port} answers", None
            return ProbeOutcome.UNREACHABLE, f"port {target.port} closed the connection", None
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


ResultCallback = Callable[[str, ProbeResult], None]


@dataclass
class _Entry:
    target: ProbeTarget
    next_due: float
    backoff: float
    interval: float = 0.0
    inflight: bool = False
    last: ProbeResult | None = None
    generation: int = 0


class ProbeScheduler:
    """Probes every watched target on its own adaptive schedule and reports each result."""

    def __init__(
        self,
        prober: Prober,
        on_result: ResultCallback,
        *,
        start_interval: float = 1.0,
        ready_interval: float = 30.0,
        start_cap: float = START_BACKOFF_CAP,
        backoff_factor: float = START_BACKOFF_FACTOR,
        max_concurrency: int = 32,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prober = prober
        self.on_result = on_result
        self.start_interval = start_interval
        self.ready_interval = ready_interval
        self.start_cap = max(start_interval, min(start_cap, ready_interval))
        self.backoff_factor = backoff_factor
        self.clock = clock
        #: Waking later than this after the planned time counts as a pause or suspend.
        self.late_tolerance = max(1.0, start_interval)
        self._entries: dict[str, _Entry] = {}
        self._sem = asyncio.Semaphore(max_concurrency)
        self._wake: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._generation = 0
        #: Counters for tests and benchmarks.
        self.probes_started = 0
        self.late_wakeups = 0

    @classmethod
    def from_settings(
        cls, prober: Prober, on_result: ResultCallback, settings: Settings, **kwargs: Any
    ) -> ProbeScheduler:
        """A scheduler with the intervals from the user's settings."""
        return cls(
            prober,
            on_result,
            start_interval=settings.probe_start_interval,
            ready_interval=settings.probe_ready_interval,
            **kwargs,
        )

    # --- what to probe ---------------------------------------------------------------------

    def watch(self, target: ProbeTarget) -> None:
        """Probe ``target`` from now on, starting at once with the start interval."""
        self._generation += 1
        entry = self._entries.get(target.key)
        if entry is not None and entry.target == target:
            return
        self._entries[target.key] = _Entry(
            target, self.clock(), self.start_interval, generation=self._generation
        )
        self._poke()

    def unwatch(self, key: str) -> None:
        """Stop probing ``key`` (the app stopped); a probe in flight is not reported."""
        if self._entries.pop(key, None) is not None:
            self._poke()

    def probe_soon(self, key: str) -> None:
        """Probe ``key`` now and go back to the start interval (it restarted, or a user asked)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.backoff = self.start_interval
            entry.next_due = self.clock()
            self._poke()

    def watched(self) -> list[str]:
        """Keys being probed."""
        return list(self._entries)

    def interval_of(self, key: str) -> float | None:
        """The wait after ``key``'s last probe (None before the first)."""
        entry = self._entries.get(key)
        return entry.interval if entry is not None and entry.last is not None else None

    def next_due_in(self, key: str) -> float | None:
        """Seconds until ``key`` is probed next."""
        entry = self._entries.get(key)
        return None if entry is None else entry.next_due - self.clock()

    # --- the loop ----------------------------------------------------------------------------

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Probe until ``close()``; run it as a task."""
        self._wake = asyncio.Event()
        planned: float | None = None
        try:
            while not self._closed:
                now = self.clock()
                if planned is not None and now - planned > self.late_tolerance:
                    self._reschedule_after_pause(now)
                for entry in list(self._entries.values()):
                    if not entry.inflight and entry.next_due <= now:
                        self._start_probe(entry)
                waiting = [e.next_due for e in self._entries.values() if not e.inflight]
                delay = max(0.0, min(waiting) - now) if waiting else None
                planned = now + delay if delay is not None else None
                self._wake.clear()
                if delay is None:
                    await self._wake.wait()
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), delay)
                if self._wake.is_set():
                    planned = None  # woken on purpose, not late
        finally:
            await self._cancel_tasks()

    def _reschedule_after_pause(self, now: float) -> None:
        """Spread overdue targets over the next moments instead of probing all at once."""
        self.late_wakeups += 1
        overdue = sorted(
            (e for e in self._entries.values() if not e.inflight and e.next_due <= now),
            key=lambda e: e.next_due,
        )
        n = len(overdue)
        for i, entry in enumerate(overdue):
            window = min(self.start_interval if entry.last is None else entry.interval, 2.0)
            entry.next_due = now + window * i / max(n, 1)

    def _start_probe(self, entry: _Entry) -> None:
        entry.inflight = True
        self.probes_started += 1
        task = asyncio.create_task(self._probe(entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _probe(self, entry: _Entry) -> None:
        async with self._sem:
            result = await self.prober.probe(entry.target)
        entry.inflight = False
        entry.last = result
        if result.outcome == ProbeOutcome.READY:
            entry.backoff = self.start_interval
            entry.interval = self.ready_interval
        else:
            entry.interval = entry.backoff
            entry.backoff = min(entry.backoff * self.backoff_factor, self.start_cap)
        # From the end of this probe: a slow probe never makes the next one come early.
        entry.next_due = self.clock() + entry.interval
        if self._entries.get(entry.target.key) is not entry:
            return  # unwatched or replaced meanwhile
        self._poke()
        self.on_result(entry.target.key, result)

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def close(self) -> None:
        """Stop the loop (``run`` returns) and drop every target."""
        self._closed = True
        self._entries.clear()
        self._poke()


async def probe_once(target: ProbeTarget, timeout: float = 3.0) -> ProbeResult:
    """A single probe with a client of its own (for ``paitui ls``)."""
    prober = Prober(timeout)
    try:
        return await prober.probe(target)
    finally:
        await prober.aclose()
