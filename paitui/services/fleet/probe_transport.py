"""The probes' HTTP transport: one plain HTTP/1.1 request per connection, closed after it.

httpx's default transport (httpcore, anyio, h11) spent 1.3 ms of CPU on each probe, most of a
probe's cost, for a connection pool, TLS and HTTP/2 that probes never use: a probe is one GET to
a local port every few seconds while an app starts and every 30 s once it is ready, 50 apps or
more at a time. This transport speaks just that (status line, headers, a body by length, by
chunks or to the end), behind httpx's client, and raises httpx's own exceptions, so the prober
reads an answer and tells failures apart exactly as it did with the default transport.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable

import httpx

#: Longest status line plus headers accepted; a health answer's are a few hundred bytes.
MAX_HEAD = 64 * 1024
_READ = 16 * 1024


class ProbeTransport(httpx.AsyncBaseTransport):
    """Plain ``http://`` requests over a fresh connection each (no TLS, no pool, no keep-alive)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read the status line and headers; the body is streamed."""
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"probes speak http:// only, not {url.scheme}://")
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(url.host, url.port or 80, limit=MAX_HEAD), self.timeout
            )
        except TimeoutError:
            raise httpx.ConnectTimeout("no connection in time", request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        try:
            writer.write(_request_head(request))
            head = await self._read(reader.readuntil(b"\r\n\r\n"), request)
            status, headers = _parse_head(head, request)
        except BaseException:
            writer.close()
            raise
        body = _Body(reader, writer, headers, status, self, request)
        return httpx.Response(
            status, headers=headers, stream=body, extensions={"http_version": b"HTTP/1.1"}
        )

    async def _read(self, pending: Awaitable[bytes], request: httpx.Request) -> bytes:
        """One read, bounded by the timeout, its failures as httpx's exceptions."""
        try:
            data = await asyncio.wait_for(pending, self.timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("no answer in time", request=request) from None
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise httpx.RemoteProtocolError(
                    "the server closed the connection mid-answer", request=request
                ) from None
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError(
                "the answer's headers are too long", request=request
            ) from None
        except OSError as exc:
            raise httpx.ReadError(str(exc), request=request) from None
        return data


def _request_head(request: httpx.Request) -> bytes:
    target = request.url.raw_path.decode("ascii")
    lines = [f"{request.method} {target} HTTP/1.1"]
    for name, value in request.headers.items():
        if name.lower() not in ("connection", "accept-encoding"):
            lines.append(f"{name}: {value}")
    # One request a connection, and a body as the server has it (nothing to decompress).
    lines += ["Accept-Encoding: identity", "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _parse_head(head: bytes, request: httpx.Request) -> tuple[int, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise httpx.RemoteProtocolError(f"not an HTTP answer: {lines[0][:80]!r}", request=request)
    headers = []
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise httpx.RemoteProtocolError(
                    f"a bad header line: {line[:80]!r}", request=request
                )
            headers.append((name.strip(), value.strip()))
    return int(parts[1]), headers


class _Body(httpx.AsyncByteStream):
    """The answer's body, by Content-Length, by chunks or to the end; closing it hangs up."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        headers: list[tuple[str, str]],
        status: int,
        transport: ProbeTransport,
        request: httpx.Request,
    ) -> None:
        self.reader, self.writer = reader, writer
        self.transport, self.request = transport, request
        fields = {name.lower(): value for name, value in headers}
        self.chunked = "chunked" in fields.get("transfer-encoding", "").lower()
        length = fields.get("content-length", "")
        self.length = int(length) if length.isdigit() and not self.chunked else None
        if status < 200 or status in (204, 304) or request.method == "HEAD":
            self.length = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.chunked:
            async for chunk in self._chunks():
                yield chunk
            return
        left = self.length
        while left is None or left > 0:
            read = self.reader.read(_READ if left is None else min(_READ, left))
            data = await self.transport._read(read, self.request)
            if not data:
                if left is not None:
                    raise httpx.RemoteProtocolError(
                        "the server closed the connection mid-answer", request=self.request
                    )
                return
            if left is not None:
                left -= len(data)
            yield data

    async def _chunks(self) -> AsyncIterator[bytes]:
        read = self.transport._read
        while True:
            size_line = await read(self.reader.readuntil(b"\r\n"), self.request)
            size_text = size_line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError(
                    "a bad chunk in the answer", request=self.request
                ) from None
            if size == 0:
                return  # trailers are not read: the connection is closed next
            yield (await read(self.reader.readexactly(size), self.request))
            await read(self.reader.readexactly(2), self.request)

    async def aclose(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()
