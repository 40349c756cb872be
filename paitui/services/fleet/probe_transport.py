"""The probes' HTTP client: one plain HTTP/1.1 GET per connection, closed after it.

A probe is one GET to a local port every few seconds while an app starts and every 30 s once
it is ready, 50 apps or more at a time. httpx's default transport (httpcore, anyio, h11) spent
1.3 ms of CPU on each, most of a probe's cost, for a pool, TLS and HTTP/2 that probes never
use, and importing httpx kept ~4 MB in every idle paitui. This speaks just what a probe needs
(status line, headers, a body by length, by chunks or to the end) on asyncio's streams, and
tells the failures apart with exceptions of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from urllib.parse import quote

#: Longest status line plus headers accepted; a health answer's are a few hundred bytes.
MAX_HEAD = 64 * 1024
_READ = 16 * 1024
#: Characters a request target keeps as they are; the rest (spaces, controls, non-ASCII) are
#: percent-encoded, so a catalog's path can never add a header or split the request.
_TARGET_SAFE = "/?&=%:@!$'()*+,;~-._[]"


class ProbeFailure(Exception):
    """No usable answer (the subclasses say why)."""


class ConnectTimeout(ProbeFailure):
    """No connection within the timeout."""


class NoConnection(ProbeFailure):
    """The connection was refused or failed."""


class HungUp(ProbeFailure):
    """The server closed the connection, or answered with something that is not HTTP."""


class AnswerTimeout(ProbeFailure):
    """Connected, but the answer (or the rest of it) did not come within the timeout."""


class ProbeTransport:
    """Plain ``http://`` GETs over a fresh connection each (no TLS, no pool, no keep-alive)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    async def get(self, host: str, port: int, path: str, headers: Mapping[str, str]) -> ProbeAnswer:
        """Send the GET and read the status line and headers; the body is read from the answer."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, limit=MAX_HEAD), self.timeout
            )
        except TimeoutError:
            raise ConnectTimeout("no connection in time") from None
        except OSError as exc:
            raise NoConnection(str(exc)) from None
        try:
            writer.write(request_head(host, port, path, headers))
            head = await self._read(reader.readuntil(b"\r\n\r\n"))
            status, fields = parse_head(head)
        except BaseException:
            writer.close()
            raise
        return ProbeAnswer(status, fields, reader, writer, self._read)

    async def _read(self, pending: Awaitable[bytes]) -> bytes:
        """One read, bounded by the timeout, its failures as this module's exceptions."""
        try:
            return await asyncio.wait_for(pending, self.timeout)
        except TimeoutError:
            raise AnswerTimeout("no answer in time") from None
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise HungUp("the server closed the connection mid-answer") from None
            raise HungUp("the server closed the connection without an answer") from None
        except asyncio.LimitOverrunError:
            raise HungUp("the answer's headers are too long") from None
        except OSError as exc:
            raise HungUp(str(exc)) from None


def request_head(host: str, port: int, path: str, headers: Mapping[str, str]) -> bytes:
    """The request's bytes: the GET line, Host, ``headers``, and one request a connection."""
    authority = f"[{host}]" if ":" in host else host
    if port != 80:
        authority += f":{port}"
    lines = [f"GET {quote(path, safe=_TARGET_SAFE)} HTTP/1.1", f"Host: {authority}"]
    for name, value in headers.items():
        if name.lower() not in ("host", "connection", "accept-encoding"):
            lines.append(f"{name}: {value}")
    # A body as the server has it (nothing to decompress), and no connection kept.
    lines += ["Accept-Encoding: identity", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """The status code and the header fields (names lower-cased) of an answer's head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HungUp(f"not an HTTP answer: {lines[0][:80]!r}")
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise HungUp(f"a bad header line: {line[:80]!r}")
            fields[name.strip().lower()] = value.strip()
    return int(parts[1]), fields


class ProbeAnswer:
    """An answer's status and headers, and its body by Content-Length, by chunks or to the end."""

    def __init__(
        self,
        status: int,
        headers: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        read: Callable[[Awaitable[bytes]], Awaitable[bytes]],
    ) -> None:
        self.status_code, self.headers = status, headers
        # The transport's bounded read: its timeout and its exceptions for the body too.
        self._reader, self._writer, self._read = reader, writer, read
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length", "")
        self._length = int(length) if length.isdigit() and not self._chunked else None
        if status < 200 or status in (204, 304):
            self._length = 0

    async def body(self, limit: int) -> bytes:
        """The body's first ``limit`` bytes (fewer if it is shorter); the rest is never read."""
        chunks: list[bytes] = []
        size = 0
        # Closed here when the limit stops the reading, not left to the garbage collector.
        async with contextlib.aclosing(self._chunks() if self._chunked else self._plain()) as body:
            async for chunk in body:
                chunks.append(chunk)
                size += len(chunk)
                if size >= limit:
                    break
        return b"".join(chunks)[:limit]

    async def _plain(self) -> AsyncGenerator[bytes, None]:
        left = self._length
        while left is None or left > 0:
            data = await self._read(self._reader.read(_READ if left is None else min(_READ, left)))
            if not data:
                if left is not None:
                    raise HungUp("the server closed the connection mid-answer")
                return
            if left is not None:
                left -= len(data)
            yield data

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        read, reader = self._read, self._reader
        while True:
            size_line = await read(reader.readuntil(b"\r\n"))
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                size = -1
            if size < 0:
                raise HungUp("a bad chunk in the answer")
            if size == 0:
                return  # trailers are not read: the connection is closed next
            yield await read(reader.readexactly(size))
            await read(reader.readexactly(2))

    async def aclose(self) -> None:
        """Hang up."""
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
