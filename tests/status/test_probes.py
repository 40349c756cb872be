"""Probes against real local servers: classification, timeouts, TCP, and the adaptive scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import time

import pytest

from paitui.domain.catalog.schema import HealthCheck, HttpExpect
from paitui.domain.fleet.status import ProbeOutcome, ProbeResult
from paitui.services.fleet.probes import (
    Prober,
    ProbeScheduler,
    ProbeTarget,
    classify_http,
    probe_host_for,
    probe_once,
)
from tests.helpers import free_port
from tests.status.servers import HangUpServer, HttpStub

LLAMA = HealthCheck(
    path="/health",
    ready=HttpExpect(status=(200,), json_fields={"status": "ok"}),
    loading=HttpExpect(status=(503,), body_contains="Loading model"),
)
AI_RUNNER = HealthCheck(
    path="/health",
    ready=HttpExpect(status=(200,), json_any={"status": ("OK", "IDLE")}),
    loading=HttpExpect(status=(200, 503), json_fields={"status": "LOADING"}),
    error=HttpExpect(status=(200, 500, 503), json_fields={"status": "ERROR"}),
)


def test_classify_llama_and_ai_runner_answers() -> None:
    assert classify_http(LLAMA, 200, '{"status":"ok"}')[0] == ProbeOutcome.READY
    loading = classify_http(LLAMA, 503, '{"error":{"message":"Loading model"}}')
    assert loading[0] == ProbeOutcome.LOADING and "Loading model" in loading[1]
    assert classify_http(LLAMA, 500, "oops") == (ProbeOutcome.UNHEALTHY, "HTTP 500: oops")
    assert classify_http(LLAMA, 200, "not json")[0] == ProbeOutcome.UNHEALTHY
    assert classify_http(AI_RUNNER, 200, '{"status":"IDLE"}')[0] == ProbeOutcome.READY
    assert classify_http(AI_RUNNER, 200, '{"status":"LOADING"}')[0] == ProbeOutcome.LOADING
    assert classify_http(AI_RUNNER, 500, '{"status":"ERROR"}')[0] == ProbeOutcome.ERROR
    open_webui = HealthCheck(ready=HttpExpect(json_fields={"status": True}))
    assert classify_http(open_webui, 200, '{"status": true}')[0] == ProbeOutcome.READY
    assert classify_http(open_webui, 200, '{"status": 1}')[0] == ProbeOutcome.UNHEALTHY


class _ImportsSeen:
    """A meta path finder that only records: every import not already in ``sys.modules``."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        self.names.append(name)


async def test_a_probe_in_the_steady_state_imports_nothing() -> None:
    """Every import a probe makes is a sys.path scan when it fails (httpcore looks up sniffio on
    each request): after the first probe, the next ones import nothing at all."""
    server = await HttpStub(body='{"status":"ok"}').start()
    prober = Prober(1.0)
    seen = _ImportsSeen()
    try:
        target = ProbeTarget("app", "127.0.0.1", server.port, LLAMA)
        assert (await prober.probe(target)).outcome == ProbeOutcome.READY
        sys.meta_path.insert(0, seen)
        try:
            for _ in range(5):
                assert (await prober.probe(target)).outcome == ProbeOutcome.READY
        finally:
            sys.meta_path.remove(seen)
    finally:
        await prober.aclose()
        await server.close()
    assert seen.names == []


def test_probe_host_follows_a_remote_engine() -> None:
    assert probe_host_for(None) == "127.0.0.1"
    assert probe_host_for("unix:///var/run/docker.sock") == "127.0.0.1"
    assert probe_host_for("tcp://gpubox:2376") == "gpubox"
    assert probe_host_for("ssh://ana@10.1.2.3") == "10.1.2.3"


async def test_http_probe_states_against_a_real_server() -> None:
    server = await HttpStub(status=503, body='{"error":{"message":"Loading model"}}').start()
    prober = Prober(timeout=2.0)
    try:
        target = ProbeTarget("llama", "127.0.0.1", server.port, LLAMA)
        first = await prober.probe(target)
        assert first.outcome == ProbeOutcome.LOADING and first.status_code == 503
        server.status, server.body = 200, '{"status":"ok"}'
        second = await prober.probe(target)
        assert second.outcome == ProbeOutcome.READY and 0 < second.latency < 2.0
        assert server.requests == 2
    finally:
        await prober.aclose()
        await server.close()


async def test_unreachable_hung_and_hang_up() -> None:
    hung = await HttpStub(hang=True).start()
    hangup = await HangUpServer().start()
    prober = Prober(timeout=0.5)
    try:
        closed = await prober.probe(ProbeTarget("a", "127.0.0.1", free_port()))
        assert closed.outcome == ProbeOutcome.UNREACHABLE and "nothing listens" in closed.detail
        started = time.monotonic()
        slow = await prober.probe(ProbeTarget("b", "127.0.0.1", hung.port))
        assert slow.outcome == ProbeOutcome.UNHEALTHY and "no answer within 0.5 s" in slow.detail
        assert time.monotonic() - started < 1.5
        proxy = await prober.probe(ProbeTarget("c", "127.0.0.1", hangup.port))
        assert proxy.outcome == ProbeOutcome.UNREACHABLE and "closed" in proxy.detail
        tcp_proxy = await prober.probe(
            ProbeTarget("d", "127.0.0.1", hangup.port, HealthCheck(type="tcp"))
        )
        assert tcp_proxy.outcome == ProbeOutcome.UNREACHABLE
    finally:
        await prober.aclose()
        await hung.close()
        await hangup.close()


async def test_tcp_probe() -> None:
    server = await HttpStub(hang=True).start()  # accepts and keeps the connection open
    try:
        ok = await probe_once(ProbeTarget("r", "127.0.0.1", server.port, HealthCheck(type="tcp")))
        assert ok.outcome == ProbeOutcome.READY
        gone = await probe_once(ProbeTarget("r", "127.0.0.1", free_port(), HealthCheck(type="tcp")))
        assert gone.outcome == ProbeOutcome.UNREACHABLE
    finally:
        await server.close()


class Recorder:
    def __init__(self) -> None:
        self.results: list[tuple[str, ProbeResult, float]] = []
        self.changed = asyncio.Event()

    def __call__(self, key: str, result: ProbeResult) -> None:
        self.results.append((key, result, time.monotonic()))
        self.changed.set()

    def of(self, key: str) -> list[ProbeResult]:
        return [r for k, r, _ in self.results if k == key]

    async def until(self, predicate: object, timeout: float = 10.0) -> None:
        assert callable(predicate)
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("timed out waiting for probe results")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)


async def test_scheduler_backs_off_while_starting_then_goes_slow_when_ready() -> None:
    server = await HttpStub(status=503, body="Loading model").start()
    rec = Recorder()
    sched = ProbeScheduler(
        Prober(1.0), rec, start_interval=0.05, ready_interval=5.0, start_cap=0.2, backoff_factor=2.0
    )
    runner = asyncio.create_task(sched.run())
    try:
        sched.watch(ProbeTarget("app", "127.0.0.1", server.port, LLAMA))
        await rec.until(lambda: len(rec.of("app")) >= 4)
        assert all(r.outcome == ProbeOutcome.LOADING for r in rec.of("app"))
        times = [t for _, _, t in rec.results]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # 0.05, 0.1, 0.2 (cap), with slack for probe latency; never faster than planned.
        assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2
        assert sched.interval_of("app") == pytest.approx(0.2)
        server.status, server.body = 200, '{"status":"ok"}'
        await rec.until(lambda: rec.of("app")[-1].outcome == ProbeOutcome.READY)
        assert sched.interval_of("app") == 5.0
        due = sched.next_due_in("app")
        assert due is not None and 4.0 < due <= 5.0
        # Unwatched: never probed again.
        count = server.requests
        sched.unwatch("app")
        sched.watch(ProbeTarget("other", "127.0.0.1", free_port()))
        await rec.until(lambda: len(rec.of("other")) >= 3)
        assert server.requests == count and sched.watched() == ["other"]
    finally:
        sched.close()
        await runner
        await sched.prober.aclose()
        await server.close()


async def test_a_hung_endpoint_delays_no_other() -> None:
    hung = await HttpStub(hang=True).start()
    fine = [await HttpStub().start() for _ in range(5)]
    rec = Recorder()
    sched = ProbeScheduler(
        Prober(3.0), rec, start_interval=0.05, ready_interval=0.1, max_concurrency=4
    )
    runner = asyncio.create_task(sched.run())
    try:
        started = time.monotonic()
        sched.watch(ProbeTarget("hung", "127.0.0.1", hung.port))
        for i, server in enumerate(fine):
            sched.watch(ProbeTarget(f"ok{i}", "127.0.0.1", server.port))
        # Each healthy endpoint gets probed repeatedly while the hung one's first probe waits.
        await rec.until(lambda: all(len(rec.of(f"ok{i}")) >= 3 for i in range(5)), timeout=5)
        assert rec.of("hung") == [] and time.monotonic() - started < 2.9
        await rec.until(lambda: len(rec.of("hung")) == 1, timeout=5)
        assert rec.of("hung")[0].outcome == ProbeOutcome.UNHEALTHY
    finally:
        sched.close()
        await runner
        await sched.prober.aclose()
        for server in [hung, *fine]:
            await server.close()


class FakeClock:
    """A monotonic clock the test can jump forward, as after SIGSTOP or a busy machine."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


async def test_no_burst_after_a_pause() -> None:
    servers = [await HttpStub().start() for _ in range(10)]
    rec = Recorder()
    clock = FakeClock()
    sched = ProbeScheduler(Prober(1.0), rec, start_interval=0.5, ready_interval=1.0, clock=clock)
    runner = asyncio.create_task(sched.run())
    try:
        for i, server in enumerate(servers):
            sched.watch(ProbeTarget(f"s{i}", "127.0.0.1", server.port))
        await rec.until(lambda: len(rec.results) >= 10)
        before = len(rec.results)
        # Pretend the process was stopped for a minute: 60 intervals were "missed" per target.
        clock.offset += 60.0
        await rec.until(lambda: sched.late_wakeups >= 1, timeout=3)
        await rec.until(lambda: len(rec.results) >= before + 10, timeout=5)
        after = rec.results[before:]
        per_target = {k for k, _, _ in after[:10]}
        # No catch-up (each target probed once, not 60 times) and spread out, not all at once.
        assert len(per_target) == 10
        spread = after[9][2] - after[0][2]
        assert spread > 0.5
    finally:
        sched.close()
        await runner
        await sched.prober.aclose()
        for server in servers:
            await server.close()
