"""Blocking docker streams (logs, stats) consumed from asyncio, and the stats arithmetic."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from paitui.domain.engine.containers import StatsSample
from paitui.domain.engine.errors import EngineError

if TYPE_CHECKING:
    import docker

T = TypeVar("T")
_END = object()


def stats_sample(container_id: str, raw: dict[str, Any]) -> StatsSample | None:
    """CPU % and memory from one ``/stats`` reading, the way ``docker stats`` computes them."""
    cpu = raw.get("cpu_stats") or {}
    pre = raw.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (
        pre.get("cpu_usage") or {}
    ).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = (
        cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or ()) or 1
    )
    percent = (
        cpu_delta / system_delta * online * 100.0 if system_delta > 0 and cpu_delta > 0 else 0.0
    )
    mem = raw.get("memory_stats") or {}
    if not mem and not cpu:
        return None
    detail = mem.get("stats") or {}
    # Page cache (v1: total_inactive_file, v2: inactive_file) is not counted, as in docker stats.
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    usage = max(int(mem.get("usage", 0)) - int(cache), 0)
    return StatsSample(container_id, percent, usage, int(mem.get("limit", 0)), time.time())


def one_stats_reading(client: docker.DockerClient, cid: str, one_shot: bool) -> dict[str, Any]:
    """One ``/stats`` reading (blocking): "one-shot" answers at once, without ``precpu_stats``;
    otherwise the engine waits two of its cycles. Engines before API 1.41 have no one-shot."""
    import docker.errors

    if one_shot:
        with contextlib.suppress(docker.errors.InvalidVersion):  # an engine without one-shot
            return dict(client.api.stats(cid, stream=False, one_shot=True))
    return dict(client.api.stats(cid, stream=False))


async def one_stats_reading_on_socket(path: str, cid: str, one_shot: bool) -> dict[str, Any]:
    """The same reading straight from a local engine's Unix socket, in the event loop: no
    thread and no SDK call (together 2 of a reading's 2.6 ms of CPU, every 2 s on screen)."""
    from paitui.services.engine.local_socket import socket_get

    query = "stream=false&one-shot=true" if one_shot else "stream=false"
    raw = json.loads(await socket_get(path, f"/containers/{quote(cid)}/stats?{query}"))
    if not isinstance(raw, dict):
        raise ValueError("the engine's stats answer is not an object")
    return raw


async def iterate_in_thread(
    open_stream: Callable[[], Any],
    convert: Callable[[Any], Iterator[T]],
    to_error: Callable[[BaseException], EngineError],
) -> AsyncIterator[T]:
    """Read a blocking stream in its own thread and yield its converted items.

    Leaving the ``async for`` (or cancelling) closes the stream, which also ends the thread.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    holder: dict[str, Any] = {}
    stop = threading.Event()

    def put(item: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            stream = open_stream()
            holder["stream"] = stream
            if stop.is_set():
                stream.close()
                return
            for raw in stream:
                if stop.is_set():
                    break
                for item in convert(raw):
                    put(item)
        except Exception as exc:
            if not stop.is_set():
                put(to_error(exc))
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                put(_END)

    thread = threading.Thread(target=pump, name="paitui-engine-stream", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is _END:
                return
            if isinstance(item, EngineError):
                raise item
            yield item
    finally:
        stop.set()
        stream = holder.get("stream")
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()


class LineSplitter:
    """Cuts log chunks (which split lines anywhere) into whole lines."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes) -> Iterator[str]:
        """The whole lines completed by this chunk."""
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace").rstrip("\r")

    def rest(self) -> str | None:
        """The last line if the stream ended without a newline."""
        return self._partial.decode("utf-8", "replace") if self._partial else None
