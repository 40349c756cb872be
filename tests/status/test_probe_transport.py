"""The probes' own HTTP transport against servers that answer byte for byte as scripted: bodies
by length, by chunks and to the end, and the answers a probe must survive (not HTTP, cut off,
endless headers, an endless body)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paitui.domain.catalog.schema import HealthCheck, HttpExpect
from paitui.domain.fleet.status import ProbeOutcome
from paitui.services.fleet.probe_transport import request_head
from paitui.services.fleet.probes import MAX_BODY, Prober, ProbeTarget

HEALTH = HealthCheck(path="/health?verbose=1", ready=HttpExpect(json_fields={"status": "ok"}))


class Scripted:
    """Answers each connection with ``answer`` (bytes, then ``then``: close, hang or stream)."""

    def __init__(self, answer: bytes, then: str = "close") -> None:
        self.answer, self.then = answer, then
        self.heads: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(self.answer)
            await writer.drain()
            if self.then == "hang":
                await asyncio.Event().wait()
            while self.then == "stream":  # until the probe hangs up
                writer.write(b"x" * 65536)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Scripted]:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._server.close()


async def _probe(answer: bytes, then: str = "close", timeout: float = 2.0) -> tuple[str, str]:
    async with Scripted(answer, then).running() as server:
        prober = Prober(timeout)
        result = await prober.probe(ProbeTarget("app", "127.0.0.1", server.port, HEALTH))
        await prober.aclose()
        return result.outcome, result.detail


def _ok(headers: str, body: bytes) -> bytes:
    return f"HTTP/1.1 200 OK\r\n{headers}\r\n".encode() + body


async def test_the_request_is_one_plain_get() -> None:
    async with Scripted(_ok("Content-Length: 15\r\n", b'{"status":"ok"}')).running() as server:
        prober = Prober(2.0)
        result = await prober.probe(ProbeTarget("app", "127.0.0.1", server.port, HEALTH))
    assert result.outcome == ProbeOutcome.READY and result.status_code == 200
    head = server.heads[0].decode()
    lines = head.split("\r\n")
    assert lines[0] == "GET /health?verbose=1 HTTP/1.1"
    fields = {
        k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    assert fields["host"] == f"127.0.0.1:{server.port}"
    assert fields["connection"] == "close" and fields["accept-encoding"] == "identity"
    assert fields["user-agent"] == "paitui-probe"


@pytest.mark.parametrize(
    "answer",
    [
        _ok("Content-Length: 15\r\n", b'{"status":"ok"}trailing junk never read'),
        _ok(
            "Transfer-Encoding: chunked\r\n",
            b'5\r\n{"sta\r\na;ext=1\r\ntus":"ok"}\r\n0\r\nX-Trailer: 1\r\n\r\n',
        ),
        _ok("Connection: close\r\n", b'{"status":"ok"}'),  # to the end of the connection
        b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"status":"ok"}',
    ],
    ids=["length", "chunked", "to-the-end", "http-1.0"],
)
async def test_a_body_however_it_is_framed(answer: bytes) -> None:
    assert (await _probe(answer))[0] == ProbeOutcome.READY


async def test_answers_a_probe_must_survive() -> None:
    # Not HTTP (an SSH server on the port), then the connection closes.
    outcome, _ = await _probe(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
    assert outcome == ProbeOutcome.UNREACHABLE
    # Accepted, then closed without a word (Docker's proxy when nothing listens inside).
    outcome, detail = await _probe(b"")
    assert outcome == ProbeOutcome.UNREACHABLE and "closed the connection" in detail
    # Cut off in the middle of the body.
    outcome, _ = await _probe(_ok("Content-Length: 100\r\n", b'{"status":'))
    assert outcome == ProbeOutcome.UNREACHABLE
    # A bad chunk, and a negative one.
    outcome, _ = await _probe(_ok("Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n"))
    assert outcome == ProbeOutcome.UNREACHABLE
    outcome, _ = await _probe(_ok("Transfer-Encoding: chunked\r\n", b"-2\r\n{}\r\n0\r\n\r\n"))
    assert outcome == ProbeOutcome.UNREACHABLE
    # Headers that never end: refused at the limit, not read forever.
    endless = b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"y" * (200 * 1024)
    outcome, _ = await _probe(endless, then="hang")
    assert outcome == ProbeOutcome.UNREACHABLE
    # The status line and then silence: the timeout, as "no answer".
    started = time.monotonic()
    outcome, detail = await _probe(b"HTTP/1.1 200 OK\r\n", then="hang", timeout=0.5)
    assert outcome == ProbeOutcome.UNHEALTHY and "no answer" in detail
    assert time.monotonic() - started < 3


async def test_an_endless_body_is_read_only_as_far_as_a_probe_needs() -> None:
    outcome, detail = await _probe(_ok("Content-Type: text/html\r\n", b"<html>"), then="stream")
    assert outcome == ProbeOutcome.UNHEALTHY  # HTML, not the JSON the check wants
    assert len(detail) < MAX_BODY


async def test_a_hostile_path_stays_inside_the_request_line() -> None:
    check = HealthCheck(path="/h x\r\nX-Evil: 1\r\n\r\nGET /ünï")
    async with Scripted(_ok("Content-Length: 2\r\n", b"{}")).running() as server:
        prober = Prober(2.0)
        await prober.probe(ProbeTarget("app", "127.0.0.1", server.port, check))
    lines = server.heads[0].decode("ascii").split("\r\n")
    assert lines[0] == "GET /h%20x%0D%0AX-Evil:%201%0D%0A%0D%0AGET%20/%C3%BCn%C3%AF HTTP/1.1"
    assert not any(line.lower().startswith("x-evil") for line in lines)


def test_the_host_field_names_ipv6_in_brackets_and_leaves_out_port_80() -> None:
    head = request_head("::1", 8080, "/", {"Host": "elsewhere", "User-Agent": "u"}).decode()
    assert head.split("\r\n")[1:3] == ["Host: [::1]:8080", "User-Agent: u"]
    assert request_head("10.0.0.2", 80, "/", {}).decode().split("\r\n")[1] == "Host: 10.0.0.2"


def test_the_fleet_runs_its_probes_without_httpx() -> None:
    # httpx and its transport stack held ~4 MB in every idle paitui for the probes alone.
    code = (
        "import sys, paitui.services.registry, paitui.services.fleet.tracker\n"
        "print(sorted(m for m in ('httpx', 'httpcore', 'anyio', 'h11') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
