"""Plain HTTP/1.0 GETs on a local engine's Unix socket, for the few reads that must not wait for
the docker SDK or a thread: the first list (``quick_list``) and the 2 s stats reading."""

from __future__ import annotations

import asyncio
import contextlib

#: Largest answer read (50 containers listed are ~60 KB, a stats reading ~3 KB).
MAX_ANSWER_BYTES = 8 * 2**20


def socket_path(host: str) -> str | None:
    """The Unix socket of a ``unix://`` engine address; None for any other kind."""
    if host.startswith("unix://"):
        return host.removeprefix("unix://") or None
    return None


async def socket_get(path: str, target: str) -> bytes:
    """The body of a 200 answer to an HTTP/1.0 GET on the engine's Unix socket (HTTP/1.0, so
    the engine closes: no chunked body); OSError or ValueError when there is none."""
    reader, writer = await asyncio.open_unix_connection(path, limit=MAX_ANSWER_BYTES)
    try:
        writer.write(f"GET {target} HTTP/1.0\r\nHost: docker\r\n\r\n".encode("ascii"))
        await writer.drain()
        answer = b""
        while len(answer) <= MAX_ANSWER_BYTES and (
            chunk := await reader.read(MAX_ANSWER_BYTES + 1 - len(answer))
        ):
            answer += chunk
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if len(answer) > MAX_ANSWER_BYTES:
        raise ValueError("answer too large")
    head, sep, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if not sep or len(status) < 2 or status[1] != b"200":
        raise ValueError(f"engine answered {head[:80]!r}")
    return body
